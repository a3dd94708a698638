//! Distributed `dpn train` and `dpn evaluate` (2 processes on this machine,
//! Gloo): against torch DDP training timm's model on the same batches, under
//! torchrun (the project's .venv) and with the variables set by hand; a
//! rank that dies, a rank alone, SIGTERM and resume; evaluate's one result.

mod common;
use common::{digits, python};

#[path = "dist/trust.rs"]
mod trust;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dpn::weights::read_safetensors;

/// Variables a launcher sets, removed from every child first so that the
/// test's own environment (a CI job under Slurm, say) cannot leak in.
const LAUNCH_VARS: &[&str] = &[
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_USE_AGENT_STORE",
    "TORCHELASTIC_RESTART_COUNT",
    "SLURM_STEP_ID",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_LOCALID",
    "RUST_BACKTRACE",
];

fn clean(c: &mut Command) -> &mut Command {
    for v in LAUNCH_VARS {
        c.env_remove(v);
    }
    // One thread per process, as torchrun gives each (the runs compared bit
    // for bit must not differ in their thread counts).
    c.env("NO_COLOR", "1").env("OMP_NUM_THREADS", "1").env(
        "DPN_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dist-cache"),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// The arguments of a small distributed training run on the digits:
/// 80 images, 40 per rank, 5 updates of 8 per rank and epoch.
fn train_args(out: &Path, init: &Path, epochs: u32) -> Vec<String> {
    let d = digits();
    let mut a: Vec<String> = vec!["train".into(), "--data".into()];
    a.push(d.join("train").display().to_string());
    for s in [
        "-m",
        "dpn48b",
        "--img-size",
        "32",
        "--batch-size",
        "8",
        "--lr",
        "0.02",
        "--warmup-epochs",
        "0",
        "--momentum",
        "0.9",
        "--weight-decay",
        "1e-4",
        "--label-smoothing",
        "0.1",
        "--scale",
        "0.35",
        "1",
        "--seed",
        "5",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--dist-timeout",
        "60",
    ] {
        a.push(s.into());
    }
    a.push("--weights".into());
    a.push(init.display().to_string());
    a.push("--epochs".into());
    a.push(epochs.to_string());
    a.push("--output".into());
    a.push(out.display().to_string());
    a
}

/// `dpn ARGS` as rank `rank` of `world`, the variables set by hand.
fn rank_cmd(rank: usize, world: usize, port: u16, args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    clean(&mut c)
        .args(args)
        .env("RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("LOCAL_WORLD_SIZE", world.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn spawn_ranks(world: usize, args: &[String], env: &[(&str, &Path)]) -> Vec<Child> {
    let port = free_port();
    (0..world)
        .map(|r| {
            let mut c = rank_cmd(r, world, port, args);
            for (k, v) in env {
                c.env(k, v);
            }
            c.spawn().unwrap()
        })
        .collect()
}

/// Waits for a child with a generous bound (a hang guard, not a timing check).
fn wait(child: Child) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(600)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("process {id} still running after 600 s");
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `args` with `--dist-timeout SECS` instead of train_args's.
fn with_timeout(mut args: Vec<String>, secs: &str) -> Vec<String> {
    let t = args.iter().position(|a| a == "--dist-timeout").unwrap();
    args[t + 1] = secs.into();
    args
}

/// Waits until `out`'s steps.csv has `lines` lines (header included) while
/// `child` runs (a hang guard, not a timing check).
fn wait_for_steps(out: &Path, lines: usize, child: &mut Child) {
    let steps = out.join("steps.csv");
    let t0 = Instant::now();
    while std::fs::read_to_string(&steps).map_or(0, |s| s.lines().count()) < lines {
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before {lines} lines of steps.csv"
        );
        assert!(t0.elapsed() < Duration::from_secs(600), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one `dpn: error:` line of `err`.
fn error_line(err: &str) -> &str {
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("dpn: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    errors[0]
}

fn all_succeed(outs: &[Output]) {
    for (r, o) in outs.iter().enumerate() {
        assert_eq!(code(o), 0, "rank {r}: {}", stderr(o));
    }
}

/// timm's dpn48b with 10 classes, the starting weights of every run here.
fn init_weights() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = common::shared_tempdir("dist-init-").keep();
        let p = dir.join("init.safetensors");
        let o = Command::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/ddp_reference.py"))
            .arg("init")
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        p
    })
}

/// One epoch over 2 ranks launched by hand, in f64 (a test hook), with every
/// rank's batches dumped.
struct HandRun {
    out: PathBuf,
    dump: PathBuf,
    stderr: Vec<String>,
}

fn hand_run() -> &'static HandRun {
    static R: OnceLock<HandRun> = OnceLock::new();
    R.get_or_init(|| {
        let (out, dump, outs) = dumped_f64_run("dist-hand-", &[]);
        HandRun {
            out,
            dump,
            stderr: outs.iter().map(stderr).collect(),
        }
    })
}

/// One epoch of [`train_args`] plus `extra` over 2 ranks launched by hand,
/// in f64 (a test hook), every rank's batches dumped; all ranks must
/// succeed. Returns the run folder, the dump folder and the ranks' outputs.
fn dumped_f64_run(prefix: &str, extra: &[String]) -> (PathBuf, PathBuf, Vec<Output>) {
    let dir = common::shared_tempdir(prefix).keep();
    let (out, dump) = (dir.join("run"), dir.join("dump"));
    std::fs::create_dir_all(&dump).unwrap();
    let mut args = train_args(&out, init_weights(), 1);
    args.extend_from_slice(extra);
    let env: [(&str, &Path); 2] = [
        ("DPN_TEST_DUMP_BATCHES", &dump),
        ("DPN_TEST_TRAIN_F64", Path::new("1")),
    ];
    let outs: Vec<Output> = spawn_ranks(2, &args, &env).into_iter().map(wait).collect();
    all_succeed(&outs);
    (out, dump, outs)
}

/// tests/py/ddp_reference.py under torchrun (2 ranks) on the batches of the
/// run `out` dumped into `dump`, with `extra` options; its state dict
/// (written beside `out`).
fn torch_ddp_reference(out: &Path, dump: &Path, extra: &[&str]) -> BTreeMap<String, tch::Tensor> {
    let reference = out.with_file_name("ddp.safetensors");
    let o = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/torchrun"))
        .env_remove("RUST_BACKTRACE")
        .args(["--nproc-per-node", "2", "--master-port"])
        .arg(free_port().to_string())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/ddp_reference.py"))
        .arg("train")
        .arg(init_weights())
        .arg(dump)
        .arg(out.join("steps.csv"))
        .arg(&reference)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "torchrun ddp_reference.py: {}",
        stderr(&o)
    );
    tensors(&reference)
}

fn tensors(path: &Path) -> BTreeMap<String, tch::Tensor> {
    tch::Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
    (a.to_kind(tch::Kind::Double) - b.to_kind(tch::Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// Losses of steps.csv (the mean over the ranks).
fn losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("steps.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect()
}

fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (read_safetensors(a).unwrap(), read_safetensors(b).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    for ((ka, ta), (kb, tb)) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(ka, kb);
        assert!(ta == tb, "tensor {ka} differs");
    }
}

/// Tolerances for 5 f64 updates of dpn48b against torch DDP on the same
/// batches, starting weights and learning rates. The kernels are the same
/// libtorch's; what differs is the update's rounding (tch's `p - lr * buf`
/// against torch's fused `add_(alpha=-lr)`, see tests/train_math.rs), and
/// training on small batches amplifies it from update to update: BatchNorm's
/// statistics at the last stage come from 8 values per channel. In f32 two
/// runs that differ only in that rounding drift 1e-3..1e-1 apart in the loss
/// within ten updates (torch against itself as much as dpn against torch),
/// so these runs are in f64 (DPN_TEST_TRAIN_F64, a test hook; the reference
/// converts timm's model). Measured: losses within 2e-10, weights and
/// BatchNorm buffers within 4e-10. Gradients that were not exchanged move the
/// loss by 0.18 at the second update.
const LOSS_TOL: f64 = 1e-8;
const WEIGHT_TOL: f64 = 1e-8;

#[test]
fn two_ranks_train_as_torch_ddp_does() {
    let run = hand_run();
    // Rank 0 speaks, rank 1 is silent when all goes well.
    assert!(
        run.stderr[0].contains("distributed: 2 processes"),
        "{}",
        run.stderr[0]
    );
    assert!(
        run.stderr[0].contains("5 batches of 8 per epoch on each of 2 processes (global batch 16)"),
        "{}",
        run.stderr[0]
    );
    assert_eq!(
        run.stderr[1].trim(),
        "",
        "rank 1 printed: {}",
        run.stderr[1]
    );
    // Every update dumped on both ranks: the same number of updates.
    for r in 0..2 {
        for u in 0..5 {
            assert!(
                run.dump
                    .join(format!("rank{r}-update{u}.safetensors"))
                    .is_file(),
                "rank {r} update {u}"
            );
        }
    }
    let want = torch_ddp_reference(&run.out, &run.dump, &[]);
    let got_losses = losses(&run.out);
    let want_losses: Vec<f64> = Vec::<f64>::try_from(&want["loss"]).unwrap();
    assert_eq!(got_losses.len(), want_losses.len());
    for (u, (g, w)) in got_losses.iter().zip(&want_losses).enumerate() {
        assert!(
            (g - w).abs() <= LOSS_TOL,
            "update {u}: loss {g} vs torch DDP's {w}"
        );
    }
    assert_model_matches(&run.out, &want);
}

/// dpn's `last` weights of the run `out` equal torch DDP's (`want`) within
/// WEIGHT_TOL, batch counters exactly.
fn assert_model_matches(out: &Path, want: &BTreeMap<String, tch::Tensor>) {
    let got = tensors(&out.join("last/model.safetensors"));
    // Every parameter and buffer of dpn48b, not a handful.
    assert!(
        want.len() > 100,
        "torch DDP's state dict: {} entries",
        want.len()
    );
    let mut worst = (0.0, String::new());
    for (k, w) in want.iter().filter(|(k, _)| *k != "loss") {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{k} missing from dpn's checkpoint"));
        assert_eq!(g.size(), w.size(), "{k}");
        if k.ends_with("num_batches_tracked") {
            assert_eq!(g.int64_value(&[]), w.int64_value(&[]), "{k}");
            continue;
        }
        let d = max_abs_diff(g, w);
        if d > worst.0 {
            worst = (d, k.clone());
        }
    }
    // Often 0 (the same kernels in f64, one thread a rank, in the same order).
    eprintln!(
        "largest difference from torch DDP: {:.3e} ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= WEIGHT_TOL,
        "{} differs by {:.3e}",
        worst.1,
        worst.0
    );
}

/// `--layer-decay-no-opt-scale` over two ranks: the frozen layers are left
/// out of DDP's gradient averaging (as train.py makes the optimizer, which
/// freezes them, before wrapping the model) and keep their starting
/// weights; the rest trains as torch DDP with timm's layer-decay groups.
#[test]
fn frozen_layers_train_over_two_ranks_as_torch_ddp_does() {
    let extra: Vec<String> = ["--layer-decay", "0.5", "--layer-decay-no-opt-scale", "0.1"]
        .map(String::from)
        .into();
    let (out, dump, _) = dumped_f64_run("dist-frozen-", &extra);
    let want = torch_ddp_reference(&out, &dump, &["--layer-decay", "0.5", "0.1"]);
    assert_model_matches(&out, &want);
    let init = tensors(init_weights());
    let got = tensors(&out.join("last/model.safetensors"));
    let k = "features.conv1_1.conv.weight";
    assert_eq!(
        max_abs_diff(&got[k], &init[k].to_kind(got[k].kind())),
        0.0,
        "{k} moved"
    );
    let k = "classifier.weight";
    assert!(
        max_abs_diff(&got[k], &init[k].to_kind(got[k].kind())) > 0.0,
        "{k} did not move"
    );
}

/// `--model-ema` over two ranks: each rank's EMA averages its own model
/// (DDP broadcasts rank 0's buffers before each forward, then every rank's
/// BatchNorm statistics move with its own batch), and with a validation set
/// train.py distributes the EMA's statistics as the model's before
/// validating it. dpn's EMA checkpoint equals timm's ModelEmaV3 kept beside
/// torch DDP on the same batches; undistributed, rank 0's EMA statistics
/// differ from it by 4e-2 (measured).
#[test]
fn ema_statistics_are_distributed_as_train_py_does() {
    let mut extra: Vec<String> = ["--model-ema", "--model-ema-decay", "0.5", "--val-data"]
        .map(String::from)
        .into();
    extra.push(digits().join("val").display().to_string());
    let (out, dump, _) = dumped_f64_run("dist-ema-", &extra);
    let want = torch_ddp_reference(&out, &dump, &["--model-ema", "0.5"]);
    let got = tensors(&out.join("last/ema/model.safetensors"));
    let mut stats = 0;
    for (k, g) in &got {
        let w = want
            .get(&format!("ema.{k}"))
            .unwrap_or_else(|| panic!("{k} missing from the reference EMA"));
        if k.ends_with("num_batches_tracked") {
            assert_eq!(g.int64_value(&[]), w.int64_value(&[]), "{k}");
            continue;
        }
        stats += usize::from(k.ends_with("running_mean") || k.ends_with("running_var"));
        let d = max_abs_diff(g, w);
        assert!(d <= WEIGHT_TOL, "EMA {k} differs from timm's by {d:.3e}");
    }
    assert!(stats > 0, "no BatchNorm statistics in the EMA checkpoint");
}

#[test]
fn torchrun_launch_trains_as_the_hand_launch() {
    let run = hand_run();
    let tmp = tempdir("dist-torchrun-");
    let out = tmp.path().join("run");
    let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/torchrun"));
    clean(&mut c)
        .args(["--nproc-per-node", "2", "--master-port"])
        .arg(free_port().to_string())
        .args(["--no-python", env!("CARGO_BIN_EXE_dpn")])
        .args(train_args(&out, init_weights(), 1))
        .env("DPN_TEST_TRAIN_F64", "1");
    let o = wait(
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(losses(&out), losses(&run.out));
    assert_same_tensors(
        &out.join("last/model.safetensors"),
        &run.out.join("last/model.safetensors"),
    );
}

#[test]
fn sigterm_to_torchrun_checkpoints_once_and_resume_equals_uninterrupted() {
    let tmp = tempdir("dist-resume-");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let outs: Vec<Output> = spawn_ranks(2, &train_args(&a, init_weights(), 2), &[])
        .into_iter()
        .map(wait)
        .collect();
    all_succeed(&outs);

    let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/torchrun"));
    clean(&mut c)
        .args(["--nproc-per-node", "2", "--master-port"])
        .arg(free_port().to_string())
        .args(["--no-python", env!("CARGO_BIN_EXE_dpn")])
        .args(train_args(&b, init_weights(), 2));
    let mut launcher = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Into epoch 2: header + 5 updates of epoch 1 + 2.
    wait_for_steps(&b, 8, &mut launcher);
    let kill = Command::new("kill")
        .args(["-TERM", &launcher.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = wait(launcher);
    let err = stderr(&o);
    assert_ne!(code(&o), 0, "{err}");
    assert!(err.contains("--resume"), "{err}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("last/state.json")).unwrap()).unwrap();
    assert_eq!(state["reason"], "interrupted", "{state}");
    assert_eq!(state["epoch"], 1, "{state}");
    let interrupted = std::fs::read_dir(b.join("checkpoints"))
        .unwrap()
        .filter(|e| {
            let p = e.as_ref().unwrap().path().join("state.json");
            std::fs::read_to_string(p).is_ok_and(|s| s.contains("\"interrupted\""))
        })
        .count();
    assert_eq!(interrupted, 1, "one interrupted checkpoint");

    let resume: Vec<String> = vec!["train".into(), "--resume".into(), b.display().to_string()];
    let outs: Vec<Output> = spawn_ranks(2, &resume, &[]).into_iter().map(wait).collect();
    all_succeed(&outs);
    assert_eq!(losses(&a), losses(&b));
    for f in ["model.safetensors", "optimizer.safetensors"] {
        assert_same_tensors(&a.join("last").join(f), &b.join("last").join(f));
    }

    // Another world size goes on, after a warning.
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c)
        .args(["train", "--resume"])
        .arg(&b)
        .args(["--epochs", "3"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("the run was trained on 2 processes, this one runs on 1"),
        "{err}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("last/state.json")).unwrap()).unwrap();
    assert_eq!(state["epoch"], 3, "{state}");
    assert_eq!(state["config"]["world_size"], 1, "{state}");
}

#[test]
fn a_killed_rank_stops_the_other_with_one_line_and_exit_9() {
    let tmp = tempdir("dist-kill-");
    let out = tmp.path().join("run");
    let args = with_timeout(train_args(&out, init_weights(), 10), "20");
    let mut ranks = spawn_ranks(2, &args, &[]);
    wait_for_steps(&out, 3, &mut ranks[0]);
    let victim = ranks.pop().unwrap();
    let _ = Command::new("kill")
        .args(["-KILL", &victim.id().to_string()])
        .status();
    let _ = wait(victim);
    let o = wait(ranks.pop().unwrap());
    let err = stderr(&o);
    assert_eq!(code(&o), 9, "{err}");
    let error = error_line(&err);
    assert!(error.contains("rank 0 of 2"), "{err}");
    // Nothing but dpn's own lines (no c10d log lines, no C++ backtrace).
    assert!(
        err.lines()
            .all(|l| !l.starts_with('[') && !l.contains("Exception raised")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_stopped_rank_ends_the_other_at_the_timeout_with_exit_9() {
    let tmp = tempdir("dist-hang-");
    let out = tmp.path().join("run");
    let args = with_timeout(train_args(&out, init_weights(), 10), "5");
    let mut ranks = spawn_ranks(2, &args, &[]);
    wait_for_steps(&out, 3, &mut ranks[0]);
    // SIGSTOP: alive, connected, and silent (a hung peer).
    let victim = ranks.pop().unwrap();
    let stop = |sig: &str| {
        Command::new("kill")
            .args([sig, &victim.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(stop("-STOP").success());
    let o = wait(ranks.pop().unwrap());
    let _ = stop("-KILL");
    let _ = wait(victim);
    let err = stderr(&o);
    assert_eq!(code(&o), 9, "{err}");
    let error = error_line(&err);
    assert!(
        error.contains("rank 0 of 2") && error.contains("within 5 s"),
        "{err}"
    );
}

#[test]
fn a_rank_alone_gives_up_at_the_timeout_with_exit_9() {
    let tmp = tempdir("dist-alone-");
    let args = with_timeout(train_args(&tmp.path().join("run"), init_weights(), 1), "3");
    for rank in [0, 1] {
        let o = wait(rank_cmd(rank, 2, free_port(), &args).spawn().unwrap());
        let err = stderr(&o);
        assert_eq!(code(&o), 9, "rank {rank}: {err}");
        assert!(
            err.contains(&format!("rank {rank} of 2: could not meet")),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert!(!tmp.path().join("run").join("last").exists());
}

#[test]
fn evaluate_with_two_ranks_equals_one_process() {
    let run = hand_run();
    let tmp = tempdir("dist-eval-");
    let weights = run.out.join("last/model.safetensors");
    let eval = |file: &Path| -> Vec<String> {
        vec![
            "evaluate".into(),
            "-m".into(),
            "dpn48b".into(),
            "--weights".into(),
            weights.display().to_string(),
            "--data".into(),
            digits().join("val").display().to_string(),
            "-b".into(),
            "3".into(),
            "--results-file".into(),
            file.display().to_string(),
            "--report".into(),
            file.with_extension("html").display().to_string(),
        ]
    };
    let one = tmp.path().join("one.json");
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c).args(eval(&one)).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let two = tmp.path().join("two.json");
    let outs: Vec<Output> = spawn_ranks(2, &eval(&two), &[])
        .into_iter()
        .map(wait)
        .collect();
    all_succeed(&outs);
    // Rank 0 alone prints the result.
    assert!(String::from_utf8_lossy(&outs[0].stdout).contains("dpn48b"));
    assert_eq!(String::from_utf8_lossy(&outs[1].stdout).trim(), "");
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&one), read(&two));
    for key in ["images", "correct1", "correct5", "per_class"] {
        assert_eq!(a["counts"][key], b["counts"][key], "{key}: {a} vs {b}");
    }
    assert_eq!(a["counts"]["images"], 20);
    for key in ["top1", "top5"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    // The report's counts add up over the ranks too (rank 0 writes the page).
    assert_eq!(a["breakdown"]["confusion"], b["breakdown"]["confusion"]);
    let bins = |v: &serde_json::Value| -> Vec<(u64, u64)> {
        let bins = v["breakdown"]["calibration"]["bins"].as_array().unwrap();
        bins.iter()
            .map(|b| {
                (
                    b["images"].as_u64().unwrap(),
                    b["correct"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(bins(&a), bins(&b));
    let kept = |v: &serde_json::Value| v["breakdown"]["gallery"].as_array().unwrap().len();
    assert_eq!(kept(&a), kept(&b));
    assert!(tmp.path().join("two.html").is_file());
    // The ranks' batches hold other images than one process's, and
    // libtorch's convolutions round a little differently by batch size: the
    // losses agree to float precision, the counts exactly.
    let (la, lb) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
    assert!(
        (la - lb).abs() <= 1e-6 * la.abs().max(1.0),
        "loss {la} vs {lb}"
    );
}

#[test]
fn predict_under_a_launcher_needs_shards() {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c)
        .args(["predict", "-m", "dpn48b"])
        .arg(digits().join("val"))
        .env("RANK", "1")
        .env("WORLD_SIZE", "2")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("rank 1 of 2") && err.contains("--shard auto"),
        "{err}"
    );
}

/// `--sync-bn` against one process at twice the batch: the forward passes
/// differ from the first update by rounding (synchronized statistics are
/// combined across ranks in f64, and normalized as `(x - mean) * (invstd *
/// weight) + bias`, while libtorch's BatchNorm kernel rounds its own way:
/// 2e-14 in the first loss), which training amplifies about 50-fold per
/// update. Measured over the 5 updates: losses within 2e-7, weights and
/// buffers within 1.2e-7. BatchNorm over each rank's 8 images instead (no
/// synchronization) changes the very first loss by more than 1e-2.
const SYNC_TOL: f64 = 1e-5;

#[test]
fn sync_bn_over_two_ranks_equals_one_process_at_twice_the_batch() {
    let tmp = tempdir("dist-syncbn-");
    let (two, one) = (tmp.path().join("two"), tmp.path().join("one"));
    let mut args = train_args(&two, init_weights(), 1);
    args.push("--sync-bn".into());
    let f64_env: [(&str, &Path); 1] = [("DPN_TEST_TRAIN_F64", Path::new("1"))];
    let outs: Vec<Output> = spawn_ranks(2, &args, &f64_env)
        .into_iter()
        .map(wait)
        .collect();
    all_succeed(&outs);

    let mut args = train_args(&one, init_weights(), 1);
    let b = args.iter().position(|a| a == "--batch-size").unwrap();
    args[b + 1] = "16".into();
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c)
        .args(&args)
        .env("DPN_TEST_TRAIN_F64", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let (l2, l1) = (losses(&two), losses(&one));
    assert_eq!(l2.len(), 5);
    let diffs: Vec<String> = l2
        .iter()
        .zip(&l1)
        .map(|(a, b)| format!("{:.1e}", (a - b).abs()))
        .collect();
    eprintln!("--sync-bn 2 x 8 against 1 x 16, loss differences: {diffs:?}");
    for (u, (a, b)) in l2.iter().zip(&l1).enumerate() {
        assert!(
            (a - b).abs() <= SYNC_TOL,
            "update {u}: {a} (2 x 8, --sync-bn) vs {b} (1 x 16)"
        );
    }
    let a = tensors(&two.join("last/model.safetensors"));
    let b = tensors(&one.join("last/model.safetensors"));
    assert_eq!(a.len(), b.len());
    let mut worst = (0.0, String::new());
    for (k, ta) in &a {
        let tb = &b[k];
        if k.ends_with("num_batches_tracked") {
            assert_eq!(ta.int64_value(&[]), tb.int64_value(&[]), "{k}");
            continue;
        }
        let d = max_abs_diff(ta, tb);
        if d > worst.0 {
            worst = (d, k.clone());
        }
    }
    eprintln!(
        "--sync-bn 2 x 8 against 1 x 16: largest difference {:.3e} ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= SYNC_TOL,
        "{} differs by {:.3e}",
        worst.1,
        worst.0
    );
}

/// `--dist-backend` given explicitly makes a launcher's world of one join a
/// process group (DDP's Reducer, broadcasts, `--dist-bn` reduction), which
/// must train exactly as a plain process does: every division is by 1.
#[test]
fn an_explicit_backend_trains_a_world_of_one_as_one_process() {
    let tmp = tempdir("dist-one-");
    let (grouped, plain) = (tmp.path().join("grouped"), tmp.path().join("plain"));
    let mut args = train_args(&grouped, init_weights(), 1);
    args.extend(["--dist-backend".into(), "gloo".into()]);
    let o = rank_cmd(0, 1, free_port(), &args).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("distributed: 1 process, rank 0 writes the run (Gloo"),
        "{}",
        stderr(&o)
    );

    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c)
        .args(train_args(&plain, init_weights(), 1))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("distributed:"), "{}", stderr(&o));

    assert_eq!(losses(&grouped), losses(&plain));
    assert_same_tensors(
        &grouped.join("last/model.safetensors"),
        &plain.join("last/model.safetensors"),
    );
}

#[test]
fn nccl_on_the_cpu_is_refused_before_the_rendezvous() {
    let tmp = tempdir("dist-nccl-cpu-");
    let mut args = train_args(&tmp.path().join("run"), init_weights(), 1);
    args.extend(["--dist-backend".into(), "nccl".into()]);
    // Two ranks whose rendezvous would fail: the refusal comes first, at once.
    let outs: Vec<Output> = spawn_ranks(2, &args, &[]).into_iter().map(wait).collect();
    for o in &outs {
        assert_eq!(code(o), 2, "{}", stderr(o));
        let line = error_line(&stderr(o)).to_string();
        assert!(
            line.contains("--dist-backend nccl needs a CUDA device"),
            "{line}"
        );
        assert!(line.contains("--dist-backend gloo"), "{line}");
    }
    assert!(!tmp.path().join("run").exists());
}
