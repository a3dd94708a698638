//! The layering that ARCHITECTURE.md promises, checked on the sources:
//! `main -> cli -> commands -> {train, metrics, download} -> {model, weights,
//! data, dist, registry, arch, store} -> {output, ui, sys}`. No module imports one
//! above it, no two modules import each other, and only `cli` and `commands`
//! know clap. Test code (`#[cfg(test)]` modules) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer (0 is the top).
const LAYERS: &[(&str, u8)] = &[
    ("cli", 0),
    ("commands", 1),
    ("train", 2),
    ("metrics", 2),
    ("report", 2),
    ("download", 2),
    ("export", 2),
    ("model", 3),
    ("weights", 3),
    ("data", 3),
    ("dist", 3),
    ("registry", 3),
    ("arch", 3),
    ("augment", 3),
    ("store", 3),
    ("output", 4),
    ("ui", 4),
    ("sys", 4),
];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| panic!("src/{module} is not in tests/layering.rs's LAYERS"))
        .1
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-test source of a file: everything before its `#[cfg(test)]` module.
fn product_source(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Top-level modules named after `crate::` in `source`, `use crate::{a, b}` included.
fn crate_refs(source: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

/// module -> the other top-level modules its product code refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let mut parts = rel.iter();
        let first = parts.next().unwrap().to_str().unwrap();
        if parts.next().is_none() {
            // main.rs and lib.rs sit above every layer.
            assert!(
                first == "main.rs" || first == "lib.rs",
                "src/{first}: a top-level file outside the layers; put it in a folder"
            );
            continue;
        }
        let refs = crate_refs(&product_source(&file));
        let entry = graph.entry(first.to_string()).or_default();
        entry.extend(refs.into_iter().filter(|r| r != first));
    }
    graph
}

#[test]
fn no_module_imports_one_above_it() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        for to in tos {
            if layer(&to) < layer(&from) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports: {wrong:?}");
}

#[test]
fn no_two_modules_import_each_other() {
    let g = graph();
    let mut cycles = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            if from < to && g.get(to).is_some_and(|back| back.contains(from)) {
                cycles.push(format!("{from} <-> {to}"));
            }
        }
    }
    assert!(cycles.is_empty(), "mutual imports: {cycles:?}");
}

#[test]
fn only_cli_and_commands_know_clap() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let rel = f.strip_prefix(&src).unwrap();
            !(rel.starts_with("cli") || rel.starts_with("commands") || rel == Path::new("main.rs"))
        })
        .filter(|f| product_source(f).contains("clap"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "clap outside cli/ and commands/: {offenders:?}"
    );
}

#[test]
fn the_repository_cites_only_its_own_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "bench", "scripts", "docs"] {
        if root.join(dir).is_dir() {
            rust_like(&root.join(dir), &mut files);
        }
    }
    for f in [
        "README.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
        "Makefile",
        "build.rs",
    ] {
        files.push(root.join(f));
    }
    let needle = ["REFERENCE", ".md"].concat();
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| fs::read_to_string(f).is_ok_and(|t| t.contains(&needle)))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files citing a document outside the repository: {offenders:?}"
    );
}

fn rust_like(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                rust_like(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// Mutual imports between the files of one top-level module that are not broken yet
/// (`module`, `file`, `file`). Each entry is a debt: remove it once the two files no
/// longer import each other. `model::fold` <-> `model::infer` was broken by moving
/// the run options both need into `model::run_opts`.
const KNOWN_FILE_CYCLES: &[(&str, &str, &str)] = &[
    ("dist", "group", "rendezvous"),
    ("train", "jsd", "loss"),
    ("train", "checkpoint", "history"),
    ("train", "checkpoint", "ema"),
    ("train", "config", "sched"),
];

/// The identifiers that follow `prefix` in `source`, `prefix{a, b}` included.
fn names_after(source: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    for (i, _) in source.match_indices(prefix) {
        // `super::super::x` is not a `super::x` (it leaves the module).
        if prefix.starts_with("super::") && source[..i].ends_with("super::") {
            continue;
        }
        let rest = &source[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            names.extend(group[..end].split(',').map(ident));
        } else {
            names.insert(ident(rest));
        }
    }
    names.remove("");
    names
}

/// For each top-level module, each of its files (a `x.rs` or a `x/` folder) ->
/// the sibling files its product code (comments left out) imports.
fn file_graph() -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let rel: Vec<String> = file
            .strip_prefix(&src)
            .unwrap()
            .iter()
            .map(|p| p.to_str().unwrap().to_string())
            .collect();
        if rel.len() < 2 || rel[1] == "mod.rs" {
            continue;
        }
        let (top, unit) = (&rel[0], rel[1].trim_end_matches(".rs").to_string());
        // How many `super::` reach the top-level module from this file.
        let depth = rel.len() - 2 - usize::from(rel.last().unwrap() == "mod.rs");
        let code: String = product_source(&file)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut refs = names_after(&code, &format!("crate::{top}::"));
        refs.extend(names_after(&code, &"super::".repeat(depth + 1)));
        refs.remove(&unit);
        graph.entry((top.clone(), unit)).or_default().extend(refs);
    }
    graph
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    let g = file_graph();
    let mut cycles = Vec::new();
    for ((top, from), tos) in &g {
        for to in tos {
            let back = g.get(&(top.clone(), to.clone()));
            if from < to
                && back.is_some_and(|b| b.contains(from))
                && !KNOWN_FILE_CYCLES.contains(&(top.as_str(), from.as_str(), to.as_str()))
            {
                cycles.push(format!("{top}::{from} <-> {top}::{to}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "mutual imports between files: {cycles:?}"
    );
    // The file graph sees the imports the cycle check relies on.
    let infer = &g[&("model".to_string(), "infer".to_string())];
    assert!(
        infer.contains("fold") && infer.contains("run_opts"),
        "{infer:?}"
    );
}
