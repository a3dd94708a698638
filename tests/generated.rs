//! The committed completions and man pages must be what the binary's clap
//! definitions generate now. Run `make generated` to refresh them.

use std::path::Path;

fn check(dir: &str, files: Vec<(String, Vec<u8>)>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let update = std::env::var_os("DPN_UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (name, contents) in &files {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, contents).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    // A page for a subcommand that no longer exists is stale too.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !files.iter().any(|(n, _)| *n == name) {
            if update {
                std::fs::remove_file(dir.join(&name)).unwrap();
            } else {
                stale.push(format!(
                    "{} (no longer generated)",
                    dir.join(&name).display()
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date, run `make generated`: {stale:?}"
    );
}

#[test]
fn completions_are_current() {
    check("completions", dpn::cli::docs::completions());
}

#[test]
fn man_pages_are_current() {
    check("man", dpn::cli::docs::man_pages().unwrap());
}
