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

use tch::Tensor;

use super::fused::{self, Kernel, Lerp, Real, Views};
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
        let Some(first) = params.first() else { return };
        let mut views = Views::new(&first.tensor);
        let mut rest = Vec::new();
        for (i, p) in params.iter_mut().enumerate() {
            let Some(g) = grad(p) else { continue };
            let m = p.state.entry("exp_avg").or_insert_with(|| zeros(&p.tensor));
            let m = m.shallow_clone();
            let v = p
                .state
                .entry("exp_avg_sq")
                .or_insert_with(|| zeros(&p.tensor));
            let v = v.shallow_clone();
            if !views.push(i, &[&p.tensor, &m, &v, &g]) {
                rest.push((i, g, m, v));
            }
        }
        let kernel = AdamKernel {
            rule: self,
            lr,
            bc1,
            bc2_sqrt,
            groups: fused::groups(params),
        };
        views.run(&kernel);
        for (i, g, m, v) in rest {
            let p = &mut params[i];
            self.update_with_ops(p, g, m, v, lr * p.lr_scale, bc1, bc2_sqrt);
        }
    }
}

impl Adam {
    /// The update as tensor ops, for tensors the fused kernel does not take.
    #[allow(clippy::too_many_arguments)]
    fn update_with_ops(
        &self,
        p: &mut Param,
        mut g: Tensor,
        mut m: Tensor,
        mut v: Tensor,
        lr: f64,
        bc1: f64,
        bc2_sqrt: f64,
    ) {
        let (b1, b2) = self.betas;
        let wd = p.weight_decay;
        if wd != 0.0 {
            if self.decoupled {
                let _ = p.tensor.g_mul_scalar_(1.0 - lr * wd);
            } else {
                g = g + p.tensor.detach() * wd;
            }
        }
        let _ = m.lerp_(&g, 1.0 - b1);
        let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
        let denom = v.sqrt() / bc2_sqrt + self.eps;
        add_scaled(&mut p.tensor, &(m / denom), -(lr / bc1));
    }
}

/// One element of [`Adam`]'s update, as torch's single-tensor `adam`
/// computes it: `lerp_`, `mul_` + `addcmul_`, `sqrt / c + eps`, `addcdiv_`.
struct AdamKernel<'a> {
    rule: &'a Adam,
    lr: f64,
    bc1: f64,
    bc2_sqrt: f64,
    /// Weight decay and LR scale by parameter index.
    groups: Vec<(f64, f64)>,
}

impl Kernel for AdamKernel<'_> {
    #[inline(always)]
    fn apply<T: Real>(&self, index: usize, t: &mut [&mut [T]]) {
        let [p, m, v, g] = t else {
            unreachable!("four tensors per set")
        };
        let (wd, scale) = self.groups[index];
        let lr = self.lr * scale;
        let (b1, b2) = self.rule.betas;
        let lerp = Lerp::<T>::new(1.0 - b1);
        let (b2, one_minus_b2) = (T::of(b2), T::of(1.0 - b2));
        let (bc2_sqrt, eps) = (T::of(self.bc2_sqrt), T::of(self.rule.eps));
        let step = T::of(-(lr / self.bc1));
        let decoupled = self.rule.decoupled && wd != 0.0;
        let coupled = !self.rule.decoupled && wd != 0.0;
        let (shrink, wd) = (T::of(1.0 - lr * wd), T::of(wd));
        for (((p, m), v), g) in p
            .iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(g.iter())
        {
            if decoupled {
                *p = *p * shrink;
            }
            let g = if coupled { wd.mul_add(*p, *g) } else { *g };
            *m = lerp.at(*m, g);
            *v = *v * b2 + one_minus_b2 * g * g;
            let denom = v.sqrt() / bc2_sqrt + eps;
            *p = *p + step * *m / denom;
        }
    }
}
