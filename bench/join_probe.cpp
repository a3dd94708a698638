// One pass for what the folded network does between two blocks: the residual add, both
// concatenations, the pre-activation scale and shift and the ReLU (bench/join_probe.py).
// A probe for issue #15, built by torch.utils.cpp_extension; not part of dpn.
//
// join(segments, add, scale, shift, relu) -> (act, residual)
//   act      = relu(cat(segments[0] (+ add), segments[1:]...) * scale + shift), NHWC
//   residual = segments[0] + add (undefined when add is None)
// Each segment is an NHWC view (channel stride 1, a row stride of its own), so the dense
// path can stay a list of the blocks' output slices and is never concatenated.
#include <ATen/Parallel.h>
#include <torch/extension.h>

template <typename T>
static void run(const std::vector<const T*>& src, const std::vector<int64_t>& width,
                const std::vector<int64_t>& stride, const T* add, int64_t add_stride, T* rout,
                T* out, int64_t ctot, const float* s, const float* t, int64_t rows, bool relu) {
    at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) {
        for (int64_t row = b; row < e; ++row) {
            T* o = out + row * ctot;
            int64_t c0 = 0;
            for (size_t k = 0; k < src.size(); ++k) {
                const T* x = src[k] + row * stride[k];
                const int64_t w = width[k];
                const float* sk = s + c0;
                const float* tk = t + c0;
                T* ok = o + c0;
                if (k == 0 && add) {
                    const T* a = add + row * add_stride;
                    T* r = rout + row * w;
                    for (int64_t c = 0; c < w; ++c) {
                        const T v = T(float(x[c]) + float(a[c]));
                        r[c] = v;
                        const float y = float(v) * sk[c] + tk[c];
                        ok[c] = T(relu && y < 0.f ? 0.f : y);  // y < 0 keeps NaN, as torch's relu
                    }
                } else {
                    for (int64_t c = 0; c < w; ++c) {
                        const float y = float(x[c]) * sk[c] + tk[c];
                        ok[c] = T(relu && y < 0.f ? 0.f : y);
                    }
                }
                c0 += w;
            }
        }
    });
}

std::vector<torch::Tensor> join(std::vector<torch::Tensor> segs, c10::optional<torch::Tensor> add,
                                torch::Tensor s, torch::Tensor t, bool relu) {
    const auto& x0 = segs[0];
    int64_t n = x0.size(0), h = x0.size(2), w = x0.size(3), ctot = 0;
    for (auto& x : segs) {
        TORCH_CHECK(x.stride(1) == 1 && x.stride(2) == x.stride(3) * w, "join: NHWC segments only");
        ctot += x.size(1);
    }
    auto opts = x0.options().memory_format(at::MemoryFormat::ChannelsLast);
    auto out = at::empty({n, ctot, h, w}, opts);
    torch::Tensor rout;
    if (add) rout = at::empty({n, x0.size(1), h, w}, opts);
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x0.scalar_type(), "join", [&] {
        std::vector<const scalar_t*> src;
        std::vector<int64_t> wd, st;
        for (auto& x : segs) {
            src.push_back(x.data_ptr<scalar_t>());
            wd.push_back(x.size(1));
            st.push_back(x.stride(3));
        }
        run<scalar_t>(src, wd, st, add ? add->data_ptr<scalar_t>() : nullptr,
                      add ? add->stride(3) : 0, add ? rout.data_ptr<scalar_t>() : nullptr,
                      out.data_ptr<scalar_t>(), ctot, s.data_ptr<float>(), t.data_ptr<float>(),
                      n * h * w, relu);
    });
    return {out, rout};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("join", &join); }
