//! `dpn export` against timm through onnxruntime: every architecture with
//! random timm weights on real photographs (f32 with and without
//! `--fold-bn`, f16, bf16, dynamic and fixed batch), a model trained by
//! `dpn train`, and bad input. tests/py/export_reference.py computes timm's
//! answer and runs onnx.checker and onnxruntime in the project's .venv.

mod common;
use common::python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const ARCHS: [&str; 7] = [
    "dpn48b", "dpn68", "dpn68b", "dpn92", "dpn98", "dpn131", "dpn107",
];
/// The photographs go through timm's eval transform at this size (DPNs are
/// fully convolutional; 128 px keeps seven architectures within minutes).
const SIZE: &str = "128";
/// f32 graphs against timm's f32 logits, absolute (the bound).
const F32_TOL: f64 = 1e-4;
/// f16 and bf16 graphs: the largest logit difference as a fraction of the
/// largest logit (measured: f16 at most 0.1%, bf16 0.36%; docs/export.md, "Numerics").
const F16_REL_TOL: f64 = 0.01;
const BF16_REL_TOL: f64 = 0.02;

fn dpn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn reference(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/export_reference.py");
    let o = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One line of `export_reference.py check`.
fn reports(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn num(r: &Value, key: &str) -> f64 {
    r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"))
}

#[test]
fn every_architecture_matches_timm_in_onnxruntime() {
    let dir = common::shared_tempdir("dpn-export-");
    let (mut f16_agree, mut f16_images) = (0.0, 0.0);
    let mut figures = Vec::new();
    for arch in ARCHS {
        let d = dir.path();
        reference(&["make", s(d), arch, SIZE]);
        let weights = d.join(format!("{arch}.safetensors"));
        let file = |v: &str| d.join(format!("{arch}-{v}.onnx"));
        let export = |v: &str, extra: &[&str]| {
            let mut args = vec![
                "export",
                "-m",
                arch,
                "--weights",
                s(&weights),
                "--img-size",
                SIZE,
            ];
            args.extend_from_slice(extra);
            let out = file(v);
            args.push(s(&out));
            ok(dpn(&args));
            out
        };
        let mut files = vec![
            export("f32", &[]),
            export("fold", &["--fold-bn", "--features"]),
            export("f16", &["--fold-bn", "--dtype", "f16"]),
        ];
        if arch == "dpn68" {
            files.push(export("bf16-b4", &["--dtype", "bf16", "--batch-size", "4"]));
        }
        let mut args = vec![
            "check".to_string(),
            s(&d.join(format!("{arch}.ref.safetensors"))).into(),
        ];
        args.extend(files.iter().map(|f| s(f).to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for r in reports(&reference(&args)) {
            let name = r["file"].as_str().unwrap().to_string();
            let (max_abs, max_logit) = (num(&r, "max_abs"), num(&r, "max_logit"));
            figures.push(format!(
                "{name}: max |diff| {max_abs:.2e} (largest logit {max_logit:.1}), top-1 {}",
                r["top1_agree"]
            ));
            if name.ends_with("-bf16-b4.onnx") {
                assert_eq!(r["batches"], serde_json::json!([4]), "{r}");
                assert_eq!(r["opset"], 22, "{r}");
                assert!(max_abs <= BF16_REL_TOL * max_logit, "{r}");
                assert!(num(&r, "top1_agree") >= 0.99, "{r}");
                continue;
            }
            assert_eq!(r["batches"], serde_json::json!([1, 3, 8]), "{r}");
            assert_eq!(r["opset"], 17, "{r}");
            if name.ends_with("-f16.onnx") {
                assert!(max_abs <= F16_REL_TOL * max_logit, "{r}");
                f16_agree += num(&r, "top1_agree") * num(&r, "images");
                f16_images += num(&r, "images");
            } else {
                assert!(max_abs <= F32_TOL, "{r}");
                assert_eq!(num(&r, "top1_agree"), 1.0, "{r}");
            }
            if name.ends_with("-fold.onnx") {
                assert!(num(&r, "features_max_abs") <= F32_TOL, "{r}");
            }
        }
        // Seven architectures' weights and graphs would take gigabytes.
        for f in files.iter().chain([&weights]) {
            std::fs::remove_file(f).unwrap();
        }
    }
    assert!(
        f16_agree / f16_images >= 0.99,
        "f16 top-1 agreement {f16_agree}/{f16_images}"
    );
    eprintln!("{}", figures.join("\n"));
}

/// The digits model that `dpn train` makes in a minute.
fn trained(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .arg("-q")
        .args(common::digits_train_args(&out, 1, "32"))
        .args(["--crop-pct", "1", "--lr", "0.05"])
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    ok(o);
    out.join("last/model.safetensors")
}

#[test]
fn a_trained_model_exports_with_its_classes_and_preprocessing() {
    let dir = tempfile::tempdir().unwrap();
    let weights = trained(dir.path());
    let val = common::digits().join("val");
    // dpn's own predictions on the validation set.
    let o = ok(dpn(&[
        "predict",
        "--weights",
        s(&weights),
        "--format",
        "jsonl",
        "-k",
        "1",
        s(&val),
    ]));
    let mut want = std::collections::BTreeMap::new();
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        want.insert(
            v["path"].as_str().unwrap().to_string(),
            v["top"][0]["class_name"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(want.len(), 20);
    for extra in [&[][..], &["--fold-bn"][..]] {
        let onnx = dir.path().join("digits.onnx");
        let mut args = vec!["-q", "export", "--weights", s(&weights), s(&onnx)];
        args.extend_from_slice(extra);
        let o = ok(dpn(&args));
        assert!(o.stderr.is_empty() && o.stdout.is_empty(), "-q is quiet");
        let got: Value = serde_json::from_str(&reference(&["digits", s(&onnx), s(&val)])).unwrap();
        let meta = &got["metadata"];
        let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(meta["class_names"], serde_json::to_string(&names).unwrap());
        assert_eq!(meta["input_size"], "[3,32,32]");
        assert_eq!(meta["crop_pct"], "1");
        assert_eq!(meta["interpolation"], "bicubic");
        assert_eq!(meta["mean"], "[0.485,0.456,0.406]");
        assert_eq!(meta["std"], "[0.229,0.224,0.225]");
        assert_eq!(meta["dpn.model"], "dpn48b");
        let got: std::collections::BTreeMap<String, String> =
            serde_json::from_value(got["top1"].clone()).unwrap();
        assert_eq!(
            got, want,
            "onnxruntime's top-1 against dpn predict's ({extra:?})"
        );
    }
}

/// One line on stderr, the exit code, and no file (not even a staging one).
fn refused(args: &[&str], code: i32, needle: &str, dir: &Path) {
    let o = dpn(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".onnx") || n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[test]
fn bad_input_is_one_line_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.onnx");
    let out = s(&out);
    // Weights of another network: a dpn48b state dict is no dpn92.
    let weights = d.join("small.safetensors");
    let t = tch::Tensor::zeros([4, 3], (tch::Kind::Float, tch::Device::Cpu));
    tch::Tensor::write_safetensors(&[("features.conv1_1.conv.weight", &t)], &weights).unwrap();
    let truncated = d.join("truncated.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    let w = s(&weights);
    refused(&["export", "-m", "dpn999", out], 2, "dpn999", d);
    refused(
        &["export", "-m", "dpn92", "--weights", w, out],
        3,
        "small.safetensors",
        d,
    );
    refused(
        &["export", "-m", "dpn92", "--weights", s(&truncated), out],
        3,
        "truncated.safetensors",
        d,
    );
    refused(
        &[
            "export",
            "-m",
            "dpn92",
            "--weights",
            s(&d.join("none.pth")),
            out,
        ],
        2,
        "none.pth",
        d,
    );
    let missing = d.join("no/such/folder/out.onnx");
    refused(
        &["export", "-m", "dpn68", "--weights", w, s(&missing)],
        2,
        "does not exist",
        d,
    );
    refused(
        &[
            "export",
            "-m",
            "dpn68",
            "--weights",
            w,
            "--batch-size",
            "0",
            out,
        ],
        2,
        "--batch-size",
        d,
    );
    refused(
        &[
            "export",
            "-m",
            "dpn68",
            "--weights",
            w,
            "--dtype",
            "f8",
            out,
        ],
        2,
        "--dtype",
        d,
    );
    refused(
        &[
            "export",
            "-m",
            "dpn68",
            "--weights",
            w,
            "--img-size",
            "4",
            out,
        ],
        2,
        "4",
        d,
    );
}

/// Random dpn48b weights (timm's names) in `dir`: as made, and with the
/// stem's BatchNorm weight at 1e6, finite in f32 but beyond f16's 65504.
fn random_weights(dir: &Path) -> (PathBuf, PathBuf) {
    let registry = dpn::registry::Registry::load(None).unwrap();
    let arch = registry.get("dpn48b").unwrap().arch.clone();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = dpn::model::Dpn::new(&vs.root(), &arch);
    let write = |name: &str, huge: bool| {
        let sd = dpn::weights::StateDict {
            tensors: dpn::model::state_dict(&vs, &net)
                .iter()
                .map(|(k, t)| {
                    let t = if huge && k == "features.conv1_1.bn.weight" {
                        t.ones_like() * 1e6
                    } else {
                        t.shallow_clone()
                    };
                    (k.clone(), dpn::weights::from_tch(&t).unwrap())
                })
                .collect(),
            metadata: Default::default(),
        };
        let p = dir.join(name);
        dpn::weights::write_safetensors(&p, &sd).unwrap();
        p
    };
    (
        write("plain.safetensors", false),
        write("huge.safetensors", true),
    )
}

#[test]
fn weights_beyond_the_export_dtype_are_reported_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, huge) = random_weights(d);
    let out = d.join("out.onnx");
    let base = ["export", "-m", "dpn48b", "--weights", s(&huge), s(&out)];
    // f32 holds 1e6: no warning.
    let o = ok(dpn(&base));
    assert!(!stderr(&o).contains("infinite"), "{}", stderr(&o));
    std::fs::remove_file(&out).unwrap();
    for extra in [
        &["--dtype", "f16"][..],
        &["--dtype", "f16", "--fold-bn"][..],
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let o = ok(dpn(&args));
        let e = stderr(&o);
        assert!(
            e.contains("warning") && e.contains("infinite") && e.contains("f16"),
            "{extra:?}: {e}"
        );
        std::fs::remove_file(&out).unwrap();
        args.push("--reject-non-finite");
        refused(&args, 3, "--reject-non-finite", d);
    }
}

#[test]
fn fixed_batch_sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (plain, _) = random_weights(d);
    let out = d.join("out.onnx");
    for n in ["9223372036854775807", "65537"] {
        let args = [
            "export",
            "-m",
            "dpn48b",
            "--weights",
            s(&plain),
            "--batch-size",
            n,
            s(&out),
        ];
        refused(&args, 2, "--batch-size", d);
    }
}
