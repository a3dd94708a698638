//! SGD with momentum, exactly as `torch.optim.SGD` computes it (dampening 0),
//! with two parameter groups as timm's `param_groups_weight_decay` makes
//! them: weight decay on convolution weights only, none on BatchNorm
//! parameters and biases (every parameter with fewer than two dimensions or
//! a name ending in `.bias`).
//!
//! Per parameter `p` with gradient `g`, at learning rate `lr`:
//!
//! ```text
//! d   = g + wd * p                    (wd = 0 in the no-decay group)
//! buf = d                             (first step)
//! buf = momentum * buf + d            (later steps)
//! p   = p - lr * (d + momentum * buf) (nesterov)
//! p   = p - lr * buf                  (otherwise)
//! ```
//!
//! tch's own `nn::Sgd` (libtorch's C++ optimizer) cannot exclude parameters
//! from weight decay per name nor save its momentum buffers, which an exact
//! `--resume` needs; this one keeps its state as named tensors
//! ([`Sgd::state`], [`Sgd::load_state`]).
//!
//! libtorch's `add_(x, alpha)` rounds once (a fused multiply-add); tch does
//! not expose `alpha`, so `p - lr * buf` rounds twice here. The difference
//! is at most one unit in the last place per step (see `tests/train_math.rs`
//! for the measured effect against torch).

use std::collections::HashMap;

use anyhow::Result;
use tch::{nn, Tensor};

use crate::sys::error;

/// Whether timm's `param_groups_weight_decay` exempts a parameter from weight decay.
pub fn no_weight_decay(name: &str, dim: usize) -> bool {
    dim <= 1 || name.ends_with(".bias")
}

/// One trainable parameter and its momentum buffer.
#[derive(Debug)]
struct Param {
    name: String,
    tensor: Tensor,
    decay: bool,
    buf: Option<Tensor>,
}

/// The optimizer; see the module documentation.
#[derive(Debug)]
pub struct Sgd {
    params: Vec<Param>,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

/// Prefix of momentum buffers in [`Sgd::state`].
pub const BUFFER_PREFIX: &str = "momentum_buffer.";

impl Sgd {
    /// Over every trainable variable of `vs`, sorted by name.
    pub fn new(vs: &nn::VarStore, momentum: f64, weight_decay: f64, nesterov: bool) -> Sgd {
        // BatchNorm buffers do not require gradients.
        let mut params: Vec<Param> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, tensor)| Param {
                decay: !no_weight_decay(&name, tensor.dim()),
                name,
                tensor,
                buf: None,
            })
            .collect();
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Sgd {
            params,
            momentum,
            weight_decay,
            nesterov,
        }
    }

    /// Names of the parameters with weight decay and without.
    pub fn groups(&self) -> (Vec<&str>, Vec<&str>) {
        let decay = self.params.iter().filter(|p| p.decay);
        let no_decay = self.params.iter().filter(|p| !p.decay);
        (
            decay.map(|p| p.name.as_str()).collect(),
            no_decay.map(|p| p.name.as_str()).collect(),
        )
    }

    /// Zeroes every gradient in place (tch cannot reset one to None as
    /// `zero_grad(set_to_none=True)` does; the next backward's sums are the same).
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.tensor.zero_grad();
        }
    }

    /// Multiplies every gradient by `factor` (unscaling after fp16 loss
    /// scaling) and tells whether all of them are finite.
    pub fn unscale_grads(&mut self, factor: f64) -> bool {
        tch::no_grad(|| {
            // One flag per gradient, read back once: reading each on its own
            // would wait for the GPU once per parameter.
            let mut flags = Vec::with_capacity(self.params.len());
            for p in &self.params {
                let mut g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                if factor != 1.0 {
                    let _ = g.g_mul_scalar_(factor);
                }
                flags.push(g.isfinite().all());
            }
            flags.is_empty() || bool::try_from(Tensor::stack(&flags, 0).all()).unwrap_or(false)
        })
    }

    /// One update at learning rate `lr`. Parameters without a gradient (not
    /// used by the loss) are skipped, as torch skips them.
    pub fn step(&mut self, lr: f64) {
        let (momentum, wd, nesterov) = (self.momentum, self.weight_decay, self.nesterov);
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                let mut d = if p.decay && wd != 0.0 {
                    g + p.tensor.detach() * wd
                } else {
                    g.shallow_clone()
                };
                if momentum != 0.0 {
                    let buf = match p.buf.as_mut() {
                        Some(buf) => {
                            let _ = buf.g_mul_scalar_(momentum).g_add_(&d);
                            buf.shallow_clone()
                        }
                        None => {
                            let buf = d.detach().copy();
                            p.buf = Some(buf.shallow_clone());
                            buf
                        }
                    };
                    d = if nesterov { d + buf * momentum } else { buf };
                }
                let _ = p.tensor.g_sub_(&(d * lr));
            }
        });
    }

    /// The momentum buffers as `momentum_buffer.<parameter name>` tensors
    /// (shallow copies; none before the first step).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .filter_map(|p| {
                p.buf
                    .as_ref()
                    .map(|b| (format!("{BUFFER_PREFIX}{}", p.name), b.shallow_clone()))
            })
            .collect()
    }

    /// Restores momentum buffers written by [`Sgd::state`]: every parameter
    /// must have one of its shape, or none may (a checkpoint from before the
    /// first step); anything else is a bad-input error.
    pub fn load_state(&mut self, tensors: &[(String, Tensor)]) -> Result<()> {
        let by_name: HashMap<&str, &Tensor> = tensors
            .iter()
            .filter_map(|(k, t)| Some((k.strip_prefix(BUFFER_PREFIX)?, t)))
            .collect();
        if by_name.len() != tensors.len() {
            return Err(error::bad_input(
                "optimizer state: a tensor is not a momentum buffer",
            ));
        }
        if by_name.is_empty() {
            for p in &mut self.params {
                p.buf = None;
            }
            return Ok(());
        }
        let mut problems = Vec::new();
        for p in &self.params {
            match by_name.get(p.name.as_str()) {
                None => problems.push(format!("{} missing", p.name)),
                Some(t) if t.size() != p.tensor.size() => problems.push(format!(
                    "{} has shape {:?}, the model {:?}",
                    p.name,
                    t.size(),
                    p.tensor.size()
                )),
                Some(_) => {}
            }
        }
        if by_name.len() != self.params.len() {
            problems.push(format!(
                "{} buffers for {} parameters",
                by_name.len(),
                self.params.len()
            ));
        }
        if !problems.is_empty() {
            problems.truncate(6);
            return Err(error::bad_input(format!(
                "optimizer state does not fit the model: {}",
                problems.join("; ")
            )));
        }
        for p in &mut self.params {
            let t = by_name[p.name.as_str()];
            // Same dtype, device and memory format as the parameter.
            let buf = tch::no_grad(|| {
                let mut b = p.tensor.detach().empty_like();
                b.copy_(t);
                b
            });
            p.buf = Some(buf);
        }
        Ok(())
    }

    /// Number of parameters it updates.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Two parameters with gradients 2 and 4 after a backward pass.
    fn with_grads(second: f64) -> (nn::VarStore, Sgd) {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[3], nn::Init::Const(1.0));
        let b = vs.root().var("b", &[2], nn::Init::Const(1.0));
        (a.sum(Kind::Float) * 2.0 + b.sum(Kind::Float) * second).backward();
        let opt = Sgd::new(&vs, 0.9, 0.0, false);
        (vs, opt)
    }

    #[test]
    fn unscale_grads_scales_and_checks_every_gradient() {
        let (vs, mut opt) = with_grads(4.0);
        assert!(opt.unscale_grads(0.5));
        let vars = vs.variables();
        assert_eq!(Vec::<f32>::try_from(vars["a"].grad()).unwrap(), [1.0; 3]);
        assert_eq!(Vec::<f32>::try_from(vars["b"].grad()).unwrap(), [2.0; 2]);

        // One overflowed gradient, not the first one: the step is not finite.
        let (_vs, mut opt) = with_grads(f64::INFINITY);
        assert!(!opt.unscale_grads(0.5));
    }
}
