// Shared by the C++ shims (dist.cpp, cuda_graph.cpp): every entry point runs
// its body through `guarded`, which turns a C++ exception into its message's
// first line in `err` and a non-zero return, so that nothing unwinds into
// Rust (read back by src/sys/c_error.rs). c10 errors append a C++ backtrace
// and "Exception raised from ..." that a user does not need.

#pragma once

#include <c10/util/Exception.h>

#include <cstring>
#include <exception>
#include <string>

namespace dpn {

inline void set_error(char* err, size_t len, const char* what) {
  if (err == nullptr || len == 0) {
    return;
  }
  std::string s(what == nullptr ? "unknown error" : what);
  auto nl = s.find('\n');
  if (nl != std::string::npos) {
    s.resize(nl);
  }
  std::strncpy(err, s.c_str(), len - 1);
  err[len - 1] = '\0';
}

template <typename F>
int guarded(char* err, size_t len, F&& f) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    set_error(err, len, e.what_without_backtrace());
  } catch (const std::exception& e) {
    set_error(err, len, e.what());
  } catch (...) {
    set_error(err, len, "unknown C++ exception");
  }
  return 1;
}

} // namespace dpn
