//! The fuzzed entry points: each takes arbitrary bytes and feeds them to one
//! of dpn's readers of untrusted input. Errors are expected; panics, aborts,
//! hangs and runaway allocations are bugs.
//!
//! Shared (by `#[path]`) between the libFuzzer targets in `fuzz/`, the
//! stable `stress` binary there, and `tests/fuzz_corpora.rs`, which replays
//! the committed corpora and a bounded number of mutations of them on every
//! CI run.

use std::path::PathBuf;

/// A fuzz target: arbitrary bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus folder under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("pth_reader", pth_reader),
    ("safetensors", safetensors),
    ("model_index", model_index),
    ("labels_file", labels_file),
];

/// The PyTorch readers (zip and legacy formats), the bare unpickler and
/// format detection.
pub fn pth_reader(data: &[u8]) {
    let _ = dpn::weights::read_pth_bytes(data);
    let _ = dpn::weights::pickle::unpickle(data);
    let _ = dpn::weights::detect_format_bytes(data);
}

/// A safetensors file: its header, and the metadata dpn reads from it (the
/// class names and the recorded eval preprocessing).
pub fn safetensors(data: &[u8]) {
    let Ok(sd) = dpn::weights::read_safetensors_bytes(data) else {
        return;
    };
    if let Some(names) = sd.metadata.get(dpn::weights::meta::CLASS_NAMES) {
        let _ = dpn::data::classes::Classes::from_metadata(names);
    }
    static BASE: std::sync::OnceLock<dpn::registry::Preprocess> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let registry = dpn::registry::Registry::load(None).expect("the embedded index loads");
        registry.models()[0].preprocess.clone()
    });
    let _ = dpn::weights::meta::recorded_preprocess(
        &sd.metadata,
        base,
        std::path::Path::new("fuzz.safetensors"),
    );
}

/// A user's model index (`--model-index FILE`): YAML parsing, then the
/// validation of every model's architecture and preprocessing.
pub fn model_index(data: &[u8]) {
    let file = scratch("model-index.yaml", data);
    let _ = dpn::registry::Registry::load(Some(&file));
    let _ = std::fs::remove_file(&file);
}

/// A labels file (`--labels-file`), read against ImageNet's classes and
/// against a model's own named classes.
pub fn labels_file(data: &[u8]) {
    use dpn::data::classes::Classes;
    use dpn::data::folders::{labels_file, ClassIndex};
    let file = scratch("labels.txt", data);
    let root = std::env::temp_dir();
    let _ = labels_file(&file, &root, ClassIndex::ImageNetOrFolders, 1000);
    let _ = labels_file(&file, &root, ClassIndex::Folders, 10);
    let named = Classes::from_names(["cat", "dog", "n01440764"].map(String::from));
    let _ = labels_file(&file, &root, ClassIndex::Named(&named, "the model's"), 3);
    let _ = std::fs::remove_file(&file);
}

/// `data` in a file of this process and thread (the readers take paths).
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dpn-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path =
        dir.join(format!("{:?}-{name}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, data).expect("the scratch folder is writable");
    path
}
