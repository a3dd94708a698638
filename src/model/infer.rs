//! Devices, precisions and memory formats for running a [`Dpn`].
//!
//! Reduced precision works like PyTorch's autocast for this network: the
//! parameters stay f32, the input is cast to bf16/f16, every convolution casts
//! its weight to its input's dtype, and BatchNorm runs on the reduced-precision
//! activations with f32 parameters and statistics. (tch's `autocast` only
//! switches CUDA autocast on with its default dtype, f16, and cannot select
//! bf16; doing the casts in the model serves both dtypes, on CPU too.)
//!
//! Channels-last is done with strides: tch has no `MemoryFormat`, but a tensor
//! permuted to NHWC, made contiguous and permuted back is exactly PyTorch's
//! `channels_last` layout, and convolutions keep that layout.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use tch::{nn, Cuda, Device, Kind, Tensor};

use super::fold::Folded;
use super::Dpn;
use crate::sys::error;

/// `auto` (cuda:0 when CUDA is available, else cpu), `cpu`, `cuda`, `cuda:N`.
pub fn parse_device(s: &str) -> Result<Device> {
    let t = s.trim().to_ascii_lowercase();
    let cuda_index = match t.as_str() {
        "auto" => {
            return Ok(if Cuda::is_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            })
        }
        "cpu" => return Ok(Device::Cpu),
        "cuda" | "gpu" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => {
                return Err(error::usage(format!(
                    "invalid device `{s}`: expected auto, cpu, cuda or cuda:N"
                )))
            }
        },
    };
    if !Cuda::is_available() {
        return Err(error::usage(format!(
            "device `{s}` requested, but CUDA is not available (this libtorch has no CUDA support or no GPU is visible); \
             use --device cpu"
        )));
    }
    let count = Cuda::device_count() as usize;
    if cuda_index >= count {
        return Err(error::usage(format!(
            "device `{s}` requested, but only {count} CUDA device{} visible (cuda:0{})",
            if count == 1 { " is" } else { "s are" },
            if count > 1 {
                format!("..cuda:{}", count - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(Device::Cuda(cuda_index))
}

/// The name a device has on the command line (`cpu`, `cuda:0`).
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
    }
}

/// The dtype convolutions compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    F16,
}

impl Precision {
    pub fn kind(self) -> Kind {
        match self {
            Precision::F32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::F16 => Kind::Half,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    /// The one table of dtype names and aliases (case-insensitive) that every
    /// `--dtype` accepts.
    pub fn parse_name(s: &str) -> Option<Precision> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" | "float" => Some(Precision::F32),
            "bf16" | "bfloat16" => Some(Precision::Bf16),
            "fp16" | "f16" | "float16" | "half" => Some(Precision::F16),
            _ => None,
        }
    }

    /// fp16 needs CUDA; bf16 and fp32 run anywhere.
    pub fn check_device(self, device: Device) -> Result<()> {
        if self == Precision::F16 && device == Device::Cpu {
            return Err(error::usage(
                "f16 is only supported on CUDA; use --dtype bf16 or f32 on the CPU",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Precision> {
        Precision::parse_name(s)
            .ok_or_else(|| error::usage(format!("invalid dtype `{s}`: expected f32, bf16 or f16")))
    }
}

/// How to run a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    pub device: Device,
    pub precision: Precision,
    pub channels_last: bool,
}

impl RunOptions {
    pub fn new(device: Device, precision: Precision, channels_last: bool) -> Result<RunOptions> {
        precision.check_device(device)?;
        Ok(RunOptions {
            device,
            precision,
            channels_last,
        })
    }
}

/// `t` (4-d) in PyTorch's channels-last layout: same shape, NHWC strides.
pub fn to_channels_last(t: &Tensor) -> Tensor {
    if t.dim() != 4 || is_channels_last(t) {
        return t.shallow_clone();
    }
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Whether a 4-d tensor has NHWC strides.
pub fn is_channels_last(t: &Tensor) -> bool {
    if t.dim() != 4 {
        return false;
    }
    let s = t.size();
    let st = t.stride();
    let (c, h, w) = (s[1], s[2], s[3]);
    st[1] == 1 && st[3] == c && st[2] == c * w && (s[0] == 1 || st[0] == c * h * w)
}

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

/// `xs` on the device, in the precision's dtype and memory format.
pub fn prepare_input(xs: &Tensor, opts: &RunOptions) -> Tensor {
    let x = xs.to_device(opts.device).to_kind(opts.precision.kind());
    if opts.channels_last {
        to_channels_last(&x)
    } else {
        x
    }
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
