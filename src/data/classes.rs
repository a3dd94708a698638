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
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read labels file {}", path.display()))?;
        let text = utf8_text(bytes, "labels file", path)?;
        let c = Classes::parse_tsv(&text);
        if c.classes.is_empty() {
            return Err(error::bad_input(format!(
                "labels file {} lists no classes",
                path.display()
            )));
        }
        Ok(c)
    }

    /// The class names a checkpoint's metadata carries, if any. A name that
    /// is an ImageNet synset id (a model fine-tuned on synset folders) gets
    /// ImageNet's name for it, keeping the id as its synset.
    pub fn from_metadata(json: &str) -> Option<Classes> {
        let names: Vec<String> = serde_json::from_str(json).ok()?;
        let imagenet = Classes::imagenet();
        let classes = names
            .into_iter()
            .map(|name| match imagenet.synset_index(&name) {
                Some(i) => imagenet.classes[i].clone(),
                None => Class {
                    synset: String::new(),
                    name,
                },
            })
            .collect();
        Some(Classes { classes })
    }

    /// What a class is looked up by and recorded as: its synset id where it
    /// has one, else its name.
    pub fn keys(&self) -> Vec<String> {
        self.classes
            .iter()
            .map(|c| {
                if c.synset.is_empty() {
                    c.name.clone()
                } else {
                    c.synset.clone()
                }
            })
            .collect()
    }

    /// The index of the class named `key`: by synset id, else by name.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.synset_index(key)
            .or_else(|| self.classes.iter().position(|c| c.name == key))
    }

    /// Up to `n` of the classes' keys, for messages: `a, b, c, ... (1000 in all)`.
    pub fn sample(&self, n: usize) -> String {
        sample(&self.keys(), n)
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

/// A text file's bytes as UTF-8, without the byte-order mark that some
/// Windows editors put first (it would otherwise stay in the first line,
/// a class name or path no one typed). Anything else that is not UTF-8 is
/// a bad-input error (exit code 3) naming `what`, the file and the line.
pub(crate) fn utf8_text(mut bytes: Vec<u8>, what: &str, path: &Path) -> Result<String> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count();
        error::bad_input(format!(
            "{what} {} line {line} is not UTF-8 text; save it as UTF-8",
            path.display()
        ))
    })
}

/// Up to `n` of `names`, for messages: `a, b, c, ... (1000 in all)`.
pub fn sample(names: &[String], n: usize) -> String {
    let mut s = names
        .iter()
        .take(n)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > n {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
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

    #[test]
    fn labels_files_must_be_utf8_and_lose_a_bom() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("latin1.txt");
        std::fs::write(&bad, b"cat\ndog\ncaf\xe9\n").unwrap();
        let e = Classes::from_file(&bad).unwrap_err();
        assert_eq!(error::exit_code(&e), error::Exit::BadInput.code(), "{e:#}");
        let text = format!("{e:#}");
        assert!(
            text.contains(&bad.display().to_string())
                && text.contains("line 3")
                && text.contains("UTF-8"),
            "{text}"
        );
        let bom = dir.path().join("bom.txt");
        std::fs::write(&bom, b"\xef\xbb\xbfcat\ndog\n").unwrap();
        let c = Classes::from_file(&bom).unwrap();
        assert_eq!(c.keys(), ["cat", "dog"]);
    }

    #[test]
    fn lookup_by_synset_or_name() {
        let c = Classes::from_metadata(r#"["n01443537", "face", "other"]"#).unwrap();
        assert_eq!(c.get(0).unwrap().synset, "n01443537");
        assert!(c.get(0).unwrap().name.starts_with("goldfish"));
        assert_eq!(c.keys(), ["n01443537", "face", "other"]);
        assert_eq!(c.position("n01443537"), Some(0));
        assert_eq!(c.position("other"), Some(2));
        assert_eq!(c.position("n01440764"), None);
        assert_eq!(c.sample(2), "n01443537, face, ... (3 in all)");
        assert_eq!(c.sample(3), "n01443537, face, other");
        let imagenet = Classes::imagenet();
        assert_eq!(imagenet.position("n15075141"), Some(999));
        assert_eq!(imagenet.keys()[999], "n15075141");
    }
}
