//! `dpn export`: a model as an ONNX file, read back and checked before
//! success is reported (docs/export.md).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use tch::Device;

use super::common::{self, ModelArgs, PreprocessArgs};
use super::Context;
use crate::export::{self, Description, Options};
use crate::model::infer::Precision;
use crate::output;
use crate::sys::error;
use crate::sys::output_path::OutputPath;
use crate::weights::load;

#[derive(Debug, Args)]
#[command(after_help = "\
The graph has one input, `pixel_values` (N, 3, H, W): RGB pixels after the model's resize, \
center crop and normalization, which the model's metadata records (input_size, crop_pct, \
interpolation, mean, std) with its class names. The output is `logits` (N, classes), and with \
--features also `features` (N, embedding). ONNX opset 17 (22 for bf16, the first that has bf16 \
convolutions); onnxruntime, TensorRT and OpenVINO read it. The file is written atomically and read back and checked before dpn reports success: \
a failure leaves no file behind. OUTPUT may be `-` (standard output).")]
pub struct ExportArgs {
    /// ONNX file to write (- for standard output)
    #[arg(value_name = "OUTPUT")]
    pub output: PathBuf,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Batch dimension: `dynamic` (any size at run time) or a fixed size N (1 to 65536)
    #[arg(short, long, default_value = "dynamic", value_name = "N|dynamic")]
    pub batch_size: String,

    /// Floating-point type of the input, outputs and weights: f32, f16 or bf16
    #[arg(long, default_value = "f32", value_name = "DTYPE")]
    pub dtype: String,

    /// Fold each BatchNorm that directly follows a convolution into it (a smaller, faster
    /// graph; the other BatchNorms stay)
    #[arg(long)]
    pub fold_bn: bool,

    /// Add a second output, `features`: the pooled embedding before the classifier
    #[arg(long)]
    pub features: bool,

    #[command(flatten)]
    pub preprocess: PreprocessArgs,

    /// Class names to record, one per line (`name` or `synset<TAB>name`); default: the
    /// weights' own, else ImageNet-1k's
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

/// `--batch-size`: `None` for a dynamic batch.
fn parse_batch(s: &str) -> Result<Option<i64>> {
    if s.eq_ignore_ascii_case("dynamic") {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if (1..=export::MAX_BATCH).contains(&n) => Ok(Some(n)),
        _ => Err(error::usage(format!(
            "invalid --batch-size `{s}`: expected `dynamic` or a size from 1 to {}",
            export::MAX_BATCH
        ))),
    }
}

pub fn run(args: ExportArgs, ctx: &Context) -> Result<()> {
    let batch = parse_batch(&args.batch_size)?;
    let precision = Precision::parse_name(&args.dtype).ok_or_else(|| {
        error::usage(format!(
            "invalid --dtype `{}`: expected f32, f16 or bf16",
            args.dtype
        ))
    })?;
    if let Some(n) = args.preprocess.img_size {
        crate::arch::cost::check_image_size(n)?;
    }
    let out = OutputPath::check(&args.output, "output")?;
    let located = common::locate(ctx, &args.model)?;
    let loaded = load::load_model(&ctx.registry, located.spec, &located.weights, Device::Cpu)?;
    args.model
        .check
        .apply(ctx, &loaded.health, &located.weights)?;
    let preprocess = located.preprocess(&args.preprocess, &ctx.ui)?;
    let (classes, _) = located.classes(args.labels.as_deref(), loaded.arch.num_classes)?;
    let opts = Options {
        batch,
        precision,
        fold_bn: args.fold_bn,
        features: args.features,
    };
    let desc = Description {
        model: &located.spec.name,
        preprocess: &preprocess,
        classes: &classes,
    };
    let exported = tch::no_grad(|| export::export(&loaded.model, &loaded.arch, &desc, &opts))?;
    // Non-finite source weights were reported (or refused) above.
    if loaded.health.non_finite.is_empty() {
        let reject = args.model.check.reject_non_finite;
        if let Some(w) = exported.verdict(&located.weights, &opts, reject)? {
            ctx.ui.warn(w);
        }
    }
    // Written to a staging file, read back from the disk and checked there,
    // and only then put in place.
    let mut staged = out.staging()?;
    let cannot = || format!("cannot write {}", args.output.display());
    staged.write_all(&exported.bytes).with_context(cannot)?;
    staged.flush().with_context(cannot)?;
    let written = std::fs::read(staged.path()).with_context(cannot)?;
    export::verify(&written, &exported, &loaded.arch, &opts)?;
    drop(written);
    out.commit(staged)?;
    ctx.ui.info(format!(
        "exported {} -> {}: ONNX opset {}, {}, batch {}, {} px, {} nodes{}, {}",
        located.spec.name,
        args.output.display(),
        export::opset(precision).0,
        precision.name(),
        batch.map_or("dynamic".to_string(), |n| n.to_string()),
        preprocess.image_size,
        exported.nodes,
        if args.fold_bn {
            format!(" ({} BatchNorms folded)", exported.folded)
        } else {
            String::new()
        },
        output::bytes(exported.bytes.len() as u64)
    ));
    Ok(())
}
