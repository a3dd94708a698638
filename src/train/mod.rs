//! Training DPNs: `dpn train`'s machinery, written to match timm's training
//! loop step for step.
//!
//! * [`optim`]: SGD with momentum as `torch.optim.SGD`, weight decay off for
//!   BatchNorm parameters and biases (timm's `param_groups_weight_decay`);
//! * [`loss`]: the losses (label-smoothing and soft-target cross-entropy, JSD);
//! * [`average`]: `dpn average`, timm's `avg_checkpoints.py`;
//! * [`ema`]: timm's `ModelEmaV3` (`--model-ema`);
//! * [`history`]: the N best checkpoints (`--checkpoint-hist`) and `best`;
//! * [`sched`]: timm's cosine and step schedules with warmup, per update;
//! * [`dataset`]: epoch order (the images come from `data::folders`);
//! * [`checkpoint`]: atomic checkpoints (weights in timm's names, optimizer
//!   state, RNG state, settings, history), `--resume` and repairing a run
//!   folder after a kill;
//! * [`run_lock`]: one process per run folder;
//! * [`step`]: one update (forward, loss, backward, SGD) with f16 loss scaling;
//! * [`jsd`]: timm's `JsdCrossEntropy` for `--aug-splits N --jsd-loss`;
//! * [`validate`]: the end-of-epoch validation pass, scored by `metrics`;
//! * [`logs`]: `steps.csv` and `metrics.csv`;
//! * [`trainer`]: the loop (set-up, epoch, update, validation, checkpoint),
//!   with progress, signals and NaN checks.
//!
//! `tests/train_math.rs` compares [`step::train_step`] with timm and
//! torch over ten steps; `tests/train_cli.rs` and `tests/train_digits.rs`
//! run `dpn train` on real images.

pub mod average;
pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod dataset;
pub mod ema;
pub mod history;
pub mod jsd;
pub mod logs;
pub mod loss;
pub mod optim;
pub mod run_lock;
pub mod sched;
pub mod step;
pub mod timm_args;
pub mod trainer;
pub mod validate;
