//! The acceptance run: `dpn train` on real data with no network. scikit-learn's
//! handwritten digits (1,797 images, 8x8 upsampled to 32x32, split 1,437 /
//! 360 by scripts/make_digits.py) train a dpn48b from scratch to at least
//! 95% validation top-1, within five minutes on a 2-core machine. The best
//! checkpoint then loads into timm strictly, and timm's predictions on the
//! validation set (with timm's own eval transform) equal dpn's.
//!
//! A second run adds timm's RA augmentation (RandAugment, pixel erasing,
//! Mixup/CutMix) and must still reach 90%. A third follows timm's
//! EfficientNet recipe (RMSpropTF, step decay every 2.4 epochs, warmup from
//! 1e-6, model EMA, RandAugment): the model and its EMA each reach 90%.
//!
//! Set DPN_TRAIN_DIGITS_OUT=DIR to keep the run's output folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use dpn::data::folders::{ClassIndex, ImageFolder};
use dpn::data::{BatchLoader, EvalTransform, LoaderOptions};
use dpn::model::infer::{self, RunOptions};
use dpn::registry::{Preprocess, Registry};
use tch::{Device, Kind};

/// The recipe (also the README's and scripts/demo.sh's).
#[rustfmt::skip]
const RECIPE: &[&str] = &[
    "-m", "dpn48b", "--img-size", "32", "--crop-pct", "1", "--epochs", "6",
    "--batch-size", "64", "--lr", "0.05", "--warmup-epochs", "1", "--scale", "0.6", "1",
    "--hflip", "0", "--color-jitter", "0", "--seed", "0",
];
const MIN_TOP1: f64 = 95.0;

/// The same run with the augmentation of timm's RA recipe (issue #26's
/// acceptance: RandAugment, pixel-mode random erasing, Mixup and CutMix),
/// which regularizes hard enough to need more epochs.
#[rustfmt::skip]
const RA_RECIPE: &[&str] = &[
    "-m", "dpn48b", "--img-size", "32", "--crop-pct", "1", "--epochs", "EPOCHS_RA",
    "--batch-size", "64", "--lr", "0.05", "--warmup-epochs", "1", "--scale", "0.6", "1",
    "--hflip", "0", "--seed", "0", "--sched-on-updates",
    "--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.25", "--remode", "pixel",
    "--mixup", "0.2", "--cutmix", "1.0",
];
const MIN_TOP1_RA: f64 = 90.0;
const EPOCHS_RA: &str = "15";

/// timm's EfficientNet-style recipe (issue #27's acceptance): RMSpropTF,
/// step decay every 2.4 epochs by 0.97, warmup from 1e-6, the model EMA
/// validated every epoch, RandAugment. timm's `--opt-eps .001` and
/// `--weight-decay 1e-5`; the LR and EMA decay are scaled to 22 updates an
/// epoch (timm's 0.9999 averages over ~10,000 updates, more than this run has).
#[rustfmt::skip]
const RMSPROP_RECIPE: &[&str] = &[
    "-m", "dpn48b", "--img-size", "32", "--crop-pct", "1", "--epochs", "12",
    "--batch-size", "64", "--seed", "0", "--scale", "0.6", "1", "--hflip", "0",
    "--opt", "rmsproptf", "--opt-eps", "0.001", "--lr", "LR_RMSPROP", "--weight-decay", "1e-5",
    "--sched", "step", "--decay-epochs", "2.4", "--decay-rate", "0.97",
    "--warmup-lr", "1e-6", "--warmup-epochs", "2",
    "--model-ema", "--model-ema-decay", "EMA_DECAY",
    "--aa", "rand-m9-mstd0.5-inc1",
];
const LR_RMSPROP: &str = "0.002";
const EMA_DECAY: &str = "0.95";

fn python() -> PathBuf {
    std::env::var_os("DPN_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

/// Held by each training run: two runs at once on a 2-core machine would
/// each start as many libtorch threads as cores, and oversubscribed
/// threads slow both several times over.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Makes the digits into `tmp/digits`, trains `recipe` on them into `out`;
/// the best validation top-1 and the run's metrics.csv.
fn train_digits(tmp: &Path, out: &Path, recipe: &[&str]) -> (f64, String) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let data = tmp.join("digits");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(python())
        .arg(root.join("scripts/make_digits.py"))
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .env("NO_COLOR", "1")
        .arg("train")
        .arg("--data")
        .arg(data.join("train"))
        .arg("--val-data")
        .arg(data.join("val"))
        .args(recipe)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    let seconds = t0.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    eprintln!("{err}{}", String::from_utf8_lossy(&o.stdout));

    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let best = metrics
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(4)?.parse::<f64>().ok())
        .fold(0f64, f64::max);
    eprintln!("digits: best validation top-1 {best:.2}% after {seconds:.0} s");
    (best, metrics)
}

/// timm's RA augmentation still trains: RandAugment, pixel erasing and
/// Mixup/CutMix on the digits reach 90%.
#[test]
fn dpn48b_learns_digits_with_timms_ra_augmentation() {
    let tmp = tempfile::Builder::new()
        .prefix("train-digits-ra-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let out = tmp.path().join("run");
    let recipe: Vec<&str> = RA_RECIPE
        .iter()
        .map(|a| if *a == "EPOCHS_RA" { EPOCHS_RA } else { a })
        .collect();
    let (best, metrics) = train_digits(tmp.path(), &out, &recipe);
    assert!(
        best >= MIN_TOP1_RA,
        "top-1 {best:.2}% < {MIN_TOP1_RA}% with the RA augmentation\n{metrics}"
    );
}

/// The best of a metrics.csv column (by name), over the epochs that have it.
fn best_of(metrics: &str, column: &str) -> Option<f64> {
    let mut lines = metrics.lines();
    let i = lines.next()?.split(',').position(|c| c == column)?;
    lines
        .filter_map(|l| l.split(',').nth(i)?.parse::<f64>().ok())
        .reduce(f64::max)
}

/// timm's RMSpropTF recipe with the model EMA trains; both the model and
/// its EMA are validated every epoch, and the EMA is as good as the model
/// once it has averaged the last epochs.
#[test]
fn dpn48b_learns_digits_with_timms_rmsproptf_ema_recipe() {
    let tmp = tempfile::Builder::new()
        .prefix("train-digits-rmsprop-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let out = tmp.path().join("run");
    let recipe: Vec<&str> = RMSPROP_RECIPE
        .iter()
        .map(|a| match *a {
            "LR_RMSPROP" => LR_RMSPROP,
            "EMA_DECAY" => EMA_DECAY,
            a => a,
        })
        .collect();
    let (best, metrics) = train_digits(tmp.path(), &out, &recipe);
    let ema = best_of(&metrics, "ema_top1").expect("metrics.csv reports the EMA's top-1");
    eprintln!("digits, rmsproptf + EMA: model {best:.2}%, EMA {ema:.2}%");
    assert!(
        best >= MIN_TOP1_RA,
        "model top-1 {best:.2}% < {MIN_TOP1_RA}%\n{metrics}"
    );
    assert!(
        ema >= MIN_TOP1_RA,
        "EMA top-1 {ema:.2}% < {MIN_TOP1_RA}%\n{metrics}"
    );
}

#[test]
fn dpn48b_learns_digits_and_timm_agrees() {
    let tmp = tempfile::Builder::new()
        .prefix("train-digits-full-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let data = tmp.path().join("digits");
    let out = std::env::var_os("DPN_TRAIN_DIGITS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("run"));
    let _ = std::fs::remove_dir_all(&out);
    let (best, metrics) = train_digits(tmp.path(), &out, RECIPE);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        best >= MIN_TOP1,
        "top-1 {best:.2}% < {MIN_TOP1}%\n{metrics}"
    );
    // The time is reported, not asserted: speed is measured by the
    // benchmarks against timm (bench/), and a loaded machine is slower.

    // timm: strict load, its own eval transform, predictions.
    let weights = out.join("best/model.safetensors");
    let json = tmp.path().join("timm.json");
    let o = Command::new(python())
        .arg(root.join("tests/py/train_timm_check.py"))
        .args(["dpn48b"])
        .arg(&weights)
        .arg(data.join("val"))
        .args(["32", "1.0"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let timm: HashMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // dpn, in-process, on the same files.
    let registry = Registry::load(None).unwrap();
    let spec = registry.get("dpn48b").unwrap();
    let loaded = dpn::weights::load::load_model(&registry, spec, &weights, Device::Cpu).unwrap();
    let val = ImageFolder::scan(&data.join("val"), ClassIndex::Folders).unwrap();
    let pp = Preprocess {
        image_size: 32,
        crop_pct: 1.0,
        ..spec.preprocess.clone()
    };
    let opts = RunOptions::new(Device::Cpu, Default::default(), false).unwrap();
    let loader = BatchLoader::new(
        val.items.clone(),
        Arc::new(EvalTransform::from_preprocess(&pp)),
        LoaderOptions {
            batch_size: 64,
            workers: 2,
            prefetch: 2,
        },
    )
    .unwrap();
    let (mut n, mut disagree, mut max_diff) = (0, 0, 0f64);
    for batch in loader {
        let batch = batch.unwrap();
        let logits = infer::infer(&loaded.model, &batch.images, &opts).to_kind(Kind::Double);
        for (i, path) in batch.paths.iter().enumerate() {
            let theirs: Vec<f64> = timm[&path.display().to_string()]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let ours = Vec::<f64>::try_from(logits.get(i as i64)).unwrap();
            let argmax = |v: &[f64]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
            if argmax(&ours) != argmax(&theirs) {
                disagree += 1;
            }
            for (a, b) in ours.iter().zip(&theirs) {
                max_diff = max_diff.max((a - b).abs());
            }
            n += 1;
        }
    }
    eprintln!(
        "timm vs dpn on {n} validation images: {disagree} different predictions, max logit difference {max_diff:.2e}; timm top-1 {}",
        timm["top1"]
    );
    assert_eq!(n, 360);
    assert_eq!(disagree, 0);
    assert!(max_diff < 1e-3, "logits differ by {max_diff}");
}
