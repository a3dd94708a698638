//! `--opt radam`: torch's `RAdam` (decay not decoupled).
//!
//! ```text
//! g = g + wd * p
//! m = lerp(m, g, 1 - b1)      v = b2 * v + (1 - b2) * g * g
//! rho_inf = 2 / (1 - b2) - 1,  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
//! rho_t > 5: p -= lr * m / (1 - b1^t) * sqrt(1 - b2^t) / (sqrt(v) + eps) * rect
//! else:      p -= lr * m / (1 - b1^t)
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{add_scaled, grad, zeros, Param, Rule};

#[derive(Debug)]
pub struct RAdam {
    pub betas: (f64, f64),
    pub eps: f64,
}

impl RAdam {
    pub fn new(betas: (f64, f64), eps: f64) -> RAdam {
        RAdam { betas, eps }
    }
}

impl Rule for RAdam {
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
        let bc2 = 1.0 - b2.powf(t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt();
        for p in params {
            let Some(mut g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            if wd != 0.0 {
                g = g + p.tensor.detach() * wd;
            }
            let m = p.state.entry("exp_avg").or_insert_with(|| zeros(&p.tensor));
            let _ = m.lerp_(&g, 1.0 - b1);
            let m = m.shallow_clone();
            let v = p
                .state
                .entry("exp_avg_sq")
                .or_insert_with(|| zeros(&p.tensor));
            let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
            let corrected = m / bc1;
            let update = if rho_t > 5.0 {
                let adaptive = (v.sqrt() + self.eps).reciprocal() * bc2.sqrt();
                corrected * lr * adaptive * rect
            } else {
                corrected * lr
            };
            add_scaled(&mut p.tensor, &update, -1.0);
        }
    }
}
