//! `--opt lars`: timm's `Lars` with its defaults (trust coefficient 0.001,
//! eps 1e-8, no Nesterov, no clipping; adaptation only where there is decay):
//!
//! ```text
//! wd > 0: r = 0.001 |p| / (|g| + wd |p| + eps) (1 where either norm is 0)
//!         g = (g + wd * p) * r
//! buf = g (first step), momentum * buf + g (later);  p -= lr * buf
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::lamb::trust;
use super::{add_scaled, grad, Param, Rule};

const TRUST_COEFF: f64 = 0.001;

#[derive(Debug)]
pub struct Lars {
    pub momentum: f64,
    pub eps: f64,
}

impl Lars {
    pub fn new(momentum: f64, eps: f64) -> Lars {
        Lars { momentum, eps }
    }
}

impl Rule for Lars {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        if self.momentum != 0.0 {
            vec![("momentum_buffer", shape.to_vec())]
        } else {
            vec![]
        }
    }

    fn step(&mut self, params: &mut [Param], lr: f64, _: &mut [f64]) {
        for p in params {
            let Some(mut g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            if wd != 0.0 {
                let w = p.tensor.detach();
                let w_norm = w.norm();
                let g_norm = g.norm();
                let ratio = (&w_norm * TRUST_COEFF) / (&g_norm + &w_norm * wd + self.eps);
                let ratio = trust(ratio, &w_norm, &g_norm);
                g = (g + w * wd) * ratio;
            }
            if self.momentum != 0.0 {
                let buf = match p.state.get_mut("momentum_buffer") {
                    Some(buf) => {
                        let _ = buf.g_mul_scalar_(self.momentum).g_add_(&g);
                        buf.shallow_clone()
                    }
                    None => {
                        let buf = g.detach().copy();
                        p.state.insert("momentum_buffer", buf.shallow_clone());
                        buf
                    }
                };
                g = buf;
            }
            add_scaled(&mut p.tensor, &g, -lr);
        }
    }
}
