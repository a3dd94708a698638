//! The inference form of a [`Dpn`]: every BatchNorm that directly follows a
//! convolution folded into it, computed once from the loaded weights.
//!
//! A DPN is pre-activation (BatchNorm, activation, convolution), so inside a
//! dual-path block the BatchNorms of `c3x3_b` and `c1x1_c` read nothing but
//! the output of the convolution before them (`c1x1_a`, `c3x3_b`), and the
//! stem's reads the stem convolution's. Those three become a per-output-channel
//! scale on the weight and a bias (docs/conventions.md, "Folding"), computed
//! in f64 from the f32 weights and cast to the run's dtype only at the end, so
//! the rounding is that of one cast. The BatchNorms on a block's concatenated
//! input (`c1x1_a`, the projection, `conv5_bn_ac`) cannot fold backwards
//! through the concatenation; they become a precomputed scale and shift, run
//! as one pass by libtorch's eval BatchNorm kernel (mean 0, variance 1,
//! epsilon 0), then the activation in place.
//!
//! The result differs from the exact network only by rounding (f32: about
//! 1e-5 on logits); `--exact` runs [`Dpn`] itself.

use tch::{Device, Kind, Tensor};

use super::run_opts::{to_channels_last, Precision, RunOptions};
use super::{Act, BatchNorm, Conv, Dpn, Flow, Tail, BN_EPS};

/// Where the folded network measured faster than the exact one
/// (bench/results/*-fold-cpu.md, docs/conventions.md "Folding"): the CPU in
/// f32 and in bf16. In bf16 on a CPU without bf16 kernels its convolutions
/// run in f32 ([`ConvIn`]), 8x the exact network; on CPUs with them it
/// measured 1.09x to 1.15x exact on dpn68 (AMX Xeon, AVX-512 EPYC), 0.98x
/// to 1.04x on dpn92 and 0.99x to 1.08x on dpn131 (those two within the
/// spread between runs, bench/results/2026-12-04-fold-ab-bf16-cpu.md). f16
/// and CUDA have no measurement yet and keep the exact network.
pub fn faster_on(opts: &RunOptions) -> bool {
    opts.device == Device::Cpu && matches!(opts.precision, Precision::F32 | Precision::Bf16)
}

/// Whether libtorch's CPU convolutions have bf16 kernels here: libtorch
/// gives a bf16 convolution to oneDNN only where oneDNN has bf16 kernels
/// (x86: AVX-512 or `avx2_vnni_2`), the check
/// `torch.ops.mkldnn._is_mkldnn_bf16_supported()` makes, which this asks
/// (csrc/cpu_caps.cpp). Without them libtorch falls back to a generic bf16
/// convolution about 9x slower than f32 (2.2 against 18 img/s, dpn68 batch
/// 8 on 2 AVX2 cores, docs/conventions.md "Folding"). A libtorch without
/// oneDNN has no bf16 kernels either.
pub fn cpu_has_bf16_kernels() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        let mut out: std::os::raw::c_int = 0;
        let mut err = [0 as std::os::raw::c_char; crate::sys::c_error::ERR_LEN];
        // SAFETY: `out` and an error buffer of the stated length, both live
        // for the call; the shim catches every C++ exception.
        let failed = unsafe { dpn_mkldnn_bf16_supported(&mut out, err.as_mut_ptr(), err.len()) };
        failed == 0 && out == 1
    })
}

extern "C" {
    fn dpn_mkldnn_bf16_supported(
        out: *mut std::os::raw::c_int,
        err: *mut std::os::raw::c_char,
        errlen: usize,
    ) -> std::os::raw::c_int;
}

/// The dtype a folded convolution computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvIn {
    /// The run's dtype, as every other op.
    RunDtype,
    /// bf16 activations and weights widened to f32 for the convolution,
    /// its output rounded back to bf16: what a bf16 kernel computes (bf16
    /// products are exact in f32, and bf16 kernels accumulate in f32), up to
    /// the order of the sums, at f32 kernels' speed where the CPU has no bf16
    /// ones (docs/conventions.md, "Folding").
    F32OverBf16,
}

impl ConvIn {
    /// What `opts` get: f32 over bf16 for bf16 on a CPU without bf16 kernels.
    pub fn for_run(opts: &RunOptions) -> ConvIn {
        if opts.device == Device::Cpu
            && opts.precision == Precision::Bf16
            && !cpu_has_bf16_kernels()
        {
            ConvIn::F32OverBf16
        } else {
            ConvIn::RunDtype
        }
    }
}

/// A BatchNorm's eval-mode effect `y = x * scale + shift`, per channel, in f64.
fn scale_shift(bn: &BatchNorm, eps: f64) -> (Tensor, Tensor) {
    affine(&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var, eps)
}

/// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`, in f64.
fn affine(
    gamma: &Tensor,
    beta: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    eps: f64,
) -> (Tensor, Tensor) {
    let scale = f64_cpu(gamma) / (f64_cpu(var) + eps).sqrt();
    let shift = f64_cpu(beta) - f64_cpu(mean) * &scale;
    (scale, shift)
}

fn f64_cpu(t: &Tensor) -> Tensor {
    t.detach().to_device(Device::Cpu).to_kind(Kind::Double)
}

/// `conv` followed by `bn` as one convolution `(weight, bias)`, in f64:
/// `bn(conv(x) + b) = conv_{w * s}(x) + (b * s + t)`, per output channel,
/// with `s`, `t` from [`scale_shift`].
pub fn fold_conv_bn(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn_weight: &Tensor,
    bn_bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f64,
) -> (Tensor, Tensor) {
    let (scale, shift) = affine(bn_weight, bn_bias, running_mean, running_var, eps);
    let w = f64_cpu(weight) * scale.view([-1, 1, 1, 1]);
    let b = match bias {
        Some(b) => f64_cpu(b) * &scale + shift,
        None => shift,
    };
    (w, b)
}

/// Where and in what dtype the folded tensors live.
#[derive(Clone, Copy)]
struct Target {
    device: Device,
    kind: Kind,
    channels_last: bool,
    conv_in: ConvIn,
}

impl Target {
    /// An f64 tensor made in [`fold_conv_bn`] or [`scale_shift`], cast once.
    fn place(&self, t: Tensor, kind: Kind) -> Tensor {
        let t = t.to_kind(kind).to_device(self.device);
        if self.channels_last && t.dim() == 4 {
            to_channels_last(&t)
        } else {
            t
        }
    }

    /// A convolution's weight or bias: cast once to the run's dtype, then,
    /// for [`ConvIn::F32OverBf16`], widened (exactly) to f32.
    fn place_conv(&self, t: Tensor) -> Tensor {
        let t = self.place(t, self.kind);
        match self.conv_in {
            ConvIn::RunDtype => t,
            ConvIn::F32OverBf16 => t.to_kind(Kind::Float),
        }
    }
}

/// A convolution with its bias, in the run's dtype.
#[derive(Debug)]
struct FConv {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: i64,
    padding: i64,
    groups: i64,
    conv_in: ConvIn,
}

impl FConv {
    fn plain(c: &Conv, t: Target) -> FConv {
        FConv {
            weight: t.place_conv(f64_cpu(&c.weight)),
            bias: c.bias.as_ref().map(|b| t.place_conv(f64_cpu(b))),
            stride: c.stride,
            padding: c.padding,
            groups: c.groups,
            conv_in: t.conv_in,
        }
    }

    fn folded(c: &Conv, bn: &BatchNorm, t: Target) -> FConv {
        let (w, b) = fold_conv_bn(
            &c.weight,
            c.bias.as_ref(),
            &bn.weight,
            &bn.bias,
            &bn.running_mean,
            &bn.running_var,
            BN_EPS,
        );
        FConv {
            weight: t.place_conv(w),
            bias: Some(t.place_conv(b)),
            stride: c.stride,
            padding: c.padding,
            groups: c.groups,
            conv_in: t.conv_in,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let conv = |x: &Tensor| {
            x.conv2d(
                &self.weight,
                self.bias.as_ref(),
                [self.stride, self.stride],
                [self.padding, self.padding],
                [1, 1],
                self.groups,
            )
        };
        match self.conv_in {
            ConvIn::RunDtype => conv(xs),
            ConvIn::F32OverBf16 => conv(&xs.to_kind(Kind::Float)).to_kind(Kind::BFloat16),
        }
    }
}

/// A pre-activation BatchNorm as scale and shift (f32, as BatchNorm's own
/// parameters are), then the activation.
#[derive(Debug)]
struct Affine {
    scale: Tensor,
    shift: Tensor,
    zeros: Tensor,
    ones: Tensor,
    act: Act,
}

impl Affine {
    fn new(bn: &BatchNorm, act: Act, t: Target) -> Affine {
        let (s, b) = scale_shift(bn, BN_EPS);
        let c = s.size()[0];
        let on = |x: Tensor| x.to_kind(Kind::Float).to_device(t.device);
        Affine {
            scale: on(s),
            shift: on(b),
            zeros: on(Tensor::zeros([c], (Kind::Double, Device::Cpu))),
            ones: on(Tensor::ones([c], (Kind::Double, Device::Cpu))),
            act,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        // Eval BatchNorm with mean 0, variance 1 and epsilon 0 is exactly
        // x * scale + shift, in one pass that keeps the input's dtype and
        // memory format (which a broadcast mul-add would not promise).
        let y = xs.batch_norm(
            Some(&self.scale),
            Some(&self.shift),
            Some(&self.zeros),
            Some(&self.ones),
            false,
            0.0,
            0.0,
            true,
        );
        self.act.apply(y)
    }
}

#[derive(Debug)]
enum FTail {
    Joint(FConv),
    Split(FConv, FConv),
}

#[derive(Debug)]
struct FBlock {
    proj: Option<(Affine, FConv)>,
    pre: Affine,
    /// `c1x1_a`'s convolution with `c3x3_b`'s BatchNorm folded in.
    a: FConv,
    /// `c3x3_b`'s convolution with `c1x1_c`'s BatchNorm folded in.
    b: FConv,
    /// The activation after each folded convolution.
    act: Act,
    tail: FTail,
    bw: i64,
}

impl FBlock {
    fn forward(&self, x: &Flow<Tensor>) -> Flow<Tensor> {
        let x_in = x.joined();
        let (x_s1, x_s2) = match (&self.proj, x) {
            (Some((pre, conv)), _) => {
                let x_s = conv.forward(&pre.forward(&x_in));
                let c = x_s.size()[1];
                (
                    x_s.narrow(1, 0, self.bw),
                    x_s.narrow(1, self.bw, c - self.bw),
                )
            }
            (None, Flow::Pair(r, d)) => (r.shallow_clone(), d.shallow_clone()),
            (None, Flow::Single(_)) => unreachable!("a normal block always follows another block"),
        };
        let h = self.act.apply(self.a.forward(&self.pre.forward(&x_in)));
        let h = self.act.apply(self.b.forward(&h));
        let (out1, out2) = match &self.tail {
            FTail::Joint(c) => {
                let h = c.forward(&h);
                let c = h.size()[1];
                (h.narrow(1, 0, self.bw), h.narrow(1, self.bw, c - self.bw))
            }
            FTail::Split(c1, c2) => (c1.forward(&h), c2.forward(&h)),
        };
        Flow::Pair(x_s1 + out1, Tensor::cat(&[x_s2, out2], 1))
    }
}

/// A [`Dpn`] with its BatchNorms folded, for inference only, in one dtype,
/// memory format and device.
#[derive(Debug)]
pub struct Folded {
    stem: FConv,
    stem_act: Act,
    blocks: Vec<FBlock>,
    head: Affine,
    classifier: FConv,
    num_features: i64,
}

impl Folded {
    /// The inference form of `model` for `opts`: a pure function of the
    /// model's weights and activations (it reads `model`, changes nothing),
    /// to run on inputs prepared by [`super::run_opts::prepare_input`]. The
    /// model's weights must still be f32 (fold before inference's
    /// `prepare_model_for_inference` casts them).
    pub fn new(model: &Dpn, opts: &RunOptions) -> Folded {
        Folded::with_conv_in(model, opts, ConvIn::for_run(opts))
    }

    /// As [`Folded::new`], with the convolutions' dtype chosen by the caller
    /// (to compare the two forms on one machine).
    pub fn with_conv_in(model: &Dpn, opts: &RunOptions, conv_in: ConvIn) -> Folded {
        let t = Target {
            device: opts.device,
            kind: opts.precision.kind(),
            channels_last: opts.channels_last,
            conv_in,
        };
        tch::no_grad(|| {
            let blocks = model
                .blocks
                .iter()
                .map(|b| {
                    let (b_bn, b_act) = (&b.c3x3_b.bn_act.bn, b.c3x3_b.bn_act.act);
                    let (c_bn, c_act, tail) = match &b.tail {
                        Tail::Joint(c) => (
                            &c.bn_act.bn,
                            c.bn_act.act,
                            FTail::Joint(FConv::plain(&c.conv, t)),
                        ),
                        Tail::Split { bn_act, c1, c2 } => (
                            &bn_act.bn,
                            bn_act.act,
                            FTail::Split(FConv::plain(c1, t), FConv::plain(c2, t)),
                        ),
                    };
                    // One activation field serves both folded convolutions:
                    // every block BatchNorm shares [`super::Activations::blocks`].
                    debug_assert_eq!(b_act, c_act);
                    FBlock {
                        proj: b.proj.as_ref().map(|p| {
                            (
                                Affine::new(&p.bn_act.bn, p.bn_act.act, t),
                                FConv::plain(&p.conv, t),
                            )
                        }),
                        pre: Affine::new(&b.c1x1_a.bn_act.bn, b.c1x1_a.bn_act.act, t),
                        a: FConv::folded(&b.c1x1_a.conv, b_bn, t),
                        b: FConv::folded(&b.c3x3_b.conv, c_bn, t),
                        act: b_act,
                        tail,
                        bw: b.bw,
                    }
                })
                .collect();
            Folded {
                stem: FConv::folded(&model.stem, &model.stem_bn_act.bn, t),
                stem_act: model.stem_bn_act.act,
                blocks,
                head: Affine::new(&model.conv5_bn_ac.bn, model.conv5_bn_ac.act, t),
                classifier: FConv::plain(&model.classifier, t),
                num_features: model.num_features as i64,
            }
        })
    }

    /// Pooled pre-logit embeddings `[N, num_features]`.
    pub fn forward_features(&self, xs: &Tensor) -> Tensor {
        let x = self.stem_act.apply(self.stem.forward(xs));
        let x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        let mut flow = Flow::Single(x);
        for block in &self.blocks {
            flow = block.forward(&flow);
        }
        let x = self.head.forward(&flow.joined());
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }

    /// Logits from pooled embeddings.
    pub fn classify_features(&self, features: &Tensor) -> Tensor {
        let n = features.size()[0];
        let pooled = features.view([n, self.num_features, 1, 1]);
        self.classifier.forward(&pooled).flatten(1, -1)
    }

    /// Logits `[N, num_classes]`.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        self.classify_features(&self.forward_features(xs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bf16 convolutions computed in f32 ([`ConvIn::F32OverBf16`]) are as
    /// close to the f32 network as libtorch's own bf16 convolutions are:
    /// the same bf16 rounding of weights and activations, f32 sums.
    #[test]
    fn bf16_convolutions_in_f32_are_as_close_as_bf16_kernels() {
        tch::manual_seed(11);
        let registry = crate::registry::Registry::load(None).unwrap();
        let spec = registry.get("dpn68").unwrap();
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let model = Dpn::new(&vs.root(), &spec.arch);
        let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        let run = |precision, conv_in| {
            let opts = RunOptions::new(Device::Cpu, precision, true).unwrap();
            let net = Folded::with_conv_in(&model, &opts, conv_in);
            let xs = super::super::run_opts::prepare_input(&x, &opts);
            let logits = tch::no_grad(|| net.forward(&xs));
            assert_eq!(logits.kind(), precision.kind(), "{conv_in:?}");
            logits.to_kind(Kind::Float)
        };
        let f32 = run(Precision::F32, ConvIn::RunDtype);
        let native = run(Precision::Bf16, ConvIn::RunDtype);
        let widened = run(Precision::Bf16, ConvIn::F32OverBf16);
        let diff = |a: &Tensor| (a - &f32).abs().max().double_value(&[]);
        let scale = f32.abs().max().double_value(&[]);
        let (d_native, d_widened) = (diff(&native), diff(&widened));
        assert!(d_native > 0.0, "bf16 must differ from f32 at all");
        assert!(
            d_widened <= 2.0 * d_native + 1e-3 * scale,
            "f32-over-bf16 {d_widened:e} against bf16 kernels {d_native:e} (scale {scale:e})"
        );
        eprintln!("bf16 logits vs f32: kernels {d_native:.3e}, widened {d_widened:.3e} (scale {scale:.3e})");
        // No top-1 comparison here: a random network's logits lie within
        // 1e-4 of each other, so which bf16 form wins a row depends on the
        // order of the kernels' sums (threads, ISA) and flipped between runs
        // on one AVX-512 machine. Decisions are checked where they mean
        // something: real weights on real photographs, tests/predict_eval.rs.
    }

    /// Folding is exact algebra: in f64, conv then eval BatchNorm equals the
    /// folded convolution to rounding (< 1e-12).
    #[test]
    fn folding_one_conv_bn_pair_is_exact_in_f64() {
        tch::manual_seed(7);
        let opts = (Kind::Double, Device::Cpu);
        let (cin, cout) = (6, 5);
        let x = Tensor::randn([2, cin, 9, 9], opts);
        let w = Tensor::randn([cout, cin, 3, 3], opts);
        let bias = Tensor::randn([cout], opts);
        let gamma = Tensor::randn([cout], opts);
        let beta = Tensor::randn([cout], opts);
        let mean = Tensor::randn([cout], opts);
        let var = Tensor::rand([cout], opts) + 0.1;
        for conv_bias in [None, Some(&bias)] {
            let reference = x
                .conv2d(&w, conv_bias, [2, 2], [1, 1], [1, 1], 1)
                .batch_norm(
                    Some(&gamma),
                    Some(&beta),
                    Some(&mean),
                    Some(&var),
                    false,
                    0.1,
                    BN_EPS,
                    false,
                );
            let (fw, fb) = fold_conv_bn(&w, conv_bias, &gamma, &beta, &mean, &var, BN_EPS);
            let folded = x.conv2d(&fw, Some(&fb), [2, 2], [1, 1], [1, 1], 1);
            let diff = (&folded - &reference).abs().max().double_value(&[]);
            assert!(diff < 1e-12, "largest difference {diff:e}");
        }
    }
}
