//! `--opt adam` and `--opt adamw`: torch's `Adam` and `AdamW` (no amsgrad).
//!
//! ```text
//! g = g + wd * p              (adam)      p *= 1 - lr * wd   (adamw)
//! m = lerp(m, g, 1 - b1)      v = b2 * v + (1 - b2) * g * g
//! p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{add_scaled, grad, zeros, Param, Rule};

#[derive(Debug)]
pub struct Adam {
    pub betas: (f64, f64),
    pub eps: f64,
    pub decoupled: bool,
}

impl Adam {
    pub fn new(betas: (f64, f64), eps: f64, decoupled: bool) -> Adam {
        Adam {
            betas,
            eps,
            decoupled,
        }
    }
}

impl Rule for Adam {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        vec![("exp_avg", shape.to_vec()), ("exp_avg_sq", shape.to_vec())]
    }
    fn counters(&self) -> &'static [&'static str] {
        &["step"]
    }

    fn step(&mut self, params: &mut [Param], lr: f64, counters: &mut [f64]) {
        let (b1, b2) = self.betas;
        counters[0] += 1.0;
        let t = counters[0];
        let bc1 = 1.0 - b1.powf(t);
        let bc2_sqrt = (1.0 - b2.powf(t)).sqrt();
        for p in params {
            let Some(mut g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            if wd != 0.0 {
                if self.decoupled {
                    let _ = p.tensor.g_mul_scalar_(1.0 - lr * wd);
                } else {
                    g = g + p.tensor.detach() * wd;
                }
            }
            let m = p.state.entry("exp_avg").or_insert_with(|| zeros(&p.tensor));
            let _ = m.lerp_(&g, 1.0 - b1);
            let m = m.shallow_clone();
            let v = p
                .state
                .entry("exp_avg_sq")
                .or_insert_with(|| zeros(&p.tensor));
            let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
            let denom = v.sqrt() / bc2_sqrt + self.eps;
            add_scaled(&mut p.tensor, &(m / denom), -(lr / bc1));
        }
    }
}
