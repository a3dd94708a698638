//! `dpn train --vflip`, `--color-jitter`, `--color-jitter-prob` and
//! `--grayscale-prob`: the train transform replayed through timm 1.0.29's own
//! `transforms_imagenet_train` (its RandomVerticalFlip, [RandomApply of]
//! ColorJitter and RandomGrayscale, tests/py/color_reference.py) on
//! scikit-image's photographs, byte for byte on the RGB8 image `ToTensor`
//! receives; a short CLI run that records the settings, `--resume` refusing a
//! change, and bad values refused before anything is written.

mod common;
use common::python;

use std::path::Path;
use std::process::{Command, Output};

use dpn::augment::color_jitter::ColorJitter;
use dpn::data::decode::RgbImage;
use dpn::data::resize::Filter;
use dpn::data::transform::{normalize_into, ImageTransform, TrainTransform};
use dpn::train::config::TrainConfig;
use rand::Rng;
use serde_json::{json, Value};

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

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/color_reference.py")
}

fn run_py(args: &[&Path]) {
    let out = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "color_reference.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The photographs, as color_reference.py --images writes them.
fn photos(dir: &Path) -> Vec<(String, RgbImage)> {
    run_py(&[Path::new("--images"), dir]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("images.bin")).unwrap();
    manifest["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|im| {
            let (w, h, o) = (
                im["w"].as_u64().unwrap() as usize,
                im["h"].as_u64().unwrap() as usize,
                im["offset"].as_u64().unwrap() as usize,
            );
            let img = RgbImage::from_raw(w, h, bytes[o..o + w * h * 3].to_vec()).unwrap();
            (im["name"].as_str().unwrap().to_string(), img)
        })
        .collect()
}

/// `TrainTransform` with `--vflip`, colour jitter and `--grayscale-prob`:
/// after the crop and horizontal flip (unchanged by them), vflip's uniform,
/// the jitter's draws (`ColorJitter::draw`), grayscale's uniform, each only
/// when set; timm's own transforms given those draws as `torch.rand(1)`,
/// `torch.randperm(4)` and `torch.empty(1).uniform_` give the same bytes.
#[test]
fn train_transform_flip_jitter_and_grayscale_match_timm() {
    let work = tempdir("train-color-");
    let photos = photos(work.path());
    let size = 48;
    let (mut crops, mut cases, mut want) = (vec![], vec![], vec![]);
    for (vflip, gray, jitter) in [
        (0.5, 0.4, None),
        (0.0, 0.6, Some((0.4, None))),
        (0.7, 0.0, Some((0.4, Some(0.6)))),
        (1.0, 1.0, None),
        (0.0, 0.0, Some((1.5, None))),
    ] {
        let cj = jitter.map(|(x, p)| ColorJitter::new(x, p));
        for (pi, (_, photo)) in photos.iter().enumerate() {
            let mut tf = TrainTransform {
                size,
                scale: (0.08, 1.0),
                ratio: (3.0 / 4.0, 4.0 / 3.0),
                hflip: 0.5,
                vflip: 0.0,
                filter: Filter::Bilinear,
                random_interpolation: true,
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
                auto_augment: None,
                erasing: None,
                color_jitter: None,
                grayscale: 0.0,
                gaussian_blur: None,
                seed: 7 + pi as u64,
            };
            let plain = tf.clone();
            tf.vflip = vflip;
            tf.grayscale = gray;
            tf.color_jitter = cj.map(|c| std::sync::Arc::new(c) as _);
            for index in 0..10 {
                // The crop and flip without the new steps, then the draws
                // the generator makes next.
                let mut rng = plain.rng_for(index);
                let crop = plain.crop_flip(photo, &mut rng);
                let mut draws = vec![];
                if vflip > 0.0 {
                    draws.push(json!(["rand", rng.random::<f64>()]));
                }
                if let Some(cj) = &cj {
                    let d = cj.draw(&mut rng);
                    if let Some(u) = d.apply_u {
                        draws.push(json!(["rand", u]));
                    }
                    if d.applied {
                        draws.push(json!(["randperm", d.perm]));
                        let (lo, hi) = cj.range.unwrap();
                        for f in d.factors.unwrap() {
                            draws.push(json!(["uniform", lo, hi, f]));
                        }
                    }
                }
                if gray > 0.0 {
                    draws.push(json!(["rand", rng.random::<f64>()]));
                }
                let got = tf.augment(photo, &mut tf.rng_for(index));
                let mut a = vec![0f32; 3 * size * size];
                let mut b = a.clone();
                tf.apply_into(photo, index, &mut a);
                normalize_into(&got, tf.mean, tf.std, &mut b);
                assert_eq!(a, b, "apply_into normalizes augment's image");
                cases.push(json!({
                    "w": size, "h": size, "offset": crops.len(),
                    "vflip": vflip, "grayscale_prob": gray, "draws": draws,
                    "color_jitter": jitter.map(|j| j.0),
                    "color_jitter_prob": jitter.and_then(|j| j.1),
                }));
                crops.extend_from_slice(&crop.data);
                want.push((vflip, gray, index, got));
            }
        }
    }
    std::fs::write(work.path().join("crops.bin"), &crops).unwrap();
    let cases_path = work.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    run_py(&[
        Path::new("--replay"),
        &cases_path,
        &work.path().join("crops.bin"),
        work.path(),
    ]);
    let results: Vec<Value> =
        serde_json::from_slice(&std::fs::read(work.path().join("results.json")).unwrap()).unwrap();
    let out = std::fs::read(work.path().join("out.bin")).unwrap();
    assert_eq!(results.len(), want.len());
    let (mut flipped, mut grey) = (0, 0);
    for (r, (vflip, gray, index, got)) in results.iter().zip(&want) {
        let o = r["offset"].as_u64().unwrap() as usize;
        let timm = &out[o..o + size * size * 3];
        assert!(
            got.data == timm,
            "vflip {vflip} grayscale {gray} image {index}"
        );
        if got
            .data
            .chunks_exact(3)
            .all(|p| p[0] == p[1] && p[1] == p[2])
        {
            grey += 1;
        }
        flipped += usize::from(*vflip > 0.0);
    }
    assert!(grey > 10 && flipped > 0, "{grey} grey images");
}

/// A short digits run with `--vflip 0.5 --grayscale-prob 0.2
/// --color-jitter-prob 0.8` trains and records them, with `--color-jitter`
/// at timm's default 0.4; `--resume` refuses to change them; settings from
/// before they were recorded load as no vertical flip, no grayscale and no
/// colour jitter; `--aa` (other than 3a) turns the jitter off, as in timm.
#[test]
fn train_with_vflip_and_grayscale_records_its_settings() {
    let tmp = tempdir("train-color-cli-");
    let run = tmp.path().join("run");
    let o = dpn()
        .args(common::digits_train_args(&run, 1, "32"))
        .args(["--lr", "0.05", "--vflip", "0.5", "--grayscale-prob", "0.2"])
        .args(["--color-jitter-prob", "0.8"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(cfg["vflip"], json!(0.5));
    assert_eq!(cfg["grayscale_prob"], json!(0.2));
    assert_eq!(cfg["color_jitter"], json!(0.4));
    assert_eq!(cfg["color_jitter_prob"], json!(0.8));
    let mut parsed: TrainConfig = serde_json::from_value(cfg.clone()).unwrap();
    assert_eq!(
        parsed.color_jitter(),
        Some(ColorJitter::new(0.4, Some(0.8)))
    );
    parsed.aa = Some("rand-m9-mstd0.5".into());
    assert_eq!(parsed.color_jitter(), None, "timm disables it with --aa");
    parsed.aa = Some("3a".into());
    assert!(parsed.color_jitter().is_some(), "but not with 3a");
    let mut older = cfg.clone();
    for k in [
        "vflip",
        "grayscale_prob",
        "color_jitter",
        "color_jitter_prob",
    ] {
        older.as_object_mut().unwrap().remove(k).unwrap();
    }
    let older: TrainConfig = serde_json::from_value(older).unwrap();
    assert_eq!((older.vflip, older.grayscale_prob), (0.0, 0.0));
    assert_eq!((older.color_jitter, older.color_jitter_prob), (0.0, None));
    assert_eq!(older.color_jitter(), None);
    for (flag, value) in [
        ("--vflip", "0.25"),
        ("--grayscale-prob", "0"),
        ("--color-jitter", "0.3"),
        ("--color-jitter-prob", "0.5"),
    ] {
        let o = dpn()
            .arg("train")
            .arg("--resume")
            .arg(&run)
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

/// Probabilities outside [0, 1], a negative or infinite jitter: one line
/// naming the flag, exit code 2, no output folder.
#[test]
fn bad_flip_jitter_and_grayscale_values_are_refused() {
    let tmp = tempdir("train-color-bad-");
    for (i, (flags, needle)) in [
        (&["--vflip", "1.5"][..], "--vflip 1.5"),
        (&["--vflip=-0.1"][..], "--vflip -0.1"),
        (&["--grayscale-prob", "2"][..], "--grayscale-prob 2"),
        (&["--grayscale-prob", "NaN"][..], "--grayscale-prob NaN"),
        (&["--color-jitter=-0.4"][..], "--color-jitter -0.4"),
        (&["--color-jitter", "inf"][..], "--color-jitter inf"),
        (
            &["--color-jitter-prob", "1.1"][..],
            "--color-jitter-prob 1.1",
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
