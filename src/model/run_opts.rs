//! How a model runs: the device, the dtype convolutions compute in, and the
//! memory format, with the input preparation they imply.
//!
//! Its own file because both forms of the network need it: [`super::fold`]
//! builds the folded network for a [`RunOptions`], and [`super::infer`] runs
//! either form with one. (Kept inside `infer.rs` it made `fold` and `infer`
//! import each other.) `infer` re-exports everything here, so callers keep
//! naming `model::infer::RunOptions`.
//!
//! Channels-last is done with strides: tch has no `MemoryFormat`, but a tensor
//! permuted to NHWC, made contiguous and permuted back is exactly PyTorch's
//! `channels_last` layout, and convolutions keep that layout.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use tch::{Cuda, Device, Kind, Tensor};

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

/// `xs` on the device, in the precision's dtype and memory format.
pub fn prepare_input(xs: &Tensor, opts: &RunOptions) -> Tensor {
    let x = xs.to_device(opts.device).to_kind(opts.precision.kind());
    if opts.channels_last {
        to_channels_last(&x)
    } else {
        x
    }
}
