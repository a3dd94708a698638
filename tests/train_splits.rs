//! Augmentation splits (`--aug-splits N`, `--jsd-loss`) and repeated
//! augmentation (`--aug-repeats`), against timm:
//!
//! * the JSD loss and its gradient equal timm's `JsdCrossEntropy` on the
//!   same logits (tests/py/splits_reference.py);
//! * `dist::shard::repeat_share` gives every rank the indices timm's
//!   `RepeatAugSampler` gives it;
//! * `dpn augment --aug-splits 3 --explain`: every view replays through
//!   timm's ops from the shared crop to dpn's bytes;
//! * `dpn train`: the batch an update trains on is split-major with the
//!   labels repeated, its clean split is what a run without splits feeds;
//!   with `--aug-repeats 3` each image comes three times in a row; bad
//!   combinations are one line, exit 2, nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dpn::dist::shard::repeat_share;
use dpn::train::jsd::jsd_cross_entropy;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

mod common;

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/splits_reference.py")
}

/// Runs `python ARGS` with `stdin`; its stdout.
fn python(args: &[&std::ffi::OsStr], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(common::python())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn jsd_loss_and_gradient_match_timm() {
    // (splits, smoothing, batch, classes)
    let cases = [
        (2usize, 0.0, 4i64, 5i64),
        (3, 0.1, 4, 7),
        (3, 0.0, 6, 10),
        (4, 0.2, 2, 3),
    ];
    tch::manual_seed(3);
    let tmp = tempdir("train-splits-jsd-");
    let mut inputs: Vec<(String, Tensor)> = Vec::new();
    for (k, &(splits, _, b, c)) in cases.iter().enumerate() {
        let n = splits as i64 * b;
        // Wide logits, so that the mixture clamp at 1e-7 comes into play.
        let logits = Tensor::randn([n, c], (Kind::Double, Device::Cpu)) * 6.0;
        let y = Tensor::randint(c, [b], (Kind::Int64, Device::Cpu)).repeat([splits as i64]);
        inputs.push((format!("logits.{k}"), logits));
        inputs.push((format!("targets.{k}"), y));
    }
    let src = tmp.path().join("in.safetensors");
    let dst = tmp.path().join("out.safetensors");
    Tensor::write_safetensors(&inputs, &src).unwrap();
    let spec: Vec<Value> = cases
        .iter()
        .map(|&(splits, smoothing, _, _)| json!({"splits": splits, "smoothing": smoothing}))
        .collect();
    python(
        &[
            script().as_os_str(),
            "jsd".as_ref(),
            src.as_os_str(),
            dst.as_os_str(),
        ],
        &Value::from(spec).to_string(),
    );
    let want: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&dst)
        .unwrap()
        .into_iter()
        .collect();
    for (k, &(splits, smoothing, _, _)) in cases.iter().enumerate() {
        let logits = inputs[2 * k].1.detach().set_requires_grad(true);
        let loss = jsd_cross_entropy(&logits, &inputs[2 * k + 1].1, splits, smoothing).unwrap();
        loss.backward();
        let (got, exp) = (
            loss.double_value(&[]),
            want[&format!("loss.{k}")].double_value(&[]),
        );
        assert!(
            (got - exp).abs() <= 1e-12 * exp.abs().max(1.0),
            "case {k}: loss {got} vs timm {exp}"
        );
        let grad_diff = (logits.grad() - &want[&format!("grad.{k}")])
            .abs()
            .max()
            .double_value(&[]);
        assert!(grad_diff <= 1e-12, "case {k}: gradient off by {grad_diff}");
    }
}

#[test]
fn repeat_share_is_timms_repeat_aug_sampler() {
    // (images, repeats, world)
    let cases = [
        (600usize, 3.0, 1usize),
        (600, 3.0, 2),
        (600, 3.0, 4),
        (1000, 2.5, 2),
        (700, 1.5, 3),
        (513, 1.0, 1),
        (256, 4.0, 1),
        (300, 2.0, 2),
    ];
    let spec: Vec<Value> = cases
        .iter()
        .map(|&(n, repeats, world)| json!({"n": n, "repeats": repeats, "world": world}))
        .collect();
    let out = python(
        &[script().as_os_str(), "repeat".as_ref()],
        &Value::from(spec).to_string(),
    );
    let want: Vec<Vec<Vec<usize>>> = serde_json::from_str(&out).unwrap();
    for (&(n, repeats, world), ranks) in cases.iter().zip(want) {
        let order: Vec<usize> = (0..n).collect();
        for (rank, w) in ranks.iter().enumerate() {
            assert_eq!(
                &repeat_share(&order, repeats, rank, world),
                w,
                "{n} images, {repeats} repeats, rank {rank} of {world}"
            );
        }
    }
}

fn photos() -> Vec<PathBuf> {
    let dir = python(
        &[
            "-c".as_ref(),
            "import skimage, os; print(os.path.dirname(skimage.__file__))".as_ref(),
        ],
        "",
    );
    let dir = PathBuf::from(dir.trim()).join("data");
    ["astronaut.png", "camera.png"]
        .iter()
        .map(|f| dir.join(f))
        .collect()
}

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each of the three views (the clean crop and two RandAugment chains on
/// it, then random erasing on each) replays through timm from the crop and
/// flips they share.
#[test]
fn augment_splits_replay_through_timm() {
    let tmp = tempdir("train-splits-augment-");
    let out = tmp.path().join("out");
    let steps = tmp.path().join("steps.jsonl");
    let o = dpn()
        .args([
            "augment",
            "-m",
            "dpn68",
            "-k",
            "2",
            "-q",
            "--img-size",
            "64",
        ])
        .args(["--aug-splits", "3", "--aa", "rand-m9-mstd0.5-inc1"])
        .args(["--reprob", "0.5", "--remode", "const", "--seed", "5"])
        .arg("-o")
        .arg(&out)
        .arg("--explain")
        .arg(&steps)
        .args(photos())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let records: Vec<Value> = std::fs::read_to_string(&steps)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2 * 2 * 3);
    for r in &records {
        let (i, k, j) = (&r["image"], &r["version"], r["split"].as_u64().unwrap());
        let base = records
            .iter()
            .find(|b| b["image"] == *i && b["version"] == *k && b["split"] == 0)
            .unwrap();
        assert_eq!(r["crop"], base["crop"], "the views share the crop");
        assert_eq!(r["hflip"], base["hflip"]);
        let aa = r["ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|op| op["op"] != "RandomErasing")
            .count();
        assert_eq!(aa == 0, j == 0, "only the clean view skips --aa: {r}");
        let name = r["file"].as_str().unwrap();
        assert!(name.ends_with(&format!("-split{j}.png")), "{name}");
    }
    let o = Command::new(common::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/augment_explain_reference.py"))
        .arg(&steps)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    assert_eq!(
        text.lines().filter(|l| l.contains(": equal (")).count(),
        12,
        "every view checked: {text}"
    );
}

/// `train --aug-splits` / `--aug-repeats` runs that dump each update's batch.
fn dumped_run(tmp: &Path, name: &str, data: &Path, extra: &[&str]) -> PathBuf {
    let out = tmp.join(name);
    let dump = tmp.join(format!("{name}-dump"));
    std::fs::create_dir_all(&dump).unwrap();
    let o = dpn()
        .env("DPN_TEST_DUMP_BATCHES", &dump)
        .args(["-q", "train", "--data"])
        .arg(data.join("train"))
        .args(["-m", "dpn48b", "--img-size", "32", "--batch-size", "16"])
        .args(["--epochs", "1", "--workers", "1", "--seed", "3", "--output"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    dump
}

fn batch(dump: &Path, update: u64) -> (Tensor, Vec<i64>) {
    let t: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dump.join(format!("rank0-update{update}.safetensors")))
            .unwrap()
            .into_iter()
            .collect();
    let labels = Vec::<i64>::try_from(&t["labels"]).unwrap();
    (t["images"].shallow_clone(), labels)
}

#[test]
fn train_feeds_split_major_views_and_repeats() {
    let tmp = tempdir("train-splits-run-");
    let data = common::digits();
    // The clean view is the crop and flip alone: a run without --aa and
    // colour jitter feeds it.
    let plain = dumped_run(tmp.path(), "plain", data, &["--color-jitter", "0"]);
    let split = dumped_run(
        tmp.path(),
        "split",
        data,
        &[
            "--aa",
            "rand-m9-mstd0.5-inc1",
            "--aug-splits",
            "3",
            "--jsd-loss",
        ],
    );
    for u in 0..2 {
        let (x0, y0) = batch(&plain, u);
        let (x, y) = batch(&split, u);
        assert_eq!(x.size(), [48, 3, 32, 32]);
        assert_eq!(y, [&y0[..], &y0[..], &y0[..]].concat(), "labels repeat");
        assert!(x.narrow(0, 0, 16).equal(&x0), "split 0 is the plain batch");
        assert!(!x.narrow(0, 16, 16).equal(&x0), "split 1 is augmented");
    }
    let losses = |run: &str| {
        std::fs::read_to_string(tmp.path().join(run).join("steps.csv"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_ne!(losses("plain"), losses("split"), "the JSD term counts");

    // Repeats: 320 images give 256 an epoch, each image three times in a
    // row; with a fixed crop and no flip the copies are the same pixels.
    let big = tmp.path().join("digits400");
    let o = Command::new(common::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_digits.py"))
        .arg(&big)
        .args(["--limit", "400"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let fixed: [&str; 14] = [
        "--aug-repeats",
        "3",
        "--scale",
        "1",
        "1",
        "--ratio",
        "1",
        "1",
        "--hflip",
        "0",
        "--color-jitter",
        "0",
        "--train-interpolation",
        "bilinear",
    ];
    let rep = dumped_run(tmp.path(), "repeat", &big, &fixed);
    let updates = std::fs::read_dir(&rep).unwrap().count();
    assert_eq!(updates, 256 / 16, "RepeatAugSampler's 256 images an epoch");
    let (x, y) = batch(&rep, 1);
    // Update 1 holds positions 16..32: copies 1 and 2 of image 5, then 6's...
    for i in 0..16i64 {
        let first = i - (16 + i) % 3;
        if first >= 0 {
            assert_eq!(y[i as usize], y[first as usize]);
            assert!(x.get(i).equal(&x.get(first)), "position {i}");
        }
    }
}

#[test]
fn bad_split_and_repeat_flags_are_one_line_and_exit_2() {
    let tmp = tempdir("train-splits-bad-");
    let data = common::digits();
    let cases: [(&[&str], &str); 5] = [
        (&["--aug-splits", "1"], "--aug-splits 1"),
        (&["--jsd-loss"], "--jsd-loss"),
        (&["--aug-splits", "2", "--mixup", "0.2"], "--mixup"),
        (&["--aug-repeats", "0.5"], "--aug-repeats 0.5"),
        // 80 images: RepeatAugSampler takes none.
        (&["--aug-repeats", "3"], "256"),
    ];
    for (i, (flags, says)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        let o = dpn()
            .args(["-q", "train", "--data"])
            .arg(data.join("train"))
            .args(["-m", "dpn48b", "--img-size", "32", "--batch-size", "16"])
            .arg("--output")
            .arg(&out)
            .args(*flags)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(
            !out.join("checkpoints").exists(),
            "{flags:?}: nothing trained"
        );
    }
    let o = dpn()
        .args(["augment", "-m", "dpn68", "--aug-splits", "1", "-o"])
        .arg(tmp.path().join("aug"))
        .args(photos())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!tmp.path().join("aug").exists());
}
