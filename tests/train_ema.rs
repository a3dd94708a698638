//! `dpn train --model-ema` against timm's `ModelEmaV3` on dpn's own per-step
//! weights (warmup off and on), the EMA checkpoint in timm (`local-dir:`,
//! strict), exact resume with the EMA, `--checkpoint-hist` by the EMA's
//! metric, and `dpn average` of a run's best checkpoints.
//!
//! Every test here reads the per-step weights through a test hook, so the
//! file needs the `test-hooks` feature (`make test` enables it).
#![cfg(feature = "test-hooks")]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dpn::weights::read_safetensors;

mod common;
use common::{digits_train_args, python};

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env(
            "DPN_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"),
        )
        .env_remove(dpn::train::ema::TEST_DUMP_ENV)
        .env_remove(dpn::train::checkpoint::TEST_PAUSE_ENV);
    c
}

/// A short digits run (5 updates an epoch) with an EMA of decay 0.9 (so
/// that the average differs visibly from the model within a few updates).
fn ema_run(out: &Path, epochs: u32, extra: &[&str]) -> Command {
    let mut c = dpn();
    c.args(digits_train_args(out, epochs, "32"))
        .args(["--scale", "0.35", "1", "--crop-pct", "1", "--lr", "0.05"])
        .args(["--model-ema", "--model-ema-decay", "0.9"])
        .args(extra);
    c
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn reference(dump: &Path, warmup: bool, ema_dir: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/ema_reference.py");
    let o = Command::new(python())
        .arg(script)
        .arg(dump)
        .arg("0.9")
        .arg(if warmup { "1" } else { "0" })
        .arg(ema_dir)
        .output()
        .unwrap();
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn assert_matches_timm(r: &serde_json::Value, steps: u64) {
    assert_eq!(r["steps"], steps, "{r}");
    assert_eq!(r["ints_equal"], true, "{r}");
    // The same lerp on the same f32 inputs.
    assert!(r["max_diff"].as_f64().unwrap() <= 1e-6, "{r}");
    assert!(r["logit_diff"].as_f64().unwrap() <= 1e-4, "{r}");
}

fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (read_safetensors(a).unwrap(), read_safetensors(b).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    for ((ka, ta), (kb, tb)) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(ka, kb);
        assert!(ta == tb, "tensor {ka} differs");
    }
}

fn dirs(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn ema_equals_timm_resumes_exactly_and_ranks_checkpoints() {
    let tmp = tempfile::Builder::new()
        .prefix("train-ema-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let (a, b, dump) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("dump"),
    );
    std::fs::create_dir(&dump).unwrap();
    let hist = ["--checkpoint-hist", "1", "--eval-metric", "loss"];

    // A: 3 epochs uninterrupted, the EMA's inputs dumped.
    let mut c = ema_run(&a, 3, &hist);
    c.env(dpn::train::ema::TEST_DUMP_ENV, &dump);
    ok(&c.output().unwrap());
    let ema = a.join("last/ema");
    assert_matches_timm(&reference(&dump, false, &ema), 15);

    // metrics.csv: the model's columns first, then the EMA's.
    let metrics = std::fs::read_to_string(a.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,lr,train_loss,val_loss,top1,top5,images_per_s,seconds,skipped,ema_val_loss,ema_top1,ema_top5"
    );
    let ema_loss: Vec<f64> = lines
        .map(|l| l.split(',').nth(9).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ema_loss.len(), 3);
    // --checkpoint-hist 1 --eval-metric loss: the epoch of the lowest EMA
    // loss (timm ranks by the EMA's metrics) is `best`, kept beside `last`.
    let best = (0..3)
        .min_by(|&i, &j| ema_loss[i].total_cmp(&ema_loss[j]))
        .unwrap();
    let best_name = format!("epoch-{:04}", best + 1);
    let mut want = vec![best_name.clone(), "epoch-0003".to_string()];
    want.dedup();
    assert_eq!(dirs(&a), want, "EMA losses {ema_loss:?}");
    assert_eq!(
        std::fs::read_link(a.join("best")).unwrap(),
        Path::new("checkpoints").join(&best_name)
    );

    // `dpn predict --weights <checkpoint>/ema/model.safetensors` takes the EMA.
    let img = common::digits().join("val/0/0000.png");
    let o = dpn()
        .args(["predict", "--weights"])
        .arg(ema.join("model.safetensors"))
        .arg(&img)
        .output()
        .unwrap();
    ok(&o);

    // `dpn average RUN -n 2`: the kept checkpoints' EMAs, avg_checkpoints.py's arithmetic.
    let avg = tmp.path().join("avg.safetensors");
    let o = dpn()
        .arg("average")
        .arg(&a)
        .args(["-n", "2", "-o"])
        .arg(&avg)
        .output()
        .unwrap();
    ok(&o);
    let want_avg = tmp.path().join("want.safetensors");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/average_reference.py");
    let mut py = Command::new(python());
    py.arg(script).arg(&want_avg);
    for d in dirs(&a) {
        py.arg(a.join("checkpoints").join(d).join("ema/model.safetensors"));
    }
    ok(&py.output().unwrap());
    common_average_equal(&avg, &want_avg);

    // B: interrupted in epoch 2 (SIGTERM), then resumed: the same EMA, bit for bit.
    let mut child = ema_run(&b, 3, &hist)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let steps = b.join("steps.csv");
    let t0 = Instant::now();
    while std::fs::read_to_string(&steps).map_or(0, |s| s.lines().count()) < 8 {
        assert!(child.try_wait().unwrap().is_none(), "dpn train ended early");
        assert!(t0.elapsed() < Duration::from_secs(300));
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(b.join("last/ema/model.safetensors").is_file());
    let o = dpn().arg("train").arg("--resume").arg(&b).output().unwrap();
    ok(&o);
    assert_same_tensors(
        &a.join("last/ema/model.safetensors"),
        &b.join("last/ema/model.safetensors"),
    );
    assert_same_tensors(
        &a.join("last/model.safetensors"),
        &b.join("last/model.safetensors"),
    );
    assert_eq!(dirs(&a), dirs(&b));
}

/// The averaged file equals the reference: floats bit for bit, integer
/// buffers as timm's f32 mean read back into the integer buffer.
fn common_average_equal(got: &Path, want: &Path) {
    let (g, w) = (
        read_safetensors(got).unwrap(),
        read_safetensors(want).unwrap(),
    );
    assert_eq!(g.tensors.len(), w.tensors.len());
    for (k, tg) in &g.tensors {
        let tw = w.get(k).unwrap_or_else(|| panic!("{k} missing"));
        let (tg, tw) = (
            dpn::weights::to_tch(tg).unwrap(),
            dpn::weights::to_tch(tw).unwrap(),
        );
        if tg.kind() == tch::Kind::Float {
            assert!(tg.equal(&tw), "{k} differs");
        } else {
            assert!(tg.equal(&tw.to_kind(tg.kind())), "{k} differs");
        }
    }
}

#[test]
fn ema_with_warmup_equals_timm() {
    let tmp = tempfile::Builder::new()
        .prefix("train-ema-warmup-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let (out, dump) = (tmp.path().join("run"), tmp.path().join("dump"));
    std::fs::create_dir(&dump).unwrap();
    let mut c = ema_run(&out, 1, &["--model-ema-warmup"]);
    c.env(dpn::train::ema::TEST_DUMP_ENV, &dump);
    ok(&c.output().unwrap());
    assert_matches_timm(&reference(&dump, true, &out.join("last/ema")), 5);
}
