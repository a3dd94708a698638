//! `dpn train`'s model EMA and checkpoint-history flags, spelled and
//! defaulted as timm's train.py spells them (`--model-ema*`,
//! `--checkpoint-hist`, `--eval-metric`), with their checks.

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::sys::error;
use crate::train::config::TrainConfig;

/// timm's `--eval-metric` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalMetric {
    Top1,
    Top5,
    Loss,
}

impl EvalMetric {
    pub fn name(self) -> &'static str {
        match self {
            EvalMetric::Top1 => "top1",
            EvalMetric::Top5 => "top5",
            EvalMetric::Loss => "loss",
        }
    }
}

/// Model EMA and checkpoint history.
#[derive(Debug, Args)]
#[command(next_help_heading = "EMA")]
pub struct EmaArgs {
    /// Keep an exponential moving average of the weights (timm's ModelEmaV3), validated
    /// each epoch and saved in every checkpoint as <checkpoint>/ema, a loadable model;
    /// with it, the EMA's metrics choose the best checkpoint, as in timm's train.py
    #[arg(long)]
    pub model_ema: bool,

    /// EMA decay per update [default: 0.9998]
    #[arg(long, value_name = "D")]
    pub model_ema_decay: Option<f64>,

    /// Ramp the EMA decay up as 1 - (1 + step)^(-2/3) (timm's use_warmup)
    #[arg(long)]
    pub model_ema_warmup: bool,

    /// Keep the EMA on the CPU; it is then saved but not validated (as timm)
    #[arg(long)]
    pub model_ema_force_cpu: bool,

    /// Epoch checkpoints to keep, the best by --eval-metric (besides `last`) [default: 1]
    #[arg(long, value_name = "N", help_heading = "Checkpoints")]
    pub checkpoint_hist: Option<usize>,

    /// The validation metric that ranks checkpoints and names `best`; loss is lower-better
    /// [default: top1]
    #[arg(long, value_enum, value_name = "METRIC", help_heading = "Checkpoints")]
    pub eval_metric: Option<EvalMetric>,
}

impl EmaArgs {
    /// Sets a new run's EMA and history settings.
    pub fn apply(&self, cfg: &mut TrainConfig) -> Result<()> {
        cfg.model_ema = self.model_ema || self.model_ema_force_cpu;
        cfg.model_ema_decay = self.model_ema_decay.unwrap_or(0.9998);
        cfg.model_ema_warmup = self.model_ema_warmup;
        cfg.model_ema_force_cpu = self.model_ema_force_cpu;
        cfg.checkpoint_hist = self.checkpoint_hist.unwrap_or(1);
        cfg.eval_metric = self.eval_metric.unwrap_or(EvalMetric::Top1).name().into();
        check(cfg)
    }

    /// A resumed run: the history may change, the EMA and the metric may not
    /// (appended to `fixed`, the settings the user tried to change).
    pub fn resume(&self, cfg: &mut TrainConfig, fixed: &mut Vec<String>) {
        if let Some(n) = self.checkpoint_hist {
            cfg.checkpoint_hist = n;
        }
        if (self.model_ema || self.model_ema_force_cpu) && !cfg.model_ema {
            fixed.push("--model-ema (the checkpoint ran without it)".into());
        }
        if self.model_ema_warmup && !cfg.model_ema_warmup {
            fixed.push("--model-ema-warmup (the checkpoint ran without it)".into());
        }
        if self.model_ema_force_cpu && !cfg.model_ema_force_cpu {
            fixed.push("--model-ema-force-cpu (the checkpoint ran without it)".into());
        }
        if let Some(d) = self.model_ema_decay.filter(|d| *d != cfg.model_ema_decay) {
            fixed.push(format!(
                "--model-ema-decay {d} (the checkpoint has {})",
                cfg.model_ema_decay
            ));
        }
        if let Some(m) = self.eval_metric.filter(|m| m.name() != cfg.eval_metric) {
            fixed.push(format!(
                "--eval-metric {} (the checkpoint has {})",
                m.name(),
                cfg.eval_metric
            ));
        }
    }
}

/// The values timm's ModelEmaV3 and CheckpointSaver could not use.
pub fn check(cfg: &TrainConfig) -> Result<()> {
    let d = cfg.model_ema_decay;
    if !(0.0..=1.0).contains(&d) {
        return Err(error::usage(format!(
            "--model-ema-decay {d} must be in [0, 1]"
        )));
    }
    Ok(())
}
