//! State dicts: the expected keys and shapes of an architecture, loading a
//! checkpoint's tensors into a VarStore, and writing them back out.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use tch::{nn, Tensor};

pub use crate::arch::ParamShape;
use crate::arch::Plan;
use crate::error;
use crate::registry::{ArchSpec, Registry};

const NBT: &str = "num_batches_tracked";

/// Every key of timm's state dict for `arch`, in timm's order, with its shape.
pub fn parameter_shapes(arch: &ArchSpec) -> Vec<ParamShape> {
    Plan::new(arch).parameter_shapes()
}

/// Sort key reproducing timm's state-dict order from a key alone: stem,
/// blocks by stage and index, `conv5_bn_ac`, classifier; inside a block the
/// projection, `c1x1_a`, `c3x3_b`, `c1x1_c`, `c1x1_c1`, `c1x1_c2`; inside a
/// layer BatchNorm before conv (the stem: conv before BatchNorm); inside a
/// BatchNorm weight, bias, running_mean, running_var, num_batches_tracked.
/// Unknown components sort after known ones, by name.
fn order_key(name: &str) -> Vec<(u64, &str)> {
    const UNKNOWN: u64 = u64::MAX;
    let parts: Vec<&str> = name.split('.').collect();
    let mut key = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let parent = if i > 0 { parts[i - 1] } else { "" };
        let rank = match *part {
            "features" => 0,
            "classifier" if i == 0 => 1,
            "conv5_bn_ac" => 99_000_000,
            "c1x1_w_s1" | "c1x1_w_s2" => 0,
            "c1x1_a" => 1,
            "c3x3_b" => 2,
            "c1x1_c" => 3,
            "c1x1_c1" => 4,
            "c1x1_c2" => 5,
            "conv" if parent == "conv1_1" => 0,
            "bn" if parent == "conv1_1" => 1,
            "bn" => 0,
            "conv" => 1,
            "weight" => 0,
            "bias" => 1,
            "running_mean" => 2,
            "running_var" => 3,
            NBT => 4,
            other => parse_block(other).unwrap_or(UNKNOWN),
        };
        key.push((rank, *part));
    }
    key
}

/// `conv3_12` -> 3_000_012.
fn parse_block(part: &str) -> Option<u64> {
    let rest = part.strip_prefix("conv")?;
    let (s, i) = rest.split_once('_')?;
    Some(s.parse::<u64>().ok()? * 1_000_000 + i.parse::<u64>().ok()?)
}

fn cmp_names(a: &str, b: &str) -> Ordering {
    order_key(a).cmp(&order_key(b)).then_with(|| a.cmp(b))
}

/// The VarStore's variables (parameters and buffers), in timm's order,
/// detached shallow copies (they share storage with the model).
pub fn state_dict(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.detach()))
        .collect();
    v.sort_by(|(a, _), (b, _)| cmp_names(a, b));
    v
}

/// What [`load_state_dict`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Model variables the checkpoint lacks (they keep their values).
    pub missing: Vec<String>,
    /// Checkpoint tensors the model has no variable for (ignored).
    pub unexpected: Vec<String>,
    /// Name, the model's shape, the checkpoint's shape (not copied).
    pub mismatched: Vec<(String, Vec<i64>, Vec<i64>)>,
}

impl LoadReport {
    /// Everything matched (a missing `num_batches_tracked` counts as a mismatch here).
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }

    /// The problems strict loading refuses: all but missing `num_batches_tracked`
    /// buffers, which checkpoints older than PyTorch 0.4.1 lack.
    pub fn is_strict_ok(&self) -> bool {
        self.missing.iter().all(|m| is_nbt(m))
            && self.unexpected.is_empty()
            && self.mismatched.is_empty()
    }

    /// One line naming every problem (long lists truncated).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let (nbt, missing): (Vec<&String>, Vec<&String>) =
            self.missing.iter().partition(|m| is_nbt(m));
        if !missing.is_empty() {
            parts.push(format!(
                "{} missing: {}",
                missing.len(),
                list(missing.iter().map(|s| s.to_string()))
            ));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!(
                "{} unexpected: {}",
                self.unexpected.len(),
                list(self.unexpected.iter().cloned())
            ));
        }
        if !self.mismatched.is_empty() {
            parts.push(format!(
                "{} with the wrong shape: {}",
                self.mismatched.len(),
                list(
                    self.mismatched
                        .iter()
                        .map(|(n, want, got)| format!("{n} (model {want:?}, file {got:?})"))
                )
            ));
        }
        if !nbt.is_empty() {
            parts.push(format!(
                "{} num_batches_tracked buffers absent (left at 0)",
                nbt.len()
            ));
        }
        if parts.is_empty() {
            "all tensors matched".to_string()
        } else {
            parts.join("; ")
        }
    }
}

fn is_nbt(name: &str) -> bool {
    name == NBT || name.ends_with(&format!(".{NBT}"))
}

/// Up to 6 items, then "... and N more".
fn list(items: impl ExactSizeIterator<Item = String>) -> String {
    const SHOWN: usize = 6;
    let n = items.len();
    let mut shown: Vec<String> = items.take(SHOWN).collect();
    if n > SHOWN {
        shown.push(format!("... and {} more", n - SHOWN));
    }
    shown.join(", ")
}

/// Copies `tensors` into the variables of `vs` with the same names (without
/// recording gradients, casting to each variable's dtype and keeping its
/// device). With `strict`, any missing variable (but `num_batches_tracked`),
/// unexpected tensor or shape mismatch is a bad-input error naming them all,
/// and nothing is copied; otherwise the matching tensors are copied and the
/// report says what did not match.
pub fn load_state_dict(
    vs: &mut nn::VarStore,
    tensors: &[(String, Tensor)],
    strict: bool,
) -> Result<LoadReport> {
    let variables = vs.variables();
    let provided: HashMap<&str, &Tensor> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut report = LoadReport::default();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort_by(|a, b| cmp_names(a, b));
    let mut copies = Vec::new();
    for name in names {
        let var = &variables[name];
        match provided.get(name.as_str()) {
            None => report.missing.push(name.clone()),
            Some(src) if src.size() != var.size() => {
                report
                    .mismatched
                    .push((name.clone(), var.size(), src.size()))
            }
            Some(src) => copies.push((name, var, *src)),
        }
    }
    let mut seen = HashSet::new();
    for (name, _) in tensors {
        if !variables.contains_key(name) && seen.insert(name.as_str()) {
            report.unexpected.push(name.clone());
        }
    }
    if strict && !report.is_strict_ok() {
        return Err(error::bad_input(format!(
            "state dict does not fit the model: {}",
            report.summary()
        )));
    }
    tch::no_grad(|| -> Result<()> {
        for (name, var, src) in copies {
            var.shallow_clone()
                .f_copy_(src)
                .with_context(|| format!("copying `{name}` into the model"))?;
        }
        Ok(())
    })?;
    Ok(report)
}

/// The registry models whose state dict has exactly the keys and shapes of
/// `tensors` (`num_batches_tracked` ignored, classifier included, so a
/// checkpoint fine-tuned to another class count matches none).
pub fn infer_arch(tensors: &[(String, Tensor)], registry: &Registry) -> Vec<String> {
    let given: HashMap<&str, Vec<i64>> = tensors
        .iter()
        .filter(|(k, _)| !is_nbt(k))
        .map(|(k, t)| (k.as_str(), t.size()))
        .collect();
    registry
        .models()
        .iter()
        .filter(|m| {
            let expected: Vec<ParamShape> = parameter_shapes(&m.arch)
                .into_iter()
                .filter(|p| !is_nbt(&p.name))
                .collect();
            expected.len() == given.len()
                && expected
                    .iter()
                    .all(|p| given.get(p.name.as_str()).is_some_and(|s| *s == p.shape))
        })
        .map(|m| m.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorting by name alone reproduces timm's order, for every registry model.
    #[test]
    fn order_key_matches_parameter_shapes() {
        for m in Registry::load(None).unwrap().models() {
            let expected: Vec<String> = parameter_shapes(&m.arch)
                .into_iter()
                .map(|p| p.name)
                .collect();
            let mut sorted = expected.clone();
            sorted.reverse();
            sorted.sort_by(|a, b| cmp_names(a, b));
            assert_eq!(sorted, expected, "{}", m.name);
        }
    }

    #[test]
    fn long_lists_are_truncated() {
        let names: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        let report = LoadReport {
            missing: names,
            ..Default::default()
        };
        let s = report.summary();
        assert!(
            s.starts_with("10 missing: k0, k1") && s.ends_with("... and 4 more"),
            "{s}"
        );
        assert!(!report.is_strict_ok());
    }
}
