//! `--opt lamb`: timm's `Lamb` with its defaults (eps 1e-6, bias correction,
//! gradients clipped to a global norm of 1, decay added to the update, trust
//! ratio only where there is decay):
//!
//! ```text
//! c = max(|all gradients|_2 / 1.0, 1);  g = g / c
//! m = b1 * m + (1 - b1) * g       v = b2 * v + (1 - b2) * g * g
//! u = m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! wd > 0: u = u + wd * p;  u = u * (|p| / |u|, 1 where either norm is 0)
//! p -= lr * u
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use tch::Tensor;

use super::{add_scaled, grad, scalar_like, zeros, Param, Rule};

const MAX_GRAD_NORM: f64 = 1.0;

#[derive(Debug)]
pub struct Lamb {
    pub betas: (f64, f64),
    pub eps: f64,
}

impl Lamb {
    pub fn new(betas: (f64, f64), eps: f64) -> Lamb {
        Lamb { betas, eps }
    }
}

/// `ratio` where both norms are positive, else 1 (timm's nested `torch.where`).
pub(crate) fn trust(ratio: Tensor, w_norm: &Tensor, g_norm: &Tensor) -> Tensor {
    let one = scalar_like(1.0, &ratio);
    let inner = ratio.where_self(&g_norm.gt(0.0), &one);
    inner.where_self(&w_norm.gt(0.0), &one)
}

impl Rule for Lamb {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        vec![("exp_avg", shape.to_vec()), ("exp_avg_sq", shape.to_vec())]
    }
    fn counters(&self) -> &'static [&'static str] {
        &["step"]
    }

    fn step(&mut self, params: &mut [Param], lr: f64, counters: &mut [f64]) {
        let (b1, b2) = self.betas;
        let norms: Vec<Tensor> = params.iter().filter_map(grad).map(|g| g.norm()).collect();
        if norms.is_empty() {
            return;
        }
        let clip = (Tensor::stack(&norms, 0).norm() / MAX_GRAD_NORM).clamp_min(1.0);
        counters[0] += 1.0;
        let t = counters[0];
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        for p in params {
            let Some(g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            let g = g / &clip;
            let m = p.state.entry("exp_avg").or_insert_with(|| zeros(&p.tensor));
            let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
            let m = m.shallow_clone();
            let v = p
                .state
                .entry("exp_avg_sq")
                .or_insert_with(|| zeros(&p.tensor));
            let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
            let denom = v.sqrt() / bc2.sqrt() + self.eps;
            let mut update = m / bc1 / denom;
            if wd != 0.0 {
                update = update + p.tensor.detach() * wd;
                let w_norm = p.tensor.detach().norm();
                let u_norm = update.norm();
                let ratio = trust(&w_norm / &u_norm, &w_norm, &u_norm);
                update = update * ratio;
            }
            add_scaled(&mut p.tensor, &update, -lr);
        }
    }
}
