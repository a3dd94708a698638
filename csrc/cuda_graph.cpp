// CUDA graphs for `dpn profile --cuda-graph` (src/model/graph.rs): the
// forward pass of one batch shape recorded once and replayed as a single
// launch, which removes the per-kernel launch cost that dominates small
// batches on a fast GPU.
//
// tch has no binding for at::cuda::CUDAGraph, so this is one. The capture
// runs on a stream from torch's pool, as torch.cuda.graph does (capture is
// not allowed on the default stream); the guard that makes it current lives
// in the Graph between begin and end, because the Rust side runs the model
// in between. Built with DPN_WITH_CUDA_HEADERS when build.rs finds CUDA's
// headers (as for csrc/dist_nccl.cpp), else every call reports that.
// Every entry point catches C++ exceptions and returns their first line.

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#ifdef DPN_WITH_CUDA_HEADERS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/StreamGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif
#include <c10/util/Exception.h>

namespace {

void set_error(char* err, size_t len, const std::string& what) {
  if (err == nullptr || len == 0) {
    return;
  }
  std::string s = what.substr(0, what.find('\n'));
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

#ifdef DPN_WITH_CUDA_HEADERS
// The device-generic c10::Stream and StreamGuard (dispatched through the
// guard implementation libc10_cuda registers) rather than their CUDA
// twins, whose inline code would call the CUDA runtime from this file and
// need libcudart linked into dpn itself.
struct Graph {
  at::cuda::CUDAGraph graph;
  c10::Stream stream;
  std::optional<c10::StreamGuard> capturing;
  explicit Graph(c10::DeviceIndex device)
      : stream(c10::cuda::getStreamFromPool(false, device).unwrap()) {}
};
#else
struct Graph {};
[[noreturn]] void unavailable() {
  throw std::runtime_error(
      "this dpn was built without CUDA's headers, so without CUDA graphs; "
      "rebuild it after scripts/setup.sh");
}
#endif

} // namespace

extern "C" {

// A graph for `device`, with the stream it will be captured on.
void* dpn_graph_new(int device, char* err, size_t errlen) {
  Graph* out = nullptr;
  guarded(err, errlen, [&] {
#ifdef DPN_WITH_CUDA_HEADERS
    out = new Graph(static_cast<c10::DeviceIndex>(device));
#else
    (void)device;
    unavailable();
#endif
  });
  return out;
}

// Waits for the work queued so far, then records every kernel launched on
// this thread until dpn_graph_end, into the graph's private memory pool.
int dpn_graph_begin(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] {
#ifdef DPN_WITH_CUDA_HEADERS
    auto* graph = static_cast<Graph*>(g);
    graph->stream.synchronize();
    c10::cuda::getCurrentCUDAStream(graph->stream.device_index())
        .unwrap()
        .synchronize();
    graph->capturing.emplace(graph->stream);
    graph->graph.capture_begin();
#else
    (void)g;
    unavailable();
#endif
  });
}

// Ends the capture (and instantiates the graph), back on the stream that
// was current before dpn_graph_begin.
int dpn_graph_end(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] {
#ifdef DPN_WITH_CUDA_HEADERS
    auto* graph = static_cast<Graph*>(g);
    try {
      graph->graph.capture_end();
    } catch (...) {
      graph->capturing.reset();
      throw;
    }
    graph->capturing.reset();
#else
    (void)g;
    unavailable();
#endif
  });
}

// Launches the recorded kernels on the current stream: the captured output
// tensors then hold the result for what the captured input tensors hold.
int dpn_graph_replay(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] {
#ifdef DPN_WITH_CUDA_HEADERS
    static_cast<Graph*>(g)->graph.replay();
#else
    (void)g;
    unavailable();
#endif
  });
}

void dpn_graph_free(void* g) {
  delete static_cast<Graph*>(g);
}

} // extern "C"
