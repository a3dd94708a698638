//! Random erasing (`--reprob`, `--remode`, `--recount`, `--resplit`):
//! parity with timm's `RandomErasing` (tests/py/erasing_reference.py runs
//! timm's own code on dpn's draws and compares bytes), and `dpn train` with
//! the flags: a short run that records them, `--resume` refusing a change,
//! and bad values refused before anything is written.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use dpn::augment::{EraseMode, RandomErasing};
use dpn::data::decode::RgbImage;
use dpn::data::resize::Filter;
use dpn::data::transform::{normalize_into, ImageTransform, TrainTransform};
use dpn::train::config::TrainConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

mod common;

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1").env(
        "DPN_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"),
    );
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A synthetic photograph for the train transform.
fn photo(w: usize, h: usize, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut img = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 3;
            img.data[i] = (x * 255 / w) as u8;
            img.data[i + 1] = (y * 255 / h) as u8;
            img.data[i + 2] = rng.random::<u8>();
        }
    }
    img
}

/// dpn's erasing on many images, every setting and size (small ones too,
/// where boxes fail their ten attempts or round to zero rows), replayed
/// through timm's `RandomErasing` by tests/py/erasing_reference.py.
#[test]
fn erasing_matches_timm_on_the_same_draws() {
    let settings: [(f64, EraseMode, usize); 7] = [
        (0.5, EraseMode::Const, 1),
        (1.0, EraseMode::Const, 3),
        (0.7, EraseMode::Rand, 2),
        (1.0, EraseMode::Rand, 1),
        (1.0, EraseMode::Pixel, 1),
        (1.0, EraseMode::Pixel, 4),
        (0.25, EraseMode::Pixel, 1),
    ];
    let mut json_settings = Vec::new();
    let mut cases = Vec::new();
    let mut erased_in_training = 0;
    for (si, &(p, mode, count)) in settings.iter().enumerate() {
        let e = RandomErasing::new(p, mode, count);
        json_settings.push(json!({
            "probability": p, "mode": mode.name(), "recount": count,
            "dpn": {
                "probability": e.probability, "mode": e.mode.name(),
                "min_count": e.min_count, "max_count": e.max_count,
                "min_area": e.min_area, "max_area": e.max_area,
                "log_aspect": [e.log_aspect.0, e.log_aspect.1],
            },
        }));
        // As training computes it: the train transform's per-image generator,
        // crop and flip first, then erasing; the recorded draws must give
        // exactly what `apply_into` gives.
        let tf = TrainTransform {
            size: 32,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: 0.5,
            vflip: 0.0,
            filter: Filter::Bilinear,
            random_interpolation: false,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            auto_augment: None,
            erasing: Some(Arc::new(e.clone())),
            color_jitter: None,
            grayscale: 0.0,
            gaussian_blur: None,
            seed: 1000 + si as u64,
        };
        let n = 3 * 32 * 32;
        for index in 0..24 {
            let img = photo(48, 40, index as u64);
            let mut rng = tf.rng_for(index);
            let mut input = vec![0f32; n];
            normalize_into(&tf.augment(&img, &mut rng), tf.mean, tf.std, &mut input);
            let mut output = input.clone();
            let (boxes, draws) = e.erase_recorded(&mut output, 3, 32, 32, &mut rng);
            let mut trained = vec![0f32; n];
            tf.apply_into(&img, index, &mut trained);
            assert_eq!(trained, output, "apply_into is the recorded erasing");
            erased_in_training += usize::from(!boxes.is_empty());
            cases.push(json!({
                "setting": si, "chan": 3, "h": 32, "w": 32,
                "input": input, "draws": draws, "boxes": boxes, "output": output,
            }));
        }
        // Other sizes, on standard normal inputs.
        let mut rng = ChaCha8Rng::seed_from_u64(si as u64);
        for (h, w, k) in [(17usize, 23usize, 24), (6, 5, 40), (2, 3, 40), (1, 9, 10)] {
            for _ in 0..k {
                let input: Vec<f32> = (0..3 * h * w).map(|_| rng.random::<f32>() - 0.5).collect();
                let mut output = input.clone();
                let (boxes, draws) = e.erase_recorded(&mut output, 3, h, w, &mut rng);
                cases.push(json!({
                    "setting": si, "chan": 3, "h": h, "w": w,
                    "input": input, "draws": draws, "boxes": boxes, "output": output,
                }));
            }
        }
    }
    assert!(erased_in_training > 100, "{erased_in_training}");
    let tmp = tempdir("erasing-parity-");
    let file = tmp.path().join("cases.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"settings": json_settings, "cases": cases})).unwrap(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/erasing_reference.py");
    let out = Command::new(common::python())
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set DPN_TEST_PYTHON): {e}",
                common::python().display()
            )
        });
    assert!(
        out.status.success(),
        "timm disagrees: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["cases"].as_u64().unwrap() as usize, cases.len());
    assert!(r["boxes"].as_u64().unwrap() > 400, "{r}");
    // The fill values are standard normal.
    for (mode, min_n) in [("rand", 300), ("pixel", 20_000)] {
        let s = &r[mode];
        let n = s["n"].as_u64().unwrap();
        assert!(n >= min_n, "{mode}: {s}");
        let tol = 4.0 / (n as f64).sqrt();
        assert!(s["mean"].as_f64().unwrap().abs() < tol, "{mode}: {s}");
        assert!(
            (s["std"].as_f64().unwrap() - 1.0).abs() < 2.0 * tol,
            "{mode}: {s}"
        );
        assert!(s["ks_p"].as_f64().unwrap() > 1e-4, "{mode}: {s}");
    }
}

/// A short digits run with `--reprob 0.5 --remode pixel` trains, records the
/// settings, and computes something else than the same run without erasing;
/// `--resume` refuses to change them.
#[test]
fn train_with_random_erasing_records_its_settings() {
    let tmp = tempdir("train-erasing-");
    let run = |out: &Path, extra: &[&str]| {
        let o = dpn()
            .args(common::digits_train_args(out, 1, "32"))
            .args(["--lr", "0.05"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let erased = tmp.path().join("erased");
    run(&erased, &["--reprob", "0.5", "--remode", "pixel"]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(erased.join("run.json")).unwrap()).unwrap();
    assert_eq!(cfg["reprob"], json!(0.5));
    assert_eq!(cfg["remode"], json!("pixel"));
    assert_eq!(cfg["recount"], json!(1));
    assert_eq!(cfg["resplit"], json!(false));

    let plain = tmp.path().join("plain");
    run(&plain, &[]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(plain.join("run.json")).unwrap()).unwrap();
    assert_eq!(cfg["reprob"], json!(0.0));
    // A run.json or state.json from before these settings loads as no erasing.
    let mut older = cfg.clone();
    for k in ["reprob", "remode", "recount", "resplit"] {
        older.as_object_mut().unwrap().remove(k).unwrap();
    }
    let older: TrainConfig = serde_json::from_value(older).unwrap();
    let now: TrainConfig = serde_json::from_value(cfg.clone()).unwrap();
    assert_eq!(older, now);
    assert!(older.erasing().unwrap().is_none());
    let losses = |dir: &Path| std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_ne!(
        losses(&erased),
        losses(&plain),
        "erasing changes the updates"
    );

    for (flag, value) in [
        ("--reprob", "0.25"),
        ("--remode", "const"),
        ("--recount", "2"),
    ] {
        let o = dpn()
            .arg("train")
            .arg("--resume")
            .arg(&erased)
            .args(["--epochs", "2", flag, value])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("cannot change") && e.contains(&format!("{flag} {value}")),
            "{e}"
        );
    }
    let o = dpn()
        .arg("train")
        .arg("--resume")
        .arg(&erased)
        .args(["--epochs", "2", "--resplit"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--resplit"), "{}", stderr(&o));
}

/// Bad values: one line, exit code 2, no output folder.
#[test]
fn bad_erasing_values_are_refused_before_anything_is_written() {
    let tmp = tempdir("train-erasing-bad-");
    for (i, (flags, needle)) in [
        (&["--reprob", "1.5"][..], "--reprob 1.5"),
        (&["--reprob=-0.1"][..], "--reprob -0.1"),
        (&["--reprob", "NaN"][..], "--reprob NaN"),
        (&["--reprob", "0.5", "--recount", "0"][..], "--recount"),
        (
            &["--reprob", "0.5", "--remode", "zero"][..],
            "--remode zero",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("run{i}"));
        let o = dpn()
            .args(common::digits_train_args(&out, 1, "32"))
            .args(flags)
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {e}");
        assert!(e.contains(needle), "{flags:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{flags:?}: {e}");
        assert!(!out.exists(), "{flags:?} wrote {}", out.display());
    }
}
