//! `dpn train` end to end on a small real data set (the first 100 of
//! scikit-learn's digits, made by scripts/make_digits.py): exact resume after
//! SIGTERM, kill -9 during a checkpoint write, NaN handling, bad input.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dpn::weights::read_safetensors;

mod common;
use common::digits;

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
    #[cfg(feature = "test-hooks")]
    c.env_remove(dpn::train::checkpoint::TEST_PAUSE_ENV);
    c
}

/// `dpn train` on the digits with small, fast settings (5 batches an epoch).
fn train_cmd(out: &Path, epochs: u32) -> Command {
    digits_cmd(out, epochs, "32", &["--lr", "0.05"])
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn wait_for(what: &str, child: &mut Child, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dpn train exited ({status}) before {what}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap()
}

fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (read_safetensors(a).unwrap(), read_safetensors(b).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    for ((ka, ta), (kb, tb)) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(ka, kb);
        assert!(ta == tb, "tensor {ka} differs");
    }
}

/// The update, lr and loss columns of steps.csv.
fn curve(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("steps.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn sigterm_mid_epoch_then_resume_equals_uninterrupted_run() {
    let tmp = tempdir("train-resume-");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let o = run(train_cmd(&a, 2));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let mut child = train_cmd(&b, 2)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Header + the 5 updates of epoch 1 + 2 of epoch 2.
    let steps = b.join("steps.csv");
    wait_for("epoch 2", &mut child, || lines(&steps) >= 8);
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    let st = state(&b.join("last"));
    assert_eq!(st["epoch"], 1, "{st}");
    assert_eq!(st["reason"], "interrupted");
    let interrupted_at = st["step_in_epoch"].as_u64().unwrap();
    assert!((1..5).contains(&interrupted_at), "{st}");

    let mut resume = dpn();
    resume.arg("train").arg("--resume").arg(&b);
    let o = run(resume);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming dpn48b"), "{}", stderr(&o));

    // The same updates, bit for bit.
    assert_eq!(curve(&a), curve(&b));
    for f in ["model.safetensors", "optimizer.safetensors"] {
        assert_same_tensors(&a.join("last").join(f), &b.join("last").join(f));
    }
    let (sa, sb) = (state(&a.join("last")), state(&b.join("last")));
    assert_eq!(sa["epoch"], 2);
    assert_eq!(sa["update"], sb["update"]);
    for key in ["train_loss", "val_loss", "top1", "top5", "lr"] {
        for e in 0..2 {
            assert_eq!(
                sa["history"][e][key], sb["history"][e][key],
                "{key} of epoch {e}"
            );
        }
    }
    // metrics.csv: one row per epoch.
    let metrics = std::fs::read_to_string(b.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
    assert!(
        metrics.starts_with("epoch,lr,train_loss,val_loss,top1,top5,images_per_s,seconds,skipped")
    );
    // Only last and best are kept.
    let kept = std::fs::read_dir(b.join("checkpoints")).unwrap().count();
    assert!(kept <= 2, "{kept} checkpoints kept");
}

/// Needs the `test-hooks` feature (`make test` enables it).
#[cfg(feature = "test-hooks")]
#[test]
fn kill_during_checkpoint_write_leaves_previous_checkpoint() {
    let tmp = tempdir("train-kill-");
    let out = tmp.path().join("run");
    let marker = tmp.path().join("paused");
    let mut cmd = train_cmd(&out, 2);
    cmd.env(dpn::train::checkpoint::TEST_PAUSE_ENV, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for("the second checkpoint write", &mut child, || {
        marker.exists()
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // A half-written checkpoint exists, and `last` still names epoch 1's.
    let tmps: Vec<_> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert_eq!(tmps.len(), 1);
    let last = out.join("last");
    assert_eq!(state(&last)["epoch"], 1);
    let registry = dpn::registry::Registry::load(None).unwrap();
    let spec = registry.get("dpn48b").unwrap();
    let loaded = dpn::weights::load::load_model(
        &registry,
        spec,
        &last.join("model.safetensors"),
        tch::Device::Cpu,
    )
    .unwrap();
    assert!(loaded.report.is_exact(), "{}", loaded.report.summary());
    assert_eq!(loaded.model.num_classes(), 10);

    // And the run goes on from it.
    let mut resume = dpn();
    resume.arg("train").arg("--resume").arg(&out);
    let o = run(resume);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state(&last)["epoch"], 2);
    let leftovers = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn non_finite_loss_stops_and_keeps_last_good_checkpoint() {
    let tmp = tempdir("train-nan-");
    let out = tmp.path().join("run");
    // A step schedule whose second epoch has a learning rate of 5e33 (the
    // first is train_cmd's warmup).
    let mut cmd = train_cmd(&out, 3);
    cmd.args([
        "--sched",
        "step",
        "--decay-epochs",
        "1",
        "--decay-rate",
        "1e35",
    ]);
    let o = run(cmd);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the loss is"), "{err}");
    assert!(err.contains("last good checkpoint"), "{err}");
    let st = state(&out.join("last"));
    assert_eq!(st["epoch"], 1);
    let sd = read_safetensors(out.join("last/model.safetensors")).unwrap();
    let w = sd.get("classifier.weight").unwrap();
    assert!(w
        .data
        .chunks_exact(4)
        .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()));
}

#[test]
fn checkpoint_is_a_weights_file_with_classes() {
    let tmp = tempdir("train-ckpt-");
    let out = tmp.path().join("run");
    let o = run(train_cmd(&out, 1));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("Top-1"), "{stdout}");
    let sd = read_safetensors(out.join("best/model.safetensors")).unwrap();
    assert_eq!(sd.metadata["dpn.model"], "dpn48b");
    assert_eq!(sd.metadata["dpn.num_classes"], "10");
    let classes: Vec<String> = serde_json::from_str(&sd.metadata["dpn.class_names"]).unwrap();
    assert_eq!(classes, (0..10).map(|d| d.to_string()).collect::<Vec<_>>());
    assert!(sd.get("features.conv1_1.bn.num_batches_tracked").is_some());
    // Another subcommand takes it as weights.
    let mut profile = dpn();
    profile
        .args([
            "profile",
            "dpn48b",
            "--img-size",
            "32",
            "--iters",
            "1",
            "--warmup",
            "0",
        ])
        .arg("--weights")
        .arg(out.join("last/model.safetensors"));
    let o = run(profile);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // Resuming with another model, or other settings, is refused.
    let mut other = dpn();
    other
        .arg("train")
        .arg("--resume")
        .arg(&out)
        .args(["-m", "dpn68"]);
    let o = run(other);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("dpn68"), "{}", stderr(&o));
    let mut lr = dpn();
    lr.arg("train")
        .arg("--resume")
        .arg(&out)
        .args(["--lr", "0.5"]);
    let o = run(lr);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--lr 0.5"), "{}", stderr(&o));
    // A new run into an output folder that holds one is refused.
    let o = run(train_cmd(&out, 1));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A finished run goes on with more --epochs.
    let mut more = dpn();
    more.arg("train")
        .arg("--resume")
        .arg(out.join("last/model.safetensors"));
    // Restating a setting as the checkpoint has it is fine, however it is
    // spelled (the run has no split: 0, and the lr 0.05 as 0.050).
    more.args(["--epochs", "2", "--val-split", "0", "--lr", "0.050"]);
    let o = run(more);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state(&out.join("last"))["epoch"], 2);
}

#[test]
fn resume_checkpoint_of_another_model_is_bad_input() {
    // A checkpoint whose state names another model than its folder's data fits.
    let tmp = tempdir("train-other-");
    let out = tmp.path().join("run");
    let o = run(train_cmd(&out, 1));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dir = std::fs::canonicalize(out.join("last")).unwrap();
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut st: serde_json::Value = serde_json::from_str(&text).unwrap();
    st["model"] = "dpn68".into();
    st["config"]["model"] = "dpn68".into();
    std::fs::write(&path, serde_json::to_string(&st).unwrap()).unwrap();
    let mut resume = dpn();
    resume
        .arg("train")
        .arg("--resume")
        .arg(&out)
        .args(["--epochs", "2"]);
    let o = run(resume);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn unreadable_training_images_are_skipped_and_counted_or_fail_with_strict() {
    let tmp = tempdir("train-broken-");
    let data = tmp.path().join("data");
    for split in ["train", "val"] {
        for class in std::fs::read_dir(digits().join(split)).unwrap().flatten() {
            let to = data.join(split).join(class.file_name());
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(class.path()).unwrap().flatten() {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }
    std::fs::write(
        data.join("train/3/zz-broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    let base = |out: &Path| {
        let mut c = dpn();
        c.arg("train")
            .arg("--data")
            .arg(data.join("train"))
            .arg("--val-data")
            .arg(data.join("val"))
            .args(["-m", "dpn48b", "--img-size", "32", "--batch-size", "27"])
            .args(["--epochs", "1", "--workers", "1", "--crop-pct", "1"])
            .arg("--output")
            .arg(out);
        c
    };
    let out = tmp.path().join("skip");
    let o = run(base(&out));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped 1 unreadable"),
        "{}",
        stderr(&o)
    );
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let row: Vec<&str> = metrics.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[8], "1", "{metrics}");

    let mut strict = base(&tmp.path().join("strict"));
    strict.arg("--strict");
    let o = run(strict);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("zz-broken.png"), "{}", stderr(&o));
}

#[test]
fn bad_data_folders() {
    let tmp = tempdir("train-bad-");
    let go = |data: &Path, extra: &[&str]| {
        let mut c = dpn();
        c.arg("train")
            .arg("--data")
            .arg(data)
            .args(["-m", "dpn48b", "--img-size", "32", "--epochs", "1"])
            .arg("--output")
            .arg(tmp.path().join("out"))
            .args(extra);
        run(c)
    };
    // Empty folder.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = go(&empty, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("no class folders"), "{}", stderr(&o));
    // Missing folder.
    let o = go(&tmp.path().join("nope"), &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // A class folder without images.
    let d = tmp.path().join("holes");
    std::fs::create_dir_all(d.join("cat")).unwrap();
    std::fs::create_dir_all(d.join("dog")).unwrap();
    std::fs::copy(
        digits()
            .join("train/0")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
        d.join("cat/a.png"),
    )
    .unwrap();
    std::fs::write(d.join("dog/notes.txt"), "not an image").unwrap();
    let o = go(&d, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("dog"), "{}", stderr(&o));
    // A validation class the training data lacks.
    let v = tmp.path().join("val");
    std::fs::create_dir_all(v.join("cat")).unwrap();
    std::fs::copy(d.join("cat/a.png"), v.join("cat/a.png")).unwrap();
    let o = go(
        &digits().join("train"),
        &["--val-data", v.to_str().unwrap()],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("cat"), "{}", stderr(&o));
    // More images per batch than there are.
    let o = go(&digits().join("train"), &["--batch-size", "500"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // Fewer classes than folders.
    let o = go(&digits().join("train"), &["--num-classes", "3"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// `train_cmd`'s run of dpn48b on the digits at `size` px with `extra` flags.
fn digits_cmd(out: &Path, epochs: u32, size: &str, extra: &[&str]) -> Command {
    let mut c = dpn();
    c.args(common::digits_train_args(out, epochs, size))
        .args(["--scale", "0.35", "1", "--crop-pct", "1"])
        .args(extra);
    c
}

/// Runs `c` under `ulimit -v KB` (bash), so that allocations beyond it fail.
fn with_address_limit(c: &Command, kb: u64) -> Command {
    let mut script = format!("ulimit -v {kb}; exec");
    script.push_str(&format!(" '{}'", c.get_program().to_string_lossy()));
    for a in c.get_args() {
        script.push_str(&format!(" '{}'", a.to_string_lossy()));
    }
    let mut b = Command::new("bash");
    b.arg("-c").arg(script).env("NO_COLOR", "1");
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => b.env(k, v),
            None => b.env_remove(k),
        };
    }
    b.env_remove("RUST_BACKTRACE");
    b
}

#[test]
fn runs_that_train_nothing_or_diverge_fail() {
    let tmp = tempdir("train-exit-");
    // Every training image unreadable: an error, no checkpoint.
    let bad = tmp.path().join("bad");
    for class in ["a", "b"] {
        std::fs::create_dir_all(bad.join(class)).unwrap();
        for i in 0..4 {
            std::fs::write(bad.join(class).join(format!("{i}.png")), b"not an image").unwrap();
        }
    }
    let out = tmp.path().join("bad-run");
    let o = run({
        let mut c = dpn();
        c.args([
            "train",
            "-m",
            "dpn48b",
            "--img-size",
            "32",
            "--batch-size",
            "4",
        ])
        .args(["--epochs", "1", "--workers", "1", "--data"])
        .arg(&bad)
        .arg("--output")
        .arg(&out);
        c
    });
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not one training image"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("last").exists() && !out.join("checkpoints").exists());

    // More outputs than class folders: refused before training.
    let out = tmp.path().join("classes-run");
    let mut c = train_cmd(&out, 1);
    c.args(["--num-classes", "1000"]);
    let o = run(c);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--num-classes 1000"), "{}", stderr(&o));
    assert!(!out.join("last").exists());

    // A schedule that blows the model up: an error, not a finished run.
    let out = tmp.path().join("diverge-run");
    let o = run(digits_cmd(
        &out,
        2,
        "32",
        &["--lr", "1e6", "--min-lr", "1e6", "--sched-on-updates"],
    ));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("loss is") && e.contains("stopping without saving"),
        "{e}"
    );
    assert!(
        !out.join("best").exists(),
        "a diverged run has no best model"
    );
}

#[test]
fn out_of_memory_in_training_is_one_line_and_exit_8() {
    let tmp = tempdir("train-oom-");
    let out = tmp.path().join("run");
    // A batch of 16 images at 512 px needs far more than 3 GB beyond the
    // ~2.8 GB of address space libtorch maps at start-up.
    let c = digits_cmd(&out, 1, "512", &["--lr", "0.05"]);
    let o = with_address_limit(&c, 3_300_000).output().unwrap();
    let e = stderr(&o);
    assert_eq!(code(&o), 8, "{e}");
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("dpn: error:")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(
        errors[0].contains("out of memory on cpu") && errors[0].contains("batch size 16"),
        "{e}"
    );
    assert!(!e.contains("panicked") && !e.contains("frame #"), "{e}");
    assert!(
        !out.join("last").exists(),
        "no checkpoint from a failed step"
    );
}

/// A short digits run with `--mixup 0.2 --cutmix 1.0` trains (soft targets,
/// SoftTargetCrossEntropy), records its settings in run.json, and an older
/// run.json without them loads as no mixing; `--resume` refuses a change.
#[test]
fn mixup_cutmix_run_records_its_settings() {
    let tmp = tempdir("train-mixup-");
    let out = tmp.path().join("mixed");
    let o = run(digits_cmd(
        &out,
        1,
        "32",
        &["--lr", "0.05", "--mixup", "0.2", "--cutmix", "1.0"],
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("run.json")).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want = [
        ("mixup", serde_json::json!(0.2)),
        ("cutmix", serde_json::json!(1.0)),
        ("cutmix_minmax", serde_json::Value::Null),
        ("mixup_prob", serde_json::json!(1.0)),
        ("mixup_switch_prob", serde_json::json!(0.5)),
        ("mixup_mode", serde_json::json!("batch")),
        ("mixup_off_epoch", serde_json::json!(0)),
    ];
    for (k, v) in &want {
        assert_eq!(&cfg[*k], v, "{k} in {text}");
    }
    let history = state(&out.join("last"))["history"].clone();
    let loss = history[0]["train_loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{history}");

    // A run.json or state.json from before these settings: no mixing.
    let mut older = cfg.clone();
    for (k, _) in &want {
        older.as_object_mut().unwrap().remove(*k).unwrap();
    }
    let older: dpn::train::config::TrainConfig = serde_json::from_value(older).unwrap();
    assert!(older.mixup().unwrap().is_none());
    assert_eq!(
        (
            older.mixup_prob,
            older.mixup_switch_prob,
            older.mixup_mode.as_str()
        ),
        (1.0, 0.5, "batch")
    );

    for flags in [
        &["--mixup", "0.3"][..],
        &["--cutmix-minmax", "0.2", "0.8"],
        &["--mixup-mode", "elem"],
        &["--mixup-off-epoch", "1"],
    ] {
        let mut c = dpn();
        c.arg("train").arg("--resume").arg(&out);
        let o = run({
            c.args(["--epochs", "2"]).args(flags);
            c
        });
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("cannot change") && e.contains(flags[0]), "{e}");
    }
}

/// Bad mixup values: one line, exit code 2, nothing written.
#[test]
fn bad_mixup_values_are_refused_before_anything_is_written() {
    let tmp = tempdir("train-mixup-bad-");
    for (i, (flags, needle)) in [
        (&["--mixup=-0.2"][..], "--mixup -0.2"),
        (&["--cutmix", "NaN"][..], "--cutmix NaN"),
        (
            &["--mixup", "1", "--mixup-prob", "1.5"][..],
            "--mixup-prob 1.5",
        ),
        (
            &["--mixup", "1", "--mixup-switch-prob=-1"][..],
            "--mixup-switch-prob -1",
        ),
        (
            &["--cutmix-minmax", "0.8", "0.2"][..],
            "--cutmix-minmax 0.8 0.2",
        ),
        (
            &["--cutmix-minmax", "0.2", "1.5"][..],
            "--cutmix-minmax 0.2 1.5",
        ),
        (&["--cutmix-minmax", "0.5", "0.51"][..], "--img-size 32"),
        (
            &["--mixup", "1", "--mixup-mode", "pairs"][..],
            "--mixup-mode pairs",
        ),
        (&["--mixup", "1", "--batch-size", "15"][..], "even"),
        (
            &["--cutmix", "1", "--batch-size", "3"][..],
            "--batch-size 3",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("run{i}"));
        // digits_train_args has --batch-size 16: a flag here replaces it.
        let mut args = common::digits_train_args(&out, 1, "32");
        let mut flags = flags.to_vec();
        if let Some(f) = flags.iter().position(|a| *a == "--batch-size") {
            let a = args.iter().position(|a| a == "--batch-size").unwrap();
            args[a + 1] = flags[f + 1].into();
            flags.drain(f..f + 2);
        }
        let mut c = dpn();
        c.args(args).args(&flags);
        let o = run(c);
        let e = stderr(&o);
        assert_eq!(code(&o), 2, "{flags:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{flags:?}: {e}");
        assert!(e.contains(needle), "{flags:?}: {e}");
        assert!(!out.exists(), "{flags:?} wrote {}", out.display());
    }
}
