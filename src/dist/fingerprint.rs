//! What every rank must agree on before any work (docs/distributed.md,
//! "Trust"): the settings that decide what a run computes, the weights
//! file's SHA-256, and the data (class list, number of items, a digest of the
//! sorted listing). Paths are not compared: nodes may mount the same data
//! at other places; what is under them is. Each rank builds a
//! [`Fingerprint`]; [`super::Group::agree_on`] compares them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::batches::Item;

/// Named values in a fixed order; the names are what a user recognizes (a
/// flag, or what it stands for).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint(pub Vec<(String, String)>);

impl Fingerprint {
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    pub fn add(&mut self, name: impl Into<String>, value: impl ToString) -> &mut Self {
        self.0.push((name.into(), value.to_string()));
        self
    }

    /// Every field of a serializable settings record, each under its name
    /// as a flag (`batch_size` as `--batch-size`), but those in `skip`.
    pub fn add_fields(&mut self, settings: &impl Serialize, skip: &[&str]) -> &mut Self {
        if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(settings) {
            for (k, v) in m {
                if skip.contains(&k.as_str()) {
                    continue;
                }
                let value = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                self.add(format!("--{}", k.replace('_', "-")), value);
            }
        }
        self
    }

    /// A file's SHA-256 (already computed by the caller).
    pub fn add_sha256(&mut self, name: impl Into<String>, sha256: &str) -> &mut Self {
        self.add(name, format!("SHA-256 {sha256}"))
    }

    /// The class list: its length and a digest of the names in order.
    pub fn add_classes(&mut self, name: &str, classes: &[String]) -> &mut Self {
        let mut h = Sha256::new();
        for c in classes {
            h.update((c.len() as u64).to_le_bytes());
            h.update(c.as_bytes());
        }
        self.add(
            name,
            format!("{} classes, digest {}", classes.len(), short(&h.finalize())),
        )
    }

    /// A listing of labelled items: how many, and a digest of their paths
    /// relative to `root` and labels, in sorted order.
    pub fn add_listing(&mut self, name: &str, root: &Path, items: &[Item]) -> &mut Self {
        let mut rows: Vec<(Vec<u8>, Option<i64>)> = items
            .iter()
            .map(|i| {
                let rel = i.path.strip_prefix(root).unwrap_or(&i.path);
                (rel.as_os_str().as_encoded_bytes().to_vec(), i.label)
            })
            .collect();
        rows.sort();
        let mut h = Sha256::new();
        for (p, l) in &rows {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
            h.update(l.unwrap_or(-1).to_le_bytes());
        }
        self.add(
            name,
            format!("{} items, digest {}", rows.len(), short(&h.finalize())),
        )
    }

    /// The first entry whose value differs from `other`'s: (name, mine,
    /// theirs); a missing entry reads as "(none)".
    pub fn first_difference(&self, other: &Fingerprint) -> Option<(String, String, String)> {
        let none = || "(none)".to_string();
        for (name, mine) in &self.0 {
            let theirs = other.0.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            if theirs != Some(mine) {
                return Some((
                    name.clone(),
                    mine.clone(),
                    theirs.cloned().unwrap_or_else(none),
                ));
            }
        }
        other
            .0
            .iter()
            .find(|(n, _)| !self.0.iter().any(|(m, _)| m == n))
            .map(|(n, v)| (n.clone(), none(), v.clone()))
    }
}

/// The first 16 hex digits of a digest: enough to tell listings apart in a
/// message.
fn short(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_compared_by_relative_path_and_label_in_any_order() {
        let items = |root: &str, names: &[(&str, i64)]| -> Vec<Item> {
            names
                .iter()
                .map(|(n, l)| Item {
                    path: Path::new(root).join(n),
                    label: Some(*l),
                })
                .collect()
        };
        let fp = |root: &str, names: &[(&str, i64)]| {
            let mut f = Fingerprint::new();
            f.add_listing("--data", Path::new(root), &items(root, names));
            f
        };
        let a = fp("/a", &[("x/1.jpg", 0), ("y/2.jpg", 1)]);
        // Another mount point, another order: the same data.
        assert_eq!(a, fp("/mnt/b", &[("y/2.jpg", 1), ("x/1.jpg", 0)]));
        // Another label, another file, one file fewer: different.
        for other in [
            fp("/a", &[("x/1.jpg", 1), ("y/2.jpg", 1)]),
            fp("/a", &[("x/1.jpg", 0), ("y/3.jpg", 1)]),
            fp("/a", &[("x/1.jpg", 0)]),
        ] {
            let (name, _, _) = a.first_difference(&other).unwrap();
            assert_eq!(name, "--data");
        }
    }

    #[test]
    fn the_first_differing_setting_is_named() {
        #[derive(Serialize)]
        struct S {
            batch_size: usize,
            lr: f64,
            device: String,
        }
        let mut a = Fingerprint::new();
        a.add_fields(
            &S {
                batch_size: 8,
                lr: 0.1,
                device: "cuda:0".into(),
            },
            &["device"],
        );
        let mut b = Fingerprint::new();
        b.add_fields(
            &S {
                batch_size: 8,
                lr: 0.2,
                device: "cuda:1".into(),
            },
            &["device"],
        );
        assert_eq!(
            a.first_difference(&b),
            Some(("--lr".into(), "0.1".into(), "0.2".into()))
        );
        assert_eq!(a.first_difference(&a.clone()), None);
        let mut c = a.clone();
        c.add("--extra", 1);
        assert_eq!(
            a.first_difference(&c),
            Some(("--extra".into(), "(none)".into(), "1".into()))
        );
    }
}
