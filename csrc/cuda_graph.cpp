// CUDA graphs for `dpn profile --cuda-graph` (src/model/cuda_graph.rs): the
// forward pass of one batch shape recorded once and replayed as a single
// launch, which removes the per-kernel launch cost that dominates small
// batches on a fast GPU.
//
// tch has no binding for at::cuda::CUDAGraph, so this is one. The capture
// runs on a stream from torch's pool, as torch.cuda.graph does (capture is
// not allowed on the default stream); the guard that makes it current lives
// in the Graph between begin and end, because the Rust side runs the model
// in between. Built with DPN_WITH_CUDA_HEADERS when build.rs finds CUDA's
// headers (as for csrc/dist_nccl.cpp); without them a Graph cannot be made,
// and dpn_graph_new says why.

#include <optional>
#include <stdexcept>

#ifdef DPN_WITH_CUDA_HEADERS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/StreamGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "guarded.h"

namespace {

using dpn::guarded;

#ifdef DPN_WITH_CUDA_HEADERS
// The device-generic c10::Stream and StreamGuard (dispatched through the
// guard implementation libc10_cuda registers) rather than their CUDA
// twins, whose inline code would call the CUDA runtime from this file and
// need libcudart linked into dpn itself.
class Graph {
 public:
  explicit Graph(int device)
      : stream_(c10::cuda::getStreamFromPool(
                    false, static_cast<c10::DeviceIndex>(device))
                    .unwrap()) {}

  // Waits for the work queued so far, then records every kernel launched
  // on this thread until end(), into the graph's private memory pool.
  void begin() {
    stream_.synchronize();
    c10::cuda::getCurrentCUDAStream(stream_.device_index())
        .unwrap()
        .synchronize();
    capturing_.emplace(stream_);
    graph_.capture_begin();
  }

  // Ends the capture (and instantiates the graph), back on the stream that
  // was current before begin(), also when the capture failed.
  void end() {
    try {
      graph_.capture_end();
    } catch (...) {
      capturing_.reset();
      throw;
    }
    capturing_.reset();
  }

  // Launches the recorded kernels on the current stream: the captured
  // output tensors then hold the result for what the captured input holds.
  void replay() {
    graph_.replay();
  }

 private:
  at::cuda::CUDAGraph graph_;
  c10::Stream stream_;
  std::optional<c10::StreamGuard> capturing_;
};
#else
class Graph {
 public:
  explicit Graph(int) {
    throw std::runtime_error(
        "this dpn was built without CUDA's headers, so without CUDA graphs; "
        "rebuild it after scripts/setup.sh");
  }
  void begin() {}
  void end() {}
  void replay() {}
};
#endif

} // namespace

extern "C" {

void* dpn_graph_new(int device, char* err, size_t errlen) {
  Graph* out = nullptr;
  guarded(err, errlen, [&] { out = new Graph(device); });
  return out;
}

int dpn_graph_begin(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] { static_cast<Graph*>(g)->begin(); });
}

int dpn_graph_end(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] { static_cast<Graph*>(g)->end(); });
}

int dpn_graph_replay(void* g, char* err, size_t errlen) {
  return guarded(err, errlen, [&] { static_cast<Graph*>(g)->replay(); });
}

void dpn_graph_free(void* g) {
  delete static_cast<Graph*>(g);
}

} // extern "C"
