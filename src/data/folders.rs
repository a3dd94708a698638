//! What a run reads: image paths from the command line, directory trees or
//! stdin; labelled ImageFolder trees and label files.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use walkdir::WalkDir;

use crate::data::batches::Item;
use crate::data::classes::Classes;
use crate::sys::error;

/// File extensions a directory walk picks up (case-insensitive). Files named
/// explicitly are read whatever their name: the decoder sniffs the content.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif", "jfif",
];

pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Dot files and folders (`.ipynb_checkpoints`, macOS `._x.jpg` forks) are
/// not data.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Image files below `dir`, hidden ones left out, sorted by path so every
/// run sees the same order.
pub fn walk_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walk = WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        if entry.file_type().is_file() && is_image_name(entry.path()) {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

/// The class folders of an ImageFolder tree `root/<class>/...`: its
/// sub-folders that are not hidden, sorted by name (index = rank, as
/// torchvision numbers them).
pub fn class_folders(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        if path.is_dir() && !is_hidden(&path) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            folders.push((name.into_owned(), path));
        }
    }
    folders.sort();
    Ok(folders)
}

/// `predict`'s PATH arguments: files, directories (walked), `-` (one path per
/// line on stdin).
pub fn collect_paths(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading paths from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    out.push(PathBuf::from(line));
                }
            }
        } else if arg.is_dir() {
            out.extend(walk_images(arg)?);
        } else if arg.exists() {
            out.push(arg.clone());
        } else {
            return Err(error::usage(format!(
                "{}: no such file or directory",
                arg.display()
            )));
        }
    }
    Ok(out)
}

/// A labelled data set and the names of its classes.
#[derive(Debug)]
pub struct Labelled {
    pub items: Vec<Item>,
    pub classes: Classes,
    /// Whether labels are ImageNet-1k indices (folders named by synset id).
    pub imagenet: bool,
}

/// An ImageFolder tree: `<class>/<image>`. Folders named by ImageNet synset ids
/// map to ImageNet class indices; any other tree uses sorted folder order.
pub fn image_folder(root: &Path) -> Result<Labelled> {
    let folders = class_folders(root)
        .map_err(|e| error::usage(format!("cannot read data folder {}: {e}", root.display())))?;
    if folders.is_empty() {
        return Err(error::bad_input(format!(
            "data folder {} has no class folders; expected <class>/<image> (an ImageFolder tree)",
            root.display()
        )));
    }
    let imagenet = Classes::imagenet();
    let all_synsets = folders
        .iter()
        .all(|(n, _)| imagenet.synset_index(n).is_some());
    let mut items = Vec::new();
    for (i, (name, dir)) in folders.iter().enumerate() {
        let label = if all_synsets {
            imagenet.synset_index(name).unwrap_or(i)
        } else {
            i
        };
        for p in walk_images(dir)? {
            items.push(Item::labeled(p, label as i64));
        }
    }
    if items.is_empty() {
        return Err(error::bad_input(format!(
            "data folder {} holds no images",
            root.display()
        )));
    }
    let classes = if all_synsets {
        imagenet
    } else {
        Classes::from_names(folders.into_iter().map(|(n, _)| n))
    };
    Ok(Labelled {
        items,
        classes,
        imagenet: all_synsets,
    })
}

/// Images listed in a labels file, relative paths resolved against `root`.
/// Either CSV `path,label` (a header row is allowed) or whitespace-separated
/// `path label` lines (Caffe's ILSVRC2012 `val.txt`); a label is a class
/// index or an ImageNet synset id.
pub fn labels_file(path: &Path, root: &Path) -> Result<Labelled> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read labels file {}", path.display()))?;
    let imagenet = Classes::imagenet();
    let mut items = Vec::new();
    let mut any_synset = false;
    let mut max_label = 0usize;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, label) = match line.split_once(',') {
            Some((f, l)) => (f.trim(), l.trim()),
            None => match line.rsplit_once(char::is_whitespace) {
                Some((f, l)) => (f.trim(), l.trim()),
                None => {
                    return Err(error::bad_input(format!(
                        "labels file {} line {}: expected `path,label`",
                        path.display(),
                        n + 1
                    )))
                }
            },
        };
        let label = match label.parse::<usize>() {
            Ok(i) => i,
            Err(_) => match imagenet.synset_index(label) {
                Some(i) => {
                    any_synset = true;
                    i
                }
                None if n == 0 => continue, // a header row
                None => {
                    return Err(error::bad_input(format!(
                        "labels file {} line {}: label `{label}` is neither a class index nor an ImageNet synset id",
                        path.display(),
                        n + 1
                    )))
                }
            },
        };
        max_label = max_label.max(label);
        let p = Path::new(file);
        items.push(Item::labeled(
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(p)
            },
            label as i64,
        ));
    }
    if items.is_empty() {
        return Err(error::bad_input(format!(
            "labels file {} lists no images",
            path.display()
        )));
    }
    let is_imagenet = any_synset || max_label < 1000;
    let classes = if is_imagenet {
        imagenet
    } else {
        Classes::from_names((0..=max_label).map(|i| i.to_string()))
    };
    Ok(Labelled {
        items,
        classes,
        imagenet: is_imagenet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_skip_hidden_entries_and_other_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in [
            "a/x.jpg",
            "a/._x.jpg",
            ".ipynb_checkpoints/y.jpg",
            "b/sub/z.JPEG",
            "b/.cache/w.png",
            "b/readme.txt",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
        let folders: Vec<String> = class_folders(root)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(folders, ["a", "b"]);
        assert_eq!(
            walk_images(root).unwrap(),
            [root.join("a/x.jpg"), root.join("b/sub/z.JPEG")]
        );
    }
}
