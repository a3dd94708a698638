//! One pass over each parameter's memory for the per-element updates that
//! every step runs (SGD, Adam/AdamW, RMSpropTF, the model EMA), on CPU tensors.
//!
//! Written here rather than as tensor ops because libtorch's fused and
//! `_foreach_` optimizer kernels are not in tch's API, and the op-by-op form
//! costs more than its arithmetic: AdamW is eight kernels and five
//! temporaries per parameter, each kernel an OpenMP region whose barrier
//! waits for every intra-op thread. While `dpn train`'s data workers keep the
//! cores busy a descheduled thread stalls each of those barriers; on 2 cores
//! with one core busy, AdamW's step over dpn48b went from 23 ms to 100 ms
//! (examples/optim_bench.rs). Here a step is one region: its chunks are
//! handed out from one counter to torch's number of intra-op threads, so a
//! thread that is descheduled only delays the end of the step once.
//!
//! Each element is computed in the tensor's own type, in the order torch's
//! CPU kernels compute it. Where those kernels call `fmadd` (`add` with an
//! alpha, `lerp`), the sum here is fused as well ([`Real::mul_add`], one
//! rounding), so the EMA equals timm's `lerp_` bit for bit; `addcmul` and
//! `addcdiv` round each product and sum apart as written in torch, so in f32
//! an optimizer's step can differ from torch's in the last bit (f64 runs are
//! checked against timm's optimizers at 1e-10 in tests/train_optim.rs). The
//! fused sum is an instruction where the CPU has FMA and glibc's correctly
//! rounded `fma` elsewhere: the same numbers on every machine.
//!
//! Tensors that are not on the CPU, not of one float kind, or not laid out
//! alike (a parameter, its gradient and its state with the same sizes and
//! strides, without gaps) are left to each optimizer's tensor-op path.

use std::ops::{Add, Div, Mul, Sub};
use std::sync::atomic::{AtomicUsize, Ordering};

use tch::{Device, Kind, Tensor};

/// Elements per work item: large enough that handing one out costs nothing
/// against its memory traffic, small enough to balance two threads.
const CHUNK: usize = 1 << 15;

/// The element types the kernels run on.
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    /// A scalar argument as torch passes it to a kernel of this type.
    fn of(v: f64) -> Self;
    fn sqrt(self) -> Self;
    /// `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f32 {
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
}

impl Real for f64 {
    fn of(v: f64) -> f64 {
        v
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
}

/// torch's `lerp` with a scalar weight (aten's `lerp_vec` in
/// cpu/LerpKernel.cpp: `fmadd(coeff, end - start, base)`), the weight as the
/// kernel's type sees it.
#[derive(Clone, Copy)]
pub(crate) struct Lerp<T> {
    small: bool,
    w: T,
}

impl<T: Real> Lerp<T> {
    pub fn new(weight: f64) -> Lerp<T> {
        Lerp {
            small: weight.abs() < 0.5,
            w: T::of(weight),
        }
    }

    #[inline(always)]
    pub fn at(&self, start: T, end: T) -> T {
        if self.small {
            self.w.mul_add(end - start, start)
        } else {
            (self.w - T::of(1.0)).mul_add(end - start, end)
        }
    }
}

/// The per-element update of one optimizer (or the EMA): called on matching
/// ranges of the tensors pushed as set `index`, in the order they were pushed.
pub(crate) trait Kernel: Sync {
    /// Implementations are `#[inline(always)]`, so that the FMA build of
    /// the loop is the one that runs where the CPU has FMA.
    fn apply<T: Real>(&self, index: usize, tensors: &mut [&mut [T]]);
}

/// One set's tensors: the first element of each, and their common length.
struct Set {
    index: usize,
    ptrs: Vec<*mut u8>,
    len: usize,
}

/// Sets of tensors to update in one pass; see the module documentation.
pub(crate) struct Views {
    kind: Kind,
    sets: Vec<Set>,
    /// Handles of the tensors whose memory the pointers are into, so that
    /// none is freed while the views exist (a gradient handle is a new one).
    held: Vec<Tensor>,
}

// SAFETY: the pointers are into tensors `held` keeps alive; `run` hands each
// element range of a set to exactly one thread.
unsafe impl Send for Views {}
unsafe impl Sync for Views {}

#[cfg(test)]
thread_local! {
    /// Tests turn the kernels off to compare them with the tensor-op path.
    pub(crate) static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Views {
    /// Views for tensors of `like`'s kind, if the kernels take it (f32, f64).
    pub fn new(like: &Tensor) -> Views {
        Views {
            kind: like.kind(),
            sets: Vec::new(),
            held: Vec::new(),
        }
    }

    /// Adds `tensors` (distinct tensors, the first one written by the
    /// kernel's rule as each one it writes) as set `index`, when they are
    /// CPU tensors of this kind with one dense layout; false leaves them to
    /// the caller.
    pub fn push(&mut self, index: usize, tensors: &[&Tensor]) -> bool {
        #[cfg(test)]
        if DISABLED.with(|d| d.get()) {
            return false;
        }
        if !matches!(self.kind, Kind::Float | Kind::Double) {
            return false;
        }
        let Some(first) = tensors.first() else {
            return false;
        };
        let (size, stride) = (first.size(), first.stride());
        let alike = tensors.iter().all(|t| {
            t.device() == Device::Cpu
                && t.kind() == self.kind
                && t.size() == size
                && t.stride() == stride
        });
        if !alike || !dense(&size, &stride) {
            return false;
        }
        let len = first.numel();
        let ptrs: Vec<*mut u8> = tensors.iter().map(|t| t.data_ptr() as *mut u8).collect();
        // Two handles on one memory would be written from two places.
        let mut distinct = ptrs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != ptrs.len() || len == 0 {
            return false;
        }
        self.held.extend(tensors.iter().map(|t| t.shallow_clone()));
        self.sets.push(Set { index, ptrs, len });
        true
    }

    /// Runs `kernel` over every set, split into chunks spread over torch's
    /// intra-op threads.
    pub fn run<K: Kernel>(&self, kernel: &K) {
        match self.kind {
            Kind::Float => self.run_as::<f32, K>(kernel),
            Kind::Double => self.run_as::<f64, K>(kernel),
            _ => debug_assert!(self.sets.is_empty()),
        }
    }

    fn run_as<T: Real, K: Kernel>(&self, kernel: &K) {
        let jobs: Vec<(usize, usize, usize)> = self
            .sets
            .iter()
            .enumerate()
            .flat_map(|(s, set)| {
                let len = set.len;
                (0..len)
                    .step_by(CHUNK)
                    .map(move |start| (s, start, (start + CHUNK).min(len)))
            })
            .collect();
        let next = AtomicUsize::new(0);
        let work = || {
            let mut slices: Vec<&mut [T]> = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(s, start, end)) = jobs.get(j) else {
                    break;
                };
                let set = &self.sets[s];
                slices.clear();
                for &ptr in &set.ptrs {
                    // SAFETY: `push` checked that each pointer starts a dense tensor of
                    // `len` elements of this kind, all distinct; chunk `j` is
                    // handed to this thread alone, and `held` keeps the memory.
                    slices.push(unsafe {
                        std::slice::from_raw_parts_mut((ptr as *mut T).add(start), end - start)
                    });
                }
                apply(kernel, set.index, &mut slices);
            }
        };
        let threads = (tch::get_num_threads().max(1) as usize).min(jobs.len());
        if threads <= 1 {
            work();
            return;
        }
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(work);
            }
            work();
        });
    }
}

/// `kernel.apply`, compiled with FMA where the CPU has it: without it
/// `mul_add` is a call into libm per element.
fn apply<T: Real, K: Kernel>(kernel: &K, index: usize, t: &mut [&mut [T]]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { apply_fma(kernel, index, t) };
    }
    kernel.apply(index, t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn apply_fma<T: Real, K: Kernel>(kernel: &K, index: usize, t: &mut [&mut [T]]) {
    kernel.apply(index, t)
}

/// Weight decay and LR scale by parameter index, as the kernels look them up.
pub(crate) fn groups(params: &[super::Param]) -> Vec<(f64, f64)> {
    params
        .iter()
        .map(|p| (p.weight_decay, p.lr_scale))
        .collect()
}

/// Whether sizes and strides describe elements without gaps or overlaps, in
/// any order of dimensions (contiguous, channels-last, transposed).
fn dense(size: &[i64], stride: &[i64]) -> bool {
    let mut dims: Vec<(i64, i64)> = stride
        .iter()
        .zip(size)
        .filter(|(_, &n)| n != 1)
        .map(|(&s, &n)| (s, n))
        .collect();
    dims.sort_unstable();
    let mut expected = 1;
    for (s, n) in dims {
        if s != expected {
            return false;
        }
        expected *= n;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_layouts_are_told_from_gapped_ones() {
        assert!(dense(&[4, 3], &[3, 1]));
        assert!(dense(&[4, 3], &[1, 4]));
        assert!(dense(&[2, 3, 4, 5], &[60, 1, 15, 3]));
        assert!(dense(&[1, 3], &[100, 1]));
        assert!(!dense(&[4, 3], &[6, 1]));
        assert!(!dense(&[4, 3], &[0, 1]));
    }

    struct Double;
    impl Kernel for Double {
        fn apply<T: Real>(&self, _: usize, t: &mut [&mut [T]]) {
            let (a, b) = t.split_at_mut(1);
            for (x, y) in a[0].iter_mut().zip(b[0].iter()) {
                *x = *y + *y;
            }
        }
    }

    #[test]
    fn every_element_of_every_set_is_visited_once() {
        tch::set_num_threads(2);
        let n = 3 * CHUNK as i64 + 7;
        let src = Tensor::arange(n, (Kind::Double, Device::Cpu));
        let dst = src.zeros_like();
        let small_src = Tensor::ones([5], (Kind::Double, Device::Cpu));
        let small_dst = small_src.zeros_like();
        let mut v = Views::new(&src);
        assert!(v.push(0, &[&dst, &src]));
        assert!(v.push(1, &[&small_dst, &small_src]));
        // One memory twice, another kind, gaps: left to the caller.
        assert!(!v.push(2, &[&dst, &dst]));
        assert!(!v.push(2, &[&small_dst.to_kind(Kind::Float), &small_src]));
        let wide = Tensor::zeros([4, 6], (Kind::Double, Device::Cpu));
        assert!(!v.push(2, &[&wide.narrow(1, 0, 3), &wide.narrow(1, 3, 3)]));
        v.run(&Double);
        assert_eq!(
            dst.double_value(&[n - 1]),
            2.0 * (n - 1) as f64,
            "last element"
        );
        assert!(dst.equal(&(&src * 2.0)));
        assert!(small_dst.equal(&(small_src * 2.0)));
    }

    /// Parameters (a weight over several chunks, a bias without decay),
    /// stepped `steps` times with gradients from a seeded generator.
    fn stepped(name: &str, kind: Kind, fused: bool) -> Vec<(String, Tensor)> {
        DISABLED.with(|d| d.set(!fused));
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let w = vs
            .root()
            .var("w", &[3, CHUNK as i64 + 11], tch::nn::Init::Const(0.5));
        let b = vs.root().var("b", &[3], tch::nn::Init::Const(-0.25));
        let mut vs = vs;
        if kind == Kind::Double {
            vs.double();
        }
        let opts = crate::train::optim::Options {
            name: name.into(),
            momentum: 0.9,
            weight_decay: 0.05,
            eps: None,
            betas: None,
            layer_decay: None,
        };
        let mut opt = crate::train::optim::build(&opts, &vs).unwrap();
        for step in 0..4 {
            opt.zero_grad();
            tch::manual_seed(step);
            let (cw, cb) = (w.randn_like(), b.randn_like());
            ((&w * cw).sum(kind) + (&b * cb).sum(kind)).backward();
            opt.step(0.01 * (step + 1) as f64);
        }
        DISABLED.with(|d| d.set(false));
        let mut out: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        out.extend(opt.state());
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn the_kernels_compute_what_the_tensor_ops_compute() {
        for name in ["sgd", "momentum", "adam", "adamw", "rmsproptf"] {
            for (kind, tol) in [(Kind::Double, 1e-14), (Kind::Float, 1e-6)] {
                let fused = stepped(name, kind, true);
                let ops = stepped(name, kind, false);
                assert_eq!(fused.len(), ops.len(), "{name}");
                for ((n, a), (_, b)) in fused.iter().zip(&ops) {
                    let d = (a - b).abs().max().double_value(&[]);
                    let scale = b.abs().max().double_value(&[]).max(1e-30);
                    assert!(d / scale <= tol, "{name} {kind:?} {n}: {d:e} of {scale:e}");
                }
            }
        }
    }
}
