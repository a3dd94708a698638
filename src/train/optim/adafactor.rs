//! `--opt adafactor`: timm's `Adafactor` with an explicit LR (timm always
//! passes one, so no relative step), eps 1e-30, clip threshold 1, decay rate
//! -0.8, no first moment (timm passes no betas to it), factoring dimensions
//! larger than 16:
//!
//! ```text
//! b2_t = 1 - t^-0.8;  q = g * g + eps
//! factored (dims r, c):  R = b2_t R + (1 - b2_t) mean_r(q),  C likewise over c
//!                        u = g * rsqrt(R / mean(R)) * rsqrt(C)
//! otherwise:             v = b2_t v + (1 - b2_t) q,  u = g * rsqrt(v)
//! u = u / max(rms(u) / 1, 1) * lr;  p -= lr * wd * p;  p -= u
//! ```

// tch's `+=` and `*=` are in place: on a gradient they would write into
// the parameter's `.grad`, which torch's optimizers read but leave alone.
#![allow(clippy::assign_op_pattern)]

use super::{grad, zeros, Param, Rule};

const MIN_DIM_TO_FACTOR: i64 = 16;
const DECAY_RATE: f64 = -0.8;
const CLIP_THRESHOLD: f64 = 1.0;

#[derive(Debug)]
pub struct Adafactor {
    pub eps: f64,
}

impl Adafactor {
    pub fn new(eps: f64) -> Adafactor {
        Adafactor { eps }
    }
}

/// timm's `_get_options`: the (column, row) dimensions factored, if any.
fn factored(shape: &[i64]) -> Option<(usize, usize)> {
    let n = shape.len();
    if n > 2 && shape[0] > MIN_DIM_TO_FACTOR && shape[1] > MIN_DIM_TO_FACTOR {
        Some((0, 1))
    } else if n >= 2 && shape[n - 2] > MIN_DIM_TO_FACTOR && shape[n - 1] > MIN_DIM_TO_FACTOR {
        Some((n - 2, n - 1))
    } else {
        None
    }
}

fn without(shape: &[i64], dim: usize) -> Vec<i64> {
    let mut s = shape.to_vec();
    s.remove(dim);
    s
}

fn rms(t: &tch::Tensor) -> tch::Tensor {
    t.norm() / (t.numel() as f64).sqrt()
}

impl Rule for Adafactor {
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
        match factored(shape) {
            Some((col, row)) => vec![
                ("exp_avg_sq_row", without(shape, row)),
                ("exp_avg_sq_col", without(shape, col)),
            ],
            None => vec![("exp_avg_sq", shape.to_vec())],
        }
    }
    fn counters(&self) -> &'static [&'static str] {
        &["step"]
    }

    fn step(&mut self, params: &mut [Param], lr: f64, counters: &mut [f64]) {
        counters[0] += 1.0;
        let beta2t = 1.0 - counters[0].powf(DECAY_RATE);
        for p in params {
            let Some(g) = grad(p) else { continue };
            let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
            let q = &g * &g + self.eps;
            let update = match factored(&p.tensor.size()) {
                Some((col, row)) => {
                    let shape = p.tensor.size();
                    let r = p.state.entry("exp_avg_sq_row").or_insert_with(|| {
                        zeros(&p.tensor).sum_dim_intlist(row as i64, false, None)
                    });
                    let _ = r
                        .g_mul_scalar_(beta2t)
                        .g_add_(&(q.mean_dim(row as i64, false, None) * (1.0 - beta2t)));
                    let r = r.shallow_clone();
                    let c = p.state.entry("exp_avg_sq_col").or_insert_with(|| {
                        zeros(&p.tensor).sum_dim_intlist(col as i64, false, None)
                    });
                    let _ = c
                        .g_mul_scalar_(beta2t)
                        .g_add_(&(q.mean_dim(col as i64, false, None) * (1.0 - beta2t)));
                    let r_factor = (&r / r.mean_dim(col as i64, true, None))
                        .rsqrt()
                        .unsqueeze(row as i64);
                    let c_factor = c.unsqueeze(col as i64).rsqrt();
                    debug_assert_eq!(shape.len(), p.tensor.dim());
                    r_factor * c_factor * &g
                }
                None => {
                    let v = p
                        .state
                        .entry("exp_avg_sq")
                        .or_insert_with(|| zeros(&p.tensor));
                    let _ = v.g_mul_scalar_(beta2t).g_add_(&(q * (1.0 - beta2t)));
                    v.rsqrt() * &g
                }
            };
            let update = &update / (rms(&update) / CLIP_THRESHOLD).clamp_min(1.0) * lr;
            if wd != 0.0 {
                let w = p.tensor.detach() * (-wd * lr);
                let _ = p.tensor.g_add_(&w);
            }
            let _ = p.tensor.g_sub_(&update);
        }
    }
}
