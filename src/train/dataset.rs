//! Image folders as torchvision's `ImageFolder` reads them: `DIR/<class>/<image>`,
//! classes in sorted order (index = rank), images sorted by path, found
//! recursively inside each class folder, recognised by extension.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::folders::{class_folders, walk_images, IMAGE_EXTENSIONS};
use crate::data::Item;
use crate::sys::error;

/// A labelled image folder.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    pub root: PathBuf,
    pub classes: Vec<String>,
    pub items: Vec<Item>,
}

impl ImageFolder {
    /// Scans `root`. An absent folder, one with no class folders, or a class
    /// folder without images is a bad-input error (exit code 3) naming it.
    pub fn scan(root: &Path) -> Result<ImageFolder> {
        let meta = std::fs::metadata(root)
            .map_err(|e| error::bad_input(format!("data folder {}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(error::bad_input(format!(
                "data folder {} is not a directory",
                root.display()
            )));
        }
        let folders = class_folders(root)
            .with_context(|| format!("cannot read data folder {}", root.display()))?;
        if folders.is_empty() {
            return Err(error::bad_input(format!(
                "data folder {} has no class folders: expected DIR/<class>/<image> (an ImageFolder layout)",
                root.display()
            )));
        }
        let mut items = Vec::new();
        let mut empty = Vec::new();
        for (label, (class, dir)) in folders.iter().enumerate() {
            let files = walk_images(dir)?;
            if files.is_empty() {
                empty.push(class.clone());
            }
            items.extend(files.into_iter().map(|p| Item::labeled(p, label as i64)));
        }
        if !empty.is_empty() {
            return Err(error::bad_input(format!(
                "data folder {}: class folder{} {} ha{} no images (extensions: {})",
                root.display(),
                if empty.len() == 1 { "" } else { "s" },
                empty.join(", "),
                if empty.len() == 1 { "s" } else { "ve" },
                IMAGE_EXTENSIONS.join(", ")
            )));
        }
        Ok(ImageFolder {
            root: root.to_path_buf(),
            classes: folders.into_iter().map(|(name, _)| name).collect(),
            items,
        })
    }

    /// Relabels this (validation) folder with `classes` (the training set's):
    /// a class the training set lacks is a bad-input error.
    pub fn relabel(mut self, classes: &[String]) -> Result<ImageFolder> {
        let mut map = Vec::with_capacity(self.classes.len());
        for c in &self.classes {
            match classes.iter().position(|t| t == c) {
                Some(i) => map.push(i as i64),
                None => {
                    return Err(error::bad_input(format!(
                        "validation folder {} has class `{c}`, which the training data lacks",
                        self.root.display()
                    )))
                }
            }
        }
        for item in &mut self.items {
            item.label = item.label.map(|l| map[l as usize]);
        }
        self.classes = classes.to_vec();
        Ok(self)
    }

    /// Splits off a validation part: `fraction` of each class (rounded, at
    /// least one image where the class has two or more), chosen with an RNG
    /// seeded by `seed`. Returns (train, val); both keep this folder's classes.
    pub fn split(&self, fraction: f64, seed: u64) -> (ImageFolder, ImageFolder) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_5B11_7000_0000);
        let mut train = Vec::new();
        let mut val = Vec::new();
        for label in 0..self.classes.len() as i64 {
            let mut of_class: Vec<&Item> = self
                .items
                .iter()
                .filter(|i| i.label == Some(label))
                .collect();
            of_class.shuffle(&mut rng);
            let n = of_class.len();
            let mut k = (fraction * n as f64).round() as usize;
            if k == 0 && n >= 2 && fraction > 0.0 {
                k = 1;
            }
            let k = k.min(n.saturating_sub(1));
            let (v, t) = of_class.split_at(k);
            val.extend(v.iter().map(|i| (*i).clone()));
            train.extend(t.iter().map(|i| (*i).clone()));
        }
        train.sort_by(|a, b| a.path.cmp(&b.path));
        val.sort_by(|a, b| a.path.cmp(&b.path));
        let part = |items| ImageFolder {
            root: self.root.clone(),
            classes: self.classes.clone(),
            items,
        };
        (part(train), part(val))
    }
}

/// The order of the training items in `epoch`: a permutation drawn from
/// `seed` and the epoch alone, so that a resumed run sees the same order.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_add(epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(100, 7, 3);
        assert_eq!(a, epoch_order(100, 7, 3));
        assert_ne!(a, epoch_order(100, 7, 4));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
