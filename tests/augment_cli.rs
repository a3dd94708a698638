//! `dpn augment`: its PNGs replayed from `--explain` through timm's own
//! ops, AugMixAugment, RandomErasing and Mixup
//! (tests/py/augment_explain_reference.py) give the same bytes, the same
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
        let (equal, _) = replay(&[steps]);
        assert_eq!(equal.len(), 4 * 3, "{aa}: every image checked");
    }
}

/// The reference script's stdout: its `FILE: equal (...)` lines and its
/// other lines.
fn replay(steps: &[PathBuf]) -> (Vec<String>, Vec<String>) {
    let o = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_explain_reference.py"))
        .args(steps)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}{}", stderr(&o));
    out.lines()
        .map(str::to_owned)
        .partition(|l| l.contains(": equal ("))
}

/// What one `--explain` record says happened.
#[derive(Debug)]
struct Kinds {
    /// AugMix's `blended`, if AugMix ran.
    augmix: Option<bool>,
    /// The mode of each erased box.
    erasing: Vec<String>,
    /// `mixup` or `cutmix`, if the image was mixed.
    mixup: Option<String>,
}

/// `Kinds` mixed by `--mixup` (`mixup`) or `--cutmix` (`cutmix`).
fn mixed_by(m: &'static str) -> impl Fn(&Kinds) -> bool {
    move |k| k.mixup.as_deref() == Some(m)
}

fn record_kinds(steps: &Path) -> Vec<Kinds> {
    std::fs::read_to_string(steps)
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            let ops = r["ops"].as_array().unwrap();
            let augmix = ops
                .iter()
                .find(|o| o["op"] == "AugMix")
                .map(|o| o["blended"].as_bool().unwrap());
            let erasing = ops
                .iter()
                .filter(|o| o["op"] == "RandomErasing")
                .map(|o| o["mode"].as_str().unwrap().to_owned())
                .collect();
            let mixup = r["mixup"]["mode"].as_str().map(str::to_owned);
            Kinds {
                augmix,
                erasing,
                mixup,
            }
        })
        .collect()
}

/// AugMix (timm's AugMixAugment, plain and blended), random erasing (timm's
/// RandomErasing on the normalized tensor) and Mixup/CutMix (timm's Mixup on
/// the batch of the images given), replayed from `--explain` with timm's
/// draws answered by the recorded ones, give dpn's PNG bytes; the inside of
/// `--remode pixel` boxes (dpn's own normal values) passes a check of its
/// statistics instead (tests/py/augment_explain_reference.py, pixel_stats).
#[test]
fn explain_replays_augmix_erasing_and_mixup_through_timm() {
    let tmp = tempdir("augment-replay-mix-");
    // (flags, seed, how the reference replays the Mixup: "@MODE[:MIN,MAX]"
    // for --mixup-mode and --cutmix-minmax, "" for batch mode): the seeds
    // make each case show what it is there for.
    let mixed: &[&str] = &["--mixup", "0.8", "--cutmix", "1.0"];
    let cases: [(Vec<&str>, u64, &str); 14] = [
        (vec!["--aa", "augmix-m5-w4-d2"], 2, ""),
        (vec!["--aa", "augmix-m3-w3-b1"], 3, ""),
        // No depth: timm draws each chain's length.
        (vec!["--aa", "augmix-m9-w2-a0.5-mstd0.5"], 4, ""),
        (vec!["--reprob", "1", "--remode", "const"], 5, ""),
        (
            vec!["--reprob", "1", "--remode", "rand", "--recount", "3"],
            6,
            "",
        ),
        (vec!["--reprob", "1", "--remode", "pixel"], 7, ""),
        (vec!["--mixup", "0.8"], 8, ""),
        (vec!["--cutmix", "1.0"], 9, ""),
        // Both (timm's switch), RandAugment and pixel erasing under them.
        (
            [mixed, &["--reprob", "0.5", "--aa", "rand-m9-mstd0.5-inc1"]].concat(),
            10,
            "",
        ),
        // Per image and per pair, some left unmixed.
        (
            [mixed, &["--mixup-mode", "elem", "--mixup-prob", "0.7"]].concat(),
            1,
            "@elem",
        ),
        (
            [mixed, &["--mixup-mode", "pair", "--mixup-prob", "0.7"]].concat(),
            2,
            "@pair",
        ),
        // timm's rand_bbox_minmax.
        (vec!["--cutmix-minmax", "0.2", "0.8"], 1, "@batch:0.2,0.8"),
        (
            vec![
                "--mixup",
                "0.5",
                "--cutmix-minmax",
                "0.3",
                "0.9",
                "--mixup-mode",
                "elem",
            ],
            2,
            "@elem:0.3,0.9",
        ),
        // All in their order: AugMix, then erasing, then the pairs mixed.
        (
            [
                mixed,
                &[
                    "--aa",
                    "augmix-m3-w3-b1",
                    "--reprob",
                    "1",
                    "--remode",
                    "rand",
                    "--recount",
                    "2",
                    "--mixup-mode",
                    "pair",
                ],
            ]
            .concat(),
            11,
            "@pair",
        ),
    ];
    let mut files = Vec::new();
    for (i, (flags, seed, replayed)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        let steps = tmp.path().join(format!("steps{i}.jsonl"));
        let seed = seed.to_string();
        let tail = [
            "--img-size",
            "64",
            "--seed",
            &seed,
            "--explain",
            steps.to_str().unwrap(),
        ];
        let o = augment(&out, &[&flags[..], &tail[..]].concat());
        assert!(o.status.success(), "{flags:?}: {}", stderr(&o));
        // Each case exercises what it is meant to.
        let kinds = record_kinds(&steps);
        assert_eq!(kinds.len(), 4 * 3, "{flags:?}");
        let has = |f: &dyn Fn(&Kinds) -> bool| kinds.iter().any(f);
        let all = |f: &dyn Fn(&Kinds) -> bool| kinds.iter().all(f);
        let mut arg = steps.into_os_string();
        match i {
            0 | 2 => assert!(all(&|k| k.augmix == Some(false)), "{flags:?}"),
            1 => assert!(all(&|k| k.augmix == Some(true)), "{flags:?}"),
            3..=5 => {
                let mode = flags[3];
                assert!(all(
                    &|k| !k.erasing.is_empty() && k.erasing.iter().all(|m| m == mode)
                ));
                if i == 4 {
                    assert!(has(&|k| k.erasing.len() > 1), "several boxes");
                }
            }
            6 => assert!(all(&mixed_by("mixup"))),
            7 => assert!(all(&mixed_by("cutmix"))),
            8 => {
                assert!(
                    has(&mixed_by("mixup")) && has(&mixed_by("cutmix")),
                    "{kinds:?}"
                );
                assert!(has(&|k| k.mixup.is_some() && !k.erasing.is_empty()));
            }
            9 | 10 => {
                let both = has(&mixed_by("mixup")) && has(&mixed_by("cutmix"));
                assert!(both && has(&|k| k.mixup.is_none()), "{kinds:?}");
            }
            11 => assert!(all(&mixed_by("cutmix")), "{kinds:?}"),
            13 => {
                let both = has(&mixed_by("mixup")) && has(&mixed_by("cutmix"));
                let first = all(&|k| k.augmix == Some(true) && !k.erasing.is_empty());
                assert!(both && first, "{kinds:?}");
            }
            _ => assert!(
                has(&mixed_by("mixup")) && has(&mixed_by("cutmix")),
                "{kinds:?}"
            ),
        }
        arg.push(replayed);
        files.push(PathBuf::from(arg));
    }
    let (equal, rest) = replay(&files);
    assert_eq!(equal.len(), cases.len() * 4 * 3, "every image checked");
    // The statistics of the pixel boxes, per channel.
    let stats = rest.iter().filter(|l| l.starts_with("pixel erasing: ch"));
    assert_eq!(stats.count(), 3, "{rest:?}");
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
