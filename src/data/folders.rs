//! What a run reads: image paths from the command line, directory trees or
//! stdin; labelled ImageFolder trees and label files.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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
        let entry = match entry {
            Ok(e) => e,
            Err(e) => match broken_link(&e) {
                // Left to the loader, which reports it as an image that
                // cannot be read: one bad link does not stop the run.
                Some(p) if is_image_name(&p) => {
                    out.push(p);
                    continue;
                }
                // Not an image name, or a folder link back to an ancestor
                // (whose images are reached by their own path): skipped.
                Some(_) => continue,
                None => {
                    return Err(e)
                        .with_context(|| format!("cannot read directory {}", dir.display()))
                }
            },
        };
        if entry.file_type().is_file() && is_image_name(entry.path()) {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

/// The path of a walk error that is a symlink's fault: a dangling link, a
/// link loop, a folder link back to an ancestor.
fn broken_link(e: &walkdir::Error) -> Option<PathBuf> {
    let p = e.path()?;
    let is_link = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    (is_link || e.loop_ancestor().is_some()).then(|| p.to_path_buf())
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

/// `predict`'s PATH arguments: files, directories (walked), `-` (paths on
/// stdin, each ended by `separator`: `\n` or NUL).
pub fn collect_paths(args: &[PathBuf], separator: u8) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            out.extend(read_path_list(std::io::stdin().lock(), separator)?);
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

/// Paths ended by `separator`, taken byte for byte: a name may begin or end
/// with spaces, and need not be UTF-8. Only the separator goes, and with
/// newlines a `\r` before it (CRLF); empty entries are skipped.
pub fn read_path_list(mut input: impl BufRead, separator: u8) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input
            .read_until(separator, &mut buf)
            .context("reading paths from stdin")?;
        if n == 0 {
            return Ok(out);
        }
        if buf.last() == Some(&separator) {
            buf.pop();
            if separator == b'\n' && buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if !buf.is_empty() {
            out.push(path_from_bytes(std::mem::take(&mut buf)));
        }
    }
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// How the class folders of an ImageFolder tree become labels.
#[derive(Debug, Clone, Copy)]
pub enum ClassIndex<'a> {
    /// The folders are the classes, in sorted order (index = rank, as
    /// torchvision numbers them): a training set.
    Folders,
    /// Each folder is looked up by name (or synset id) in a model's classes
    /// ([`Classes::position`]); a folder that is not among them is a
    /// bad-input error. The text says whose classes they are ("the model's").
    Named(&'a Classes, &'a str),
    /// A model without class names and with ImageNet's 1000 outputs:
    /// ImageNet's indices when every folder is a synset id, else sorted order.
    ImageNetOrFolders,
}

impl<'a> ClassIndex<'a> {
    /// The labelling for a model whose outputs are `classes`: by name when
    /// the names are its own (`named`: from its weights or a labels file),
    /// else ImageNet's synsets or sorted order.
    pub fn for_model(classes: &'a Classes, named: bool) -> ClassIndex<'a> {
        if named {
            ClassIndex::Named(classes, "the model's")
        } else if classes.len() == IMAGENET_CLASSES {
            ClassIndex::ImageNetOrFolders
        } else {
            ClassIndex::Folders
        }
    }
}

/// ImageNet-1k's class count.
pub const IMAGENET_CLASSES: usize = 1000;

/// A labelled image set: an ImageFolder tree `root/<class>/<image>` (images
/// sorted by path, found recursively inside each class folder, recognised by
/// extension) or the images a labels file lists.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    pub root: PathBuf,
    /// The classes the labels index: the model's, ImageNet's, or the folders'.
    pub classes: Classes,
    pub items: Vec<Item>,
}

impl ImageFolder {
    /// Scans the ImageFolder tree `root`, labelling its class folders as
    /// `index` says. An absent folder, one with no class folders, a class
    /// folder without images, or one that is not among the named classes is
    /// a bad-input error (exit code 3) naming it.
    pub fn scan(root: &Path, index: ClassIndex) -> Result<ImageFolder> {
        let (folder, empty) = Self::scan_keeping_empty(root, index)?;
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
        Ok(folder)
    }

    /// [`ImageFolder::scan`], but a class folder without images is kept as
    /// a class with none (its label index unchanged) and named in the
    /// second value, for the caller to warn about. An evaluation can count
    /// such a class (none right, none wrong); training cannot learn it.
    pub fn scan_keeping_empty(
        root: &Path,
        index: ClassIndex,
    ) -> Result<(ImageFolder, Vec<String>)> {
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
        let imagenet;
        let index = match index {
            ClassIndex::ImageNetOrFolders => {
                imagenet = Classes::imagenet();
                if folders
                    .iter()
                    .all(|(n, _)| imagenet.synset_index(n).is_some())
                {
                    ClassIndex::Named(&imagenet, "ImageNet's")
                } else {
                    ClassIndex::Folders
                }
            }
            other => other,
        };
        let (classes, labels) = match index {
            ClassIndex::Named(classes, whose) => {
                let labels: Vec<Option<usize>> =
                    folders.iter().map(|(n, _)| classes.position(n)).collect();
                let unknown: Vec<String> = folders
                    .iter()
                    .zip(&labels)
                    .filter(|(_, l)| l.is_none())
                    .map(|((n, _), _)| format!("`{n}`"))
                    .collect();
                if !unknown.is_empty() {
                    let one = unknown.len() == 1;
                    return Err(error::bad_input(format!(
                        "data folder {}: class folder{} {} {} not among {whose} {} classes ({}); \
                         rename or remove {}",
                        root.display(),
                        if one { "" } else { "s" },
                        unknown.join(", "),
                        if one { "is" } else { "are" },
                        classes.len(),
                        classes.sample(8),
                        if one { "it" } else { "them" },
                    )));
                }
                (classes.clone(), labels.into_iter().flatten().collect())
            }
            _ => (
                Classes::from_names(folders.iter().map(|(n, _)| n.clone())),
                (0..folders.len()).collect::<Vec<usize>>(),
            ),
        };
        let mut items = Vec::new();
        let mut empty = Vec::new();
        for ((class, dir), label) in folders.iter().zip(labels) {
            let files = walk_images(dir)?;
            if files.is_empty() {
                empty.push(class.clone());
            }
            items.extend(files.into_iter().map(|p| Item::labeled(p, label as i64)));
        }
        if items.is_empty() {
            return Err(error::bad_input(format!(
                "data folder {}: none of its {} class folders holds an image (extensions: {})",
                root.display(),
                folders.len(),
                IMAGE_EXTENSIONS.join(", ")
            )));
        }
        let folder = ImageFolder {
            root: root.to_path_buf(),
            classes,
            items,
        };
        Ok((folder, empty))
    }

    /// Splits off a validation part: `fraction` of each class (rounded, at
    /// least one image where the class has two or more), chosen with an RNG
    /// seeded by `seed`. Returns (train, val); both keep this set's classes.
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

/// The largest labels file read (docs/conventions.md, "Limits on sizes"):
/// ImageNet-21k's 13 million training images at 100 bytes a line.
pub const MAX_LABELS_FILE_BYTES: u64 = 2 << 30;

/// A labels file's text, read only up to [`MAX_LABELS_FILE_BYTES`] (a device
/// such as `/dev/zero` would otherwise grow without bound).
fn read_labels_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let cannot = || format!("cannot read labels file {}", path.display());
    let file = std::fs::File::open(path).with_context(cannot)?;
    let stated = file.metadata().with_context(cannot)?.len();
    let mut bytes = Vec::new();
    if stated <= MAX_LABELS_FILE_BYTES {
        file.take(MAX_LABELS_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(cannot)?;
    }
    // A regular file says its size up front; a device or FIFO only by
    // what it sends.
    if stated > MAX_LABELS_FILE_BYTES || bytes.len() as u64 > MAX_LABELS_FILE_BYTES {
        return Err(error::bad_input(format!(
            "labels file {} is larger than {} GiB, the most dpn reads; split the data",
            path.display(),
            MAX_LABELS_FILE_BYTES >> 30
        )));
    }
    super::classes::utf8_text(bytes, "labels file", path)
}

/// Images listed in a labels file, relative paths resolved against `root`.
/// Either CSV `path,label` (a header row is allowed) or whitespace-separated
/// `path label` lines (Caffe's ILSVRC2012 `val.txt`); a label is a class
/// index, or a class of `index`'s named list (by name or synset id), or,
/// for a model without names, an ImageNet synset id. A label must be below
/// `num_classes`, the model's outputs: checked per line, so that a label
/// such as 18446744073709551615 is a bad-input error naming its line, not a
/// class list of that length.
pub fn labels_file(
    path: &Path,
    root: &Path,
    index: ClassIndex,
    num_classes: usize,
) -> Result<ImageFolder> {
    let text = read_labels_text(path)?;
    let imagenet = Classes::imagenet();
    let (lookup, whose) = match index {
        ClassIndex::Named(classes, whose) => (classes, whose),
        _ => (&imagenet, "ImageNet's"),
    };
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
            Err(_) => match lookup.position(label) {
                Some(i) => {
                    any_synset = true;
                    i
                }
                None if n == 0 => continue, // a header row
                None => {
                    return Err(error::bad_input(format!(
                        "labels file {} line {}: label `{label}` is neither a class index nor one of {whose} {} classes ({})",
                        path.display(),
                        n + 1,
                        lookup.len(),
                        lookup.sample(5)
                    )))
                }
            },
        };
        if label >= num_classes {
            return Err(error::bad_input(format!(
                "labels file {} line {}: label {label} is not a class of a model with {num_classes} outputs (0 to {})",
                path.display(),
                n + 1,
                num_classes.saturating_sub(1)
            )));
        }
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
    let classes = match index {
        ClassIndex::Named(classes, _) => classes.clone(),
        _ if any_synset || max_label < IMAGENET_CLASSES => imagenet,
        _ => Classes::from_names((0..=max_label).map(|i| i.to_string())),
    };
    Ok(ImageFolder {
        root: root.to_path_buf(),
        classes,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Training refuses an empty class folder; an evaluation keeps it as a
    /// class with no images, at its place in the folders' order.
    #[test]
    fn empty_class_folders_are_refused_or_kept_at_their_index() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in ["a/x.jpg", "c/y.png"] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
        std::fs::create_dir_all(root.join("b")).unwrap();
        let e = ImageFolder::scan(root, ClassIndex::Folders).unwrap_err();
        assert!(
            e.to_string().contains("class folder b has no images"),
            "{e}"
        );
        let (f, empty) = ImageFolder::scan_keeping_empty(root, ClassIndex::Folders).unwrap();
        assert_eq!(empty, ["b"]);
        assert_eq!(f.classes.len(), 3);
        let labels: Vec<Option<i64>> = f.items.iter().map(|i| i.label).collect();
        assert_eq!(labels, [Some(0), Some(2)]);
        std::fs::remove_file(root.join("a/x.jpg")).unwrap();
        std::fs::remove_file(root.join("c/y.png")).unwrap();
        let e = ImageFolder::scan_keeping_empty(root, ClassIndex::Folders).unwrap_err();
        assert!(
            e.to_string()
                .contains("none of its 3 class folders holds an image"),
            "{e}"
        );
    }

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

    #[cfg(unix)]
    #[test]
    fn broken_links_are_inputs_or_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root, &["a/x.jpg"]);
        let link = |to: &str, at: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        link("missing.jpg", "a/dangling.jpg");
        link("self.png", "a/self.png");
        link("gone", "a/notes");
        link("..", "a/up");
        // The two image names go on, to fail as unreadable images.
        assert_eq!(
            walk_images(root).unwrap(),
            [
                root.join("a/dangling.jpg"),
                root.join("a/self.png"),
                root.join("a/x.jpg")
            ]
        );
    }

    #[test]
    fn path_lists_keep_spaces_and_drop_only_the_ending() {
        let got = read_path_list(&b" a.png \r\nb\tc.jpg\n\nlast"[..], b'\n').unwrap();
        assert_eq!(
            got,
            [
                PathBuf::from(" a.png "),
                PathBuf::from("b\tc.jpg"),
                PathBuf::from("last")
            ]
        );
        let got = read_path_list(&b"new\nline.png\0 x.jpg\0"[..], b'\0').unwrap();
        assert_eq!(
            got,
            [PathBuf::from("new\nline.png"), PathBuf::from(" x.jpg")]
        );
    }

    fn tree(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
    }

    fn labels(f: &ImageFolder) -> Vec<(String, i64)> {
        f.items
            .iter()
            .map(|i| {
                let p = i.path.strip_prefix(&f.root).unwrap();
                (p.display().to_string(), i.label.unwrap())
            })
            .collect()
    }

    #[test]
    fn folders_are_labelled_by_name_sorted_order_or_imagenet() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root, &["other/b.png", "other/a.png"]);
        // By the model's names: a subset keeps its indices.
        let model = Classes::from_names(["face".to_string(), "other".to_string()]);
        let f = ImageFolder::scan(root, ClassIndex::for_model(&model, true)).unwrap();
        assert_eq!(
            labels(&f),
            [("other/a.png".into(), 1), ("other/b.png".into(), 1)]
        );
        assert_eq!(f.classes, model);
        // Sorted order without names.
        let f = ImageFolder::scan(root, ClassIndex::Folders).unwrap();
        assert_eq!(labels(&f)[0].1, 0);
        assert_eq!(f.classes.keys(), ["other"]);
        // A folder the model does not know.
        tree(root, &["cat/c.png"]);
        let e = ImageFolder::scan(root, ClassIndex::for_model(&model, true)).unwrap_err();
        assert_eq!(error::exit_code(&e), 3);
        let msg = e.to_string();
        assert!(
            msg.contains("`cat`") && msg.contains("face, other"),
            "{msg}"
        );
        // Synset folders: ImageNet's indices for an unnamed 1000-class model,
        // sorted order otherwise.
        let syn = tempfile::tempdir().unwrap();
        tree(syn.path(), &["n15075141/x.png", "n01443537/y.png"]);
        let imagenet = Classes::imagenet();
        let f = ImageFolder::scan(syn.path(), ClassIndex::for_model(&imagenet, false)).unwrap();
        assert_eq!(
            labels(&f),
            [
                ("n01443537/y.png".into(), 1),
                ("n15075141/x.png".into(), 999)
            ]
        );
        let ten = Classes::default_for(10);
        let f = ImageFolder::scan(syn.path(), ClassIndex::for_model(&ten, false)).unwrap();
        assert_eq!(labels(&f)[1].1, 1);
        // A model fine-tuned on synset folders knows them by its own list.
        let own = Classes::from_metadata(r#"["n01443537", "n15075141"]"#).unwrap();
        let f = ImageFolder::scan(syn.path(), ClassIndex::for_model(&own, true)).unwrap();
        assert_eq!(labels(&f)[1].1, 1);
    }

    #[test]
    fn labels_files_name_their_first_line_that_is_not_utf8_and_lose_a_bom() {
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("val.csv");
        std::fs::write(&list, b"\xef\xbb\xbfa.jpg,1\nb.jpg,0\n").unwrap();
        let f = labels_file(&list, tmp.path(), ClassIndex::Folders, 10).unwrap();
        assert_eq!(f.items[0].path, tmp.path().join("a.jpg"));
        std::fs::write(&list, b"a.jpg,1\nb\xff.jpg,0\n").unwrap();
        let e = labels_file(&list, tmp.path(), ClassIndex::Folders, 10).unwrap_err();
        assert_eq!(error::exit_code(&e), error::Exit::BadInput.code());
        assert!(format!("{e}").contains("line 2 is not UTF-8"), "{e}");
    }

    #[test]
    fn labels_files_beyond_the_limit_are_refused_unread() {
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("huge.csv");
        // Sparse: the size is stated, nothing is stored or read.
        let f = std::fs::File::create(&list).unwrap();
        f.set_len(MAX_LABELS_FILE_BYTES + 1).unwrap();
        let e = labels_file(&list, tmp.path(), ClassIndex::Folders, 10).unwrap_err();
        assert_eq!(error::exit_code(&e), 3, "{e:#}");
        assert!(format!("{e}").contains("larger than 2 GiB"), "{e:#}");
        std::fs::write(&list, b"a.png,\xff\n").unwrap();
        let e = labels_file(&list, tmp.path(), ClassIndex::Folders, 10).unwrap_err();
        assert!(format!("{e}").contains("not UTF-8"), "{e:#}");
    }

    #[test]
    fn labels_file_takes_indices_and_names() {
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("labels.csv");
        std::fs::write(&list, "path,label\na.png,other\nb.png,0\n").unwrap();
        let model = Classes::from_names(["face".to_string(), "other".to_string()]);
        let f = labels_file(
            &list,
            tmp.path(),
            ClassIndex::for_model(&model, true),
            model.len(),
        )
        .unwrap();
        assert_eq!(labels(&f), [("a.png".into(), 1), ("b.png".into(), 0)]);
        std::fs::write(&list, "a.png,other\nb.png,cat\n").unwrap();
        let e = labels_file(
            &list,
            tmp.path(),
            ClassIndex::for_model(&model, true),
            model.len(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("`cat`"), "{e}");
        std::fs::write(&list, "a.png n01443537\n").unwrap();
        let f = labels_file(&list, tmp.path(), ClassIndex::Folders, 1000).unwrap();
        assert_eq!(labels(&f), [("a.png".into(), 1)]);
        assert_eq!(f.classes.len(), 1000);
        // Labels beyond the model's outputs stop at their line, whatever their size.
        for huge in ["2", "300000000", "18446744073709551615"] {
            std::fs::write(&list, format!("a.png,1\nb.png,{huge}\n")).unwrap();
            let e = labels_file(&list, tmp.path(), ClassIndex::Folders, 2).unwrap_err();
            assert!(e.to_string().contains("line 2"), "{e}");
            assert_eq!(crate::sys::error::exit_code(&e), 3);
        }
    }
}
