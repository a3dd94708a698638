//! Parity of `dpn::augment`'s AutoAugment/RandAugment ops with timm 1.0.29 on
//! Pillow 13.0.0 (tests/py/augment_reference.py), byte for byte.
//!
//! The Python run computes, for every op of `NAME_TO_OP`, at magnitudes 0..=10 and 15, both `_randomly_negate` draws, both
//! resample filters and two fill colours, timm's level argument and output on
//! a photograph, a grey image and a palette image (64x48), and on a flat and a
//! 2x3 image; plus direct arguments (90-degree rotations on a square, every
//! posterize bit count, solarize thresholds, enhance factors outside 0..1,
//! Gaussian blur radii up to beyond the image, large translations). Its output is kept under the target's tmp dir, keyed
//! by a hash of the script, so later runs skip Python.

mod common;
use common::python;

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dpn::augment::auto_augment::{AutoAugment, AutoAugmentConfig};
use dpn::augment::geometry::Resample;
use dpn::augment::ops::{apply, level_to_arg, LevelParams, OpArg, OpError, OpInputs, OpName};
use dpn::augment::rand_augment::{LayerDraw, RandAugment, RandHparams};
use dpn::data::decode::RgbImage;
use dpn::data::resize::Filter;
use dpn::data::transform::{normalize_into, ImageTransform, TrainTransform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const SCRIPT: &str = include_str!("py/augment_reference.py");

/// The reference directory, made once per script version.
fn reference() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut h = DefaultHasher::new();
        SCRIPT.hash(&mut h);
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("augment_ops-{:016x}", h.finish()));
        if dir.join("manifest.json").is_file() {
            return dir;
        }
        let tmp = base.join(format!("augment_ops-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_reference.py");
        let out = Command::new(python())
            .arg(&script)
            .arg(&tmp)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
        assert!(
            out.status.success(),
            "augment_reference.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; use its copy.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
}

fn arg_of(case: &Value) -> OpArg {
    match case["arg_kind"].as_str().unwrap() {
        "none" => OpArg::None,
        "int" => OpArg::Int(case["arg"].as_i64().unwrap()),
        "float" => OpArg::Float(case["arg"].as_f64().unwrap()),
        k => panic!("arg_kind {k}"),
    }
}

#[test]
fn ops_match_timm_byte_for_byte() {
    let dir = reference();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let inputs = std::fs::read(dir.join("images.bin")).unwrap();
    let expected = std::fs::read(dir.join("expected.bin")).unwrap();

    let mut images = BTreeMap::new();
    for im in manifest["images"].as_array().unwrap() {
        let (w, h) = (
            im["w"].as_u64().unwrap() as usize,
            im["h"].as_u64().unwrap() as usize,
        );
        let o = im["offset"].as_u64().unwrap() as usize;
        let img = RgbImage::from_raw(w, h, inputs[o..o + w * h * 3].to_vec()).unwrap();
        images.insert(im["name"].as_str().unwrap().to_string(), img);
    }

    let cases = manifest["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    // Per op: cases checked, and on which filters.
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for case in cases {
        let name = case["op"].as_str().unwrap();
        let op = OpName::parse(name).unwrap_or_else(|| panic!("unknown op {name}"));
        let img = &images[case["image"].as_str().unwrap()];
        let want_arg = arg_of(case);
        let negate = case["negate"].as_bool().unwrap();
        let what = format!(
            "{name} on {} magnitude {} negate {negate} {} fill {} arg {want_arg:?}",
            case["image"], case["magnitude"], case["resample"], case["fill"]
        );
        if let Some(m) = case["magnitude"].as_f64() {
            let params = LevelParams {
                translate_const: case["translate_const"].as_f64().unwrap(),
                ..LevelParams::default()
            };
            let got = level_to_arg(op, m, &params, negate);
            if got != want_arg {
                failures.push(format!("{what}: level_to_arg gave {got:?}"));
                continue;
            }
        }
        let resample = match case["resample"].as_str() {
            Some("bilinear") => Resample::Bilinear,
            Some("bicubic") | None => Resample::Bicubic,
            Some(r) => panic!("resample {r}"),
        };
        let fill: Vec<u8> = case["fill"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let inputs = OpInputs {
            resample,
            fill: [fill[0], fill[1], fill[2]],
            blur_u: case["blur_u"].as_f64().unwrap(),
        };
        let got = apply(op, img, want_arg, &inputs);
        match (got, case["offset"].as_u64()) {
            (Ok(out), Some(o)) => {
                let o = o as usize;
                let want = &expected[o..o + img.data.len()];
                if out.data != want {
                    let diffs = out.data.iter().zip(want).filter(|(a, b)| a != b).count();
                    let max = out
                        .data
                        .iter()
                        .zip(want)
                        .map(|(&a, &b)| a.abs_diff(b))
                        .max()
                        .unwrap();
                    failures.push(format!("{what}: {diffs} bytes differ, by up to {max}"));
                }
            }
            (Err(OpError::Posterize(_)), None) => {}
            (Ok(_), None) => failures.push(format!("{what}: timm raised {}", case["error"])),
            (Err(e), _) => failures.push(format!("{what}: dpn failed: {e}")),
        }
        *checked.entry(name.to_string()).or_default() += 1;
    }
    eprintln!("checked {} cases: {checked:?}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from timm:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(40)].join("\n")
    );
    // Every op was exercised.
    for op in OpName::ALL {
        assert!(checked.contains_key(op.name()), "{op} not covered");
    }
}

fn resample_name(r: Option<Resample>) -> Value {
    match r {
        None => Value::Null,
        Some(Resample::Bilinear) => "bilinear".into(),
        Some(Resample::Bicubic) => "bicubic".into(),
    }
}

/// dpn's RandAugment draws, replayed through timm's `rand_augment_transform`
/// and `RandAugment` (augment_reference.py --replay): the same parsed config,
/// the same bytes, the same Posterize errors.
#[test]
fn rand_augment_replays_through_timm() {
    let dir = reference();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let inputs = std::fs::read(dir.join("images.bin")).unwrap();
    let image = |name: &str| {
        let im = manifest["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|im| im["name"] == name)
            .unwrap();
        let (w, h) = (
            im["w"].as_u64().unwrap() as usize,
            im["h"].as_u64().unwrap() as usize,
        );
        let o = im["offset"].as_u64().unwrap() as usize;
        RgbImage::from_raw(w, h, inputs[o..o + w * h * 3].to_vec()).unwrap()
    };
    let configs: [(&str, Option<Resample>); 7] = [
        ("rand-m9-mstd0.5-inc1", None),
        ("rand-m9-mstd0.5", None),
        ("rand-m7-n3-mstd101-mmax15-p0.8", None),
        ("rand-m15-n4-mmax20-inc1-p1.0", Some(Resample::Bilinear)),
        ("rand-m9-n2-t3a-mstd1", None),
        ("rand-m10-tweights-n3-mstd1", Some(Resample::Bicubic)),
        ("rand-m6-n3-t3aw-p0.9", None),
    ];
    let fill = dpn::augment::ops::fill_from_mean([0.485, 0.456, 0.406]);
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (config, interpolation) in configs {
        let hparams = RandHparams {
            level: LevelParams {
                translate_const: 21.0,
                ..LevelParams::default()
            },
            fill,
            interpolation,
        };
        let ra = RandAugment::parse(config, hparams).unwrap();
        for k in 0..8 {
            let name = ["astronaut", "chelsea_palette", "camera_grey"][k % 3];
            let draws = ra.draw(&mut rng);
            let layers: Vec<Value> = draws
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "op": d.op, "gate": d.gate, "magnitude": d.magnitude,
                        "negate": d.negate, "resample": resample_name(d.resample),
                        "blur_u": d.blur_u,
                    })
                })
                .collect();
            cases.push(serde_json::json!({
                "config": config, "translate_const": 21, "img_mean": fill,
                "interpolation": resample_name(interpolation), "image": name,
                "layers": layers,
            }));
            ours.push((config, ra.clone(), ra.apply(&image(name), &draws)));
        }
    }
    let work = tempfile::tempdir().unwrap();
    let cases_path = work.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_reference.py");
    let out = Command::new(python())
        .arg(&script)
        .arg("--replay")
        .arg(dir)
        .arg(&cases_path)
        .arg(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "augment_reference.py --replay failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("results.json")).unwrap()).unwrap();
    let expected = std::fs::read(work.path().join("expected.bin")).unwrap();
    let mut errors = 0;
    for (i, ((config, ra, got), r)) in ours.iter().zip(results.as_array().unwrap()).enumerate() {
        let p = &r["parsed"];
        let names: Vec<&str> = ra.ops.iter().map(|o| o.name()).collect();
        let timm_names: Vec<&str> = p["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, timm_names, "{config}");
        assert_eq!(
            ra.num_layers as u64,
            p["num_layers"].as_u64().unwrap(),
            "{config}"
        );
        assert_eq!(ra.prob, p["prob"].as_f64().unwrap(), "{config}");
        assert_eq!(ra.magnitude, p["magnitude"].as_f64().unwrap(), "{config}");
        match p["magnitude_std"].as_str() {
            Some("inf") => assert!(ra.magnitude_std.is_infinite(), "{config}"),
            _ => assert_eq!(
                ra.magnitude_std,
                p["magnitude_std"].as_f64().unwrap(),
                "{config}"
            ),
        }
        assert_eq!(ra.magnitude_max, p["magnitude_max"].as_f64(), "{config}");
        match (&ra.weights, p["weights"].as_array()) {
            (None, None) => {}
            (Some(w), Some(t)) => {
                for (a, b) in w.iter().zip(t) {
                    assert!((a - b.as_f64().unwrap()).abs() < 1e-15, "{config}: weights");
                }
            }
            other => panic!("{config}: weights {other:?}"),
        }
        match (got, r["offset"].as_u64()) {
            (Ok(img), Some(o)) => {
                let o = o as usize;
                assert!(
                    img.data == expected[o..o + img.data.len()],
                    "case {i} ({config}): {:?}",
                    cases[i]["layers"]
                );
            }
            (Err(OpError::Posterize(_)), None) => errors += 1,
            (got, _) => panic!(
                "case {i} ({config}): dpn {:?}, timm error {}",
                got.as_ref().map(|_| "ok"),
                r["error"]
            ),
        }
    }
    eprintln!("{} RandAugment replays, {errors} raised", ours.len());
}

/// An image of the reference directory `dir` by name.
fn ref_image(dir: &Path, name: &str) -> RgbImage {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let inputs = std::fs::read(dir.join("images.bin")).unwrap();
    let im = manifest["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|im| im["name"] == name)
        .unwrap();
    let (w, h) = (
        im["w"].as_u64().unwrap() as usize,
        im["h"].as_u64().unwrap() as usize,
    );
    let o = im["offset"].as_u64().unwrap() as usize;
    RgbImage::from_raw(w, h, inputs[o..o + w * h * 3].to_vec()).unwrap()
}

/// Runs augment_reference.py `flag` (--replay or --replay-auto) on `cases`
/// over `ref_dir`'s images: timm's results and expected bytes.
fn replay(flag: &str, ref_dir: &Path, cases: &[Value]) -> (Vec<Value>, Vec<u8>) {
    let work = tempfile::tempdir().unwrap();
    let cases_path = work.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(cases).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_reference.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(flag)
        .arg(ref_dir)
        .arg(&cases_path)
        .arg(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "augment_reference.py {flag} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("results.json")).unwrap()).unwrap();
    let expected = std::fs::read(work.path().join("expected.bin")).unwrap();
    (results.as_array().unwrap().clone(), expected)
}

fn layer_json(d: &LayerDraw) -> Value {
    serde_json::json!({
        "op": d.op, "gate": d.gate, "magnitude": d.magnitude,
        "negate": d.negate, "resample": resample_name(d.resample),
        "blur_u": d.blur_u,
    })
}

/// dpn's AutoAugment policies and draws, replayed through timm's
/// `auto_augment_transform` and `AutoAugment` (augment_reference.py
/// --replay-auto): the same policies (ops, probabilities, magnitudes), the
/// same bytes, the same Posterize errors (timm on Pillow 13 raises for v0's
/// Posterize at magnitude 2 and the research variants at 10).
#[test]
fn auto_augment_replays_through_timm() {
    let dir = reference();
    let configs: [(&str, Option<Resample>); 7] = [
        ("original", None),
        ("originalr-mstd0.5", None),
        ("v0", None),
        ("v0r-mstd1", Some(Resample::Bilinear)),
        ("v0-mstd0.5", Some(Resample::Bicubic)),
        ("3a", None),
        ("3a-mstd2", None),
    ];
    let fill = dpn::augment::ops::fill_from_mean([0.485, 0.456, 0.406]);
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (config, interpolation) in configs {
        let hparams = RandHparams {
            level: LevelParams {
                translate_const: 21.0,
                ..LevelParams::default()
            },
            fill,
            interpolation,
        };
        let a = AutoAugment::parse(config, hparams).unwrap();
        for k in 0..12 {
            let name = ["astronaut", "chelsea_palette", "camera_grey"][k % 3];
            let d = a.draw(&mut rng);
            cases.push(serde_json::json!({
                "config": config, "translate_const": 21, "img_mean": fill,
                "interpolation": resample_name(interpolation), "image": name,
                "sub_policy": d.sub_policy,
                "layers": d.ops.iter().map(layer_json).collect::<Vec<_>>(),
            }));
            ours.push((config, a.clone(), a.apply(&ref_image(dir, name), &d)));
        }
    }
    let (results, expected) = replay("--replay-auto", dir, &cases);
    let (mut errors, mut applied) = (0, 0);
    for (i, ((config, a, got), r)) in ours.iter().zip(&results).enumerate() {
        let p = &r["parsed"];
        let timm_policy: Vec<Vec<(String, f64, f64)>> = p["policy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sp| {
                sp.as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        (
                            o[0].as_str().unwrap().to_string(),
                            o[1].as_f64().unwrap(),
                            o[2].as_f64().unwrap(),
                        )
                    })
                    .collect()
            })
            .collect();
        let policy: Vec<Vec<(String, f64, f64)>> = a
            .policy
            .iter()
            .map(|sp| {
                sp.iter()
                    .map(|&(o, p, m)| (o.name().into(), p, m))
                    .collect()
            })
            .collect();
        assert_eq!(policy, timm_policy, "{config}");
        assert_eq!(
            a.magnitude_std,
            p["magnitude_std"].as_f64().unwrap(),
            "{config}"
        );
        assert!(p["magnitude_max"].is_null());
        match (got, r["offset"].as_u64()) {
            (Ok(img), Some(o)) => {
                let o = o as usize;
                assert!(
                    img.data == expected[o..o + img.data.len()],
                    "case {i} ({config}): {}",
                    cases[i]
                );
                applied += 1;
            }
            (Err(OpError::Posterize(_)), None) => errors += 1,
            (got, _) => panic!(
                "case {i} ({config}): dpn {:?}, timm error {}",
                got.as_ref().map(|_| "ok"),
                r["error"]
            ),
        }
    }
    assert!(applied > 60, "{applied}");
    eprintln!("{} AutoAugment replays, {errors} raised", ours.len());
}

/// `dpn train`'s TrainTransform with `--aa rand-m9-mstd0.5-inc1` and
/// `--train-interpolation random`: its normalized output equals timm's own
/// RandAugment (replayed with the draws the image's generator makes after
/// the crop, filter choice and flip) applied to the same crop and flip, then
/// normalized. Where timm raises (PosterizeIncreasing at magnitude 10 on
/// Pillow 13), dpn gives what Pillow < 13 gave, a black image from that op on.
#[test]
fn train_transform_rand_augment_matches_timm() {
    let dir = reference();
    let photo = ref_image(dir, "astronaut");
    let mean = [0.485, 0.456, 0.406];
    let size = 40;
    let hparams = RandHparams {
        level: LevelParams {
            translate_const: (size as f64 * 0.45).floor(),
            ..LevelParams::default()
        },
        fill: dpn::augment::ops::fill_from_mean(mean),
        interpolation: None,
    };
    let ra = RandAugment::parse("rand-m9-mstd0.5-inc1", hparams).unwrap();
    let mut tf = TrainTransform {
        size,
        scale: (0.08, 1.0),
        ratio: (3.0 / 4.0, 4.0 / 3.0),
        hflip: 0.5,
        vflip: 0.0,
        filter: Filter::Bicubic,
        random_interpolation: true,
        mean: mean.map(|v| v as f32),
        std: [0.229, 0.224, 0.225],
        auto_augment: None,
        erasing: None,
        color_jitter: None,
        grayscale: 0.0,
        gaussian_blur: None,
        seed: 9,
    };
    let aa = AutoAugmentConfig::parse("rand-m9-mstd0.5-inc1", hparams).unwrap();
    assert_eq!(aa, AutoAugmentConfig::Rand(ra.clone()));
    // The crops and flips, as files for the replay.
    let work = tempfile::tempdir().unwrap();
    let (mut images, mut bytes, mut cases, mut draws) = (vec![], vec![], vec![], vec![]);
    let n = 16;
    for index in 0..n {
        let mut rng = tf.rng_for(index);
        let crop = tf.crop_flip(&photo, &mut rng);
        let d = ra.draw(&mut rng);
        let name = format!("crop{index}");
        images.push(serde_json::json!({
            "name": name, "w": crop.width, "h": crop.height, "offset": bytes.len()
        }));
        bytes.extend_from_slice(&crop.data);
        cases.push(serde_json::json!({
            "config": "rand-m9-mstd0.5-inc1", "translate_const": hparams.level.translate_const as i64,
            "img_mean": hparams.fill, "interpolation": Value::Null, "image": name,
            "layers": d.iter().map(layer_json).collect::<Vec<_>>(),
        }));
        draws.push((crop, d));
    }
    std::fs::write(work.path().join("images.bin"), &bytes).unwrap();
    std::fs::write(
        work.path().join("manifest.json"),
        serde_json::to_vec(&serde_json::json!({ "images": images })).unwrap(),
    )
    .unwrap();
    let (results, expected) = replay("--replay", work.path(), &cases);
    tf.auto_augment = Some(std::sync::Arc::new(aa));
    let plane = 3 * size * size;
    let mut black = 0;
    for (index, ((crop, d), r)) in draws.iter().zip(&results).enumerate() {
        let mut got = vec![0f32; plane];
        tf.apply_into(&photo, index, &mut got);
        let mut want = vec![0f32; plane];
        match r["offset"].as_u64() {
            Some(o) => {
                let o = o as usize;
                let img = RgbImage::from_raw(size, size, expected[o..o + size * size * 3].to_vec())
                    .unwrap();
                normalize_into(&img, tf.mean, tf.std, &mut want);
            }
            None => {
                // timm raised: dpn's strict ops raise too, training goes on.
                assert!(matches!(ra.apply(crop, d), Err(OpError::Posterize(_))));
                normalize_into(&ra.apply_training(crop, d), tf.mean, tf.std, &mut want);
                black += 1;
            }
        }
        assert_eq!(got, want, "image {index}: {d:?}");
    }
    eprintln!("{n} TrainTransform images, {black} with timm's posterize error");
}

/// As [`train_transform_rand_augment_matches_timm`], for an AutoAugment
/// policy with `--train-interpolation bilinear` (the crop's filter and the
/// ops', no draw for either): `--aa v0r-mstd0.5`.
#[test]
fn train_transform_auto_augment_matches_timm() {
    let dir = reference();
    let photo = ref_image(dir, "chelsea_palette");
    let mean = [0.5, 0.5, 0.5];
    let size = 36;
    let hparams = RandHparams {
        level: LevelParams {
            translate_const: (size as f64 * 0.45).floor(),
            ..LevelParams::default()
        },
        fill: dpn::augment::ops::fill_from_mean(mean),
        interpolation: Some(Resample::Bilinear),
    };
    let a = AutoAugment::parse("v0r-mstd0.5", hparams).unwrap();
    let mut tf = TrainTransform {
        size,
        scale: (0.08, 1.0),
        ratio: (3.0 / 4.0, 4.0 / 3.0),
        hflip: 0.5,
        vflip: 0.0,
        filter: Filter::Bilinear,
        random_interpolation: false,
        mean: mean.map(|v| v as f32),
        std: [0.5, 0.5, 0.5],
        auto_augment: None,
        erasing: None,
        color_jitter: None,
        grayscale: 0.0,
        gaussian_blur: None,
        seed: 31,
    };
    let work = tempfile::tempdir().unwrap();
    let (mut images, mut bytes, mut cases, mut draws) = (vec![], vec![], vec![], vec![]);
    let n = 24;
    for index in 0..n {
        let mut rng = tf.rng_for(index);
        let crop = tf.crop_flip(&photo, &mut rng);
        let d = a.draw(&mut rng);
        let name = format!("crop{index}");
        images.push(serde_json::json!({
            "name": name, "w": crop.width, "h": crop.height, "offset": bytes.len()
        }));
        bytes.extend_from_slice(&crop.data);
        cases.push(serde_json::json!({
            "config": "v0r-mstd0.5", "translate_const": hparams.level.translate_const as i64,
            "img_mean": hparams.fill, "interpolation": "bilinear", "image": name,
            "sub_policy": d.sub_policy,
            "layers": d.ops.iter().map(layer_json).collect::<Vec<_>>(),
        }));
        draws.push((crop, d));
    }
    std::fs::write(work.path().join("images.bin"), &bytes).unwrap();
    std::fs::write(
        work.path().join("manifest.json"),
        serde_json::to_vec(&serde_json::json!({ "images": images })).unwrap(),
    )
    .unwrap();
    let (results, expected) = replay("--replay-auto", work.path(), &cases);
    tf.auto_augment = Some(std::sync::Arc::new(AutoAugmentConfig::Auto(a.clone())));
    let plane = 3 * size * size;
    let mut raised = 0;
    for (index, ((crop, d), r)) in draws.iter().zip(&results).enumerate() {
        let mut got = vec![0f32; plane];
        tf.apply_into(&photo, index, &mut got);
        let mut want = vec![0f32; plane];
        match r["offset"].as_u64() {
            Some(o) => {
                let o = o as usize;
                let img = RgbImage::from_raw(size, size, expected[o..o + size * size * 3].to_vec())
                    .unwrap();
                normalize_into(&img, tf.mean, tf.std, &mut want);
            }
            None => {
                assert!(matches!(a.apply(crop, d), Err(OpError::Posterize(_))));
                normalize_into(&a.apply_training(crop, d), tf.mean, tf.std, &mut want);
                raised += 1;
            }
        }
        assert_eq!(got, want, "image {index}: {d:?}");
    }
    eprintln!("{n} TrainTransform images (v0r), {raised} with timm's posterize error");
}

/// dpn's AugMix draws, replayed through timm's `augment_and_mix_transform`
/// and `AugMixAugment` (augment_reference.py --replay-augmix) on the train
/// transform's crops: the same parsed config, the same bytes (basic and
/// blended modes), and the train transform's output is their normalization.
#[test]
fn augmix_replays_through_timm() {
    let dir = reference();
    let photo = ref_image(dir, "astronaut");
    let mean = [0.485, 0.456, 0.406];
    let size = 32;
    let configs: [(&str, Option<Resample>); 4] = [
        ("augmix-m3-w3", None),
        ("augmix-m5-w4-d2-mstd0.5", Some(Resample::Bicubic)),
        ("augmix-m3-w3-b1", None),
        ("augmix-m9-a0.5-w2-mstd3", None),
    ];
    let work = tempfile::tempdir().unwrap();
    let (mut images, mut bytes, mut cases, mut ours) = (vec![], vec![], vec![], vec![]);
    for (ci, (config, interpolation)) in configs.into_iter().enumerate() {
        let hparams = RandHparams {
            level: LevelParams {
                translate_const: (size as f64 * 0.45).floor(),
                ..LevelParams::default()
            },
            fill: dpn::augment::ops::fill_from_mean(mean),
            interpolation,
        };
        let am = match AutoAugmentConfig::parse(config, hparams).unwrap() {
            AutoAugmentConfig::AugMix(am) => am,
            other => panic!("{config}: {other:?}"),
        };
        let tf = TrainTransform {
            size,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: 0.5,
            vflip: 0.0,
            filter: Filter::Bicubic,
            random_interpolation: true,
            mean: mean.map(|v| v as f32),
            std: [0.229, 0.224, 0.225],
            auto_augment: Some(std::sync::Arc::new(AutoAugmentConfig::AugMix(am.clone()))),
            erasing: None,
            color_jitter: None,
            grayscale: 0.0,
            gaussian_blur: None,
            seed: 50 + ci as u64,
        };
        for index in 0..6 {
            let mut rng = tf.rng_for(index);
            let crop = tf.crop_flip(&photo, &mut rng);
            let d = am.draw(&mut rng);
            let name = format!("crop{ci}-{index}");
            images.push(serde_json::json!({
                "name": name, "w": crop.width, "h": crop.height, "offset": bytes.len()
            }));
            bytes.extend_from_slice(&crop.data);
            cases.push(serde_json::json!({
                "config": config, "translate_const": hparams.level.translate_const as i64,
                "img_mean": hparams.fill, "interpolation": resample_name(interpolation),
                "image": name, "weights": d.weights, "m": d.m,
                "chains": d.chains.iter().map(|c| c.iter().map(layer_json).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            }));
            let mut got = vec![0f32; 3 * size * size];
            tf.apply_into(&photo, index, &mut got);
            ours.push((config, am.clone(), am.apply(&crop, &d), got));
        }
    }
    std::fs::write(work.path().join("images.bin"), &bytes).unwrap();
    std::fs::write(
        work.path().join("manifest.json"),
        serde_json::to_vec(&serde_json::json!({ "images": images })).unwrap(),
    )
    .unwrap();
    let (results, expected) = replay("--replay-augmix", work.path(), &cases);
    let mut raised = 0;
    for (i, ((config, am, strict, got), r)) in ours.iter().zip(&results).enumerate() {
        let p = &r["parsed"];
        let names: Vec<&str> = am.ops.iter().map(|o| o.name()).collect();
        let timm: Vec<&str> = p["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, timm, "{config}");
        assert_eq!(am.magnitude, p["magnitude"].as_f64().unwrap(), "{config}");
        assert_eq!(p["prob"].as_f64(), Some(1.0));
        assert_eq!(am.width as u64, p["width"].as_u64().unwrap(), "{config}");
        assert_eq!(am.depth, p["depth"].as_i64().unwrap(), "{config}");
        assert_eq!(am.alpha, p["alpha"].as_f64().unwrap(), "{config}");
        assert_eq!(am.blended, p["blended"].as_bool().unwrap(), "{config}");
        assert_eq!(
            am.hparams.level.translate_pct,
            p["translate_pct"].as_f64().unwrap()
        );
        match p["magnitude_std"].as_str() {
            Some("inf") => assert!(am.magnitude_std.is_infinite(), "{config}"),
            _ => assert_eq!(am.magnitude_std, p["magnitude_std"].as_f64().unwrap()),
        }
        match (strict, r["offset"].as_u64()) {
            (Ok(img), Some(o)) => {
                let o = o as usize;
                assert!(
                    img.data == expected[o..o + img.data.len()],
                    "case {i} ({config}): {}",
                    cases[i]
                );
                let mut want = vec![0f32; got.len()];
                normalize_into(
                    img,
                    mean.map(|v| v as f32),
                    [0.229, 0.224, 0.225],
                    &mut want,
                );
                assert_eq!(got, &want, "case {i} ({config}): the train transform");
            }
            (Err(OpError::Posterize(_)), None) => raised += 1,
            (s, _) => panic!(
                "case {i} ({config}): dpn {:?}, timm error {}",
                s.as_ref().map(|_| "ok"),
                r["error"]
            ),
        }
    }
    eprintln!("{} AugMix replays, {raised} raised", ours.len());
}
