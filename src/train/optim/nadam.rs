//! `--opt nadam`: torch's `NAdam` (momentum_decay 4e-3, decay not decoupled).
//!
//! ```text
//! g = g + wd * p
//! mu_t = b1 * (1 - 0.5 * 0.96^(t * 0.004)),  mu_prod *= mu_t
//! m = lerp(m, g, 1 - b1)      v = b2 * v + (1 - b2) * g * g
//! d = sqrt(v / (1 - b2^t)) + eps
//! p -= lr (1 - mu_t) / (1 - mu_prod) g / d + lr mu_{t+1} / (1 - mu_prod mu_{t+1}) m / d
//! ```
//!
//! torch keeps `mu_product` per parameter, a float32 scalar; every parameter
//! has the same one here (all get gradients every step), kept as a counter
//! beside `step` and rounded to f32 as torch's.

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{add_scaled, grad, zeros, Param, Rule};

const MOMENTUM_DECAY: f64 = 4e-3;

#[derive(Debug)]
pub struct NAdam {
    pub betas: (f64, f64),
    pub eps: f64,
}

impl NAdam {
    pub fn new(betas: (f64, f64), eps: f64) -> NAdam {
        NAdam { betas, eps }
    }
}

impl Rule for NAdam {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        vec![("exp_avg", shape.to_vec()), ("exp_avg_sq", shape.to_vec())]
    }
    fn counters(&self) -> &'static [&'static str] {
        &["step", "mu_product"]
    }

    fn step(&mut self, params: &mut [Param], lr: f64, counters: &mut [f64]) {
        let (b1, b2) = self.betas;
        if counters[0] == 0.0 {
            counters[1] = 1.0;
        }
        counters[0] += 1.0;
        let t = counters[0];
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * MOMENTUM_DECAY));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * MOMENTUM_DECAY));
        // torch keeps mu_product as a float32 scalar tensor (its default
        // scalar dtype): the product rounds to f32 each step.
        counters[1] = f64::from(counters[1] as f32 * mu as f32);
        let mu_product = counters[1];
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
            let denom = (&*v / bc2).sqrt() + self.eps;
            add_scaled(
                &mut p.tensor,
                &(&g / &denom),
                -lr * (1.0 - mu) / (1.0 - mu_product),
            );
            add_scaled(
                &mut p.tensor,
                &(m / denom),
                -lr * mu_next / (1.0 - mu_product * mu_next),
            );
        }
    }
}
