// What libtorch's CPU kernels can do on this machine, asked of libtorch
// itself, so that dpn decides as libtorch does (src/model/fold.rs,
// `cpu_has_bf16_kernels`). tch exposes none of these checks; the operator
// registry has them.
#include <ATen/core/dispatch/Dispatcher.h>

#include "guarded.h"

// Writes 1 to `out` when libtorch hands bf16 convolutions to oneDNN here
// (`torch.ops.mkldnn._is_mkldnn_bf16_supported()`, the check its
// convolution makes), else 0. Non-zero return: the operator is missing (a
// libtorch built without oneDNN), with the reason in `err`.
extern "C" int dpn_mkldnn_bf16_supported(int* out, char* err, size_t errlen) {
  return dpn::guarded(err, errlen, [&] {
    auto op = c10::Dispatcher::singleton()
                  .findSchemaOrThrow("mkldnn::_is_mkldnn_bf16_supported", "")
                  .typed<bool()>();
    *out = op.call() ? 1 : 0;
  });
}
