//! `--opt rmsproptf`: timm's `RMSpropTF`, TensorFlow's RMSprop, with timm's
//! defaults (alpha 0.9, eps 1e-10, decay added to the gradient,
//! `lr_in_momentum`):
//!
//! ```text
//! g = g + wd * p
//! s = s + (1 - alpha) * (g * g - s)            (s starts at 1, not 0)
//! a = sqrt(s + eps)                            (eps inside the root)
//! buf = momentum * buf + lr * g / a;  p -= buf (momentum > 0; buf starts at 0)
//! p -= lr * g / a                              (otherwise)
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{add_scaled, grad, zeros, Param, Rule};

#[derive(Debug)]
pub struct RmsPropTf {
    pub alpha: f64,
    pub eps: f64,
    pub momentum: f64,
}

impl RmsPropTf {
    pub fn new(alpha: f64, eps: f64, momentum: f64) -> RmsPropTf {
        RmsPropTf {
            alpha,
            eps,
            momentum,
        }
    }
}

impl Rule for RmsPropTf {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        let mut k = vec![("square_avg", shape.to_vec())];
        if self.momentum > 0.0 {
            k.push(("momentum_buffer", shape.to_vec()));
        }
        k
    }

    fn step(&mut self, params: &mut [Param], lr: f64, _: &mut [f64]) {
        for p in params {
            let Some(mut g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            if wd != 0.0 {
                g = g + p.tensor.detach() * wd;
            }
            let s = p
                .state
                .entry("square_avg")
                .or_insert_with(|| p.tensor.ones_like());
            let _ = s.g_add_(&((&g * &g - &*s) * (1.0 - self.alpha)));
            let avg = (&*s + self.eps).sqrt();
            if self.momentum > 0.0 {
                let buf = p
                    .state
                    .entry("momentum_buffer")
                    .or_insert_with(|| zeros(&p.tensor));
                let _ = buf.g_mul_scalar_(self.momentum).g_add_(&(g / avg * lr));
                let buf = buf.shallow_clone();
                add_scaled(&mut p.tensor, &buf, -1.0);
            } else {
                add_scaled(&mut p.tensor, &(g / avg), -lr);
            }
        }
    }
}
