//! `dpn augment`: its PNGs replayed from `--explain` through timm's own
//! ops (tests/py/augment_explain_reference.py) give the same bytes, the same
//! seed gives the same files, and bad input is one line, exit 2, nothing
//! written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn python() -> PathBuf {
    std::env::var_os("DPN_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

/// scikit-image's photographs, shipped in the project's virtualenv (a grey
/// one among them).
fn photos() -> Vec<PathBuf> {
    let o = Command::new(python())
        .args([
            "-c",
            "import skimage, os; print(os.path.dirname(skimage.__file__))",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("data");
    ["astronaut.png", "coffee.png", "camera.png", "chelsea.png"]
        .iter()
        .map(|f| dir.join(f))
        .collect()
}

fn augment(out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .env("NO_COLOR", "1")
        .args(["augment", "-m", "dpn68", "-k", "3", "-q", "-o"])
        .arg(out)
        .args(photos())
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// For RandAugment, AutoAugment policies and colour jitter / grayscale /
/// blur, timm's and torchvision's replay of the recorded crop, flips and op
/// arguments equals dpn's PNG.
#[test]
fn explain_replays_through_timm_to_the_same_bytes() {
    let tmp = tempdir("augment-replay-");
    let cases: [&[&str]; 6] = [
        &["--aa", "rand-m9-mstd0.5-inc1"],
        &["--aa", "rand-m7-n3-mstd1.0-mmax15-inc0"],
        &["--aa", "original"],
        &["--aa", "v0r"],
        // 3a keeps colour jitter on, and its GaussianBlurRand draws inside the op.
        &["--aa", "3a"],
        &[
            "--color-jitter",
            "0.4",
            "--grayscale-prob",
            "0.3",
            "--gaussian-blur-prob",
            "0.5",
        ],
    ];
    for (i, flags) in cases.iter().enumerate() {
        let aa = flags.join(" ");
        let out = tmp.path().join(format!("run{i}"));
        let steps = tmp.path().join(format!("steps{i}.jsonl"));
        let seed = i.to_string();
        let tail = ["--seed", &seed, "--explain", steps.to_str().unwrap()];
        let o = augment(&out, &[*flags, &tail[..]].concat());
        assert!(o.status.success(), "{aa}: {}", stderr(&o));
        let o = Command::new(python())
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_explain_reference.py"),
            )
            .arg(&steps)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{aa}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        let lines = String::from_utf8_lossy(&o.stdout).lines().count();
        assert_eq!(lines, 4 * 3, "{aa}: every image checked");
    }
}

/// The same seed writes the same bytes; another seed other ones; the grid
/// is a row per image and a column per version with 4-pixel gaps.
#[test]
fn same_seed_same_files_and_a_grid() {
    let tmp = tempdir("augment-seed-");
    let flags = ["--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.5"];
    let read = |dir: &Path| std::fs::read(dir.join("coffee-2.png")).unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let grid = tmp.path().join("grid.png");
    let o = augment(
        &a,
        &[&flags[..], &["--grid", grid.to_str().unwrap()]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(augment(&b, &flags).status.success());
    assert!(augment(&c, &[&flags[..], &["--seed", "7"]].concat())
        .status
        .success());
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
    let sheet = image::open(&grid).unwrap();
    assert_eq!(
        (sheet.width(), sheet.height()),
        ((3 * 224 + 4 * 4) as u32, (4 * 224 + 5 * 4) as u32)
    );
}

/// Each mistake: exit 2, one `dpn: error:` line, no output folder.
#[test]
fn bad_flags_are_one_line_and_write_nothing() {
    let tmp = tempdir("augment-bad-");
    let photos = photos();
    let three: Vec<&Path> = photos[..3].iter().map(PathBuf::as_path).collect();
    let cases: Vec<(Vec<&str>, bool)> = vec![
        (vec!["--aa", "rand-m9-x"], false),
        (vec!["--aa", "nonsense"], false),
        (vec!["--reprob", "1.5"], false),
        (vec!["--hflip=-0.1"], false),
        (vec!["--color-jitter-prob", "2"], false),
        (vec!["--gaussian-blur-prob", "1.1"], false),
        (vec!["--count", "0"], false),
        (vec!["--mixup", "0.2"], true),
    ];
    for (i, (flags, odd)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
        c.env("NO_COLOR", "1")
            .args(["augment", "-m", "dpn68", "-o"])
            .arg(&out)
            .args(flags);
        if *odd {
            c.args(&three);
        } else {
            c.args(&photos);
        }
        let o = c.output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{flags:?}: {err}");
        assert!(err.starts_with("dpn: error:"), "{flags:?}: {err}");
        assert!(!out.exists(), "{flags:?} created {}", out.display());
    }
    // No model to take the mean and std from.
    let out = tmp.path().join("no-model");
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(["augment", "-o"])
        .arg(&out)
        .args(&photos)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.exists());
}
