//! The operations a DPN's forward pass is written in.
//!
//! [`super::Dpn::walk_feature_map`] and [`super::Dpn::walk_head`] are the
//! forward pass, written once and generic over [`Ops`]: [`Eager`] computes it
//! on tch tensors (what every command runs), and `export::graph` records the
//! same calls as ONNX nodes. An exported graph therefore has the structure of
//! the network that computes, by construction.

use tch::Tensor;

use super::{Act, BatchNorm, Conv};

/// One implementation of the network's operations; `Value` is what flows
/// between them (a tensor, or the name of a graph value).
pub trait Ops {
    type Value;
    /// `conv` applied to `x` (its stride, padding, groups and bias).
    fn conv(&mut self, conv: &Conv, x: &Self::Value) -> Self::Value;
    /// BatchNorm then `act` (timm's `BatchNormAct2d`).
    fn bn_act(&mut self, bn: &BatchNorm, act: Act, x: &Self::Value) -> Self::Value;
    /// The stem's max pooling: 3x3, stride 2, padding 1.
    fn max_pool(&mut self, x: &Self::Value) -> Self::Value;
    /// Channels `start..start + len` of `x`.
    fn narrow(&mut self, x: &Self::Value, start: i64, len: i64) -> Self::Value;
    /// `a` and `b` concatenated along the channels, `a` first.
    fn cat(&mut self, a: &Self::Value, b: &Self::Value) -> Self::Value;
    fn add(&mut self, a: Self::Value, b: Self::Value) -> Self::Value;
    /// Global average pooling to `[N, C, 1, 1]`.
    fn global_pool(&mut self, x: &Self::Value) -> Self::Value;
    /// `[N, C, 1, 1]` to `[N, C]`.
    fn flatten(&mut self, x: &Self::Value) -> Self::Value;
    /// The same value under another handle (no computation).
    fn share(&mut self, x: &Self::Value) -> Self::Value;
}

/// The network computed on tch tensors, in training or eval mode.
pub struct Eager {
    pub train: bool,
}

impl Ops for Eager {
    type Value = Tensor;

    fn conv(&mut self, conv: &Conv, x: &Tensor) -> Tensor {
        conv.forward(x)
    }

    fn bn_act(&mut self, bn: &BatchNorm, act: Act, x: &Tensor) -> Tensor {
        act.apply(bn.forward_t(x, self.train))
    }

    fn max_pool(&mut self, x: &Tensor) -> Tensor {
        x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)
    }

    fn narrow(&mut self, x: &Tensor, start: i64, len: i64) -> Tensor {
        x.narrow(1, start, len)
    }

    fn cat(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        Tensor::cat(&[a, b], 1)
    }

    fn add(&mut self, a: Tensor, b: Tensor) -> Tensor {
        a + b
    }

    fn global_pool(&mut self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d([1, 1])
    }

    fn flatten(&mut self, x: &Tensor) -> Tensor {
        x.flatten(1, -1)
    }

    fn share(&mut self, x: &Tensor) -> Tensor {
        x.shallow_clone()
    }
}
