//! The optimizers of timm's `create_optimizer_v2` (`--opt NAME`), each as the
//! class timm maps the name to computes it: torch's `SGD`, `RMSprop`, `Adam`,
//! `AdamW`, `NAdam`, `RAdam`, and timm's `RMSpropTF`, `Lamb`, `Lars`, `Lion`,
//! `Adafactor` (see timm/optim/_optim_factory.py for the mapping and the
//! defaults: eps, betas, momentum 0.9 where a class takes one).
//!
//! Parameter groups are timm's `param_groups_weight_decay` (no decay for
//! parameters with fewer than two dimensions or a name ending in `.bias`) or,
//! with `--layer-decay`, `param_groups_layer_decay` ([`layer_decay`]), whose
//! per-group `lr_scale` multiplies the LR as timm's schedulers set
//! `group["lr"] = lr * lr_scale`.
//!
//! [`Optimizer`] is a trait because the trainer, the checkpoint code and the
//! step only need what every optimizer has (zero, unscale, step at an LR,
//! named state to save and restore), while the update rules and their state
//! differ per optimizer; one object behind `Box<dyn Optimizer>` is picked at
//! set-up from `--opt` and the rest of the run does not branch on it. The
//! shared machinery (parameters, groups, state bookkeeping and its checks) is
//! [`Stateful`], generic over each file's update [`Rule`].
//!
//! State is named tensors `<key>.<parameter>` with torch's state keys
//! (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `square_avg`, ...), plus the
//! step counter(s) as f64 scalars (`step`, NAdam's `mu_product`), so that a
//! resumed run continues bit for bit. SGD keeps no counter: its state is what
//! checkpoints of older runs hold (`momentum_buffer.<param>`).
//!
//! tch does not expose `alpha`/`value` of libtorch's fused `add_`/`addcdiv_`,
//! so updates here round a product and a sum apart; in f64 the difference
//! from torch is around 1e-16 relative per step (tests/train_optim.rs).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use tch::{nn, Tensor};

use crate::sys::error;

pub mod adafactor;
pub mod adam;
pub(crate) mod fused;
pub mod lamb;
pub mod lars;
pub mod layer_decay;
pub mod lion;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod rmsprop_tf;
pub mod sgd;

pub use layer_decay::LayerDecay;
pub use sgd::BUFFER_PREFIX;

/// Whether timm's `param_groups_weight_decay` exempts a parameter from weight decay.
pub fn no_weight_decay(name: &str, dim: usize) -> bool {
    dim <= 1 || name.ends_with(".bias")
}

/// What the trainer asks of an optimizer; see the module documentation.
pub trait Optimizer: Send + std::fmt::Debug {
    /// timm's `--opt` name.
    fn name(&self) -> &'static str;
    /// Drops every gradient, as torch's `zero_grad()` (`set_to_none=True`)
    /// does: parameters the next backward does not reach are then skipped
    /// by the update, as timm's optimizers skip them.
    fn zero_grad(&mut self);
    /// Multiplies every gradient by `factor` (unscaling after fp16 loss
    /// scaling) and tells whether all of them are finite.
    fn unscale_grads(&mut self, factor: f64) -> bool;
    /// One update at learning rate `lr` (times each group's layer-decay scale).
    fn step(&mut self, lr: f64);
    /// The state as named tensors (shallow copies; none before the first step).
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores what [`Optimizer::state`] returned; state that does not fit
    /// (another optimizer's, other shapes) is a bad-input error.
    fn load_state(&mut self, tensors: &[(String, Tensor)]) -> Result<()>;
    /// Parameter names per group, with the group's LR scale and weight decay,
    /// in timm's group order.
    fn groups(&self) -> Vec<Group>;
    /// Number of parameters it updates.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One parameter group as timm makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub names: Vec<String>,
    pub lr_scale: f64,
    pub weight_decay: f64,
}

/// The optimizer names `--opt` takes (timm's).
pub const NAMES: [&str; 12] = [
    "sgd",
    "momentum",
    "rmsprop",
    "rmsproptf",
    "adam",
    "adamw",
    "nadam",
    "radam",
    "lamb",
    "lars",
    "lion",
    "adafactor",
];

/// Whether timm's train.py scales the base LR by the square root of the
/// batch ratio for this optimizer (names containing `ada` or `lamb`).
pub fn sqrt_lr_scaling(name: &str) -> bool {
    let n = name.to_lowercase();
    n.contains("ada") || n.contains("lamb")
}

/// The settings an optimizer is built from (timm's `optimizer_kwargs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub name: String,
    pub momentum: f64,
    pub weight_decay: f64,
    /// `--opt-eps`; None: the class's default.
    pub eps: Option<f64>,
    /// `--opt-betas`; None: the class's default.
    pub betas: Option<Vec<f64>>,
    pub layer_decay: Option<LayerDecay>,
}

impl Options {
    pub fn eps_or(&self, default: f64) -> f64 {
        self.eps.unwrap_or(default)
    }
    pub fn betas_or(&self, b1: f64, b2: f64) -> (f64, f64) {
        match self.betas.as_deref() {
            Some([a, b, ..]) => (*a, *b),
            Some([a]) => (*a, b2),
            _ => (b1, b2),
        }
    }
}

/// The optimizer `opts` names over every trainable variable of `vs`; an
/// unknown name or betas of the wrong count are usage errors.
pub fn build(opts: &Options, vs: &nn::VarStore) -> Result<Box<dyn Optimizer>> {
    if let Some(b) = &opts.betas {
        if b.len() != 2 {
            return Err(error::usage(format!(
                "--opt-betas takes two values, got {}",
                b.len()
            )));
        }
    }
    let params = Params::new(vs, opts.weight_decay, opts.layer_decay);
    if params.list.is_empty() {
        if let Some(s) = opts.layer_decay.and_then(|l| l.no_opt_scale) {
            return Err(error::usage(format!(
                "--layer-decay-no-opt-scale {s} freezes every parameter: \
                 give a threshold below some layer's LR scale"
            )));
        }
    }
    let o = opts;
    Ok(match o.name.to_lowercase().as_str() {
        "sgd" | "nesterov" => Stateful::boxed("sgd", params, sgd::Sgd::new(o.momentum, true)),
        "momentum" => Stateful::boxed("momentum", params, sgd::Sgd::new(o.momentum, false)),
        "rmsprop" => Stateful::boxed(
            "rmsprop",
            params,
            rmsprop::RmsProp::new(0.9, o.eps_or(1e-8), o.momentum),
        ),
        "rmsproptf" => Stateful::boxed(
            "rmsproptf",
            params,
            rmsprop_tf::RmsPropTf::new(0.9, o.eps_or(1e-10), o.momentum),
        ),
        "adam" => Stateful::boxed(
            "adam",
            params,
            adam::Adam::new(o.betas_or(0.9, 0.999), o.eps_or(1e-8), false),
        ),
        "adamw" => Stateful::boxed(
            "adamw",
            params,
            adam::Adam::new(o.betas_or(0.9, 0.999), o.eps_or(1e-8), true),
        ),
        "nadam" => Stateful::boxed(
            "nadam",
            params,
            nadam::NAdam::new(o.betas_or(0.9, 0.999), o.eps_or(1e-8)),
        ),
        "radam" => Stateful::boxed(
            "radam",
            params,
            radam::RAdam::new(o.betas_or(0.9, 0.999), o.eps_or(1e-8)),
        ),
        "lamb" => Stateful::boxed(
            "lamb",
            params,
            lamb::Lamb::new(o.betas_or(0.9, 0.999), o.eps_or(1e-6)),
        ),
        "lars" => Stateful::boxed("lars", params, lars::Lars::new(o.momentum, o.eps_or(1e-8))),
        "lion" => Stateful::boxed("lion", params, lion::Lion::new(o.betas_or(0.9, 0.99))),
        "adafactor" => Stateful::boxed(
            "adafactor",
            params,
            adafactor::Adafactor::new(o.eps_or(1e-30)),
        ),
        other => {
            return Err(error::usage(format!(
                "--opt {other}: not an optimizer dpn has (one of {})",
                NAMES.join(", ")
            )))
        }
    })
}

/// torch's SGD (`--opt sgd` with `nesterov`, else `--opt momentum`) in
/// timm's weight-decay groups.
pub fn sgd(
    vs: &nn::VarStore,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
) -> Box<dyn Optimizer> {
    let name = if nesterov { "sgd" } else { "momentum" };
    let params = Params::new(vs, weight_decay, None);
    Stateful::boxed(name, params, sgd::Sgd::new(momentum, nesterov))
}

/// One trainable parameter.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub tensor: Tensor,
    /// Its group's weight decay (0 in a no-decay group).
    pub weight_decay: f64,
    /// Its group's LR multiplier (1 without layer decay).
    pub lr_scale: f64,
    /// Its group's index, in timm's group order.
    pub group: usize,
    /// Its state, by torch's key.
    pub state: BTreeMap<&'static str, Tensor>,
}

/// Every trainable variable of a VarStore, in timm's groups.
#[derive(Debug)]
pub struct Params {
    pub list: Vec<Param>,
    groups: Vec<(String, f64, f64)>,
}

impl Params {
    /// Grouped as timm's `param_groups_weight_decay`, or with `layer_decay`
    /// as its `param_groups_layer_decay`; the list in the model's
    /// registration order within each group (timm's `named_parameters` order
    /// is the model's; tch's is by name, which only changes the visiting order).
    ///
    /// A parameter that `layer_decay` freezes (`--layer-decay-no-opt-scale`)
    /// stops requiring a gradient, as timm makes it, so the backward skips it
    /// and everything built after this (DDP, clipping) leaves it out.
    pub fn new(vs: &nn::VarStore, weight_decay: f64, layer_decay: Option<LayerDecay>) -> Params {
        // BatchNorm buffers do not require gradients.
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        let layers = layer_decay.map(|d| layer_decay::scales(&names, &d));
        let mut groups: Vec<(String, f64, f64)> = Vec::new();
        let mut list = Vec::new();
        for (name, tensor) in vars {
            let (key, wd, scale) = match (&layers, &layer_decay) {
                (Some(l), Some(ld)) => {
                    let (id, scale) = l[&name];
                    if ld.freezes(scale) {
                        let _ = tensor.set_requires_grad(false);
                        continue;
                    }
                    // timm's layer-decay groups exempt ndim <= 1 only.
                    let decay = tensor.dim() > 1;
                    let key = format!("layer_{id}_{}", if decay { "decay" } else { "no_decay" });
                    (key, if decay { weight_decay } else { 0.0 }, scale)
                }
                _ => {
                    let decay = !no_weight_decay(&name, tensor.dim());
                    let key = if decay { "decay" } else { "no_decay" };
                    (key.to_string(), if decay { weight_decay } else { 0.0 }, 1.0)
                }
            };
            let group = match groups.iter().position(|g| g.0 == key) {
                Some(i) => i,
                None => {
                    groups.push((key, wd, scale));
                    groups.len() - 1
                }
            };
            list.push(Param {
                name,
                tensor,
                weight_decay: wd,
                lr_scale: scale,
                group,
                state: BTreeMap::new(),
            });
        }
        Params { list, groups }
    }
}

/// An update rule: what differs between optimizers.
pub trait Rule: Send + std::fmt::Debug {
    /// The state keys a parameter of `shape` has after a step, and their shapes.
    fn keys(&self, shape: &[i64]) -> Vec<(&'static str, Vec<i64>)>;
    /// Names of scalar counters kept across the optimizer (f64).
    fn counters(&self) -> &'static [&'static str] {
        &[]
    }
    /// One update of every parameter with a gradient at `lr` (before each
    /// group's scale); `counters` holds the values of [`Rule::counters`].
    fn step(&mut self, params: &mut [Param], lr: f64, counters: &mut [f64]);
}

/// An optimizer: parameters, their state and an update rule.
#[derive(Debug)]
pub struct Stateful<R: Rule> {
    name: &'static str,
    params: Params,
    rule: R,
    counters: Vec<f64>,
}

impl<R: Rule + 'static> Stateful<R> {
    pub fn new(name: &'static str, params: Params, rule: R) -> Stateful<R> {
        let counters = vec![0.0; rule.counters().len()];
        Stateful {
            name,
            params,
            rule,
            counters,
        }
    }
    fn boxed(name: &'static str, params: Params, rule: R) -> Box<dyn Optimizer> {
        Box::new(Stateful::new(name, params, rule))
    }
    /// The initial counter values (NAdam's `mu_product` starts at 1).
    pub fn with_counters(mut self, values: &[f64]) -> Self {
        self.counters = values.to_vec();
        self
    }
}

impl<R: Rule + 'static> Optimizer for Stateful<R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn zero_grad(&mut self) {
        for p in &mut self.params.list {
            crate::sys::grad::clear(&mut p.tensor);
        }
    }

    fn unscale_grads(&mut self, factor: f64) -> bool {
        tch::no_grad(|| {
            // One flag per gradient, read back once: reading each on its own
            // would wait for the GPU once per parameter.
            let mut flags = Vec::with_capacity(self.params.list.len());
            for p in &self.params.list {
                let mut g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                if factor != 1.0 {
                    let _ = g.g_mul_scalar_(factor);
                }
                flags.push(g.isfinite().all());
            }
            flags.is_empty() || bool::try_from(Tensor::stack(&flags, 0).all()).unwrap_or(false)
        })
    }

    fn step(&mut self, lr: f64) {
        let (rule, params, counters) = (&mut self.rule, &mut self.params.list, &mut self.counters);
        tch::no_grad(|| rule.step(params, lr, counters));
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let stepped = self.params.list.iter().any(|p| !p.state.is_empty());
        if stepped {
            for (name, v) in self.rule.counters().iter().zip(&self.counters) {
                out.push((name.to_string(), Tensor::from(*v)));
            }
        }
        for p in &self.params.list {
            for (k, t) in &p.state {
                out.push((format!("{k}.{}", p.name), t.shallow_clone()));
            }
        }
        out
    }

    fn load_state(&mut self, tensors: &[(String, Tensor)]) -> Result<()> {
        let counters = self.rule.counters();
        let index: HashMap<&str, usize> = self
            .params
            .list
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut problems = Vec::new();
        let mut found: Vec<BTreeMap<&'static str, &Tensor>> =
            vec![BTreeMap::new(); self.params.list.len()];
        let mut values = self.counters.clone();
        let mut counters_seen = 0;
        for (name, t) in tensors {
            if let Some(c) = counters.iter().position(|c| c == name) {
                match t.f_double_value(&[]) {
                    Ok(v) if t.numel() == 1 => {
                        values[c] = v;
                        counters_seen += 1;
                    }
                    _ => problems.push(format!("{name} is not a number")),
                }
                continue;
            }
            let hit = name.split_once('.').and_then(|(key, param)| {
                let i = *index.get(param)?;
                let shape = self.params.list[i].tensor.size();
                let (k, s) = self
                    .rule
                    .keys(&shape)
                    .into_iter()
                    .find(|(k, _)| *k == key)?;
                Some((i, k, s))
            });
            match hit {
                None => problems.push(format!("{name} is not {} state", self.name)),
                Some((_, _, s)) if s != t.size() => {
                    problems.push(format!("{name} has shape {:?}, expected {s:?}", t.size()))
                }
                Some((i, k, _)) => {
                    found[i].insert(k, t);
                }
            }
        }
        let any = found.iter().any(|f| !f.is_empty());
        if any {
            for (p, f) in self.params.list.iter().zip(&found) {
                for (k, _) in self.rule.keys(&p.tensor.size()) {
                    if !f.contains_key(k) {
                        problems.push(format!("{k}.{} missing", p.name));
                    }
                }
            }
            if counters_seen != counters.len() {
                problems.push(format!("the counters {} missing", counters.join(", ")));
            }
        } else if counters_seen != 0 {
            problems.push("counters without per-parameter state".into());
        }
        if !problems.is_empty() {
            let n = problems.len();
            problems.truncate(4);
            return Err(error::bad_input(format!(
                "the checkpoint's optimizer state does not fit --opt {} on this model \
                 ({n} problems: {}); was it written with another --opt?",
                self.name,
                problems.join("; ")
            )));
        }
        for (p, f) in self.params.list.iter_mut().zip(found) {
            p.state.clear();
            for (k, t) in f {
                // Same dtype and device as the parameter, and its memory
                // layout where the shapes agree (Adafactor's factored state
                // differs), so that the fused kernels take a resumed run's
                // state too.
                let s = tch::no_grad(|| {
                    if t.size() == p.tensor.size() {
                        let mut s = p.tensor.empty_like();
                        s.copy_(t);
                        s
                    } else {
                        t.to_kind(p.tensor.kind())
                            .to_device(p.tensor.device())
                            .copy()
                    }
                });
                p.state.insert(k, s);
            }
        }
        if any {
            self.counters = values;
        }
        Ok(())
    }

    fn groups(&self) -> Vec<Group> {
        self.params
            .groups
            .iter()
            .enumerate()
            .map(|(i, (_, wd, scale))| Group {
                names: self
                    .params
                    .list
                    .iter()
                    .filter(|p| p.group == i)
                    .map(|p| p.name.clone())
                    .collect(),
                lr_scale: *scale,
                weight_decay: *wd,
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.params.list.len()
    }
}

/// The gradient of `p`, None when the loss did not use it (torch skips those).
pub(crate) fn grad(p: &Param) -> Option<Tensor> {
    let g = p.tensor.grad();
    g.defined().then_some(g)
}

/// `p += t * alpha` in place.
pub(crate) fn add_scaled(p: &mut Tensor, t: &Tensor, alpha: f64) {
    let _ = p.g_add_(&(t * alpha));
}

/// A zero tensor like `p`'s (its dtype and device).
pub(crate) fn zeros(p: &Tensor) -> Tensor {
    p.zeros_like()
}

/// A scalar f64 on `p`'s device as `p`'s kind.
pub(crate) fn scalar_like(v: f64, p: &Tensor) -> Tensor {
    Tensor::from(v).to_kind(p.kind()).to_device(p.device())
}
