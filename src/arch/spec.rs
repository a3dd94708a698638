//! A DPN's architecture hyper-parameters, as the registry's `DPN.Architecture`
//! entry states them and a weights file's shapes imply them.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Silu,
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Relu => "relu",
            Activation::Silu => "silu",
        })
    }
}

/// Architecture hyper-parameters (docs/conventions.md, "Architecture").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchSpec {
    pub small: bool,
    pub init_features: usize,
    pub k_r: usize,
    pub groups: usize,
    /// The "b" variant: the last 1x1 of each block is two separate convolutions.
    pub b: bool,
    pub k_sec: [usize; 4],
    pub inc_sec: [usize; 4],
    pub activation: Activation,
    pub num_classes: usize,
    pub in_chans: usize,
}
