//! Failures a batch job must be able to trust: out of memory (one line, exit
//! 8, no partial output), a closed stdout with a file still asked for,
//! reference scripts on the wrong versions.

mod common;
use common::python;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// `dpn` with the test environment: no launcher variables, no backtraces.
fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK");
    c
}

/// `dpn ARGS` under `ulimit -v KB`: allocations beyond it fail, as they do
/// on a machine without that much memory.
fn dpn_limited(kb: u64, args: &[&str]) -> Output {
    let mut script = format!("ulimit -v {kb}; exec '{}'", env!("CARGO_BIN_EXE_dpn"));
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The lines dpn printed as errors: exactly one, and no panic or backtrace.
fn one_error_line(o: &Output) -> String {
    let e = stderr(o);
    assert!(!e.contains("panicked") && !e.contains("frame #"), "{e}");
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("dpn: error:")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    errors[0].to_string()
}

/// Random dpn68b weights (timm's, converted) and real photographs, made once.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn path(&self, p: &str) -> String {
        self.dir.path().join(p).display().to_string()
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::shared_tempdir("dpn-failures-");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let o = Command::new(python())
            .arg(root.join("tests/py/predict_reference.py"))
            .args([
                "make",
                dir.path().to_str().unwrap(),
                root.join("data/imagenet1k_classes.tsv").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let f = Fixture { dir };
        let o = dpn()
            .args([
                "-q",
                "convert",
                &f.path("weights.pth"),
                &f.path("w.safetensors"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        f
    })
}

/// About 2.8 GB of address space is libtorch's at start-up; at 512 px a
/// dpn68b batch of 16 needs well over 1 GB beyond that, one image far less.
const LIMIT_KB: u64 = 3_700_000;

#[test]
fn profile_out_of_memory_is_one_line_and_exit_8() {
    let o = dpn()
        .args([
            "-q",
            "profile",
            "dpn48b",
            "--batch-size",
            "300000",
            "--device",
            "cpu",
        ])
        .args(["--iters", "1", "--warmup", "0", "--no-retry"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(
        line.contains("out of memory on cpu at batch size 300000") && line.contains("--batch-size"),
        "{line}"
    );
    assert!(o.stdout.is_empty(), "no partial table");
}

/// `predict` on the fixture's photographs at `batch`, as JSON, with forward
/// passes over more than `oom_above` images failing as libtorch's out of
/// memory does (the `test-hooks` fail point), so that what the retry does
/// is tested exactly, whatever memory the machine has.
fn predict_oom(batch: &str, oom_above: Option<usize>, extra: &[&str]) -> Output {
    let f = fixture();
    let mut c = dpn();
    c.args(["predict", "--weights", &f.path("w.safetensors")])
        .args(["-f", "json", "-b", batch])
        .args(extra)
        .arg(f.path("images"));
    if let Some(n) = oom_above {
        c.env("DPN_TEST_OOM_ABOVE", n.to_string());
    }
    c.output().unwrap()
}

#[test]
fn predict_out_of_memory_retries_at_half_the_batch_and_gets_the_same_answers() {
    let images = std::fs::read_dir(fixture().path("images")).unwrap().count();
    assert!(images > 4, "the fixture needs batches to split");
    let direct = predict_oom("2", None, &[]);
    assert_eq!(code(&direct), 0, "{}", stderr(&direct));
    let retried = predict_oom("8", Some(3), &[]);
    assert_eq!(code(&retried), 0, "{}", stderr(&retried));
    // Chunks of 2 after the retries are the direct run's batches: the
    // same computation, so the same bits.
    assert_eq!(
        String::from_utf8_lossy(&retried.stdout),
        String::from_utf8_lossy(&direct.stdout)
    );
    let e = stderr(&retried);
    assert!(
        e.contains("out of memory on cpu at batch size 8; retrying in batches of 4")
            && e.contains("out of memory on cpu at batch size 4; retrying in batches of 2"),
        "{e}"
    );
    assert!(!e.contains("dpn: error:"), "{e}");
}

#[test]
fn predict_out_of_memory_without_retry_is_exit_8() {
    let refused = predict_oom("8", Some(3), &["--no-retry"]);
    assert_eq!(code(&refused), 8, "{}", stderr(&refused));
    let line = one_error_line(&refused);
    assert!(
        line.contains("out of memory on cpu at batch size 8") && line.contains("--batch-size 4"),
        "{line}"
    );
    // One image that does not fit is the end, retry or not.
    let one = predict_oom("1", Some(0), &[]);
    assert_eq!(code(&one), 8, "{}", stderr(&one));
    let line = one_error_line(&one);
    assert!(line.contains("one image does not fit"), "{line}");
}

/// Real out of memory, not a fail point: under `ulimit -v` whichever
/// allocation fails first (the loader's batch buffer, libtorch's activations)
/// must end the run the same way: one line, exit 8, no abort.
#[test]
fn real_out_of_memory_is_one_line_and_exit_8() {
    let f = fixture();
    let weights = f.path("w.safetensors");
    let images = f.path("images");
    let o = dpn_limited(
        LIMIT_KB,
        &[
            "predict",
            "--weights",
            &weights,
            "--img-size",
            "512",
            "--crop-pct",
            "1",
            "-f",
            "csv",
            "-b",
            "16",
            "--no-retry",
            &images,
        ],
    );
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("out of memory on cpu"), "{line}");
    assert!(line.contains("batch size 16"), "{line}");
}

/// An allocation in dpn's own code that cannot fail gracefully: Rust's
/// default is an abort (SIGABRT, "memory allocation of N bytes failed").
#[test]
fn a_failed_rust_allocation_is_one_line_and_exit_8_not_an_abort() {
    let o = dpn()
        .args(["info", "dpn68"])
        .env("DPN_TEST_ALLOC_FAILS", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(
        line.starts_with("dpn: error: out of memory on cpu: could not allocate")
            && line.contains("--batch-size"),
        "{line}"
    );
    assert!(
        !stderr(&o).contains("memory allocation of"),
        "{}",
        stderr(&o)
    );
}

/// The retry itself is predict's code too (`model::infer::Runner`); here,
/// without it, a failed evaluation leaves no results file behind, and with
/// it the figures are those of the smaller batch.
#[test]
fn evaluate_out_of_memory_writes_no_results_file() {
    let f = fixture();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let refused = tmp.path().join("no.json").display().to_string();
    let weights = f.path("w.safetensors");
    let data = f.path("folder");
    let o = dpn()
        .args(["evaluate", "--weights", &weights, "--data", &data])
        .args(["-b", "8", "--results-file", &refused, "--no-retry"])
        .env("DPN_TEST_OOM_ABOVE", "3")
        .output()
        .unwrap();
    assert_eq!(code(&o), 8, "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(
        line.contains("out of memory on cpu at batch size 8"),
        "{line}"
    );
    assert!(
        !Path::new(&refused).exists(),
        "no results file from a failed run"
    );
    let figures = |batch: &str, oom: Option<&str>| {
        let mut c = dpn();
        c.args(["-q", "evaluate", "--weights", &weights, "--data", &data])
            .args(["-b", batch, "-f", "csv"]);
        if let Some(n) = oom {
            c.env("DPN_TEST_OOM_ABOVE", n);
        }
        let o = c.output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        // Everything but the timing columns.
        let mut lines = out.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        header
            .iter()
            .zip(row)
            .filter(|(h, _)| !h.contains("second") && !h.contains("per_s") && !h.contains("batch"))
            .map(|(h, v)| format!("{h}={v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(figures("8", Some("3")), figures("2", None));
}

#[test]
fn a_closed_stdout_still_completes_the_features_file() {
    let f = fixture();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let npy: PathBuf = tmp.path().join("pe.npy");
    let mut child = dpn()
        .args([
            "predict",
            "--weights",
            &f.path("w.safetensors"),
            "-b",
            "1",
            "-f",
            "csv",
        ])
        .arg("--features")
        .arg(&npy)
        .arg(f.path("images"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the header and one row, then close the pipe, as `head -2` does.
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let _ = out.read(&mut buf).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let images = std::fs::read_dir(f.path("images")).unwrap().count();
    let bytes = std::fs::read(&npy).expect("the features file is written");
    // .npy: a header, then images x 832 f32 (dpn68b's embedding width).
    assert_eq!(bytes.len() % 4, 0);
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize + 10;
    assert_eq!(
        (bytes.len() - header) / 4,
        images * 832,
        "every image's row"
    );
}

#[test]
fn reference_scripts_refuse_other_versions() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let req = tmp.path().join("requirements.txt");
    std::fs::write(&req, "torch==0.0.1\ntimm==1.0.29\n").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(python())
        .arg(root.join("tests/py/profile_fvcore.py"))
        .arg("64")
        .env("DPN_TEST_REQUIREMENTS", &req)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("torch") && e.contains("want 0.0.1"), "{e}");
}
