// The NCCL backend of dpn's process group (csrc/dist.cpp), for distributed
// runs on CUDA devices (docs/distributed.md, "Backends").
//
// Kept apart from dist.cpp because it needs CUDA's and NCCL's headers, which
// the torch wheel does not ship (only its libraries): build.rs compiles this
// file with DPN_WITH_NCCL when it finds them (the PyPI packages
// nvidia-cuda-crt, nvidia-cuda-cccl and nvidia-nccl, which scripts/setup.sh
// installs), and without it otherwise, when the one function below says so
// instead of making a backend. ProcessGroupNCCL itself is in the wheel's
// libtorch_cuda.so.

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <stdexcept>

#ifdef DPN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

// Declared again in dist.cpp; the two files agree on this one signature.
c10::intrusive_ptr<c10d::Backend> dpn_make_nccl_backend(
    const c10::intrusive_ptr<c10d::Store>& store,
    int rank,
    int world,
    std::chrono::milliseconds timeout) {
#ifdef DPN_WITH_NCCL
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, opts);
#else
  (void)store;
  (void)rank;
  (void)world;
  (void)timeout;
  throw std::runtime_error(
      "this dpn was built without NCCL (build.rs found no CUDA headers or no "
      "libtorch_cuda); rebuild after scripts/setup.sh, or use --dist-backend gloo");
#endif
}
