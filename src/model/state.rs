//! State dicts: comparing a checkpoint's keys and shapes with a network's,
//! loading its tensors into a VarStore, and writing them back out in timm's
//! order.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use tch::{nn, Tensor};

use super::Dpn;
use crate::arch::ParamShape;
use crate::sys::error;

const NBT: &str = "num_batches_tracked";

/// The variables (parameters and buffers) of `model` in `vs`, in timm's
/// order (the order the network definition creates them), as detached
/// shallow copies (they share storage with the model).
pub fn state_dict(vs: &nn::VarStore, model: &Dpn) -> Vec<(String, Tensor)> {
    let mut variables = vs.variables();
    model
        .keys()
        .iter()
        .filter_map(|k| variables.remove_entry(k))
        .map(|(k, t)| (k, t.detach()))
        .collect()
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

/// A BatchNorm's `num_batches_tracked` counter: the one buffer that
/// checkpoints older than PyTorch 0.4.1 lack and that may be stored as a
/// 1-element tensor instead of a scalar.
pub fn is_nbt(name: &str) -> bool {
    name == NBT || name.ends_with(&format!(".{NBT}"))
}

impl LoadReport {
    /// Compares a state dict's names and shapes (`found`) with the ones a
    /// network expects; a `num_batches_tracked` of any 1-element shape fits.
    pub fn compare(expected: &[ParamShape], found: &[(String, Vec<i64>)]) -> LoadReport {
        let found_by_name: HashMap<&str, &Vec<i64>> =
            found.iter().map(|(k, s)| (k.as_str(), s)).collect();
        let expected_names: HashSet<&str> = expected.iter().map(|p| p.name.as_str()).collect();
        let mut report = LoadReport::default();
        for p in expected {
            match found_by_name.get(p.name.as_str()) {
                None => report.missing.push(p.name.clone()),
                Some(shape)
                    if **shape != p.shape
                        && !(is_nbt(&p.name) && shape.iter().product::<i64>() == 1) =>
                {
                    report
                        .mismatched
                        .push((p.name.clone(), p.shape.clone(), (*shape).clone()))
                }
                Some(_) => {}
            }
        }
        for (k, _) in found {
            if !expected_names.contains(k.as_str()) {
                report.unexpected.push(k.clone());
            }
        }
        report
    }
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
    model: &Dpn,
    tensors: &[(String, Tensor)],
    strict: bool,
) -> Result<LoadReport> {
    let variables = vs.variables();
    let provided: HashMap<&str, &Tensor> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut report = LoadReport::default();
    let mut copies = Vec::new();
    for name in model.keys().iter().filter(|k| variables.contains_key(*k)) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
