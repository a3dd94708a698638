//! Learning-rate schedules, as timm's schedulers compute them, stepped per
//! optimizer update.
//!
//! timm's `create_scheduler_v2(..., step_on_epochs=False, updates_per_epoch=N)`
//! (train.py's `--sched-on-updates`) multiplies every epoch count by the
//! updates per epoch and sets the learning rate of update `u` (0-based, the
//! `u`-th call of `optimizer.step()`) to `_get_lr(u)`. That is what
//! [`Schedule::lr`] returns; `tests/train_math.rs` checks it against
//! `CosineLRScheduler` and `StepLRScheduler` value for value.
//!
//! * warmup (both kinds): for `u < warmup`, `warmup_lr + u * (lr - warmup_lr) / warmup`;
//! * cosine (`CosineLRScheduler`, one cycle, no warmup prefix: the cosine
//!   runs over all `total` updates, warmup included):
//!   `min_lr + 0.5 * (lr - min_lr) * (1 + cos(pi * u / total))`, and
//!   `min_lr` from `total` on;
//! * step (`StepLRScheduler`): `lr * decay_rate ^ floor(u / decay)`;
//! * constant: `lr` after the warmup (`StepLRScheduler` with decay rate 1;
//!   timm has no separate constant schedule).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::sys::error;

/// Which schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedKind {
    #[default]
    Cosine,
    Step,
    Constant,
}

impl fmt::Display for SchedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchedKind::Cosine => "cosine",
            SchedKind::Step => "step",
            SchedKind::Constant => "constant",
        })
    }
}

impl FromStr for SchedKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<SchedKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cosine" => Ok(SchedKind::Cosine),
            "step" => Ok(SchedKind::Step),
            "constant" | "const" => Ok(SchedKind::Constant),
            _ => Err(error::usage(format!(
                "invalid schedule `{s}`: expected cosine, step or constant"
            ))),
        }
    }
}

/// A learning-rate schedule over optimizer updates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub kind: SchedKind,
    /// The peak (base) learning rate.
    pub lr: f64,
    /// Updates in the whole run (cosine's period).
    pub total: u64,
    /// Linear warmup updates (0: none).
    pub warmup: u64,
    /// Where the warmup starts (timm's `warmup_lr`, default 1e-5).
    pub warmup_lr: f64,
    /// Cosine's floor (timm's `min_lr`, default 0).
    pub min_lr: f64,
    /// Step: updates between decays.
    pub decay: u64,
    /// Step: the factor of each decay.
    pub decay_rate: f64,
}

impl Schedule {
    /// The learning rate of update `u` (0-based).
    pub fn lr(&self, u: u64) -> f64 {
        if u < self.warmup {
            let step = (self.lr - self.warmup_lr) / self.warmup as f64;
            return self.warmup_lr + u as f64 * step;
        }
        match self.kind {
            SchedKind::Cosine => {
                let total = self.total.max(1);
                if u >= total {
                    self.min_lr
                } else {
                    let x = std::f64::consts::PI * u as f64 / total as f64;
                    self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + x.cos())
                }
            }
            SchedKind::Step => {
                let n = u / self.decay.max(1);
                self.lr * self.decay_rate.powi(n.min(i32::MAX as u64) as i32)
            }
            SchedKind::Constant => self.lr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: SchedKind) -> Schedule {
        Schedule {
            kind,
            lr: 0.1,
            total: 100,
            warmup: 10,
            warmup_lr: 1e-5,
            min_lr: 0.0,
            decay: 30,
            decay_rate: 0.1,
        }
    }

    #[test]
    fn warmup_is_linear_from_warmup_lr() {
        let s = sched(SchedKind::Cosine);
        assert_eq!(s.lr(0), 1e-5);
        assert!((s.lr(5) - (1e-5 + 5.0 * (0.1 - 1e-5) / 10.0)).abs() < 1e-15);
    }

    #[test]
    fn cosine_reaches_min_at_total() {
        let s = sched(SchedKind::Cosine);
        assert!((s.lr(50) - 0.05).abs() < 1e-12);
        assert_eq!(s.lr(100), 0.0);
        assert_eq!(s.lr(1000), 0.0);
    }

    #[test]
    fn step_and_constant() {
        let s = sched(SchedKind::Step);
        assert_eq!(s.lr(29), 0.1);
        assert!((s.lr(30) - 0.01).abs() < 1e-15);
        assert!((s.lr(65) - 0.001).abs() < 1e-15);
        let c = sched(SchedKind::Constant);
        assert_eq!(c.lr(10), 0.1);
        assert_eq!(c.lr(10_000), 0.1);
    }
}
