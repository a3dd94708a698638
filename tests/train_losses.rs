//! Losses and regularization against timm (tests/py/losses_reference.py):
//! timm's `BinaryCrossEntropy` (each option) and `SoftTargetCrossEntropy`
//! (value and gradient), `dispatch_clip_grad` (norm, value, agc with the
//! head excluded) on a dpn48b's gradients, train.py's gradient accumulation
//! (a short last group) with clipping, and the head's dropout (train mode
//! replays torch's generator; none at eval). All in f64. Then the CLI.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dpn::model::infer::RunOptions;
use dpn::model::{load_state_dict, state_dict, Dpn};
use dpn::registry::Registry;
use dpn::train::clip::{Clip, ClipMode};
use dpn::train::loss::{soft_target_cross_entropy, Bce, Loss, LossChoice};
use dpn::train::optim;
use dpn::train::step::{train_micro_step, How, LossScaler, Micro};
use tch::{nn, Device, Kind, Tensor};

const DROP_SEED: i64 = 123;
const DROP_RATE: f64 = 0.5;
const CLIP: [(&str, f64); 3] = [("norm", 0.5), ("value", 1e-3), ("agc", 0.01)];
const ACCUM: (u64, u64, f64, f64, f64) = (3, 2, 0.1, 0.9, 1.0); // batches, k, lr, momentum, clip

/// The loss cases: (kind, target, smoothing, threshold, sum_classes, pos_weight).
type Case = (
    &'static str,
    &'static str,
    Option<f64>,
    Option<f64>,
    bool,
    Option<f64>,
);
const CASES: [Case; 6] = [
    ("bce", "idx", Some(0.1), None, false, None),
    ("bce", "idx", Some(0.0), None, true, None),
    ("bce", "idx", Some(0.2), Some(0.2), false, Some(2.5)),
    ("bce", "dense", None, Some(0.3), true, None),
    ("bce", "dense", None, None, false, Some(0.5)),
    ("soft", "dense", None, None, false, None),
];

fn dpn48b() -> (nn::VarStore, Dpn) {
    let registry = Registry::load(None).unwrap();
    let mut arch = registry.get("dpn48b").unwrap().arch.clone();
    arch.num_classes = 10;
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = Dpn::new(&vs.root(), &arch);
    vs.double();
    (vs, model)
}

fn load(t: &HashMap<String, Tensor>) -> (nn::VarStore, Dpn) {
    let (mut vs, model) = dpn48b();
    let sd: Vec<(String, Tensor)> = t
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("sd.")?.to_string(), v.shallow_clone())))
        .collect();
    load_state_dict(&mut vs, &model, &sd, true).unwrap();
    (vs, model)
}

fn read(p: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(p).unwrap().into_iter().collect()
}

/// dpn's inputs and its dropout logits, then timm's answers: made once.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::shared_tempdir("train-losses-").keep();
        tch::manual_seed(0);
        let opts = (Kind::Double, Device::Cpu);
        let mut t: Vec<(String, Tensor)> = vec![
            ("logits".into(), Tensor::randn([6, 10], opts) * 3.0),
            (
                "idx".into(),
                Tensor::randint(10, [6], (Kind::Int64, Device::Cpu)),
            ),
            (
                "dense".into(),
                (Tensor::randn([6, 10], opts) * 2.0).softmax(-1, None),
            ),
            ("xd".into(), Tensor::randn([4, 3, 32, 32], opts)),
        ];
        for i in 0..ACCUM.0 {
            t.push((format!("x.{i}"), Tensor::randn([4, 3, 32, 32], opts)));
            t.push((
                format!("y.{i}"),
                Tensor::randint(10, [4], (Kind::Int64, Device::Cpu)),
            ));
        }
        let (vs, model) = dpn48b();
        for (k, v) in state_dict(&vs, &model) {
            t.push((format!("sd.{k}"), v.copy()));
        }
        // Real gradients of a train-mode step.
        let x = Tensor::randn([4, 3, 32, 32], opts);
        let y = Tensor::randint(10, [4], (Kind::Int64, Device::Cpu));
        model
            .forward_t(&x, true)
            .cross_entropy_for_logits(&y)
            .backward();
        for (k, v) in vs.variables() {
            if v.requires_grad() {
                t.push((format!("grad.{k}"), v.grad().copy()));
            }
        }
        Tensor::write_safetensors(&t, dir.join("in.safetensors")).unwrap();

        // dpn's dropout logits, as the reference computes timm's.
        let inputs = read(&dir.join("in.safetensors"));
        let (_vs, mut model) = load(&inputs);
        model.set_drop_rate(DROP_RATE);
        tch::manual_seed(DROP_SEED);
        let train = tch::no_grad(|| model.forward_t(&inputs["xd"], true));
        let eval = tch::no_grad(|| model.forward_t(&inputs["xd"], false));
        model.set_drop_rate(0.0);
        let eval0 = tch::no_grad(|| model.forward_t(&inputs["xd"], false));
        let (_vs2, model2) = load(&inputs);
        let train0 = tch::no_grad(|| model2.forward_t(&inputs["xd"], true));
        Tensor::write_safetensors(
            &[
                ("train", train),
                ("eval", eval),
                ("eval0", eval0),
                ("train0", train0),
            ],
            dir.join("dpn_drop.safetensors"),
        )
        .unwrap();

        let cases: Vec<serde_json::Value> = CASES
            .iter()
            .map(|c| {
                serde_json::json!({"kind": c.0, "target": c.1, "smoothing": c.2,
                    "target_threshold": c.3, "sum_classes": c.4, "pos_weight": c.5})
            })
            .collect();
        let clip: serde_json::Map<String, serde_json::Value> = CLIP
            .iter()
            .map(|(m, v)| (m.to_string(), (*v).into()))
            .collect();
        let json = serde_json::json!({
            "losses": cases, "clip": clip,
            "accum": {"batches": ACCUM.0, "k": ACCUM.1, "lr": ACCUM.2,
                      "momentum": ACCUM.3, "clip": ACCUM.4},
            "drop": {"rate": DROP_RATE, "seed": DROP_SEED},
        });
        std::fs::write(dir.join("cases.json"), json.to_string()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/losses_reference.py");
        let out = Command::new(common::python())
            .arg(&script)
            .arg(dir.join("in.safetensors"))
            .arg(dir.join("cases.json"))
            .arg(dir.join("timm.safetensors"))
            .output()
            .expect("run the reference script (set DPN_TEST_PYTHON)");
        assert!(
            out.status.success(),
            "losses_reference.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn inputs() -> HashMap<String, Tensor> {
    read(&fixture().join("in.safetensors"))
}

fn timm() -> HashMap<String, Tensor> {
    read(&fixture().join("timm.safetensors"))
}

/// max |a - b| / max(max |b|, tiny).
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[]).max(1e-300)
}

#[test]
fn bce_and_soft_target_losses_match_timm() {
    let (t, want) = (inputs(), timm());
    let mut worst = 0f64;
    for (i, c) in CASES.iter().enumerate() {
        let x = t["logits"].copy().set_requires_grad(true);
        let target = &t[c.1];
        let loss = if c.0 == "soft" {
            soft_target_cross_entropy(&x, target)
        } else {
            Bce {
                smoothing: c.2.unwrap_or(0.1),
                target_thresh: c.3,
                sum_classes: c.4,
                pos_weight: c.5,
            }
            .on(&x, target)
        };
        loss.backward();
        let dv = rel_diff(&loss.detach().reshape([1]), &want[&format!("loss.{i}")]);
        let dg = rel_diff(&x.grad(), &want[&format!("dlogits.{i}")]);
        assert!(
            dv <= 1e-13,
            "case {i} {c:?}: loss differs by {dv:e} relative"
        );
        assert!(
            dg <= 1e-13,
            "case {i} {c:?}: gradient differs by {dg:e} relative"
        );
        worst = worst.max(dv).max(dg);
    }
    eprintln!("losses: worst relative difference from timm {worst:e}");
}

#[test]
fn loss_selection_is_train_py_order() {
    let base = LossChoice {
        smoothing: 0.1,
        jsd: None,
        mixup_active: false,
        bce: true,
        bce_target_thresh: Some(0.2),
        bce_sum: true,
        bce_pos_weight: None,
    };
    let bce = |s| {
        Loss::Bce(Bce {
            smoothing: s,
            target_thresh: Some(0.2),
            sum_classes: true,
            pos_weight: None,
        })
    };
    assert_eq!(base.select(), bce(0.1));
    let jsd = LossChoice {
        jsd: Some(3),
        mixup_active: true,
        ..base
    };
    assert_eq!(
        jsd.select(),
        Loss::Jsd {
            splits: 3,
            smoothing: 0.1
        }
    );
    let mix = LossChoice {
        mixup_active: true,
        smoothing: 0.0,
        ..base
    };
    assert_eq!(mix.select(), bce(0.1));
    let soft = LossChoice {
        mixup_active: true,
        bce: false,
        ..base
    };
    assert_eq!(soft.select(), Loss::CrossEntropy { smoothing: 0.1 });
    // train.py: --bce-loss without smoothing or mixup is nn.CrossEntropyLoss.
    let plain = LossChoice {
        smoothing: 0.0,
        ..base
    };
    assert_eq!(plain.select(), Loss::CrossEntropy { smoothing: 0.0 });
}

#[test]
fn clipping_matches_dispatch_clip_grad() {
    let (t, want) = (inputs(), timm());
    for (mode, value) in CLIP {
        let (vs, _model) = load(&t);
        // Each parameter's gradient set to dpn's: d/dp sum(p * g) = g.
        let vars = vs.variables();
        let mut total = Tensor::zeros([], (Kind::Double, Device::Cpu));
        for (k, p) in &vars {
            if p.requires_grad() {
                total += (p * &t[&format!("grad.{k}")]).sum(None);
            }
        }
        total.backward();
        Clip::new(ClipMode::parse(mode).unwrap(), value, &vs).apply();
        let mut worst = 0f64;
        let mut changed = 0;
        for (k, p) in &vars {
            if !p.requires_grad() {
                continue;
            }
            let w = &want[&format!("clip.{mode}.{k}")];
            let d = rel_diff(&p.grad(), w);
            assert!(d <= 1e-13, "{mode}: {k}: {d:e} relative");
            worst = worst.max(d);
            if !t[&format!("grad.{k}")].equal(w) {
                changed += 1;
            }
        }
        // The clipping did act (else the comparison proves nothing)...
        assert!(changed > 0, "{mode}: {value} clipped nothing");
        eprintln!("clip {mode}: {changed} gradients clipped, worst relative diff {worst:e}");
    }
    // ...and AGC leaves the classifier alone, as train.py asks.
    assert!(t["grad.classifier.weight"].equal(&want["clip.agc.classifier.weight"]));
}

#[test]
fn accumulation_matches_train_py_loop() {
    let (t, want) = (inputs(), timm());
    let (batches, k, lr, momentum, clip) = ACCUM;
    let (vs, model) = load(&t);
    let mut opt = optim::build(
        &optim::Options {
            name: "momentum".into(),
            momentum,
            weight_decay: 0.0,
            eps: None,
            betas: None,
            layer_decay: None,
        },
        &vs,
    )
    .unwrap();
    let clip = Clip::new(ClipMode::Norm, clip, &vs);
    let run = RunOptions::new(Device::Cpu, Default::default(), false).unwrap();
    let mut scaler = LossScaler::new(false);
    let mut applied = vec![];
    for i in 0..batches {
        let micro = Micro::of(i, batches, k);
        let r = train_micro_step(
            &model,
            opt.as_mut(),
            &t[&format!("x.{i}")],
            &t[&format!("y.{i}")],
            lr,
            Loss::CrossEntropy { smoothing: 0.0 },
            &run,
            &mut scaler,
            None,
            How {
                clip: Some(&clip),
                micro,
            },
        )
        .unwrap();
        applied.push(r.applied);
    }
    assert_eq!(applied, [false, true, true]);
    let mut worst = 0f64;
    for (k, v) in state_dict(&vs, &model) {
        let w = &want[&format!("accum.{k}")];
        let d = if v.is_floating_point() {
            rel_diff(&v, w)
        } else {
            f64::from(u8::from(!v.equal(w)))
        };
        assert!(d <= 1e-10, "{k}: {d:e} relative");
        worst = worst.max(d);
    }
    eprintln!("accumulation: worst relative diff from train.py's loop {worst:e}");
}

#[test]
fn micro_groups_are_train_py_groups() {
    // train.py: last_accum_steps = n % k; batches from n - last divide by it.
    for (n, k) in [(5u64, 3u64), (6, 3), (7, 2), (4, 1), (2, 5)] {
        let last = n % k;
        for i in 0..n {
            let m = Micro::of(i, n, k);
            let want_div = if last != 0 && i >= n - last { last } else { k };
            assert_eq!(m.divisor, want_div, "n {n} k {k} batch {i}");
            assert_eq!(m.update, i == n - 1 || (i + 1) % k == 0);
            assert_eq!(m.first, i % k == 0);
        }
    }
}

#[test]
fn head_dropout_replays_torch_and_is_off_at_eval() {
    let want = timm();
    let got = read(&fixture().join("dpn_drop.safetensors"));
    let d = rel_diff(&got["train"], &want["drop.train"]);
    assert!(
        d <= 1e-12,
        "train-mode dropout logits differ from timm's by {d:e}"
    );
    // The dropout acted in train mode.
    assert!(rel_diff(&got["train"], &got["train0"]) > 1e-3);
    // Eval: bit-identical with and without --drop, and timm's.
    assert!(got["eval"].equal(&got["eval0"]));
    let d = rel_diff(&got["eval"], &want["drop.eval"]);
    assert!(d <= 1e-12, "eval logits differ from timm's by {d:e}");
}

fn dpn_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1").env(
        "DPN_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"),
    );
    c
}

#[test]
fn cli_runs_and_refuses_bad_values() {
    let out = tempfile::Builder::new()
        .prefix("train-losses-cli-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let run = out.path().join("run");
    let mut c = dpn_cmd();
    c.args(common::digits_train_args(&run, 1, "32"));
    c.args([
        "--bce-loss",
        "--clip-grad",
        "1",
        "--grad-accum-steps",
        "2",
        "--drop",
        "0.2",
    ]);
    c.args(["--smoothing", "0.1", "--lr", "0.05"]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    let s = cfg.to_string();
    for key in [
        "\"bce_loss\":true",
        "\"grad_accum_steps\":2",
        "\"drop\":0.2",
        "\"clip_grad\":1.0",
    ] {
        assert!(s.contains(key), "run.json lacks {key}: {s}");
    }

    for bad in [
        &["--clip-grad", "1", "--clip-mode", "foo"][..],
        &["--grad-accum-steps", "0"],
        &["--drop", "1.5"],
        &["--clip-grad=-1"],
    ] {
        let mut c = dpn_cmd();
        c.args(common::digits_train_args(&out.path().join("bad"), 1, "32"));
        c.args(bad);
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{bad:?}: {err}");
    }
}
