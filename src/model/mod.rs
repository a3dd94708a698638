//! The DPN network on libtorch, built from an [`ArchSpec`] through [`Plan`].
//!
//! Variable names in the [`nn::VarStore`] are exactly timm's state-dict keys
//! (docs/conventions.md, "Architecture"), BatchNorm buffers included, so a timm
//! checkpoint loads with [`load_state_dict`] and [`state_dict`] writes one
//! back. The computation follows timm's order: BatchNorm, activation, then a
//! bias-free convolution; concatenations put the residual path first. Which
//! activation follows which BatchNorm is [`Activations`]: by default exactly
//! timm 1.0.x's (ReLU inside the blocks, the architecture's activation in the
//! stem and in `conv5_bn_ac`; no ELU, whatever the constructor's
//! `fc_act_layer` says).
//!
//! Mixed precision works like autocast without needing it: the parameters
//! stay in their own dtype (normally f32) and every convolution casts its
//! weight to the dtype of its input, so feeding a bf16 or f16 input runs the
//! convolutions in that dtype while BatchNorm keeps f32 statistics (see
//! [`infer`] for the inference helper).

pub mod cuda_graph;
pub mod fold;
pub mod infer;
mod ops;
pub mod run_opts;
mod scope;
mod state;
pub mod sync_bn;

use tch::nn::{self, Init};
use tch::Tensor;

use crate::arch::{Activation, ArchSpec, BlockKind, BlockPlan, ParamShape, Plan};
use scope::Scope;

pub use ops::{Eager, Ops};
pub use state::{is_nbt, load_state_dict, state_dict, LoadReport};

/// Every BatchNorm's epsilon (docs/conventions.md, "Architecture").
pub const BN_EPS: f64 = 1e-3;
/// Every BatchNorm's momentum, in PyTorch's convention.
pub const BN_MOMENTUM: f64 = 0.1;

/// The first convolution and the classifier as timm's `pretrained_cfg`
/// names them (`first_conv`, `classifier`): the prefixes of their keys.
pub const FIRST_CONV: &str = "features.conv1_1.conv";
pub const CLASSIFIER: &str = "classifier";

thread_local! {
    /// Set while [`Dpn::new_for_loading`] builds a network whose weights are
    /// about to be overwritten: drawing ~87M uniform numbers for dpn107 is a
    /// large share of the load time that the weights then discard.
    static SKIP_RANDOM_INIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// PyTorch's default convolution initialization: uniform in +-1/sqrt(fan_in)
/// (`kaiming_uniform_(a=sqrt(5))`), used for weights and biases alike.
fn conv_init(fan_in: i64) -> Init {
    if SKIP_RANDOM_INIT.with(|s| s.get()) {
        return Init::Const(0.0);
    }
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// A convolution, bias optional; the weight is cast to the input's dtype.
/// Fields are visible to the crate for the [`Ops`] that record the network
/// (ONNX export); only the network definition makes one.
#[derive(Debug)]
pub struct Conv {
    /// The state-dict prefix of its variables (`<name>.weight`, `<name>.bias`).
    pub(crate) name: String,
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) stride: i64,
    pub(crate) padding: i64,
    pub(crate) groups: i64,
}

impl Conv {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &Scope,
        name: &str,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        groups: i64,
        bias: bool,
    ) -> Conv {
        let fan_in = cin / groups * k * k;
        let path = p.sub(name);
        let weight = path.param("weight", &[cout, cin / groups, k, k], conv_init(fan_in));
        let bias = bias.then(|| path.param("bias", &[cout], conv_init(fan_in)));
        // timm's static "same-ish" padding: ((stride - 1) + (k - 1)) / 2, which is
        // k / 2 for every convolution a DPN has.
        Conv {
            name: path.prefix().to_string(),
            weight,
            bias,
            stride,
            padding: ((stride - 1) + (k - 1)) / 2,
            groups,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let kind = xs.kind();
        let cast = |t: &Tensor| {
            if t.kind() == kind {
                t.shallow_clone()
            } else {
                t.to_kind(kind)
            }
        };
        let w = cast(&self.weight);
        let b = self.bias.as_ref().map(cast);
        xs.conv2d(
            &w,
            b.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            self.groups,
        )
    }
}

/// BatchNorm2d with PyTorch's buffers, `num_batches_tracked` included
/// (epsilon [`BN_EPS`]).
#[derive(Debug)]
pub struct BatchNorm {
    /// The state-dict prefix of its variables (`<name>.weight`, ...).
    pub(crate) name: String,
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) running_mean: Tensor,
    pub(crate) running_var: Tensor,
    num_batches_tracked: Tensor,
}

impl BatchNorm {
    fn new(p: &Scope, c: i64) -> BatchNorm {
        BatchNorm {
            name: p.prefix().to_string(),
            weight: p.param("weight", &[c], Init::Const(1.0)),
            bias: p.param("bias", &[c], Init::Const(0.0)),
            running_mean: p.buffer("running_mean", &[c], false),
            running_var: p.buffer("running_var", &[c], true),
            num_batches_tracked: p.counter("num_batches_tracked"),
        }
    }

    /// Train mode normalizes with the batch's statistics and updates the
    /// running ones (unbiased variance, momentum 0.1) and the batch counter.
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train {
            tch::no_grad(|| {
                let _ = self.num_batches_tracked.shallow_clone().g_add_scalar_(1);
            });
        }
        if train {
            if let Some(sync) = sync_bn::current() {
                return sync.batch_norm(
                    xs,
                    &self.weight,
                    &self.bias,
                    &self.running_mean,
                    &self.running_var,
                    BN_MOMENTUM,
                    BN_EPS,
                );
            }
        }
        xs.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }
}

/// An activation after a BatchNorm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Relu,
    Silu,
    /// ELU with alpha 1.
    Elu,
}

impl Act {
    /// Applied in place, as timm's `BatchNormAct2d` does for ReLU and SiLU:
    /// the BatchNorm output is a fresh tensor nobody else holds, and DPN
    /// inference is bound by memory traffic, so saving an allocation and a
    /// pass per layer shows in throughput. ELU (the optional head) stays
    /// out of place, as in timm.
    pub(crate) fn apply(self, mut xs: Tensor) -> Tensor {
        match self {
            Act::Relu => xs.relu_(),
            Act::Silu => xs.silu_(),
            Act::Elu => xs.elu(),
        }
    }
}

impl From<Activation> for Act {
    fn from(a: Activation) -> Act {
        match a {
            Activation::Relu => Act::Relu,
            Activation::Silu => Act::Silu,
        }
    }
}

/// Which activation follows which BatchNorm.
///
/// timm 1.0.x (the pinned reference, [`Activations::timm`]) applies the
/// architecture's activation only in the stem (`conv1_1`) and in
/// `conv5_bn_ac`; every BatchNorm inside the dual-path blocks is followed by
/// ReLU (its `BnActConv2d`/`CatBnAct` are built with the default
/// `BatchNormAct2d`), and `conv5_bn_ac` does *not* use the `fc_act_layer='elu'`
/// the constructor names (`get_norm_act_layer` keeps the act already bound).
/// timm before 1.0 and the original pytorch-dpn-pretrained port ended in ELU
/// ([`Activations::elu_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activations {
    pub stem: Act,
    pub blocks: Act,
    pub head: Act,
}

impl Activations {
    /// Exactly what timm 1.0.29 computes for `arch`.
    pub fn timm(arch: &ArchSpec) -> Activations {
        let a = Act::from(arch.activation);
        Activations {
            stem: a,
            blocks: Act::Relu,
            head: a,
        }
    }

    /// As [`Activations::timm`], but `conv5_bn_ac` followed by ELU (alpha 1),
    /// as timm < 1.0 and pytorch-dpn-pretrained compute it.
    pub fn elu_head(arch: &ArchSpec) -> Activations {
        Activations {
            head: Act::Elu,
            ..Activations::timm(arch)
        }
    }
}

/// BatchNorm then activation (timm's `BatchNormAct2d`), variables `<p>.bn.*`.
#[derive(Debug)]
struct BnAct {
    bn: BatchNorm,
    act: Act,
}

impl BnAct {
    fn new(p: &Scope, c: i64, act: Act) -> BnAct {
        BnAct {
            bn: BatchNorm::new(&p.sub("bn"), c),
            act,
        }
    }

    fn walk<O: Ops>(&self, o: &mut O, xs: &O::Value) -> O::Value {
        o.bn_act(&self.bn, self.act, xs)
    }
}

/// BatchNorm, activation, bias-free convolution: `<p>.bn.*`, `<p>.conv.weight`.
#[derive(Debug)]
struct BnActConv {
    bn_act: BnAct,
    conv: Conv,
}

impl BnActConv {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &Scope,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        groups: i64,
        act: Act,
    ) -> BnActConv {
        BnActConv {
            bn_act: BnAct::new(p, cin, act),
            conv: Conv::new(p, "conv", cin, cout, k, stride, groups, false),
        }
    }

    fn walk<O: Ops>(&self, o: &mut O, xs: &O::Value) -> O::Value {
        let h = self.bn_act.walk(o, xs);
        o.conv(&self.conv, &h)
    }
}

/// The last stage of a block's main path.
#[derive(Debug)]
enum Tail {
    /// `c1x1_c`: BN-act-conv to bw + inc channels, split.
    Joint(BnActConv),
    /// b-variant: `c1x1_c` is BN-act only, then `c1x1_c1` (bw) and `c1x1_c2` (inc).
    Split { bn_act: BnAct, c1: Conv, c2: Conv },
}

/// What flows between blocks: one tensor (after the stem) or (resid, dense).
enum Flow<V> {
    Single(V),
    Pair(V, V),
}

impl<V> Flow<V> {
    /// The block input: the residual path first, as timm concatenates.
    fn join<O: Ops<Value = V>>(&self, o: &mut O) -> V {
        match self {
            Flow::Single(x) => o.share(x),
            Flow::Pair(r, d) => o.cat(r, d),
        }
    }
}

impl Flow<Tensor> {
    fn joined(&self) -> Tensor {
        self.join(&mut Eager { train: false })
    }
}

#[derive(Debug)]
struct DualPathBlock {
    /// `c1x1_w_s1` (proj) or `c1x1_w_s2` (down); none for normal blocks.
    proj: Option<BnActConv>,
    c1x1_a: BnActConv,
    c3x3_b: BnActConv,
    tail: Tail,
    bw: i64,
    inc: i64,
}

impl DualPathBlock {
    fn new(p: &Scope, plan: &BlockPlan, act: Act) -> DualPathBlock {
        let (cin, r, bw, inc) = (
            plan.in_chs as i64,
            plan.r as i64,
            plan.bw as i64,
            plan.inc as i64,
        );
        let groups = plan.groups as i64;
        let stride = plan.stride as i64;
        let proj = match plan.kind {
            BlockKind::Proj => Some(BnActConv::new(
                &p.sub("c1x1_w_s1"),
                cin,
                bw + 2 * inc,
                1,
                1,
                1,
                act,
            )),
            BlockKind::Down => Some(BnActConv::new(
                &p.sub("c1x1_w_s2"),
                cin,
                bw + 2 * inc,
                1,
                2,
                1,
                act,
            )),
            BlockKind::Normal => None,
        };
        let c1x1_a = BnActConv::new(&p.sub("c1x1_a"), cin, r, 1, 1, 1, act);
        let c3x3_b = BnActConv::new(&p.sub("c3x3_b"), r, r, 3, stride, groups, act);
        let tail = if plan.b {
            Tail::Split {
                bn_act: BnAct::new(&p.sub("c1x1_c"), r, act),
                c1: Conv::new(p, "c1x1_c1", r, bw, 1, 1, 1, false),
                c2: Conv::new(p, "c1x1_c2", r, inc, 1, 1, 1, false),
            }
        } else {
            Tail::Joint(BnActConv::new(&p.sub("c1x1_c"), r, bw + inc, 1, 1, 1, act))
        };
        DualPathBlock {
            proj,
            c1x1_a,
            c3x3_b,
            tail,
            bw,
            inc,
        }
    }

    fn walk<O: Ops>(&self, o: &mut O, x: &Flow<O::Value>) -> Flow<O::Value> {
        let x_in = x.join(o);
        // The projection's output is bw residual channels, then 2 * inc dense.
        let (x_s1, x_s2) = match (&self.proj, x) {
            (Some(proj), _) => {
                let x_s = proj.walk(o, &x_in);
                (
                    o.narrow(&x_s, 0, self.bw),
                    o.narrow(&x_s, self.bw, 2 * self.inc),
                )
            }
            (None, Flow::Pair(r, d)) => (o.share(r), o.share(d)),
            (None, Flow::Single(_)) => unreachable!("a normal block always follows another block"),
        };
        let h = self.c1x1_a.walk(o, &x_in);
        let h = self.c3x3_b.walk(o, &h);
        let (out1, out2) = match &self.tail {
            Tail::Joint(c) => {
                let h = c.walk(o, &h);
                (o.narrow(&h, 0, self.bw), o.narrow(&h, self.bw, self.inc))
            }
            Tail::Split { bn_act, c1, c2 } => {
                let h = bn_act.walk(o, &h);
                (o.conv(c1, &h), o.conv(c2, &h))
            }
        };
        let resid = o.add(x_s1, out1);
        let dense = o.cat(&x_s2, &out2);
        Flow::Pair(resid, dense)
    }
}

/// A Dual Path Network (timm's `DPN`), variables named as timm's state dict.
#[derive(Debug)]
pub struct Dpn {
    stem: Conv,
    stem_bn_act: BnAct,
    blocks: Vec<DualPathBlock>,
    conv5_bn_ac: BnAct,
    classifier: Conv,
    num_features: usize,
    num_classes: usize,
    /// timm's `drop_rate` (`--drop`): dropout on the pooled features before
    /// the classifier in train mode; none at eval.
    drop_rate: f64,
    /// Every variable's name, in creation order: timm's state-dict order.
    keys: Vec<String>,
}

impl Dpn {
    /// As [`Dpn::new`], but convolutions start at zero instead of random
    /// values: for a network that [`load_state_dict`] fills right away.
    pub fn new_for_loading(vs: &nn::Path, arch: &ArchSpec) -> Dpn {
        SKIP_RANDOM_INIT.with(|s| s.set(true));
        let model = Dpn::new(vs, arch);
        SKIP_RANDOM_INIT.with(|s| s.set(false));
        model
    }

    /// Builds the network under `vs` (normally the VarStore's root, so that
    /// names are `features.*` and `classifier.*`), freshly initialized as
    /// PyTorch initializes it (convs uniform +-1/sqrt(fan_in), BatchNorm 1/0).
    pub fn new(vs: &nn::Path, arch: &ArchSpec) -> Dpn {
        Dpn::with_activations(vs, arch, Activations::timm(arch))
    }

    /// As [`Dpn::new`], with other activations (same variables).
    pub fn with_activations(vs: &nn::Path, arch: &ArchSpec, acts: Activations) -> Dpn {
        Dpn::build(&Scope::vars(vs), arch, acts)
    }

    /// The network definition: the one place that names timm's keys, used
    /// for real networks and for the shape-only walk ([`parameter_shapes`]).
    fn build(vs: &Scope, arch: &ArchSpec, acts: Activations) -> Dpn {
        let plan = Plan::new(arch);
        let f = vs.sub("features");
        let stem_p = f.sub("conv1_1");
        let k = plan.stem_kernel as i64;
        let stem = Conv::new(
            &stem_p,
            "conv",
            plan.in_chans as i64,
            plan.stem_out as i64,
            k,
            2,
            1,
            false,
        );
        let stem_bn_act = BnAct::new(&stem_p, plan.stem_out as i64, acts.stem);
        let blocks = plan
            .blocks()
            .map(|b| DualPathBlock::new(&f.sub(&b.name), b, acts.blocks))
            .collect();
        let conv5_bn_ac = BnAct::new(&f.sub("conv5_bn_ac"), plan.num_features as i64, acts.head);
        let classifier = Self::make_classifier(vs, plan.num_features, plan.num_classes);
        Dpn {
            stem,
            stem_bn_act,
            blocks,
            conv5_bn_ac,
            classifier,
            num_features: plan.num_features,
            num_classes: plan.num_classes,
            drop_rate: 0.0,
            keys: vs.recorded().into_iter().map(|p| p.name).collect(),
        }
    }

    /// The state-dict keys of this network, in timm's order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Whether the state-dict entry `name` is a buffer (BatchNorm's running
    /// statistics and batch counter, the only buffers a DPN has) rather than
    /// a parameter, trainable or frozen.
    pub fn is_buffer(name: &str) -> bool {
        ["running_mean", "running_var", "num_batches_tracked"]
            .iter()
            .any(|b| name.rsplit('.').next() == Some(*b))
    }

    fn make_classifier(vs: &Scope, num_features: usize, num_classes: usize) -> Conv {
        Conv::new(
            vs,
            "classifier",
            num_features as i64,
            num_classes as i64,
            1,
            1,
            1,
            true,
        )
    }

    /// Channels of the pooled embedding ([`Dpn::forward_features`]).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Switches activations in place (they hold no variables).
    pub fn set_activations(&mut self, acts: Activations) {
        self.stem_bn_act.act = acts.stem;
        for b in &mut self.blocks {
            for c in [&mut b.c1x1_a, &mut b.c3x3_b]
                .into_iter()
                .chain(b.proj.as_mut())
            {
                c.bn_act.act = acts.blocks;
            }
            match &mut b.tail {
                Tail::Joint(c) => c.bn_act.act = acts.blocks,
                Tail::Split { bn_act, .. } => bn_act.act = acts.blocks,
            }
        }
        self.conv5_bn_ac.act = acts.head;
    }

    /// The forward pass up to the feature map after `conv5_bn_ac`, written
    /// once over [`Ops`]: [`Eager`] computes it, ONNX export records it.
    pub fn walk_feature_map<O: Ops>(&self, o: &mut O, xs: &O::Value) -> O::Value {
        let x = o.conv(&self.stem, xs);
        let x = self.stem_bn_act.walk(o, &x);
        let x = o.max_pool(&x);
        let mut flow = Flow::Single(x);
        for block in &self.blocks {
            flow = block.walk(o, &flow);
        }
        let x = flow.join(o);
        self.conv5_bn_ac.walk(o, &x)
    }

    /// timm's head on the feature map, written once over [`Ops`]: global
    /// average pooling, then the classifier (a 1x1 convolution with bias).
    /// Returns the pooled embedding `[N, num_features]` and the logits
    /// `[N, num_classes]`.
    pub fn walk_head<O: Ops>(&self, o: &mut O, fmap: &O::Value) -> (O::Value, O::Value) {
        let pooled = o.global_pool(fmap);
        let logits = o.conv(&self.classifier, &pooled);
        (o.flatten(&pooled), o.flatten(&logits))
    }

    /// The feature map after `conv5_bn_ac` (BN + ELU), before pooling:
    /// `[N, num_features, H/32, W/32]`.
    pub fn forward_feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        self.walk_feature_map(&mut Eager { train }, xs)
    }

    /// Pooled pre-logit embeddings `[N, num_features]`.
    pub fn forward_features(&self, xs: &Tensor, train: bool) -> Tensor {
        pool(&self.forward_feature_map(xs, train)).flatten(1, -1)
    }

    /// Logits from pooled embeddings (`[N, num_features]` to `[N, num_classes]`):
    /// the classifier alone, so embeddings and logits come from one pass.
    pub fn classify_features(&self, features: &Tensor) -> Tensor {
        let n = features.size()[0];
        let pooled = features.view([n, self.num_features as i64, 1, 1]);
        self.classifier.forward(&pooled).flatten(1, -1)
    }

    /// Logits `[N, num_classes]`. In train mode with a drop rate, timm's
    /// `forward_head`: `F.dropout` (torch's generator) on the pooled
    /// `[N, C, 1, 1]` features before the classifier.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let o = &mut Eager { train };
        let fmap = self.walk_feature_map(o, xs);
        if train && self.drop_rate > 0.0 {
            let pooled = o.global_pool(&fmap).dropout(self.drop_rate, true);
            return o.conv(&self.classifier, &pooled).flatten(1, -1);
        }
        self.walk_head(o, &fmap).1
    }

    /// Sets timm's `drop_rate` (`--drop`, 0 to 1).
    pub fn set_drop_rate(&mut self, rate: f64) {
        self.drop_rate = rate;
    }

    /// Replaces the classifier with a freshly initialized one for
    /// `num_classes` classes. `vs` must be the path [`Dpn::new`] was given:
    /// the variables `classifier.weight` / `classifier.bias` keep their names
    /// (their data is replaced in place, so the VarStore, its trainable list
    /// and optimizers built afterwards all see the new tensors). Build any
    /// optimizer after calling this.
    pub fn reset_classifier(&mut self, vs: &nn::Path, num_classes: usize) {
        let fresh = nn::VarStore::new(vs.device());
        let new =
            Self::make_classifier(&Scope::vars(&fresh.root()), self.num_features, num_classes);
        let p = vs.sub("classifier");
        match (p.get("weight"), p.get("bias")) {
            (Some(mut w), Some(mut b)) => {
                tch::no_grad(|| {
                    w.set_data(&new.weight.detach().to_kind(w.kind()));
                    b.set_data(
                        &new.bias
                            .as_ref()
                            .expect("classifier has a bias")
                            .detach()
                            .to_kind(b.kind()),
                    );
                });
                self.classifier.weight = w;
                self.classifier.bias = Some(b);
            }
            _ => {
                self.classifier =
                    Self::make_classifier(&Scope::vars(vs), self.num_features, num_classes)
            }
        }
        self.num_classes = num_classes;
    }
}

/// Global average pooling to `[N, C, 1, 1]`.
fn pool(xs: &Tensor) -> Tensor {
    xs.adaptive_avg_pool2d([1, 1])
}

impl nn::ModuleT for Dpn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        Dpn::forward_t(self, xs, train)
    }
}

/// Every key of timm's state dict for `arch`, in timm's order, with its
/// shape: the network definition walked without allocating a tensor.
pub fn parameter_shapes(arch: &ArchSpec) -> Vec<ParamShape> {
    let scope = Scope::shapes();
    let _ = Dpn::build(&scope, arch, Activations::timm(arch));
    scope.recorded()
}

/// Learnable parameters of `arch`, as PyTorch counts them.
pub fn parameter_count(arch: &ArchSpec) -> u64 {
    numel(arch, true)
}

/// BatchNorm buffers of `arch` (`num_batches_tracked` counts 1 each).
pub fn buffer_count(arch: &ArchSpec) -> u64 {
    numel(arch, false)
}

fn numel(arch: &ArchSpec, trainable: bool) -> u64 {
    parameter_shapes(arch)
        .iter()
        .filter(|p| p.trainable == trainable)
        .map(|p| p.shape.iter().product::<i64>() as u64)
        .sum()
}

/// Learnable parameters of a VarStore, as PyTorch counts them (`numel` of
/// every trainable variable).
pub fn trainable_parameter_count(vs: &nn::VarStore) -> u64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `arch::limits` counts parameters from the plan alone, before a network
    /// may be built; it must agree with the network definition everywhere.
    #[test]
    fn limits_count_parameters_as_the_network_does() {
        let reg = crate::registry::Registry::load(None).unwrap();
        for spec in reg.models() {
            let mut arch = spec.arch.clone();
            for (b, classes, chans) in [(false, 1000, 3), (true, 7, 1)] {
                arch.b = b;
                arch.num_classes = classes;
                arch.in_chans = chans;
                assert_eq!(
                    crate::arch::limits::parameter_count(&crate::arch::Plan::new(&arch)),
                    parameter_count(&arch),
                    "{} b={b} classes={classes}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn first_conv_and_classifier_name_variables() {
        let arch = ArchSpec {
            small: true,
            init_features: 10,
            k_r: 128,
            groups: 32,
            b: true,
            k_sec: [3, 4, 6, 3],
            inc_sec: [16, 32, 32, 64],
            activation: Activation::Silu,
            num_classes: 3,
            in_chans: 3,
        };
        let names: Vec<String> = parameter_shapes(&arch)
            .into_iter()
            .map(|p| p.name)
            .collect();
        for prefix in [FIRST_CONV, CLASSIFIER] {
            assert!(
                names.contains(&format!("{prefix}.weight")),
                "{prefix}.weight"
            );
        }
    }
}
