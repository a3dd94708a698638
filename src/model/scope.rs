//! Where a layer's variables go while the network is built.
//!
//! The network definition ([`super::Dpn`]'s constructors) is the one place
//! that spells timm's state-dict keys. Built in a [`Scope::vars`], each
//! variable becomes a tensor in a `VarStore`; built in a [`Scope::shapes`],
//! nothing is allocated (every tensor is undefined) and only the names,
//! shapes and kinds are recorded, in creation order. That shape-only walk is
//! [`super::parameter_shapes`]: what counting, validation, conversion and
//! model matching read, so they cannot drift from the network.

use std::cell::RefCell;
use std::rc::Rc;

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use crate::arch::ParamShape;

/// A dotted name prefix, with the `VarStore` path it stands for (none in a
/// shape-only walk) and the shared record of every variable made so far.
#[derive(Clone)]
pub(super) struct Scope<'a> {
    path: Option<nn::Path<'a>>,
    prefix: String,
    record: Rc<RefCell<Vec<ParamShape>>>,
}

impl<'a> Scope<'a> {
    /// Variables are created under `path` (names relative to the VarStore).
    pub(super) fn vars(path: &nn::Path<'a>) -> Scope<'a> {
        Scope {
            path: Some(path.clone()),
            prefix: path_prefix(path),
            record: Rc::default(),
        }
    }

    /// Nothing is allocated; only names and shapes are recorded.
    pub(super) fn shapes() -> Scope<'static> {
        Scope {
            path: None,
            prefix: String::new(),
            record: Rc::default(),
        }
    }

    /// The dotted state-dict prefix of this scope (`features.conv1_1`).
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) fn sub(&self, name: &str) -> Scope<'a> {
        Scope {
            path: self.path.as_ref().map(|p| p.sub(name)),
            prefix: join(&self.prefix, name),
            record: Rc::clone(&self.record),
        }
    }

    /// A learnable parameter.
    pub(super) fn param(&self, name: &str, shape: &[i64], init: Init) -> Tensor {
        self.note(name, shape, true);
        match &self.path {
            Some(p) => p.var(name, shape, init),
            None => Tensor::new(),
        }
    }

    /// A float buffer (BatchNorm's running statistics) of zeros or ones.
    pub(super) fn buffer(&self, name: &str, shape: &[i64], ones: bool) -> Tensor {
        self.note(name, shape, false);
        match &self.path {
            Some(p) if ones => p.ones_no_train(name, shape),
            Some(p) => p.zeros_no_train(name, shape),
            None => Tensor::new(),
        }
    }

    /// An integer scalar buffer at 0 (`num_batches_tracked`).
    pub(super) fn counter(&self, name: &str) -> Tensor {
        self.note(name, &[], false);
        match &self.path {
            Some(p) => p.add(name, Tensor::zeros([], (Kind::Int64, p.device())), false),
            None => Tensor::new(),
        }
    }

    /// Every variable made through this scope or its relatives, in order.
    pub(super) fn recorded(&self) -> Vec<ParamShape> {
        self.record.borrow().clone()
    }

    fn note(&self, name: &str, shape: &[i64], trainable: bool) {
        self.record.borrow_mut().push(ParamShape {
            name: join(&self.prefix, name),
            shape: shape.to_vec(),
            trainable,
        });
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The dotted name `path` stands for (empty for a VarStore's root).
fn path_prefix(path: &nn::Path) -> String {
    path.components().collect::<Vec<_>>().join(".")
}
