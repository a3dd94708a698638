// Drops a tensor's gradient: torch's `p.grad = None`, which is what
// `optimizer.zero_grad()` does by default since torch 2.0 and so what timm's
// train loop does before every update. tch can only zero a gradient in
// place, which costs a pass over every gradient to write zeros and makes the
// next backward add into them (a read and a write more) instead of handing
// its freshly computed gradient over. Used by src/sys/grad.rs.
#include <ATen/core/Tensor.h>

#include "guarded.h"

// `t` is tch's `C_tensor*`, an `at::Tensor*` (torch-sys's torch_api.h).
extern "C" int dpn_clear_grad(at::Tensor* t, char* err, size_t errlen) {
  return dpn::guarded(err, errlen, [&] { t->mutable_grad().reset(); });
}
