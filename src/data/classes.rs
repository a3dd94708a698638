//! Class names: ImageNet-1k's (embedded), a model's own (from its weights'
//! metadata), or a user's `--labels` file.

use std::path::Path;

use anyhow::{Context, Result};

use crate::sys::error;

/// ImageNet-1k in index order: `synset id<TAB>names`, as in `data/` at the repository root.
const IMAGENET_TSV: &str = include_str!("../../data/imagenet1k_classes.tsv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// WordNet synset id for ImageNet classes; empty for others.
    pub synset: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    pub classes: Vec<Class>,
}

impl Classes {
    pub fn imagenet() -> Classes {
        Classes::parse_tsv(IMAGENET_TSV)
    }

    fn parse_tsv(text: &str) -> Classes {
        let classes = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.split_once('\t') {
                Some((synset, name)) => Class {
                    synset: synset.trim().to_string(),
                    name: name.trim().to_string(),
                },
                None => Class {
                    synset: String::new(),
                    name: l.trim().to_string(),
                },
            })
            .collect();
        Classes { classes }
    }

    /// The classes of a model with `n` outputs and no names of its own:
    /// ImageNet-1k's for 1000, else the indices `0`..`n-1`.
    pub fn default_for(n: usize) -> Classes {
        if n == 1000 {
            Classes::imagenet()
        } else {
            Classes::from_names((0..n).map(|i| i.to_string()))
        }
    }

    /// Names without synsets, e.g. an ImageFolder's folder names.
    pub fn from_names(names: impl IntoIterator<Item = String>) -> Classes {
        Classes {
            classes: names
                .into_iter()
                .map(|name| Class {
                    synset: String::new(),
                    name,
                })
                .collect(),
        }
    }

    /// A `--labels` file: one class per line, either `name` or `synset<TAB>name`.
    pub fn from_file(path: &Path) -> Result<Classes> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read labels file {}", path.display()))?;
        let c = Classes::parse_tsv(&text);
        if c.classes.is_empty() {
            return Err(error::bad_input(format!(
                "labels file {} lists no classes",
                path.display()
            )));
        }
        Ok(c)
    }

    /// The class names a checkpoint's metadata carries, if any.
    pub fn from_metadata(json: &str) -> Option<Classes> {
        let names: Vec<String> = serde_json::from_str(json).ok()?;
        Some(Classes::from_names(names))
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Class> {
        self.classes.get(index)
    }

    /// The ImageNet index of a synset id (`n01440764` -> 0).
    pub fn synset_index(&self, synset: &str) -> Option<usize> {
        self.classes
            .iter()
            .position(|c| !c.synset.is_empty() && c.synset == synset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_table() {
        let c = Classes::imagenet();
        assert_eq!(c.len(), 1000);
        assert_eq!(c.get(0).unwrap().synset, "n01440764");
        assert!(c.get(0).unwrap().name.starts_with("tench"));
        assert_eq!(c.synset_index("n15075141"), Some(999));
        let mut sorted: Vec<&str> = c.classes.iter().map(|c| c.synset.as_str()).collect();
        sorted.sort();
        assert!(
            sorted.iter().zip(&c.classes).all(|(s, c)| *s == c.synset),
            "index order is sorted synset order"
        );
    }
}
