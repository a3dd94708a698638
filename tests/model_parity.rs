//! Parity of `dpn::model` with timm's DPNs (tests/py/model_reference.py).
//!
//! One Python process (per test process) writes, for every registry model, timm's
//! state dict with randomized BatchNorm statistics, a fixed input and timm's
//! eval-mode logits and pooled features; for a few models also one train-mode
//! step (loss, every gradient, updated BatchNorm buffers). Inputs are 64x64
//! (the network reduces by 32) to keep the suite fast.

mod common;
use common::python;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use dpn::arch::ArchSpec;
use dpn::arch::Plan;
use dpn::model::fold::Folded;
use dpn::model::infer::{self, Precision, RunOptions};
use dpn::model::{self, Dpn};
use dpn::registry::Registry;
use dpn::sys::error::{exit_code, Exit};
use dpn::weights::convert::choose_model;
use tch::{nn, Device, Kind, Tensor};

const EVAL_MODELS: &[&str] = &[
    "dpn48b", "dpn68", "dpn68b", "dpn92", "dpn98", "dpn131", "dpn107",
];
const TRAIN_MODELS: &[&str] = &["dpn48b", "dpn68b", "dpn92"];

/// docs/conventions.md, "Architecture": exact parameter counts.
const PARAMS: &[(&str, u64)] = &[
    ("dpn48b", 9_126_226),
    ("dpn68", 12_611_602),
    ("dpn68b", 12_611_602),
    ("dpn92", 37_668_392),
    ("dpn98", 61_570_728),
    ("dpn131", 79_254_504),
    ("dpn107", 86_917_800),
];

/// The reference generator: one Python process per test process, started on
/// first use, which writes each requested file into its own temporary
/// directory under the target's tmp dir and deletes that directory when this
/// process exits (its stdin closes). Requests are served one at a time.
struct Generator {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
    _child: Child,
}

fn generator() -> &'static Mutex<Result<Generator, String>> {
    static GEN: OnceLock<Mutex<Result<Generator, String>>> = OnceLock::new();
    GEN.get_or_init(|| {
        let start = || -> Result<Generator, String> {
            let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let dir = tempfile::Builder::new()
                .prefix("model-parity-")
                .tempdir_in(base)
                .map_err(|e| format!("tempdir: {e}"))?
                .keep();
            // Inside the directory, so that it goes with it.
            let log = dir.join("generator.log");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/model_reference.py");
            let mut child = Command::new(python())
                .arg(&script)
                .arg(&dir)
                .arg("--serve")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?)
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot run {} (set DPN_TEST_PYTHON): {e}",
                        python().display()
                    )
                })?;
            Ok(Generator {
                stdin: child.stdin.take().unwrap(),
                stdout: BufReader::new(child.stdout.take().unwrap()),
                log,
                _child: child,
            })
        };
        Mutex::new(start())
    })
}

/// Asks the generator for `<model>.<kind>.safetensors`; returns its path.
fn generate(kind: &str, model: &str) -> PathBuf {
    let mut guard = generator().lock().unwrap_or_else(|e| e.into_inner());
    let gen = match guard.as_mut() {
        Ok(g) => g,
        Err(e) => panic!("reference generator: {e}"),
    };
    writeln!(gen.stdin, "{kind} {model}")
        .and_then(|_| gen.stdin.flush())
        .expect("write to generator");
    loop {
        let mut line = String::new();
        let n = gen
            .stdout
            .read_line(&mut line)
            .expect("read from generator");
        if n == 0 {
            let log = std::fs::read_to_string(&gen.log).unwrap_or_default();
            panic!(
                "reference generator exited; its stderr ({}):\n{log}",
                gen.log.display()
            );
        }
        if let Some(path) = line.trim_end().strip_prefix("done ") {
            return PathBuf::from(path);
        }
        if let Some(msg) = line.trim_end().strip_prefix("error ") {
            panic!("reference generator failed for {kind} {model}: {msg}");
        }
    }
}

/// A reference file: its tensors and timm's key order. The file is removed
/// when this is dropped (also on failure).
struct Reference {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
    keys: Vec<String>,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Reference {
    fn load(kind: &str, model: &str) -> Reference {
        let path = generate(kind, model);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let keys: Vec<String> =
            serde_json::from_str(header["__metadata__"]["keys"].as_str().unwrap()).unwrap();
        drop(bytes);
        let tensors = Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect();
        Reference {
            path,
            tensors,
            keys,
        }
    }

    fn get(&self, k: &str) -> &Tensor {
        self.tensors
            .get(k)
            .unwrap_or_else(|| panic!("{} lacks `{k}`", self.path.display()))
    }

    /// The `sd.*` tensors, prefix stripped, in timm's order.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.keys
            .iter()
            .map(|k| (k.clone(), self.get(&format!("sd.{k}")).shallow_clone()))
            .collect()
    }
}

fn arch(name: &str) -> ArchSpec {
    Registry::load(None)
        .unwrap()
        .get(name)
        .unwrap()
        .arch
        .clone()
}

fn max_abs(t: &Tensor) -> f64 {
    if t.numel() == 0 {
        return 0.0;
    }
    t.to_kind(Kind::Double).abs().max().double_value(&[])
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    max_abs(&(a.to_kind(Kind::Double) - b.to_kind(Kind::Double)))
}

/// A model on the CPU with the reference's state dict loaded strictly.
fn load_model(name: &str, r: &Reference) -> (nn::VarStore, Dpn) {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Dpn::new(&vs.root(), &arch(name));
    let report = model::load_state_dict(&mut vs, &net, &r.state_dict(), true).unwrap();
    assert!(report.is_exact(), "{name}: {}", report.summary());
    (vs, net)
}

fn eval_parity(name: &str) {
    let r = Reference::load("eval", name);
    let spec = arch(name);
    let (vs, mut net) = load_model(name, &r);

    // Names: the same set as timm's state dict, and state_dict() / parameter_shapes() in timm's order.
    let ours: BTreeSet<String> = vs.variables().into_keys().collect();
    let theirs: BTreeSet<String> = r.keys.iter().cloned().collect();
    assert_eq!(
        ours, theirs,
        "{name}: variable names differ from timm's state dict keys"
    );
    let sd_names: Vec<String> = model::state_dict(&vs, &net)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        sd_names, r.keys,
        "{name}: state_dict() order differs from timm's"
    );
    let shapes = model::parameter_shapes(&spec);
    let shape_names: Vec<&str> = shapes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        shape_names,
        r.keys.iter().map(String::as_str).collect::<Vec<_>>(),
        "{name}: parameter_shapes order"
    );
    for p in &shapes {
        assert_eq!(
            p.shape,
            r.get(&format!("sd.{}", p.name)).size(),
            "{name}: shape of {}",
            p.name
        );
    }
    let trainable: BTreeSet<&str> = shapes
        .iter()
        .filter(|p| p.trainable)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        trainable.len(),
        vs.trainable_variables().len(),
        "{name}: trainable variables"
    );

    // Parameter count.
    let expected = PARAMS.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(
        model::trainable_parameter_count(&vs),
        expected,
        "{name}: parameter count"
    );
    assert_eq!(
        model::parameter_count(&spec),
        expected,
        "{name}: model::parameter_count"
    );

    // The architecture is recognized from the shapes alone.
    let registry = Registry::load(None).unwrap();
    let found: Vec<(String, Vec<i64>)> = r
        .state_dict()
        .iter()
        .map(|(k, t)| (k.clone(), t.size()))
        .collect();
    let (chosen, _) = choose_model(
        &registry,
        &found,
        None,
        std::path::Path::new("timm.safetensors"),
    )
    .unwrap();
    assert_eq!(chosen.name, name, "{name}: choose_model");

    // Eval-mode outputs.
    let x = r.get("input");
    let (logits, features) =
        tch::no_grad(|| (net.forward_t(x, false), net.forward_features(x, false)));
    let dl = max_diff(&logits, r.get("logits"));
    let df = max_diff(&features, r.get("features"));
    eprintln!(
        "{name}: eval max |diff| logits {dl:.3e} (max |logit| {:.3}), features {df:.3e} (max {:.3})",
        max_abs(r.get("logits")),
        max_abs(r.get("features"))
    );
    // The README says "to the bit": the test says the same.
    assert_eq!(dl, 0.0, "{name}: logits differ by {dl:e}");
    assert_eq!(df, 0.0, "{name}: features differ by {df:e}");
    assert_eq!(
        features.size(),
        vec![x.size()[0], Plan::new(&spec).num_features as i64]
    );

    // The ELU head of timm < 1.0.
    net.set_activations(model::Activations::elu_head(&spec));
    let elu = tch::no_grad(|| net.forward_t(x, false));
    let de = max_diff(&elu, r.get("logits_elu"));
    eprintln!("{name}: ELU-head logits max |diff| {de:.3e}");
    assert_eq!(de, 0.0, "{name}: ELU-head logits differ by {de:e}");
    let de_fold = folded_parity(name, &net, x, r.get("logits_elu"), None, "ELU head");
    net.set_activations(model::Activations::timm(&spec));
    let d_fold = folded_parity(name, &net, x, r.get("logits"), Some(r.get("features")), "");
    eprintln!(
        "{name}: folded network vs timm, largest |diff| {:.3e}",
        d_fold.max(de_fold)
    );

    // Eval mode leaves every buffer alone.
    for (k, t) in model::state_dict(&vs, &net) {
        if k.contains(".bn.") && !k.ends_with("weight") && !k.ends_with("bias") {
            assert_eq!(
                max_diff(&t, r.get(&format!("sd.{k}"))),
                0.0,
                "{name}: eval forward changed {k}"
            );
        }
    }

    if name == "dpn68b" {
        device_variants(&net, x, &logits);
    }
}

/// The folded network ([`Folded`]) against timm's f32 outputs, NCHW and
/// channels-last: within 1e-4 (it differs by rounding only). Returns the
/// largest difference.
fn folded_parity(
    name: &str,
    net: &Dpn,
    x: &Tensor,
    logits: &Tensor,
    features: Option<&Tensor>,
    what: &str,
) -> f64 {
    let mut worst = 0f64;
    for channels_last in [false, true] {
        let opts = RunOptions::new(Device::Cpu, Precision::F32, channels_last).unwrap();
        let fast = Folded::new(net, &opts);
        let (l, f) = infer::infer_with_features(&fast, x, &opts);
        let dl = max_diff(&l, logits);
        let df = features.map_or(0.0, |want| max_diff(&f, want));
        eprintln!(
            "{name}: folded {what} (channels-last {channels_last}) max |diff| logits {dl:.3e}, \
             features {df:.3e}"
        );
        assert!(dl < 1e-4, "{name}: folded {what} logits differ by {dl:e}");
        assert!(df < 1e-4, "{name}: folded {what} features differ by {df:e}");
        worst = worst.max(dl).max(df);
    }
    worst
}

/// Channels-last and bf16 on the CPU through the inference helpers.
fn device_variants(net: &Dpn, x: &Tensor, reference: &Tensor) {
    let f32_cl = RunOptions::new(Device::Cpu, Precision::F32, true).unwrap();
    let input = infer::prepare_input(x, &f32_cl);
    assert!(infer::is_channels_last(&input));
    let cl = infer::infer(net, x, &f32_cl);
    let d = max_diff(&cl, reference);
    eprintln!("dpn68b: channels-last fp32 vs NCHW max |diff| {d:.3e}");
    assert!(d <= 1e-4, "channels-last differs by {d:e}");

    let bf16 = RunOptions::new(Device::Cpu, Precision::Bf16, true).unwrap();
    let out = infer::infer(net, x, &bf16);
    assert_eq!(out.kind(), Kind::Float);
    let d = max_diff(&out, reference);
    let scale = max_abs(reference);
    eprintln!("dpn68b: bf16 vs fp32 max |diff| {d:.3e} (max |logit| {scale:.3})");
    assert!(
        d <= 0.1 * scale.max(1e-3),
        "bf16 logits too far from fp32: {d:e} (scale {scale})"
    );

    // The folded network in bf16: weights folded in f64, cast once.
    let fast = Folded::new(net, &bf16);
    let out = infer::infer(&fast, x, &bf16);
    assert_eq!(out.kind(), Kind::Float);
    let d = max_diff(&out, reference);
    eprintln!("dpn68b: folded bf16 vs fp32 max |diff| {d:.3e} (max |logit| {scale:.3})");
    assert!(
        d <= 0.1 * scale.max(1e-3),
        "folded bf16 logits too far from fp32: {d:e} (scale {scale})"
    );
}

fn train_parity(name: &str) {
    let r = Reference::load("train", name);
    let (vs, net) = load_model(name, &r);
    let x = r.get("input");
    let targets = r.get("targets");
    let logits = net.forward_t(x, true);
    let loss = logits.cross_entropy_for_logits(targets);
    loss.backward();

    // Every gradient and buffer equal to timm's, as the README claims.
    let mut worst = (0.0f64, "all exact".to_string());
    let mut check = |what: &str, ours: &Tensor, theirs: &Tensor| {
        let d = max_diff(ours, theirs);
        let scale = max_abs(theirs);
        let rel = if scale > 0.0 { d / scale } else { d };
        assert_eq!(
            d, 0.0,
            "{name}: {what} differs by {d:e} (max |value| {scale:e})"
        );
        if rel > worst.0 {
            worst = (rel, what.to_string());
        }
    };
    check("train logits", &logits.detach(), r.get("logits"));
    check("loss", &loss.detach(), r.get("loss"));
    let vars = vs.variables();
    let mut grads = 0;
    let mut buffers = 0;
    for k in &r.keys {
        let var = &vars[k];
        if var.requires_grad() {
            let g = var.grad();
            assert!(g.defined(), "{name}: no gradient for {k}");
            check(&format!("grad {k}"), &g, r.get(&format!("grad.{k}")));
            grads += 1;
        } else if k.ends_with("num_batches_tracked") {
            assert_eq!(
                var.int64_value(&[]),
                r.get(&format!("after.{k}")).int64_value(&[]),
                "{name}: {k}"
            );
            assert_eq!(
                var.int64_value(&[]),
                r.get(&format!("sd.{k}")).int64_value(&[]) + 1,
                "{name}: {k} +1"
            );
            buffers += 1;
        } else {
            check(&format!("buffer {k}"), var, r.get(&format!("after.{k}")));
            buffers += 1;
        }
    }
    eprintln!(
        "{name}: train loss ours {:.6} timm {:.6}; {grads} gradients and {buffers} buffers checked; worst relative-to-max \
         diff {:.3e} ({})",
        loss.double_value(&[]),
        r.get("loss").double_value(&[]),
        worst.0,
        worst.1
    );
}

macro_rules! parity_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { eval_parity($name) })*
    };
}

parity_tests! {
    eval_dpn48b => "dpn48b",
    eval_dpn68 => "dpn68",
    eval_dpn68b => "dpn68b",
    eval_dpn92 => "dpn92",
    eval_dpn98 => "dpn98",
    eval_dpn131 => "dpn131",
    eval_dpn107 => "dpn107",
}

#[test]
fn every_registry_model_has_a_parity_test() {
    let registry = Registry::load(None).unwrap();
    let mut names = registry.names();
    names.sort();
    let mut covered = EVAL_MODELS.to_vec();
    covered.sort();
    assert_eq!(
        names, covered,
        "every registry model needs an eval parity test"
    );
    assert!(TRAIN_MODELS.iter().all(|m| EVAL_MODELS.contains(m)));
    assert_eq!(
        PARAMS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        EVAL_MODELS
    );
}

#[test]
fn train_dpn48b() {
    train_parity("dpn48b")
}

#[test]
fn train_dpn68b() {
    train_parity("dpn68b")
}

#[test]
fn train_dpn92() {
    train_parity("dpn92")
}

#[test]
fn strict_load_names_every_problem() {
    let spec = arch("dpn48b");
    let src_vs = nn::VarStore::new(Device::Cpu);
    let src = Dpn::new(&src_vs.root(), &spec);
    let mut sd = model::state_dict(&src_vs, &src);
    let missing = "features.conv3_2.c1x1_a.conv.weight";
    let wrong = "features.conv2_1.c1x1_w_s1.bn.running_var";
    let extra = "features.conv9_9.extra.weight";
    sd.retain(|(k, _)| k != missing);
    for (k, t) in sd.iter_mut() {
        if k == wrong {
            *t = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        }
    }
    sd.push((
        extra.to_string(),
        Tensor::ones([2], (Kind::Float, Device::Cpu)),
    ));

    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Dpn::new(&vs.root(), &spec);
    let before = vs.root().sub("classifier").get("bias").unwrap().copy();
    let err = model::load_state_dict(&mut vs, &net, &sd, true).unwrap_err();
    let msg = format!("{err:#}");
    eprintln!("strict error: {msg}");
    assert_eq!(exit_code(&err), Exit::BadInput.code());
    assert!(!msg.contains('\n'), "one line: {msg}");
    for needle in [
        missing,
        wrong,
        extra,
        "1 missing",
        "1 unexpected",
        "1 with the wrong shape",
        "[3]",
    ] {
        assert!(msg.contains(needle), "message lacks `{needle}`: {msg}");
    }
    // Nothing was copied.
    let after = vs.root().sub("classifier").get("bias").unwrap();
    assert_eq!(max_diff(&before, &after), 0.0);

    // Non-strict: the same problems reported, the rest copied.
    let report = model::load_state_dict(&mut vs, &net, &sd, false).unwrap();
    assert_eq!(report.missing, vec![missing.to_string()]);
    assert_eq!(report.unexpected, vec![extra.to_string()]);
    assert_eq!(
        report.mismatched,
        vec![(wrong.to_string(), vec![spec_width(&spec)], vec![3])]
    );
    let src_bias = src_vs.root().sub("classifier").get("bias").unwrap();
    assert_eq!(
        max_diff(&src_bias, &vs.root().sub("classifier").get("bias").unwrap()),
        0.0
    );

    // Missing num_batches_tracked is tolerated under strict, but reported.
    let old: Vec<(String, Tensor)> = model::state_dict(&src_vs, &src)
        .into_iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .collect();
    let report = model::load_state_dict(&mut vs, &net, &old, true).unwrap();
    assert!(
        !report.missing.is_empty()
            && report
                .missing
                .iter()
                .all(|k| k.ends_with("num_batches_tracked"))
    );
    assert!(
        report.summary().contains("num_batches_tracked"),
        "{}",
        report.summary()
    );

    // Many problems: counts stay exact, the list is truncated.
    let report = model::load_state_dict(&mut vs, &net, &[], false).unwrap();
    let s = report.summary();
    assert!(
        s.contains(&format!(
            "{} missing",
            report.missing.len() - count_nbt(&report.missing)
        )) && s.contains("more"),
        "{s}"
    );
}

fn spec_width(spec: &ArchSpec) -> i64 {
    spec.init_features as i64
}

fn count_nbt(names: &[String]) -> usize {
    names
        .iter()
        .filter(|k| k.ends_with("num_batches_tracked"))
        .count()
}

#[test]
fn reset_classifier_changes_class_count() {
    let spec = arch("dpn48b");
    let vs = nn::VarStore::new(Device::Cpu);
    let mut net = Dpn::new(&vs.root(), &spec);
    let before = model::trainable_parameter_count(&vs);
    net.reset_classifier(&vs.root(), 10);
    assert_eq!(net.num_classes(), 10);
    let nf = net.num_features() as u64;
    assert_eq!(
        model::trainable_parameter_count(&vs),
        before - 1000 * (nf + 1) + 10 * (nf + 1)
    );
    assert_eq!(
        vs.root().sub("classifier").get("weight").unwrap().size(),
        vec![10, nf as i64, 1, 1]
    );
    let x = Tensor::randn([1, 3, 32, 32], (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| net.forward_t(&x, false));
    assert_eq!(y.size(), vec![1, 10]);
    // Trainable and differentiable.
    let y = net.forward_t(&x, true).sum(Kind::Float);
    y.backward();
    assert!(vs
        .root()
        .sub("classifier")
        .get("weight")
        .unwrap()
        .grad()
        .defined());
    // One BatchNorm counter per train-mode forward.
    let nbt = vs
        .root()
        .sub("features")
        .sub("conv1_1")
        .sub("bn")
        .get("num_batches_tracked")
        .unwrap();
    assert_eq!(nbt.kind(), Kind::Int64);
    assert_eq!(nbt.int64_value(&[]), 1);
}

#[test]
fn devices_and_precisions() {
    assert_eq!(infer::parse_device("cpu").unwrap(), Device::Cpu);
    assert_eq!(infer::parse_device("CPU").unwrap(), Device::Cpu);
    let auto = infer::parse_device("auto").unwrap();
    let cuda = tch::Cuda::is_available();
    assert_eq!(auto, if cuda { Device::Cuda(0) } else { Device::Cpu });
    for bad in ["tpu", "cuda:x", "cuda:", ""] {
        let e = infer::parse_device(bad).unwrap_err();
        assert_eq!(exit_code(&e), Exit::Usage.code(), "{bad}");
    }
    let e = infer::parse_device("cuda:99").unwrap_err();
    assert_eq!(exit_code(&e), Exit::Usage.code());
    if !cuda {
        let e = infer::parse_device("cuda").unwrap_err();
        assert!(format!("{e}").contains("CUDA is not available"), "{e}");
    }
    assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
    assert_eq!("fp16".parse::<Precision>().unwrap(), Precision::F16);
    assert_eq!("fp32".parse::<Precision>().unwrap(), Precision::F32);
    assert_eq!(
        exit_code(&"fp8".parse::<Precision>().unwrap_err()),
        Exit::Usage.code()
    );
    let e = RunOptions::new(Device::Cpu, Precision::F16, false).unwrap_err();
    assert_eq!(exit_code(&e), Exit::Usage.code());
    assert!(RunOptions::new(Device::Cpu, Precision::Bf16, true).is_ok());

    let t = Tensor::randn([2, 3, 5, 7], (Kind::Float, Device::Cpu));
    let cl = infer::to_channels_last(&t);
    assert!(infer::is_channels_last(&cl) && !infer::is_channels_last(&t));
    assert_eq!(max_diff(&t, &cl), 0.0);
}

/// Weights cast once for inference give exactly the logits of casting them
/// in every forward pass.
#[test]
fn inference_preparation_is_bit_identical() {
    let registry = Registry::load(None).unwrap();
    let spec = &registry.get("dpn48b").unwrap().arch;
    tch::manual_seed(3);
    let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
    for channels_last in [false, true] {
        let opts = RunOptions::new(Device::Cpu, Precision::Bf16, channels_last).unwrap();
        let mut vs = nn::VarStore::new(Device::Cpu);
        let net = Dpn::new(&vs.root(), spec);
        let per_forward = infer::infer(&net, &x, &opts);
        infer::prepare_model_for_inference(&mut vs, &opts);
        let w = vs.variables()["features.conv1_1.conv.weight"].shallow_clone();
        assert_eq!(w.kind(), Kind::BFloat16);
        assert_eq!(infer::is_channels_last(&w), channels_last);
        assert_eq!(
            vs.variables()["features.conv1_1.bn.weight"].kind(),
            Kind::Float
        );
        let once = infer::infer(&net, &x, &opts);
        assert!(once.equal(&per_forward), "channels_last {channels_last}");
    }
}
