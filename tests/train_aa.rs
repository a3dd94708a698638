//! `dpn train --aa` (timm's RandAugment / AutoAugment) and
//! `--train-interpolation`: a short run that records them, `--resume`
//! refusing a change, and bad values refused before anything is written.
//! Parity of the ops, policies and the train transform's op chain with timm
//! is in tests/augment_ops.rs.

use std::path::Path;
use std::process::{Command, Output};

use dpn::train::config::TrainConfig;
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

/// A short digits run with `--aa rand-m9-mstd0.5-inc1 --reprob 0.25` trains
/// and records the settings (`--train-interpolation` defaulting to random, as
/// in timm's train.py); `--resume` refuses to change them; settings from before they were
/// recorded load as no AA and the model's interpolation.
#[test]
fn train_with_auto_augment_records_its_settings() {
    let tmp = tempdir("train-aa-");
    let run = |out: &Path, extra: &[&str]| {
        let o = dpn()
            .args(common::digits_train_args(out, 1, "32"))
            .args(["--lr", "0.05"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let ra = tmp.path().join("ra");
    run(&ra, &["--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.25"]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(ra.join("run.json")).unwrap()).unwrap();
    assert_eq!(cfg["aa"], json!("rand-m9-mstd0.5-inc1"));
    assert_eq!(cfg["train_interpolation"], json!("random"));
    assert_eq!(cfg["reprob"], json!(0.25));

    // Settings from before --aa and --train-interpolation were recorded.
    let mut older = cfg.clone();
    for k in ["aa", "train_interpolation"] {
        older.as_object_mut().unwrap().remove(k).unwrap();
    }
    let older: TrainConfig = serde_json::from_value(older).unwrap();
    assert_eq!(older.aa, None);
    assert_eq!(older.train_interpolation, None);
    assert!(older.auto_augment([0.5; 3]).unwrap().is_none());
    use dpn::data::resize::Filter;
    assert_eq!(
        older.train_filter(Filter::Bicubic).unwrap(),
        Some(Filter::Bicubic)
    );

    for (flag, value) in [("--aa", "v0"), ("--train-interpolation", "bicubic")] {
        let o = dpn()
            .arg("train")
            .arg("--resume")
            .arg(&ra)
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
}

/// Bad values: one line naming the part at fault, exit code 2, no output
/// folder.
#[test]
fn bad_aa_values_are_refused_before_anything_is_written() {
    let tmp = tempdir("train-aa-bad-");
    for (i, (flags, needle)) in [
        (&["--aa", "rand-m9-x3"][..], "'x3'"),
        (&["--aa", "rand-m9.5"][..], "'m9.5'"),
        (&["--aa", "rand-m9-mstd"][..], "'mstd'"),
        (&["--aa", "augmix-m3-w0"][..], "'w0'"),
        (&["--aa", "augmix-m3-b"][..], "'b'"),
        (&["--aa", "v9"][..], "'v9'"),
        (&["--aa", "v0-n2"][..], "'n2'"),
        (
            &["--train-interpolation", "cubic"][..],
            "--train-interpolation cubic",
        ),
        (
            &["--aa", "rand-m9", "--train-interpolation", "nearest"][..],
            "--train-interpolation nearest",
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

/// Every AutoAugment policy and a RandAugment config through the train
/// transform, as `dpn train` builds it from its settings: repeatable per
/// image index, and never failing, also where timm on Pillow 13 raises
/// (posterize to 0 bits: v0's Posterize at magnitude 2, the research
/// variants with magnitude noise).
#[test]
fn every_policy_runs_in_the_train_transform() {
    use dpn::data::decode::RgbImage;
    use dpn::data::transform::{ImageTransform, TrainTransform};
    use dpn::registry::Registry;
    use std::sync::Arc;
    let registry = Registry::load(None).unwrap();
    let pp = registry.get("dpn48b").unwrap().preprocess.clone();
    let mut img = RgbImage::new(50, 40);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = (i * 97 % 253) as u8;
    }
    for (aa, interp) in [
        ("original", "random"),
        ("originalr-mstd3", "bilinear"),
        ("v0", "bicubic"),
        ("v0r-mstd3", "random"),
        ("3a", "random"),
        ("rand-m15-n4-mmax20-inc1-p1.0", "random"),
        ("augmix-m3-w3", "random"),
        ("augmix-m9-w2-b1-mstd3", "bilinear"),
    ] {
        let mut cfg: TrainConfig = serde_json::from_value(json!({
            "model": "dpn48b", "data": "d", "val_data": null, "val_split": null,
            "num_classes": 10, "init": "scratch", "epochs": 1, "batch_size": 16,
            "lr": 0.1, "momentum": 0.9, "nesterov": false, "weight_decay": 0.0,
            "sched": "cosine", "warmup_epochs": 0, "warmup_lr": 0.0, "min_lr": 0.0,
            "decay_epochs": 1, "decay_rate": 0.1, "label_smoothing": 0.1,
            "img_size": 24, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333],
            "hflip": 0.5, "crop_pct": 0.875, "amp": "f32", "channels_last": false,
            "device": "cpu", "seed": 1, "workers": 1, "strict": false,
        }))
        .unwrap();
        cfg.aa = Some(aa.into());
        cfg.train_interpolation = Some(interp.into());
        let mut tf = TrainTransform::from_preprocess(&pp, 3);
        tf.size = 24;
        match cfg.train_filter(tf.filter).unwrap() {
            Some(f) => tf.filter = f,
            None => tf.random_interpolation = true,
        }
        tf.auto_augment = cfg.auto_augment(pp.mean).unwrap().map(|a| Arc::new(a) as _);
        let n = 3 * 24 * 24;
        for index in 0..60 {
            let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
            tf.apply_into(&img, index, &mut a);
            tf.apply_into(&img, index, &mut b);
            assert_eq!(a, b, "{aa}: image {index} repeatable");
            assert!(a.iter().all(|v| v.is_finite()));
        }
    }
}
