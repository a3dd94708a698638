//! Running a [`Dpn`] (or its folded form) for inference on a device, in a
//! precision and memory format ([`RunOptions`], from `run_opts.rs`).
//!
//! Reduced precision works like PyTorch's autocast for this network: the
//! parameters stay f32, the input is cast to bf16/f16, every convolution casts
//! its weight to its input's dtype, and BatchNorm runs on the reduced-precision
//! activations with f32 parameters and statistics. (tch's `autocast` only
//! switches CUDA autocast on with its default dtype, f16, and cannot select
//! bf16; doing the casts in the model serves both dtypes, on CPU too.)

use anyhow::Result;
use tch::{nn, Device, Kind, Tensor};

use super::fold::Folded;
pub use super::run_opts::{
    device_name, is_channels_last, parse_device, prepare_input, to_channels_last, Precision,
    RunOptions,
};
use super::Dpn;
use crate::sys::error;

/// Moves the model's variables to `opts.device` and, for channels-last,
/// re-lays every 4-d weight out as NHWC (values unchanged). Parameters stay in
/// their dtype (f32); the precision applies per forward ([`prepare_input`]).
pub fn prepare_model(vs: &mut nn::VarStore, opts: &RunOptions) {
    if vs.device() != opts.device {
        vs.set_device(opts.device);
    }
    if opts.channels_last {
        tch::no_grad(|| {
            for (_, mut t) in vs.variables() {
                if t.dim() == 4 && !is_channels_last(&t) {
                    let nhwc = to_channels_last(&t.detach());
                    t.set_data(&nhwc);
                }
            }
        });
    }
}

/// [`prepare_model`] for a model that only runs inference: the convolution
/// weights and the classifier's bias are also stored in the precision's
/// dtype, once, instead of being cast again by every forward pass. BatchNorm
/// keeps its f32 parameters and statistics, and the logits are bit-identical
/// (the same rounding, done once). Training keeps f32 weights: use
/// [`prepare_model`].
pub fn prepare_model_for_inference(vs: &mut nn::VarStore, opts: &RunOptions) {
    prepare_model(vs, opts);
    let kind = opts.precision.kind();
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if (t.dim() == 4 || name == "classifier.bias") && t.kind() != kind {
                // to_kind keeps the strides, so channels-last weights stay so.
                let cast = t.detach().to_kind(kind);
                t.set_data(&cast);
            }
        }
    });
}

/// A network that runs inference: the exact [`Dpn`] in eval mode, or its
/// folded form ([`Folded`]).
pub trait Forward {
    /// Logits `[N, num_classes]`.
    fn logits(&self, xs: &Tensor) -> Tensor;
    /// Pooled embeddings `[N, num_features]`.
    fn features(&self, xs: &Tensor) -> Tensor;
    /// Logits from [`Forward::features`].
    fn classify(&self, features: &Tensor) -> Tensor;
}

impl Forward for Dpn {
    fn logits(&self, xs: &Tensor) -> Tensor {
        self.forward_t(xs, false)
    }
    fn features(&self, xs: &Tensor) -> Tensor {
        self.forward_features(xs, false)
    }
    fn classify(&self, features: &Tensor) -> Tensor {
        self.classify_features(features)
    }
}

impl Forward for Folded {
    fn logits(&self, xs: &Tensor) -> Tensor {
        self.forward(xs)
    }
    fn features(&self, xs: &Tensor) -> Tensor {
        self.forward_features(xs)
    }
    fn classify(&self, features: &Tensor) -> Tensor {
        self.classify_features(features)
    }
}

/// Eval-mode logits `[N, num_classes]`, computed without gradients in the
/// requested precision and memory format, returned as f32 on the model's device.
pub fn infer(model: &(impl Forward + ?Sized), xs: &Tensor, opts: &RunOptions) -> Tensor {
    tch::no_grad(|| model.logits(&prepare_input(xs, opts)).to_kind(Kind::Float))
}

/// Eval-mode logits and pooled features `[N, num_features]` from one pass,
/// both as [`infer`] returns logits.
pub fn infer_with_features(
    model: &(impl Forward + ?Sized),
    xs: &Tensor,
    opts: &RunOptions,
) -> (Tensor, Tensor) {
    tch::no_grad(|| {
        let f = model.features(&prepare_input(xs, opts));
        let logits = model.classify(&f);
        (logits.to_kind(Kind::Float), f.to_kind(Kind::Float))
    })
}

/// Runs batches through a model in eval mode. A batch that runs out of
/// memory is split into halves and run again (down to one image), and later
/// batches are split the same way, so that the results are those of a run at
/// the smaller batch size; with retries off, out of memory is an error at
/// once. Either way the error names the device, the batch size and what to
/// try (exit code 8).
pub struct Runner<'a> {
    model: &'a dyn Forward,
    opts: RunOptions,
    retry: bool,
    /// Retries not yet reported, for the caller to print (it owns stderr).
    notes: Vec<String>,
    /// The largest batch known to fit; `usize::MAX` until a batch failed.
    limit: usize,
}

impl<'a> Runner<'a> {
    pub fn new(model: &'a dyn Forward, opts: RunOptions, retry: bool) -> Runner<'a> {
        Runner {
            model,
            opts,
            retry,
            notes: Vec::new(),
            limit: usize::MAX,
        }
    }

    /// What happened since the last call (a retry at a smaller batch), for stderr.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The batch size batches are run at now (after any retries).
    pub fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }

    /// [`infer`] on `xs` (a CPU batch).
    pub fn logits(&mut self, xs: &Tensor) -> Result<Tensor> {
        let parts = self.run(xs, |m, x, o| infer(m, x, o).to_device(Device::Cpu))?;
        Ok(join(parts))
    }

    /// [`infer_with_features`] on `xs` (a CPU batch).
    pub fn logits_and_features(&mut self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        let parts = self.run(xs, |m, x, o| {
            let (l, f) = infer_with_features(m, x, o);
            (l.to_device(Device::Cpu), f.to_device(Device::Cpu))
        })?;
        let (l, f): (Vec<Tensor>, Vec<Tensor>) = parts.into_iter().unzip();
        Ok((join(l), join(f)))
    }

    fn run<T>(
        &mut self,
        xs: &Tensor,
        f: impl Fn(&dyn Forward, &Tensor, &RunOptions) -> T,
    ) -> Result<Vec<T>> {
        let n = xs.size()[0] as usize;
        let mut out = Vec::new();
        let mut start = 0;
        while start < n {
            let len = self.limit.min(n - start);
            let chunk = xs.narrow(0, start as i64, len as i64);
            #[cfg(feature = "test-hooks")]
            let injected = crate::sys::fail::forward(len);
            #[cfg(not(feature = "test-hooks"))]
            let injected: Option<tch::TchError> = None;
            let result = match injected {
                Some(e) => Err(e.into()),
                None => crate::sys::panic::catch(|| f(self.model, &chunk, &self.opts)),
            };
            match result {
                Ok(t) => {
                    out.push(t);
                    start += len;
                }
                Err(e) if error::is_out_of_memory(&e) && self.retry && len > 1 => {
                    let smaller = len.div_ceil(2);
                    self.notes.push(format!(
                        "out of memory on {} at batch size {len}; retrying in batches of \
                         {smaller} (--no-retry stops instead)",
                        device_name(self.opts.device)
                    ));
                    self.limit = smaller;
                }
                Err(e) if error::is_out_of_memory(&e) => {
                    let hint = if len > 1 {
                        format!("try --batch-size {}", len.div_ceil(2))
                    } else {
                        "one image does not fit: try a smaller --img-size, --dtype bf16, \
                         or another device"
                            .to_string()
                    };
                    return Err(error::out_of_memory(format!(
                        "out of memory on {} at batch size {len}: {}; {hint}",
                        device_name(self.opts.device),
                        oom_detail(&e)
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The chunks of a batch as one tensor; a batch that ran whole (the usual
/// case) is returned as it is, without a copy.
fn join(mut parts: Vec<Tensor>) -> Tensor {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Tensor::cat(&parts, 0)
    }
}

/// libtorch's own words about an out-of-memory error (its first line).
pub fn oom_detail(e: &anyhow::Error) -> String {
    e.chain()
        .find_map(|c| c.downcast_ref::<crate::sys::panic::Libtorch>())
        .map_or_else(|| format!("{e:#}"), |l| l.message.clone())
}
