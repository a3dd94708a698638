//! `dpn convert`: any supported weights file to timm-named safetensors.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::WeightsCheckArgs;
use super::Context;
use crate::output;
use crate::sys::output_path::OutputPath;
use crate::weights::convert::{self, parse_dtype};

#[derive(Debug, Args)]
#[command(after_help = "\
INPUT may be safetensors or a PyTorch .pth/.pt/.bin file in the zip or the legacy (pre-1.6) \
format, a bare state dict or a checkpoint holding one (`state_dict`, `model`, `state_dict_ema`), \
with DataParallel `module.` prefixes or Cadene-style `last_linear.*` names. Nothing in the file \
is executed. The output has timm's names and loads into timm with strict=True; it is written \
atomically, so a failure leaves no file behind. OUTPUT may be `-` (standard output), a device or \
a FIFO (written through once complete); a symlink's target is replaced and the link kept.")]
pub struct ConvertArgs {
    /// Weights file to read
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,

    /// Safetensors file to write (- for standard output)
    #[arg(value_name = "OUTPUT")]
    pub output: PathBuf,

    /// Model the weights are for (default: inferred from the tensor shapes)
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Floating-point type of the output: f32, f16 or bf16
    #[arg(long, default_value = "f32", value_name = "DTYPE")]
    pub dtype: String,

    #[command(flatten)]
    pub check: WeightsCheckArgs,
}

pub fn run(args: ConvertArgs, ctx: &Context) -> Result<()> {
    let dtype = parse_dtype(&args.dtype)?;
    OutputPath::check(&args.output, "output")?;
    let c = convert::convert_file(
        &ctx.registry,
        &args.input,
        &args.output,
        args.model.as_deref(),
        dtype,
        args.check.reject_non_finite,
    )?;
    args.check.apply(ctx, &c.health, &args.input)?;
    if c.added_nbt > 0 {
        ctx.ui.debug(format!(
            "added {} num_batches_tracked buffers (the source predates them)",
            c.added_nbt
        ));
    }
    ctx.ui.info(format!(
        "converted {} -> {}: {} ({} classes), {} tensors, {}, {}",
        args.input.display(),
        args.output.display(),
        c.model,
        c.num_classes,
        c.tensors,
        c.dtype.name(),
        output::bytes(c.bytes)
    ));
    Ok(())
}
