//! Model EMA: an exponential moving average of every entry of the model's
//! state dict, as timm's `ModelEmaV3` (timm/utils/model_ema.py) keeps it
//! for `train.py --model-ema`.
//!
//! * The decay of update `step` (timm's `num_updates`, 1-based) is
//!   `get_decay(step)`: 0 for the first update (the EMA becomes a copy of
//!   the model), then `--model-ema-decay`, or with `--model-ema-warmup`
//!   `1 - (1 + (step - 1))^(-2/3)` capped at the decay (`warmup_gamma` 1,
//!   `warmup_power` 2/3, `min_decay` 0: `ModelEmaV3`'s defaults, which
//!   train.py keeps).
//! * Floating-point entries (parameters and BatchNorm statistics) move by
//!   `ema.lerp_(model, 1 - decay)`; integer buffers (`num_batches_tracked`)
//!   are copied, as `apply_update_` does.
//! * The EMA is a network of its own ([`Ema::model`]), so it is validated
//!   like the model and saved as a loadable model in every checkpoint
//!   (`<checkpoint>/ema/model.safetensors` + `config.json`).
//!
//! `tests/train_ema.rs` compares it with `ModelEmaV3` on dpn's own per-step
//! weights.

use std::path::Path;

use anyhow::{Context, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::arch::ArchSpec;
use crate::model::{load_state_dict, state_dict, Dpn};
use crate::sys::error;
use crate::train::optim::fused::{Kernel, Lerp, Real, Views};

/// The folder of a checkpoint that holds the EMA's weights.
pub const EMA_DIR: &str = "ema";

/// `ModelEmaV3`'s `warmup_gamma` and `warmup_power` (train.py keeps the defaults).
const WARMUP_GAMMA: f64 = 1.0;
const WARMUP_POWER: f64 = 2.0 / 3.0;

/// The settings of the average (`--model-ema-*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmaSettings {
    pub decay: f64,
    pub warmup: bool,
    /// Kept on the CPU (`--model-ema-force-cpu`; not validated, as timm).
    pub force_cpu: bool,
}

impl EmaSettings {
    /// `ModelEmaV3.get_decay(step)` with `update_after_step` 0 and
    /// `min_decay` 0.
    pub fn decay_at(&self, step: u64) -> f64 {
        let s = step.saturating_sub(1);
        if s == 0 {
            return 0.0;
        }
        if self.warmup {
            let d = 1.0 - (1.0 + s as f64 / WARMUP_GAMMA).powf(-WARMUP_POWER);
            d.min(self.decay).max(0.0)
        } else {
            self.decay
        }
    }
}

/// The moving average: a network of the model's architecture whose
/// variables are the averaged state dict.
pub struct Ema {
    pub settings: EmaSettings,
    pub vs: nn::VarStore,
    pub model: Dpn,
    /// The EMA's state dict entries (sharing storage with `vs`), in the
    /// model's order.
    entries: Vec<(String, Tensor)>,
}

impl Ema {
    /// An EMA that starts as a copy of `model` (timm deep-copies the model),
    /// on the model's device or on the CPU.
    pub fn new(
        vs: &nn::VarStore,
        model: &Dpn,
        arch: &ArchSpec,
        settings: EmaSettings,
    ) -> Result<Ema> {
        let device = if settings.force_cpu {
            Device::Cpu
        } else {
            vs.device()
        };
        let arch = ArchSpec {
            num_classes: model.num_classes(),
            ..arch.clone()
        };
        let mut ema_vs = nn::VarStore::new(device);
        let ema_model = Dpn::new_for_loading(&ema_vs.root(), &arch);
        if state_dict(vs, model)
            .iter()
            .any(|(_, t)| t.kind() == Kind::Double)
        {
            ema_vs.double();
        }
        let entries = state_dict(&ema_vs, &ema_model);
        let mut ema = Ema {
            settings,
            vs: ema_vs,
            model: ema_model,
            entries,
        };
        ema.set(vs, model)?;
        Ok(ema)
    }

    /// Copies `model`'s state dict into the EMA (dtype and layout
    /// follow the model's: an f64 model makes an f64 EMA).
    fn set(&mut self, vs: &nn::VarStore, model: &Dpn) -> Result<()> {
        let src = state_dict(vs, model);
        self.check_names(&src)?;
        tch::no_grad(|| {
            for ((_, e), (_, m)) in self.entries.iter_mut().zip(&src) {
                e.copy_(m);
            }
        });
        Ok(())
    }

    fn check_names(&self, src: &[(String, Tensor)]) -> Result<()> {
        let same = src.len() == self.entries.len()
            && src.iter().zip(&self.entries).all(|(a, b)| a.0 == b.0);
        if !same {
            anyhow::bail!("the EMA's variables are not the model's");
        }
        Ok(())
    }

    /// `ModelEmaV3.update(model, step)`: after optimizer update number
    /// `step` (1-based, timm's `num_updates`).
    pub fn update(&mut self, vs: &nn::VarStore, model: &Dpn, step: u64) -> Result<()> {
        let decay = self.settings.decay_at(step);
        let src = state_dict(vs, model);
        self.check_names(&src)?;
        #[cfg(feature = "test-hooks")]
        dump_inputs(&src, step)?;
        tch::no_grad(|| {
            // On the CPU one pass over the whole state (optim::fused says why).
            let mut views = self.entries.first().map(|(_, e)| Views::new(e));
            for (i, ((_, e), (_, m))) in self.entries.iter_mut().zip(&src).enumerate() {
                let m = if m.device() == e.device() {
                    m.shallow_clone()
                } else {
                    m.to_device(e.device())
                };
                if !e.is_floating_point() {
                    e.copy_(&m);
                } else if !views.as_mut().is_some_and(|v| v.push(i, &[e, &m])) {
                    let _ = e.lerp_(&m, 1.0 - decay);
                }
            }
            if let Some(v) = views {
                v.run(&LerpKernel(1.0 - decay));
            }
        });
        Ok(())
    }

    /// The EMA's entries (for tests and checkpoints).
    pub fn entries(&self) -> &[(String, Tensor)] {
        &self.entries
    }

    /// Restores the EMA from `<checkpoint>/ema/model.safetensors`, exactly
    /// (same dtype: the file was written from the same kind of model).
    pub fn load(&mut self, checkpoint: &Path) -> Result<()> {
        let path = checkpoint.join(EMA_DIR).join(super::checkpoint::MODEL_FILE);
        let tensors = Tensor::read_safetensors(&path).map_err(|e| {
            error::bad_input(format!("{}: cannot read the EMA: {e}", path.display()))
        })?;
        let kinds: Vec<Kind> = self.entries.iter().map(|(_, t)| t.kind()).collect();
        let report = load_state_dict(&mut self.vs, &self.model, &tensors, true)
            .with_context(|| format!("loading the EMA from {}", path.display()))?;
        if !report.is_exact() {
            return Err(error::bad_input(format!(
                "{}: the EMA does not fit the model ({} missing, {} unexpected, {} of another shape)",
                path.display(),
                report.missing.len(),
                report.unexpected.len(),
                report.mismatched.len()
            )));
        }
        self.entries = state_dict(&self.vs, &self.model);
        // load_state_dict casts to the variables' kinds: check nothing moved.
        debug_assert!(self
            .entries
            .iter()
            .zip(&kinds)
            .all(|((_, t), k)| t.kind() == *k));
        Ok(())
    }
}

/// Test hook: with `DPN_TEST_DUMP_EMA_INPUTS=DIR`, the model weights each
/// update averages go to `DIR/step{N}.safetensors` (N = timm's
/// `num_updates`), so that tests/train_ema.rs can feed them to timm's
/// `ModelEmaV3`.
#[cfg(feature = "test-hooks")]
pub const TEST_DUMP_ENV: &str = "DPN_TEST_DUMP_EMA_INPUTS";

#[cfg(feature = "test-hooks")]
fn dump_inputs(src: &[(String, Tensor)], step: u64) -> Result<()> {
    let Some(dir) = std::env::var_os(TEST_DUMP_ENV) else {
        return Ok(());
    };
    let path = Path::new(&dir).join(format!("step{step}.safetensors"));
    let cpu: Vec<(String, Tensor)> = src
        .iter()
        .map(|(k, t)| (k.clone(), t.to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&cpu, &path).context("dumping the EMA's inputs")?;
    Ok(())
}

/// `ema.lerp_(model, weight)` on one pass over CPU memory.
struct LerpKernel(f64);

impl Kernel for LerpKernel {
    #[inline(always)]
    fn apply<T: Real>(&self, _: usize, t: &mut [&mut [T]]) {
        let [e, m] = t else {
            unreachable!("two tensors per set")
        };
        let lerp = Lerp::<T>::new(self.0);
        for (e, m) in e.iter_mut().zip(m.iter()) {
            *e = lerp.at(*e, *m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_follows_model_ema_v3() {
        let s = EmaSettings {
            decay: 0.9998,
            warmup: false,
            force_cpu: false,
        };
        assert_eq!(s.decay_at(0), 0.0);
        assert_eq!(s.decay_at(1), 0.0);
        assert_eq!(s.decay_at(2), 0.9998);
        let w = EmaSettings { warmup: true, ..s };
        // 1 - (1 + 1)^(-2/3)
        assert!((w.decay_at(2) - (1.0 - 2f64.powf(-2.0 / 3.0))).abs() < 1e-15);
        assert_eq!(w.decay_at(1 << 40), 0.9998);
    }
}
