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

use tch::Tensor;

use super::fused::{self, Kernel, Real, Views};
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
        let Some(first) = params.first() else { return };
        let mut views = Views::new(&first.tensor);
        let mut rest = Vec::new();
        for (i, p) in params.iter_mut().enumerate() {
            let Some(g) = grad(p) else { continue };
            let s = p
                .state
                .entry("square_avg")
                .or_insert_with(|| p.tensor.ones_like());
            let s = s.shallow_clone();
            let buf = (self.momentum > 0.0).then(|| {
                p.state
                    .entry("momentum_buffer")
                    .or_insert_with(|| zeros(&p.tensor))
                    .shallow_clone()
            });
            let pushed = match &buf {
                Some(b) => views.push(i, &[&p.tensor, &s, b, &g]),
                None => views.push(i, &[&p.tensor, &s, &g]),
            };
            if !pushed {
                rest.push((i, g, s, buf));
            }
        }
        let kernel = RmsPropTfKernel {
            rule: self,
            lr,
            groups: fused::groups(params),
        };
        views.run(&kernel);
        for (i, g, s, buf) in rest {
            self.update_with_ops(&mut params[i], g, s, buf, lr);
        }
    }
}

impl RmsPropTf {
    /// The update as tensor ops, for tensors the fused kernel does not take.
    fn update_with_ops(
        &self,
        p: &mut Param,
        mut g: Tensor,
        mut s: Tensor,
        buf: Option<Tensor>,
        lr: f64,
    ) {
        let (wd, lr) = (p.weight_decay, lr * p.lr_scale);
        if wd != 0.0 {
            g = g + p.tensor.detach() * wd;
        }
        let _ = s.g_add_(&((&g * &g - &s) * (1.0 - self.alpha)));
        let avg = (&s + self.eps).sqrt();
        match buf {
            Some(mut buf) => {
                let _ = buf.g_mul_scalar_(self.momentum).g_add_(&(g / avg * lr));
                add_scaled(&mut p.tensor, &buf, -1.0);
            }
            None => add_scaled(&mut p.tensor, &(g / avg), -lr),
        }
    }
}

/// One element of [`RmsPropTf`]'s update, as timm's `RMSpropTF.step`
/// computes it: `add(p, alpha=wd)`, `add_(g.pow(2) - s, alpha=1 - alpha)`,
/// `add(eps).sqrt_()`, then `mul_` + `addcdiv_(g, avg, value=lr)` and
/// `add_(-buf)`, or `addcdiv_(g, avg, value=-lr)` without momentum.
struct RmsPropTfKernel<'a> {
    rule: &'a RmsPropTf,
    lr: f64,
    /// Weight decay and LR scale by parameter index.
    groups: Vec<(f64, f64)>,
}

impl Kernel for RmsPropTfKernel<'_> {
    #[inline(always)]
    fn apply<T: Real>(&self, index: usize, t: &mut [&mut [T]]) {
        let (wd, scale) = self.groups[index];
        let lr = self.lr * scale;
        let (decay, wd) = (wd != 0.0, T::of(wd));
        let (one_minus_alpha, eps) = (T::of(1.0 - self.rule.alpha), T::of(self.rule.eps));
        let decayed = |g: T, p: T| if decay { wd.mul_add(p, g) } else { g };
        match t {
            [p, s, buf, g] => {
                let (momentum, lr) = (T::of(self.rule.momentum), T::of(lr));
                for (((p, s), b), g) in p
                    .iter_mut()
                    .zip(s.iter_mut())
                    .zip(buf.iter_mut())
                    .zip(g.iter())
                {
                    let g = decayed(*g, *p);
                    *s = one_minus_alpha.mul_add(g * g - *s, *s);
                    let avg = (*s + eps).sqrt();
                    *b = *b * momentum + lr * g / avg;
                    *p = *p - *b; // p.add_(-buf): the same sum
                }
            }
            [p, s, g] => {
                let step = T::of(-lr);
                for ((p, s), g) in p.iter_mut().zip(s.iter_mut()).zip(g.iter()) {
                    let g = decayed(*g, *p);
                    *s = one_minus_alpha.mul_add(g * g - *s, *s);
                    let avg = (*s + eps).sqrt();
                    *p = *p + step * g / avg;
                }
            }
            _ => unreachable!("three or four tensors per set"),
        }
    }
}
