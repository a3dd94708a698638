//! `dpn average`: averages checkpoints' weights as timm's
//! `avg_checkpoints.py` does (`train::average`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::sys::output_path::OutputPath;
use crate::train::average;
use crate::weights;

#[derive(Debug, Args)]
#[command(after_help = "\
With one dpn train run folder, averages its N best epoch checkpoints by the run's --eval-metric \
(the ones --checkpoint-hist kept), as timm's avg_checkpoints.py sorts by the recorded metric; \
with checkpoint folders or weights files, averages those. Every tensor is averaged in f64 \
(BatchNorm statistics included) and written as f32, as the script does. A checkpoint with an \
EMA (its ema/ folder) gives the EMA's weights unless --no-use-ema. The output is written \
atomically; it loads in every dpn subcommand (--weights) and in timm with strict=True.")]
pub struct AverageArgs {
    /// A dpn train run folder, or checkpoint folders / weights files
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Safetensors file to write
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "averaged.safetensors"
    )]
    pub output: PathBuf,

    /// With a run folder: how many of its best checkpoints to average
    #[arg(short, long, value_name = "N", default_value_t = 10)]
    pub n: usize,

    /// Average the models, not their EMAs (timm's --no-use-ema)
    #[arg(long)]
    pub no_use_ema: bool,
}

pub fn run(args: AverageArgs, ctx: &Context) -> Result<()> {
    OutputPath::check(&args.output, "output")?;
    let sel = average::select(&args.inputs, args.n, !args.no_use_ema)?;
    for (path, metric) in &sel.files {
        match metric {
            Some(m) => ctx.ui.debug(format!("{m} {}", path.display())),
            None => ctx.ui.debug(path.display().to_string()),
        }
    }
    let files: Vec<PathBuf> = sel.files.iter().map(|(p, _)| p.clone()).collect();
    let sd = average::average(&files)?;
    weights::write_safetensors(&args.output, &sd)?;
    ctx.ui.info(format!(
        "averaged {} checkpoints -> {}",
        files.len(),
        args.output.display()
    ));
    Ok(())
}
