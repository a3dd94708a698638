//! `--opt sgd` (Nesterov, timm's default) and `--opt momentum`: torch's `SGD`
//! with dampening 0.
//!
//! ```text
//! d   = g + wd * p
//! buf = d (first step), momentum * buf + d (later)
//! p  -= lr * (d + momentum * buf)   (nesterov)
//! p  -= lr * buf                    (otherwise)
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use tch::Tensor;

use super::fused::{self, Kernel, Real, Views};
use super::{add_scaled, grad, Param, Rule};

/// Prefix of the momentum buffers in the state (the name checkpoints of
/// earlier versions hold).
pub const BUFFER_PREFIX: &str = "momentum_buffer.";

#[derive(Debug)]
pub struct Sgd {
    pub momentum: f64,
    pub nesterov: bool,
}

impl Sgd {
    pub fn new(momentum: f64, nesterov: bool) -> Sgd {
        Sgd { momentum, nesterov }
    }
}

impl Rule for Sgd {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        if self.momentum != 0.0 {
            vec![("momentum_buffer", shape.to_vec())]
        } else {
            vec![]
        }
    }

    fn step(&mut self, params: &mut [Param], lr: f64, _: &mut [f64]) {
        let Some(first) = params.first() else { return };
        let mut views = Views::new(&first.tensor);
        let mut fresh = vec![false; params.len()];
        let mut rest = Vec::new();
        for (i, p) in params.iter_mut().enumerate() {
            let Some(g) = grad(p) else { continue };
            let pushed = if self.momentum != 0.0 {
                let known = p.state.get("momentum_buffer").map(Tensor::shallow_clone);
                let buf = known.unwrap_or_else(|| p.tensor.zeros_like());
                let pushed = views.push(i, &[&p.tensor, &buf, &g]);
                // A buffer made here is kept only when the kernel fills it;
                // otherwise the tensor-op path makes its own at the first step.
                if pushed && !p.state.contains_key("momentum_buffer") {
                    fresh[i] = true;
                    p.state.insert("momentum_buffer", buf);
                }
                pushed
            } else {
                views.push(i, &[&p.tensor, &g])
            };
            if !pushed {
                rest.push((i, g));
            }
        }
        let kernel = SgdKernel {
            momentum: self.momentum,
            nesterov: self.nesterov,
            lr,
            groups: fused::groups(params),
            fresh,
        };
        views.run(&kernel);
        for (i, g) in rest {
            self.update_with_ops(&mut params[i], g, lr);
        }
    }
}

impl Sgd {
    /// The update as tensor ops, for tensors the fused kernel does not take.
    fn update_with_ops(&self, p: &mut Param, g: Tensor, lr: f64) {
        let momentum = self.momentum;
        let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
        let mut d = if wd != 0.0 {
            g + p.tensor.detach() * wd
        } else {
            g
        };
        if momentum != 0.0 {
            let buf = match p.state.get_mut("momentum_buffer") {
                Some(buf) => {
                    let _ = buf.g_mul_scalar_(momentum).g_add_(&d);
                    buf.shallow_clone()
                }
                None => {
                    let buf = d.detach().copy();
                    p.state.insert("momentum_buffer", buf.shallow_clone());
                    buf
                }
            };
            d = if self.nesterov {
                d + buf * momentum
            } else {
                buf
            };
        }
        add_scaled(&mut p.tensor, &d, -lr);
    }
}

/// One element of [`Sgd`]'s update, as torch's single-tensor `sgd` computes
/// it: `add(p, alpha=wd)`, `mul_` + `add_` (the buffer a copy at first),
/// `add(buf, alpha=momentum)` with Nesterov, `add_(d, alpha=-lr)`; each
/// `add` with an alpha one fused multiply-add, as torch's `fmadd`.
struct SgdKernel {
    momentum: f64,
    nesterov: bool,
    lr: f64,
    /// Weight decay and LR scale by parameter index.
    groups: Vec<(f64, f64)>,
    /// By parameter index: the momentum buffer was made for this step.
    fresh: Vec<bool>,
}

impl Kernel for SgdKernel {
    #[inline(always)]
    fn apply<T: Real>(&self, index: usize, t: &mut [&mut [T]]) {
        let (wd, scale) = self.groups[index];
        let (step, decay, wd) = (T::of(-(self.lr * scale)), wd != 0.0, T::of(wd));
        let decayed = |g: T, p: T| if decay { wd.mul_add(p, g) } else { g };
        match t {
            [p, g] => {
                for (p, g) in p.iter_mut().zip(g.iter()) {
                    *p = step.mul_add(decayed(*g, *p), *p);
                }
            }
            [p, buf, g] => {
                let (momentum, fresh) = (T::of(self.momentum), self.fresh[index]);
                for ((p, b), g) in p.iter_mut().zip(buf.iter_mut()).zip(g.iter()) {
                    let d = decayed(*g, *p);
                    *b = if fresh { d } else { *b * momentum + d };
                    let d = if self.nesterov {
                        momentum.mul_add(*b, d)
                    } else {
                        *b
                    };
                    *p = step.mul_add(d, *p);
                }
            }
            _ => unreachable!("two or three tensors per set"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, Optimizer, Options};
    use tch::{nn, Device, Kind};

    /// Two parameters with gradients 2 and `second` after a backward pass.
    fn with_grads(second: f64) -> (nn::VarStore, Box<dyn Optimizer>) {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[3], nn::Init::Const(1.0));
        let b = vs.root().var("b", &[2], nn::Init::Const(1.0));
        (a.sum(Kind::Float) * 2.0 + b.sum(Kind::Float) * second).backward();
        let opts = Options {
            name: "momentum".into(),
            momentum: 0.9,
            weight_decay: 0.0,
            eps: None,
            betas: None,
            layer_decay: None,
        };
        let opt = build(&opts, &vs).unwrap();
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

    #[test]
    fn state_of_another_optimizer_is_refused() {
        let (_vs, mut opt) = with_grads(4.0);
        opt.step(0.1);
        let state = opt.state();
        assert_eq!(state.len(), 2);
        assert!(state.iter().all(|(k, _)| k.starts_with("momentum_buffer.")));
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = vs.root().var("a", &[3], nn::Init::Const(1.0));
        let _ = vs.root().var("b", &[2], nn::Init::Const(1.0));
        let opts = Options {
            name: "adamw".into(),
            momentum: 0.9,
            weight_decay: 0.0,
            eps: None,
            betas: None,
            layer_decay: None,
        };
        let mut adam = build(&opts, &vs).unwrap();
        let e = adam.load_state(&state).unwrap_err().to_string();
        assert!(e.contains("momentum_buffer.a is not adamw state"), "{e}");
        assert!(opt.load_state(&state).is_ok());
    }
}
