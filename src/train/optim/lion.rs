//! `--opt lion`: timm's `Lion` (betas 0.9, 0.99; timm runs it multi-tensor):
//!
//! ```text
//! p *= 1 - lr * wd
//! p -= lr * sign(b1 * m + (1 - b1) * g)
//! m = b2 * m + (1 - b2) * g
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{add_scaled, grad, zeros, Param, Rule};

#[derive(Debug)]
pub struct Lion {
    pub betas: (f64, f64),
}

impl Lion {
    pub fn new(betas: (f64, f64)) -> Lion {
        Lion { betas }
    }
}

impl Rule for Lion {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        vec![("exp_avg", shape.to_vec())]
    }

    fn step(&mut self, params: &mut [Param], lr: f64, _: &mut [f64]) {
        let (b1, b2) = self.betas;
        for p in params {
            let Some(g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            let _ = p.tensor.g_mul_scalar_(1.0 - lr * wd);
            let m = p.state.entry("exp_avg").or_insert_with(|| zeros(&p.tensor));
            let update = (&*m * b1 + &g * (1.0 - b1)).sign();
            let _ = m.g_mul_scalar_(b2).g_add_(&(&g * (1.0 - b2)));
            add_scaled(&mut p.tensor, &update, -lr);
        }
    }
}
