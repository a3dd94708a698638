//! `dpn profile`: analytic counts against fvcore, the measured run, bad input.

mod common;
use common::python;

use std::path::Path;
use std::process::{Command, Output};

use dpn::registry::Registry;
use dpn::weights::{DType, RawTensor, StateDict};

fn dpn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env(
            "DPN_CACHE_DIR",
            std::env::temp_dir().join("dpn-test-empty-cache"),
        )
        .env_remove("DPN_MODEL_INDEX")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn macs_equal_fvcore_at_288() {
    let reg = Registry::load(None).unwrap();
    let names = reg.names();
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/profile_fvcore.py"))
        .arg("288")
        .args(&names)
        .output()
        .expect("run the fvcore reference");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let v = json(&dpn(&[
        "profile",
        "--all",
        "--iters",
        "0",
        "--img-size",
        "288",
        "--format",
        "json",
    ]));
    for row in v.as_array().unwrap() {
        let name = row["model"].as_str().unwrap();
        let r = &fv[name];
        assert_eq!(row["conv_macs"], r["conv"], "{name} conv");
        assert_eq!(row["bn_macs"], r["batch_norm"], "{name} batch_norm");
        assert_eq!(row["pool_macs"], r["adaptive_avg_pool2d"], "{name} pool");
        assert_eq!(row["macs"], r["total"], "{name} total");
        assert_eq!(row["img_size"], 288);
    }
    assert_eq!(v.as_array().unwrap().len(), names.len());
}

#[test]
fn by_stage_sums_to_the_total() {
    let v = json(&dpn(&[
        "profile",
        "dpn92",
        "--by-stage",
        "--format",
        "json",
    ]));
    let rows = v.as_array().unwrap();
    let stages: Vec<&str> = rows.iter().map(|r| r["stage"].as_str().unwrap()).collect();
    assert_eq!(
        stages,
        ["stem", "conv2", "conv3", "conv4", "conv5", "head", "total"]
    );
    let sum: u64 = rows[..6].iter().map(|r| r["macs"].as_u64().unwrap()).sum();
    assert_eq!(sum, rows[6]["macs"].as_u64().unwrap());
    assert_eq!(
        sum, 6_543_386_752,
        "docs/conventions.md: dpn92's total at 224 px"
    );
}

#[test]
fn measured_run_reports_speed_and_memory() {
    let v = json(&dpn(&[
        "profile",
        "dpn48b",
        "--device",
        "cpu",
        "--img-size",
        "64",
        "--batch-size",
        "2",
        "--warmup",
        "1",
        "--iters",
        "3",
        "--format",
        "json",
    ]));
    let r = &v[0];
    assert_eq!(r["device"], "cpu");
    assert_eq!(r["dtype"], "f32");
    assert_eq!(r["layout"], "nchw");
    assert_eq!(
        r["network"], "folded",
        "the CPU runs the folded network by default"
    );
    assert_eq!(r["params"], 9_126_226);
    let median = r["latency_ms_median"].as_f64().unwrap();
    let p90 = r["latency_ms_p90"].as_f64().unwrap();
    assert!(median > 0.0 && p90 >= median, "{r}");
    let ips = r["images_per_s"].as_f64().unwrap();
    assert!((ips - 2.0 / (median / 1e3)).abs() < 1e-6 * ips, "{r}");
    assert!(r["peak_memory_bytes"].as_u64().is_some(), "{r}");

    let v = json(&dpn(&[
        "profile",
        "dpn48b",
        "--device",
        "cpu",
        "--img-size",
        "64",
        "--dtype",
        "bf16",
        "--channels-last",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(v[0]["dtype"], "bf16");
    assert_eq!(v[0]["layout"], "nhwc");
    // bf16 folds on every CPU; where the CPU has no bf16 kernels its
    // convolutions run in f32 (docs/conventions.md "Folding").
    let bf16_kernels = dpn::model::fold::cpu_has_bf16_kernels();
    let folded_bf16 = if bf16_kernels {
        "folded"
    } else {
        "folded, f32 convolutions"
    };
    assert_eq!(v[0]["network"], folded_bf16, "bf16's default network here");

    let v = json(&dpn(&[
        "profile",
        "dpn48b",
        "--device",
        "cpu",
        "--img-size",
        "64",
        "--exact",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(v[0]["network"], "exact", "--exact");
    assert!(v[0]["images_per_s"].as_f64().unwrap() > 0.0);

    let v = json(&dpn(&[
        "profile",
        "dpn48b",
        "--device",
        "cpu",
        "--img-size",
        "64",
        "--dtype",
        "bf16",
        "--folded",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(v[0]["network"], folded_bf16, "--folded in bf16");
}

#[test]
fn file_size_is_exact_when_nothing_is_cached() {
    // What profile reports for an uncached model must equal a real file's size.
    let reg = Registry::load(None).unwrap();
    let arch = &reg.get("dpn48b").unwrap().arch;
    let tensors = dpn::model::parameter_shapes(arch)
        .into_iter()
        .map(|p| {
            let nbt = p.name.ends_with("num_batches_tracked");
            let dtype = if nbt { DType::I64 } else { DType::F32 };
            let n: i64 = p.shape.iter().product();
            let t = RawTensor {
                dtype,
                shape: p.shape.iter().map(|&d| d as usize).collect(),
                data: vec![0; n as usize * dtype.size()],
            };
            (p.name, t)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    dpn::weights::write_safetensors(
        &path,
        &StateDict {
            tensors,
            metadata: Default::default(),
        },
    )
    .unwrap();
    let real = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        dpn::weights::convert::safetensors_size(arch, DType::F32).unwrap(),
        real
    );
    let v = json(&dpn(&[
        "profile", "dpn48b", "--iters", "0", "--format", "json",
    ]));
    assert_eq!(v[0]["file_size"].as_u64().unwrap(), real);
    assert_eq!(v[0]["file_size_source"], "f32 safetensors");
}

fn assert_usage_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_input_is_a_clear_usage_error() {
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--img-size", "16", "--iters", "0"]),
        "at least 32 px",
    );
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--batch-size", "0"]),
        "--batch-size must be at least 1",
    );
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--device", "cpu", "--dtype", "f16"]),
        "only supported on CUDA",
    );
    assert_usage_error(&dpn(&["profile", "dpn68", "--dtype", "f8"]), "f8");
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--device", "tpu"]),
        "invalid device `tpu`",
    );
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--device", "cpu", "--cuda-graph"]),
        "--cuda-graph needs a CUDA device",
    );
    assert_usage_error(
        &dpn(&["profile", "dpn68", "--cuda-graph", "--by-stage"]),
        "--cuda-graph times forward passes",
    );
}

/// `profile` with the CPU's available memory as the `test-hooks` build is
/// told it (`DPN_TEST_AVAILABLE_MEMORY`), RUST_BACKTRACE unset.
fn dpn_with_memory(args: &[&str], available: Option<u64>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.args(args)
        .env(
            "DPN_CACHE_DIR",
            std::env::temp_dir().join("dpn-test-empty-cache"),
        )
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("RUST_BACKTRACE")
        .env("NO_COLOR", "1");
    if let Some(n) = available {
        c.env("DPN_TEST_AVAILABLE_MEMORY", n.to_string());
    }
    c.output().unwrap()
}

/// A --batch-size the machine cannot hold starts from what the estimate
/// (input and activations, f32) says fits in 3/4 of the available memory,
/// and says so once, instead of halving down from the size asked.
#[test]
fn a_batch_beyond_memory_starts_from_the_estimate() {
    let counts = json(&dpn(&[
        "profile",
        "dpn48b",
        "--img-size",
        "32",
        "--iters",
        "0",
        "-f",
        "json",
    ]));
    let acts = counts[0]["activations"].as_u64().unwrap();
    let per_image = (3 * 32 * 32 + acts) * 4;
    // Room for 4 images and a bit under the 3/4 the estimate may use.
    let available = (per_image * 4 + per_image / 2) * 4 / 3;
    let o = dpn_with_memory(
        &[
            "profile",
            "dpn48b",
            "--device",
            "cpu",
            "--img-size",
            "32",
            "--batch-size",
            "3000",
            "--warmup",
            "0",
            "--iters",
            "1",
            "-f",
            "json",
        ],
        Some(available),
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = json(&o);
    assert_eq!(v[0]["batch_size"], 4, "{err}");
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--batch-size 3000"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].starts_with("dpn: warning: --batch-size 3000")
            && notes[0].contains("available")
            && notes[0].contains("timing batches of 4"),
        "{err}"
    );
}

/// An out-of-memory error dpn handles is dpn's line alone, even where a
/// developer's environment asks for Rust and C++ backtraces.
#[test]
fn handled_out_of_memory_prints_no_panic_with_backtraces_asked_for() {
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args([
            "profile",
            "dpn48b",
            "--device",
            "cpu",
            "--batch-size",
            "300000",
        ])
        .args(["--warmup", "0", "--iters", "1", "--no-retry"])
        .env(
            "DPN_CACHE_DIR",
            std::env::temp_dir().join("dpn-test-empty-cache"),
        )
        .env_remove("DPN_MODEL_INDEX")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .env("TORCH_SHOW_CPP_STACKTRACES", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(8), "{err}");
    assert!(
        err.lines()
            .all(|l| l.starts_with("dpn: ") || l.starts_with("profiling dpn48b")),
        "only dpn's own lines: {err}"
    );
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("dpn: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("out of memory on cpu at batch size 300000"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}
