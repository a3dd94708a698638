//! Learning-rate schedules against timm (tests/py/sched_reference.py): over
//! a grid of settings (every `--sched`, float `--decay-epochs`, milestones,
//! warmup with and without prefix, cycles with mul/decay/limit, k-decay,
//! cooldown, noise over a range and from a start with several seeds,
//! plateau on a given top-1 sequence), per epoch and per update, every
//! learning rate of train.py's loop and timm's `num_epochs` equal
//! `dpn::train::sched::Schedule`'s, to 1e-12 relative. The noise draw is
//! also checked against libtorch's own generator. A short `dpn train` on
//! digits then checks that steps.csv's lr column follows the schedule per
//! epoch and per update.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use dpn::train::config::TrainConfig;
use dpn::train::sched::{timm_noise, SchedKind, Schedule};
use serde_json::Value;

/// The reference's JSON, made once per test process.
fn reference() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sched_reference.py");
        let out = Command::new(common::python())
            .arg(&script)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (set DPN_TEST_PYTHON): {e}",
                    common::python().display()
                )
            });
        assert!(
            out.status.success(),
            "sched_reference.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    })
}

/// The run settings of train.py's flags in `a` (the schedule's only).
fn config_of(a: &Value) -> TrainConfig {
    let f = |k: &str| a[k].as_f64().unwrap();
    let u = |k: &str| a[k].as_u64().unwrap();
    TrainConfig {
        sched: a["sched"].as_str().unwrap().parse::<SchedKind>().unwrap(),
        lr: f("lr"),
        epochs: u("epochs"),
        decay_epochs: f("decay_epochs"),
        decay_milestones: a["decay_milestones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect(),
        warmup_epochs: u("warmup_epochs"),
        warmup_lr: f("warmup_lr"),
        warmup_prefix: a["warmup_prefix"].as_bool().unwrap(),
        min_lr: f("min_lr"),
        cooldown_epochs: u("cooldown_epochs"),
        patience_epochs: u("patience_epochs"),
        decay_rate: f("decay_rate"),
        lr_cycle_mul: f("lr_cycle_mul"),
        lr_cycle_decay: f("lr_cycle_decay"),
        lr_cycle_limit: u("lr_cycle_limit"),
        lr_k_decay: f("lr_k_decay"),
        lr_noise: a["lr_noise"]
            .as_array()
            .map(|v| v.iter().map(|x| x.as_f64().unwrap()).collect()),
        lr_noise_pct: f("lr_noise_pct"),
        lr_noise_std: f("lr_noise_std"),
        seed: u("seed"),
        sched_on_updates: a["sched_on_updates"].as_bool().unwrap(),
        eval_metric: a["eval_metric"].as_str().unwrap().into(),
        ..TrainConfig::default()
    }
}

#[test]
fn schedules_match_timm() {
    let r = reference();
    let (mut worst_abs, mut worst_rel, mut n) = (0f64, 0f64, 0usize);
    for case in r["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cfg = config_of(&case["args"]);
        let upe = case["upe"].as_u64().unwrap();
        let sched = Schedule::new(&cfg, upe);
        assert_eq!(
            sched.num_epochs,
            case["num_epochs"].as_u64().unwrap(),
            "{name}: the run's epochs (timm's num_epochs)"
        );
        let metrics: Vec<Option<f64>> = case["metrics"]
            .as_array()
            .map(|m| m.iter().map(Value::as_f64).collect())
            .unwrap_or_default();
        for (u, want) in case["lrs"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            // What the trainer knows at update u: the metrics of the
            // epochs before.
            let e = u / upe as usize;
            let got = sched.lr_with(u as u64, &metrics[..e.min(metrics.len())]);
            let abs = (got - want).abs();
            let rel = abs / want.abs().max(1e-300);
            assert!(
                rel <= 1e-12,
                "{name}: lr of update {u} (epoch {e}): dpn {got} vs timm {want}"
            );
            worst_abs = worst_abs.max(abs);
            worst_rel = worst_rel.max(rel);
            n += 1;
        }
    }
    eprintln!("{n} learning rates: max abs diff {worst_abs:e}, max rel diff {worst_rel:e}");
}

#[test]
fn noise_matches_timm_draws() {
    for set in reference()["noise"].as_array().unwrap() {
        let (seed, pct) = (set["seed"].as_u64().unwrap(), set["pct"].as_f64().unwrap());
        for (t, want) in set["values"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            assert_eq!(
                timm_noise(seed + t as u64, pct).to_bits(),
                want.to_bits(),
                "noise of seed {} pct {pct}",
                seed + t as u64
            );
        }
    }
}

/// The same draws from libtorch's default CPU generator (`manual_seed` +
/// `randn`), this process's only user of it.
#[test]
fn noise_matches_libtorch_generator() {
    for seed in (0..400u64).chain([u32::MAX as u64, (1 << 40) + 3]) {
        tch::manual_seed(seed as i64);
        let want = loop {
            let n =
                tch::Tensor::randn([1], (tch::Kind::Float, tch::Device::Cpu)).double_value(&[0]);
            if n.abs() < 0.3 {
                break n;
            }
        };
        assert_eq!(timm_noise(seed, 0.3), want, "seed {seed}");
    }
}

/// steps.csv's (update, epoch, lr) rows.
fn step_lrs(out: &Path) -> Vec<(u64, u64, f64)> {
    std::fs::read_to_string(out.join("steps.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[3].parse().unwrap(),
            )
        })
        .collect()
}

/// `--sched step --decay-epochs 0.5`, 3 epochs of 5 updates after
/// digits_train_args' one warmup epoch: per epoch (the default) the rate
/// holds through each epoch, per update it decays every 2.5 updates.
#[test]
fn train_step_schedule_per_epoch_and_per_update() {
    let dir = tempfile::tempdir().unwrap();
    let lr = 0.05;
    let mut rows = Vec::new();
    for on_updates in [false, true] {
        let out = dir.path().join(if on_updates { "update" } else { "epoch" });
        let mut args = common::digits_train_args(&out, 3, "32");
        for a in [
            "--sched",
            "step",
            "--decay-epochs",
            "0.5",
            "--decay-rate",
            "0.5",
        ] {
            args.push(a.into());
        }
        args.extend(["--lr".into(), lr.to_string().into()]);
        if on_updates {
            args.push("--sched-on-updates".into());
        }
        let status = Command::new(env!("CARGO_BIN_EXE_dpn"))
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "dpn train failed:\n{}",
            String::from_utf8_lossy(&status.stderr)
        );
        rows.push(step_lrs(&out));
    }
    let (warmup_lr, upe) = (1e-5, 5u64);
    // timm's StepLRScheduler with warmup_t 1 (epoch) or 5 (updates).
    let want = |t: u64, warmup_t: u64, decay_t: f64| {
        if t < warmup_t {
            warmup_lr + t as f64 * (lr - warmup_lr) / warmup_t as f64
        } else {
            lr * 0.5f64.powf((t as f64 / decay_t).floor())
        }
    };
    assert_eq!(rows[0].len(), 15);
    for &(u, e, got) in &rows[0] {
        assert_eq!(e, u / upe);
        let w = want(e, 1, 0.5);
        assert!(
            (got - w).abs() <= 1e-12 * w,
            "per epoch, update {u}: {got} vs {w}"
        );
    }
    assert_eq!(rows[1].len(), 15);
    for &(u, _, got) in &rows[1] {
        let w = want(u, upe, 2.5);
        assert!(
            (got - w).abs() <= 1e-12 * w,
            "per update, update {u}: {got} vs {w}"
        );
    }
    // Per epoch the rate is the same within each epoch; per update not.
    assert_eq!(rows[0][5].2, rows[0][9].2);
    assert!(rows[1][5].2 > rows[1][9].2);
}

fn dpn(args: &[std::ffi::OsString]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn with(mut args: Vec<std::ffi::OsString>, extra: &[&str]) -> Vec<std::ffi::OsString> {
    args.extend(extra.iter().map(Into::into));
    args
}

/// Settings timm's schedulers would fail on (or loop on) are usage errors
/// (exit 2) naming the flag, before anything is written.
#[test]
fn bad_schedule_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cases: &[(&[&str], &str)] = &[
        (&["--decay-epochs", "0"], "--decay-epochs 0"),
        (&["--lr-noise-pct", "0"], "--lr-noise-pct 0"),
        (&["--lr-noise", "0.5,0.9,1"], "--lr-noise 0.5,0.9,1"),
        (&["--lr-noise=-0.5"], "--lr-noise -0.5"),
        (&["--decay-milestones", "5", "3"], "--decay-milestones 5,3"),
        (&["--lr-cycle-limit", "0"], "--lr-cycle-limit"),
        (&["--lr-cycle-mul", "0"], "--lr-cycle-mul 0"),
        (&["--lr-k-decay=-1"], "--lr-k-decay -1"),
        (&["--min-lr=-1"], "--min-lr -1"),
        (
            &["--sched", "plateau", "--sched-on-updates"],
            "--sched-on-updates",
        ),
        (
            &["--sched", "plateau", "--decay-rate", "1"],
            "--decay-rate 1",
        ),
        (&["--sched", "linear"], "--sched"),
    ];
    for (flags, want) in cases {
        let o = dpn(&with(common::digits_train_args(&out, 1, "32"), flags));
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {e}");
        assert!(e.contains(want), "{flags:?}: {e}");
        assert!(!out.join("checkpoints").exists(), "{flags:?}");
    }
}

/// `--resume` refuses a changed schedule setting, and an old run (its
/// state.json without the schedule fields of this change, a whole-number
/// `decay_epochs`) resumes stepping per update as it was recorded.
#[test]
fn resume_keeps_the_recorded_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base = |n| {
        with(
            common::digits_train_args(&out, n, "32"),
            &["--decay-epochs", "1", "--decay-rate", "0.5", "--lr", "0.05"],
        )
    };
    let o = dpn(&base(1));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let resume = |extra: &[&str]| {
        let mut a: Vec<std::ffi::OsString> =
            vec!["train".into(), "--resume".into(), out.clone().into()];
        a.extend(extra.iter().map(Into::into));
        dpn(&a)
    };
    for (flags, want) in [
        (
            &["--decay-epochs", "2.4"][..],
            "--decay-epochs 2.4 (the checkpoint has 1)",
        ),
        (&["--sched-on-updates"], "--sched-on-updates"),
        (
            &["--lr-noise", "0.2", "0.5"],
            "--lr-noise 0.2,0.5 (the checkpoint has none)",
        ),
        (
            &["--decay-milestones", "2"],
            "--decay-milestones 2 (the checkpoint has 90,180,270)",
        ),
        (&["--cooldown-epochs", "1"], "--cooldown-epochs 1"),
        (&["--patience-epochs", "3"], "--patience-epochs 3"),
        (&["--lr-cycle-limit", "2"], "--lr-cycle-limit 2"),
        (&["--lr-k-decay", "2"], "--lr-k-decay 2"),
        (&["--warmup-prefix"], "--warmup-prefix"),
        (&["--lr-noise-pct", "0.5"], "--lr-noise-pct 0.5"),
    ] {
        let o = resume(
            &with(vec![], flags)
                .iter()
                .map(|s| s.to_str().unwrap())
                .collect::<Vec<_>>(),
        );
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {e}");
        assert!(e.contains(want), "{flags:?}: {e}");
    }

    // Rewrite the checkpoint as a run from before this change recorded it.
    let state = std::fs::canonicalize(out.join("last"))
        .unwrap()
        .join("state.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let c = v["config"].as_object_mut().unwrap();
    for k in [
        "sched_on_updates",
        "decay_milestones",
        "warmup_prefix",
        "cooldown_epochs",
        "patience_epochs",
        "lr_cycle_mul",
        "lr_cycle_decay",
        "lr_cycle_limit",
        "lr_k_decay",
        "lr_noise",
        "lr_noise_pct",
        "lr_noise_std",
    ] {
        assert!(c.remove(k).is_some(), "{k}");
    }
    c.insert("decay_epochs".into(), 1.into());
    std::fs::write(&state, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let o = resume(&["--epochs", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = step_lrs(&out);
    assert_eq!(rows.len(), 10);
    // Per update, as the run was recorded: cosine over 10 updates after
    // the warmup's 5, changing within the epoch (per epoch it would not).
    for &(u, _, got) in &rows[5..] {
        let w = 0.5 * 0.05 * (1.0 + (std::f64::consts::PI * u as f64 / 10.0).cos());
        assert!((got - w).abs() <= 1e-12 * w, "update {u}: {got} vs {w}");
    }
    assert!(rows[6].2 > rows[9].2);
}

/// Plateau in a real run: the trainer feeds each epoch's eval metric to the
/// schedule, as train.py's `lr_scheduler.step(epoch + 1, latest_metric)`:
/// with `--model-ema` that is the EMA's validation (train.py's
/// `eval_metrics = ema_eval_metrics`), and `--eval-metric loss` decays when
/// the loss stops falling (`decreasing_metric`). steps.csv's rates are
/// `Schedule::lr_with` of the EMA's losses in state.json's history.
#[test]
fn plateau_follows_the_emas_eval_metric() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = with(
        common::digits_train_args(&out, 4, "32"),
        &[
            "--sched",
            "plateau",
            "--patience-epochs",
            "0",
            "--decay-rate",
            "0.5",
            "--lr",
            "0.02",
            "--model-ema",
            "--model-ema-decay",
            "0.9",
            "--eval-metric",
            "loss",
        ],
    );
    let o = dpn(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let state = std::fs::canonicalize(out.join("last"))
        .unwrap()
        .join("state.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let losses: Vec<Option<f64>> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ema_val_loss"].as_f64())
        .collect();
    assert_eq!(losses.len(), 4);
    assert!(losses.iter().all(Option::is_some), "{losses:?}");
    let cfg: TrainConfig = serde_json::from_value(v["config"].clone()).unwrap();
    assert!(!cfg.sched_on_updates);
    assert_eq!(cfg.eval_metric, "loss");
    let sched = Schedule::new(&cfg, 5);
    assert!(sched.decreasing);
    for (u, e, got) in step_lrs(&out) {
        let want = sched.lr_with(u, &losses[..e as usize]);
        assert_eq!(got, want, "update {u}");
    }
}
