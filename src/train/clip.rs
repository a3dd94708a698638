//! Gradient clipping as timm's `dispatch_clip_grad` does it (`--clip-grad V
//! --clip-mode norm|value|agc`), applied after f16 loss unscaling and
//! before the optimizer step, as timm's `NativeScaler` orders it:
//! - `norm`: `torch.nn.utils.clip_grad_norm_(params, V, norm_type=2)`: every
//!   gradient times `min(1, V / (total_norm + 1e-6))`;
//! - `value`: `torch.nn.utils.clip_grad_value_(params, V)`: clamped to `[-V, V]`;
//! - `agc`: timm's `adaptive_clip_grad(params, V, eps=1e-3)`, unit-wise (per
//!   output channel) gradient norms limited to `V * max(|w|, 1e-3)`
//!   (Brock et al. 2021, <https://arxiv.org/abs/2102.06171>); train.py leaves
//!   the classifier out (`model_parameters(model, exclude_head=True)`).

use anyhow::{bail, Result};
use tch::{nn, Tensor};

/// timm's `--clip-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipMode {
    Norm,
    Value,
    Agc,
}

impl ClipMode {
    pub fn parse(s: &str) -> Result<ClipMode> {
        Ok(match s {
            "norm" => ClipMode::Norm,
            "value" => ClipMode::Value,
            "agc" => ClipMode::Agc,
            _ => bail!("--clip-mode must be norm, value or agc, not {s:?}"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ClipMode::Norm => "norm",
            ClipMode::Value => "value",
            ClipMode::Agc => "agc",
        }
    }
}

/// A run's clipping: the mode, its value and the parameters it acts on.
#[derive(Debug)]
pub struct Clip {
    pub mode: ClipMode,
    pub value: f64,
    params: Vec<Tensor>,
}

impl Clip {
    /// The trainable variables of `vs` (sorted by name, so that the norm's
    /// sum has one order), without the classifier for AGC as train.py does.
    pub fn new(mode: ClipMode, value: f64, vs: &nn::VarStore) -> Clip {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .filter(|(n, _)| mode != ClipMode::Agc || !n.starts_with("classifier."))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Clip {
            mode,
            value,
            params: vars.into_iter().map(|(_, t)| t).collect(),
        }
    }

    /// Clips the parameters' gradients in place.
    pub fn apply(&self) {
        clip(&self.params, self.mode, self.value);
    }
}

/// `dispatch_clip_grad(params, value, mode)` with norm_type 2; parameters
/// without a gradient are left out, as torch and timm leave them.
pub fn clip(params: &[Tensor], mode: ClipMode, value: f64) {
    let grads: Vec<(Tensor, Tensor)> = params
        .iter()
        .filter_map(|p| {
            let g = p.grad();
            g.defined().then(|| (p.detach(), g))
        })
        .collect();
    if grads.is_empty() {
        return;
    }
    tch::no_grad(|| match mode {
        ClipMode::Norm => {
            let norms: Vec<Tensor> = grads.iter().map(|(_, g)| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm();
            let coef = (Tensor::from(value)
                .to_kind(total.kind())
                .to_device(total.device())
                / (total + 1e-6))
                .clamp_max(1.0);
            for (_, g) in &grads {
                let _ = g.shallow_clone().g_mul_(&coef.to_kind(g.kind()));
            }
        }
        ClipMode::Value => {
            for (_, g) in &grads {
                let _ = g.shallow_clone().clamp_(-value, value);
            }
        }
        ClipMode::Agc => {
            for (p, g) in &grads {
                let max_norm = unitwise_norm(p).clamp_min(1e-3) * value;
                let grad_norm = unitwise_norm(g);
                let clipped = g * (&max_norm / grad_norm.clamp_min(1e-6));
                let new = g.where_self(&grad_norm.lt_tensor(&max_norm), &clipped);
                g.shallow_clone().copy_(&new);
            }
        }
    });
}

/// timm's `unitwise_norm`: the whole tensor's 2-norm for vectors and
/// scalars, else per output channel (dim 0), kept broadcastable.
fn unitwise_norm(x: &Tensor) -> Tensor {
    if x.dim() <= 1 {
        x.norm()
    } else {
        let dims: Vec<i64> = (1..x.dim() as i64).collect();
        x.norm_scalaropt_dim(2.0, dims.as_slice(), true)
    }
}
