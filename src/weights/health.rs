//! Weights that cannot give meaningful outputs: NaN or infinite values in
//! any floating-point tensor, negative BatchNorm running variances. Found
//! with one reduction per tensor on the loaded tensors and reported by name.

use std::path::Path;

use anyhow::Result;
use tch::{Kind, Tensor};

use crate::sys::error;

/// Tensors named in a message before "and N more".
const SHOWN: usize = 3;

/// What [`check`] found; empty lists mean the weights are sound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Tensors holding NaN or infinite values, with how many.
    pub non_finite: Vec<(String, u64)>,
    /// `running_var` tensors holding negative (finite) values, with how many.
    pub negative_var: Vec<(String, u64)>,
}

/// Checks `tensors` (name, tensor) in the order given: every floating-point
/// tensor for NaN and infinities, every `running_var` for negative values.
pub fn check<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>) -> Result<Health> {
    let mut h = Health::default();
    for (name, t) in tensors {
        if !matches!(
            t.kind(),
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) || t.numel() == 0
        {
            continue;
        }
        let finite = t.f_isfinite()?;
        // One reduction for the common case; counting only when it fails.
        if finite.f_all()?.f_int64_value(&[])? == 0 {
            let n = finite
                .f_logical_not()?
                .f_sum(Kind::Int64)?
                .f_int64_value(&[])?;
            h.non_finite.push((name.to_string(), n as u64));
        }
        if name.ends_with("running_var") {
            let n = t
                .f_lt(0.0)?
                .f_logical_and(&finite)?
                .f_sum(Kind::Int64)?
                .f_int64_value(&[])?;
            if n > 0 {
                h.negative_var.push((name.to_string(), n as u64));
            }
        }
    }
    Ok(h)
}

impl Health {
    pub fn is_sound(&self) -> bool {
        self.non_finite.is_empty() && self.negative_var.is_empty()
    }

    /// `3 NaN or infinite values in 2 tensors (a.weight: 2, b.bias: 1)`,
    /// and the negative variances likewise; empty when sound.
    pub fn summary(&self) -> String {
        let part = |list: &[(String, u64)], what: &str, whats: &str| -> Option<String> {
            if list.is_empty() {
                return None;
            }
            let total: u64 = list.iter().map(|(_, n)| n).sum();
            let mut named: Vec<String> = list
                .iter()
                .take(SHOWN)
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            if list.len() > SHOWN {
                named.push(format!("and {} more", list.len() - SHOWN));
            }
            Some(format!(
                "{total} {} in {} tensor{} ({})",
                if total == 1 { what } else { whats },
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                named.join(", ")
            ))
        };
        [
            part(
                &self.non_finite,
                "NaN or infinite value",
                "NaN or infinite values",
            ),
            part(
                &self.negative_var,
                "negative BatchNorm running variance",
                "negative BatchNorm running variances",
            ),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ")
    }

    /// With `reject`, an error (exit code 3) if the weights in `file` are
    /// not sound; otherwise the warning to show, if any.
    pub fn verdict(&self, file: &Path, reject: bool) -> Result<Option<String>> {
        if self.is_sound() {
            return Ok(None);
        }
        if reject {
            return Err(error::bad_input(format!(
                "weights file {} has {}; refused (--reject-non-finite): use weights without them",
                file.display(),
                self.summary()
            )));
        }
        Ok(Some(format!(
            "weights file {} has {}; its outputs may be NaN (--reject-non-finite refuses such files)",
            file.display(),
            self.summary()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_non_finite_values_and_negative_variances() {
        let ok = Tensor::from_slice(&[1.0f32, -2.0, 0.0]);
        let nan = Tensor::from_slice(&[1.0f32, f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        let half = Tensor::from_slice(&[1.0f32, f32::NAN]).to_kind(Kind::Half);
        let var = Tensor::from_slice(&[1.0f32, -0.5, -1.0, 0.0, f32::NAN]);
        let int = Tensor::from_slice(&[-1i64]);
        let h = check([
            ("a.weight", &ok),
            ("b.weight", &nan),
            ("c.bias", &half),
            ("d.running_var", &var),
            ("e.num_batches_tracked", &int),
            ("f.running_var", &ok),
        ])
        .unwrap();
        assert_eq!(
            h.non_finite,
            [
                ("b.weight".to_string(), 3),
                ("c.bias".to_string(), 1),
                ("d.running_var".to_string(), 1)
            ]
        );
        assert_eq!(
            h.negative_var,
            [
                ("d.running_var".to_string(), 2),
                ("f.running_var".to_string(), 1)
            ]
        );
        assert_eq!(
            h.summary(),
            "5 NaN or infinite values in 3 tensors (b.weight: 3, c.bias: 1, d.running_var: 1) \
             and 3 negative BatchNorm running variances in 2 tensors (d.running_var: 2, \
             f.running_var: 1)"
        );
        let e = h.verdict(Path::new("w.safetensors"), true).unwrap_err();
        assert_eq!(error::exit_code(&e), 3);
        assert!(h.verdict(Path::new("w"), false).unwrap().is_some());
        let sound = check([("a.weight", &ok)]).unwrap();
        assert!(sound.is_sound());
        assert_eq!(sound.verdict(Path::new("w"), true).unwrap(), None);
    }
}
