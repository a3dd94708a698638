//! Weights I/O end to end: every registry model saved by timm in both .pth
//! formats, loaded directly and through `dpn convert`, gives timm's logits;
//! converted files load into timm strictly; bad files fail cleanly.

mod common;
use common::python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use dpn::registry::Registry;
use dpn::weights::load::load_model;
use dpn::weights::{read_any, to_tch};
use tch::{Device, Kind, Tensor};

const MODELS: [&str; 7] = [
    "dpn48b", "dpn68", "dpn68b", "dpn92", "dpn98", "dpn131", "dpn107",
];
const TOLERANCE: f64 = 1e-4;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/convert_reference.py")
}

fn run_python(args: &[&str]) -> Output {
    let out = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// timm's reference files for every model, made once per test process.
fn reference() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::shared_tempdir("dpn-convert-");
        let mut args = vec!["make", dir.path().to_str().unwrap()];
        args.extend(MODELS);
        run_python(&args);
        dir
    })
    .path()
}

fn dpn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env_remove("DPN_MODEL_INDEX")
        .output()
        .unwrap()
}

fn io(model: &str) -> (Tensor, Tensor) {
    let t = Tensor::read_safetensors(reference().join(model).join("io.safetensors")).unwrap();
    let get = |n: &str| t.iter().find(|(k, _)| k == n).unwrap().1.shallow_clone();
    (get("x"), get("logits"))
}

fn logits_diff(registry: &Registry, model: &str, weights: &Path) -> f64 {
    let spec = registry.get(model).unwrap();
    let loaded = load_model(registry, spec, weights, Device::Cpu).unwrap();
    assert!(
        loaded.report.is_exact(),
        "{model} {}: {}",
        weights.display(),
        loaded.report.summary()
    );
    let (x, want) = io(model);
    let got = tch::no_grad(|| loaded.model.forward_t(&x, false));
    (got - want).abs().max().double_value(&[])
}

/// Every tensor of `b` is bit-identical to the same-named tensor of `a`
/// (a's num_batches_tracked may be absent, as in pre-0.4.1 files).
fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (read_any(a).unwrap(), read_any(b).unwrap());
    for (name, ta) in &a.tensors {
        let tb = b.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((ta.dtype, &ta.shape), (tb.dtype, &tb.shape), "{name}");
        assert!(ta.data == tb.data, "{name} differs");
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn every_model_matches_timm_directly_and_through_convert() {
    let registry = Registry::load(None).unwrap();
    let out_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut check_args: Vec<String> = vec!["check".into()];
    let mut report = Vec::new();
    for model in MODELS {
        let dir = reference().join(model);
        for format in ["zip", "legacy"] {
            let source = dir.join(format!("{format}.pth"));
            let direct = logits_diff(&registry, model, &source);
            assert!(direct <= TOLERANCE, "{model} {format} direct: {direct}");

            let converted = out_dir.path().join(format!("{model}-{format}.safetensors"));
            // No --model: the architecture is inferred from the shapes.
            let o = dpn(&[
                "-q",
                "convert",
                source.to_str().unwrap(),
                converted.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(
                o.stdout.is_empty() && o.stderr.is_empty(),
                "--quiet prints nothing"
            );
            assert_same_tensors(&source, &converted);
            let via = logits_diff(&registry, model, &converted);
            assert!(via <= TOLERANCE, "{model} {format} converted: {via}");
            assert_eq!(via, direct, "the same tensors give the same logits");
            report.push(format!("{model}/{format}: {direct:.2e}"));

            let sd = read_any(&converted).unwrap();
            assert_eq!(sd.metadata["dpn.model"], model);
            assert_eq!(sd.metadata["format"], "pt");
            assert_eq!(
                sd.metadata["dpn.source_sha256"],
                dpn::sys::digest::file_sha256(&source).unwrap().0
            );
            if format == "legacy" {
                check_args.extend([converted.display().to_string(), model.to_string()]);
                check_args.push(dir.join("io.safetensors").display().to_string());
            }
        }
    }
    eprintln!(
        "max |logits - timm| per model/format: {}",
        report.join(", ")
    );
    // timm loads every converted file with strict=True and gives its own logits.
    let args: Vec<&str> = check_args.iter().map(String::as_str).collect();
    let o = run_python(&args);
    let diffs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (file, d) in diffs.as_object().unwrap() {
        assert_eq!(d.as_f64().unwrap(), 0.0, "timm on {file}");
    }
    assert_eq!(diffs.as_object().unwrap().len(), MODELS.len());
}

#[test]
fn reconverting_is_bit_identical_and_dtype_casts() {
    let src = reference().join("dpn68b/zip.pth");
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.safetensors");
    let b = dir.path().join("b.safetensors");
    let half = dir.path().join("h.safetensors");
    for (i, o) in [&a, &b].iter().enumerate() {
        let input = if i == 0 { src.clone() } else { a.clone() };
        let out = dpn(&[
            "convert",
            input.to_str().unwrap(),
            o.to_str().unwrap(),
            "--model",
            "dpn68b",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_same_tensors(&a, &b);
    let out = dpn(&[
        "convert",
        a.to_str().unwrap(),
        half.to_str().unwrap(),
        "--dtype",
        "bf16",
    ]);
    assert!(out.status.success());
    let (sa, sh) = (read_any(&a).unwrap(), read_any(&half).unwrap());
    for (name, t) in &sh.tensors {
        let orig = sa.get(name).unwrap();
        if name.ends_with("num_batches_tracked") {
            assert_eq!(t.data, orig.data);
            continue;
        }
        assert_eq!(t.dtype, dpn::weights::DType::BF16, "{name}");
        let want = to_tch(orig).unwrap().to_kind(Kind::BFloat16);
        let got = to_tch(t).unwrap();
        assert!(
            want.equal(&got),
            "{name}: bf16 rounding differs from torch's"
        );
    }
}

/// One line on stderr naming the file, a non-zero exit, no output file and
/// no temporary file left beside it.
fn assert_clean_failure(input: &Path, extra: &[&str], code: i32, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let mut args = vec!["convert", input.to_str().unwrap(), out.to_str().unwrap()];
    args.extend(extra);
    let o = dpn(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{}: {err}", input.display());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("dpn: error: ") && !err.contains("panicked"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn bad_files_fail_cleanly() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    run_python(&["bad", d.to_str().unwrap()]);
    let good = std::fs::read(reference().join("dpn48b/zip.pth")).unwrap();
    let legacy = std::fs::read(reference().join("dpn48b/legacy.pth")).unwrap();

    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let empty = write("empty.pth", b"");
    assert_clean_failure(&empty, &[], 3, &["empty.pth", "empty"]);
    let magic = write("magic.pth", b"GIF89a this is not a checkpoint at all");
    assert_clean_failure(
        &magic,
        &[],
        3,
        &["magic.pth", "not a PyTorch or safetensors file"],
    );
    let truncated = write("truncated.pth", &good[..good.len() / 2]);
    assert_clean_failure(&truncated, &[], 3, &["truncated.pth"]);
    let truncated_legacy = write("truncated_legacy.pth", &legacy[..legacy.len() * 2 / 3]);
    assert_clean_failure(&truncated_legacy, &[], 3, &["truncated_legacy.pth"]);

    // A zip whose first tensor's data entry is gone.
    let no_data = d.join("no_data.pth");
    {
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(&good)).unwrap();
        let mut dst = zip::ZipWriter::new(std::fs::File::create(&no_data).unwrap());
        for i in 0..src.len() {
            let f = src.by_index_raw(i).unwrap();
            if f.name().ends_with("/data/0") {
                continue;
            }
            dst.raw_copy_file(f).unwrap();
        }
        dst.finish().unwrap();
    }
    assert_clean_failure(&no_data, &[], 3, &["no_data.pth", "data/0"]);

    // Unpickling this would run a shell command.
    let evil = d.join("evil.pth");
    assert_clean_failure(&evil, &[], 3, &["evil.pth", "system"]);
    assert!(!d.join("PWNED").exists() && !Path::new("PWNED").exists());

    let wrong = d.join("wrong_shape.pth");
    assert_clean_failure(
        &wrong,
        &["--model", "dpn48b"],
        3,
        &["features.conv1_1.conv.weight", "[10, 3, 5, 5]"],
    );
    assert_clean_failure(
        &wrong,
        &[],
        3,
        &["matches no known model", "closest is `dpn48b`"],
    );

    // A safetensors header that claims a petabyte.
    let header =
        br#"{"w":{"dtype":"F32","shape":[250000000000000],"data_offsets":[0,1000000000000000]}}"#;
    let mut huge = (header.len() as u64).to_le_bytes().to_vec();
    huge.extend_from_slice(header);
    huge.extend_from_slice(&[0; 64]);
    let huge = write("huge.safetensors", &huge);
    assert_clean_failure(&huge, &[], 3, &["huge.safetensors"]);

    let missing = d.join("does-not-exist.pth");
    assert_clean_failure(&missing, &[], 1, &["does-not-exist.pth"]);
    assert_clean_failure(
        &reference().join("dpn48b/zip.pth"),
        &["--dtype", "f8"],
        2,
        &["f8"],
    );
    assert_clean_failure(
        &reference().join("dpn48b/zip.pth"),
        &["--model", "dpn9000"],
        2,
        &["unknown model"],
    );
}
