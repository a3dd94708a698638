//! Paths a hostile but realistic user gives: outputs that are FIFOs, devices,
//! symlinks or `-`; outputs in folders that do not exist (refused before any
//! work); names with spaces, newlines or no target; weights that are not
//! files. Rust-made fixtures (random dpn48b weights, small PNGs), no Python.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env(
            "DPN_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-cache"),
        )
        .env_remove("RUST_BACKTRACE")
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK");
    c
}

fn run(args: &[&str]) -> Output {
    dpn().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// Exit `code` and exactly one line on stderr, the error, holding `needles`.
fn one_line(o: &Output, code: i32, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.starts_with("dpn: error: ") && !e.contains("panicked"),
        "{e}"
    );
    for n in needles {
        assert!(e.contains(n), "`{n}` not in: {e}");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Random dpn48b weights, a small image, and an ImageFolder of two.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn weights(&self) -> String {
        self.path("weights.safetensors").display().to_string()
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::shared_tempdir("dpn-hostile-");
        let registry = dpn::registry::Registry::load(None).unwrap();
        let arch = registry.get("dpn48b").unwrap().arch.clone();
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let net = dpn::model::Dpn::new(&vs.root(), &arch);
        let sd = dpn::weights::StateDict {
            tensors: dpn::model::state_dict(&vs, &net)
                .iter()
                .map(|(k, t)| (k.clone(), dpn::weights::from_tch(t).unwrap()))
                .collect(),
            metadata: Default::default(),
        };
        // Through `dpn convert`, which records the model's name.
        let raw = dir.path().join("raw.safetensors");
        dpn::weights::write_safetensors(&raw, &sd).unwrap();
        let w = dir.path().join("weights.safetensors");
        ok(run(&["-q", "convert", s(&raw), s(&w)]));
        for (i, rel) in [
            "images/a.png",
            "data/n01440764/a.png",
            "data/n01443537/b.png",
        ]
        .iter()
        .enumerate()
        {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image(&p, i as u8);
        }
        Fixture { dir }
    })
}

/// A 24x24 PNG whose colours depend on `seed`.
fn image(path: &Path, seed: u8) {
    let img = image::RgbImage::from_fn(24, 24, |x, y| {
        image::Rgb([(x * 10) as u8 ^ seed, (y * 10) as u8, seed.wrapping_mul(40)])
    });
    img.save_with_format(path, image::ImageFormat::Png).unwrap();
}

/// Small, fast settings for predict and evaluate.
const FAST: [&str; 6] = ["--device", "cpu", "--img-size", "32", "--workers", "1"];

fn mkfifo(path: &Path) {
    let o = Command::new("mkfifo").arg(path).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Reads `fifo` to its end on a thread (opening it waits for the writer).
fn drain(fifo: &Path) -> std::thread::JoinHandle<Vec<u8>> {
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        std::fs::File::open(&fifo)
            .unwrap()
            .read_to_end(&mut v)
            .unwrap();
        v
    })
}

#[cfg(unix)]
fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).unwrap().file_type().is_fifo()
}

/// What `dpn convert` writes to a regular file, for comparison.
fn converted() -> &'static dpn::weights::StateDict {
    static B: OnceLock<dpn::weights::StateDict> = OnceLock::new();
    B.get_or_init(|| {
        let f = fixture();
        let out = f.path("converted.safetensors");
        ok(run(&["-q", "convert", &f.weights(), s(&out)]));
        dpn::weights::read_safetensors(out).unwrap()
    })
}

/// Whether `bytes` hold the converted weights (tensors and metadata; the
/// header's key order may differ from run to run).
fn is_converted(bytes: &[u8]) -> bool {
    dpn::weights::read_safetensors_bytes(bytes).is_ok_and(|sd| &sd == converted())
}

#[test]
fn convert_onto_a_fifo_writes_through_it() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.safetensors");
    mkfifo(&fifo);
    let reader = drain(&fifo);
    ok(run(&["-q", "convert", &f.weights(), s(&fifo)]));
    // First: a replaced FIFO leaves the reader waiting for ever.
    assert!(is_fifo(&fifo), "the FIFO was replaced");
    let got = reader.join().unwrap();
    assert!(is_converted(&got), "the FIFO's reader got other bytes");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "left behind: {left:?}");
}

#[test]
fn convert_onto_a_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // A private copy of /dev/null where mknod is allowed (root); else
    // /dev/null itself, which an unprivileged rename cannot replace anyway.
    let own = dir.path().join("null");
    let made = Command::new("mknod")
        .args([s(&own), "c", "1", "3"])
        .output()
        .is_ok_and(|o| o.status.success());
    let dev = if made {
        own
    } else {
        PathBuf::from("/dev/null")
    };
    ok(run(&["-q", "convert", &f.weights(), s(&dev)]));
    let m = std::fs::symlink_metadata(&dev).unwrap();
    assert!(
        m.file_type().is_char_device(),
        "{} was replaced",
        dev.display()
    );
}

#[test]
fn convert_onto_a_symlink_replaces_its_target_and_keeps_the_link() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/w.safetensors");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.path().join("w.safetensors");
    std::os::unix::fs::symlink("real/w.safetensors", &link).unwrap();
    ok(run(&["-q", "convert", &f.weights(), s(&link)]));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(is_converted(&std::fs::read(&target).unwrap()));

    // A dangling link names the file to create.
    let dangling = dir.path().join("new.safetensors");
    std::os::unix::fs::symlink("real/new.safetensors", &dangling).unwrap();
    ok(run(&["-q", "convert", &f.weights(), s(&dangling)]));
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(is_converted(
        &std::fs::read(dir.path().join("real/new.safetensors")).unwrap()
    ));
}

#[test]
fn convert_dash_writes_to_stdout() {
    let f = fixture();
    let o = ok(run(&["-q", "convert", &f.weights(), "-"]));
    assert!(is_converted(&o.stdout), "stdout is not the converted file");
}

fn evaluate(extra: &[&str]) -> Output {
    let f = fixture();
    let data = f.path("data");
    let mut args = vec!["evaluate", "--data", s(&data)];
    let w = f.weights();
    args.extend(["--weights", w.as_str(), "--format", "json"]);
    args.extend(FAST);
    args.extend(extra);
    run(&args)
}

#[test]
fn results_file_on_a_symlink_replaces_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.json");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.path().join("r.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("per-class.csv");
    mkfifo(&fifo);
    let reader = drain(&fifo);
    ok(evaluate(&[
        "--results-file",
        s(&link),
        "--per-class",
        s(&fifo),
    ]));
    assert!(is_fifo(&fifo), "the FIFO was replaced");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(v["images"], 2);
    let per_class = String::from_utf8(reader.join().unwrap()).unwrap();
    assert!(per_class.starts_with("class_index,"), "{per_class}");
}

#[test]
fn results_file_dash_is_stdout_and_the_summary_moves_to_stderr() {
    let o = ok(evaluate(&["--results-file", "-"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["images"], 2);
    assert!(v["counts"].is_object());
    assert!(stderr(&o).contains("\"top1\""), "{}", stderr(&o));

    let o = evaluate(&["--results-file", "-", "--per-class", "-"]);
    one_line(&o, 2, &["cannot both be -"]);
}

/// `--results-file /dev/stdout`, through a link of our own to the same
/// place (`/proc/self/fd/1`): a root run that renamed over it would replace
/// the link, or the log the shell opened with `>>`.
#[test]
fn results_file_through_proc_self_fd_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let o = ok(evaluate(&["-q", "--results-file", s(&link)]));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("{\n") && text.contains("\"counts\""),
        "{text}"
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // Stdout appending to a log: the log keeps its first line.
    let log = dir.path().join("log");
    std::fs::write(&log, "first line\n").unwrap();
    let out = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let f = fixture();
    let data = f.path("data");
    let w = f.weights();
    let mut args = vec![
        "evaluate",
        "-q",
        "--data",
        s(&data),
        "--weights",
        w.as_str(),
    ];
    args.extend(FAST);
    args.extend(["--results-file", s(&link)]);
    let st = dpn().args(&args).stdout(out).status().unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("first line\n{\n"), "{text}");
    assert!(text.contains("\"counts\""), "{text}");
}

#[test]
fn output_paths_are_checked_before_any_work() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing/r.json");
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    // The weights do not exist either: an error about the output proves
    // that it was checked before the model was looked for.
    let gone = dir.path().join("gone.safetensors");
    let data = f.path("data");
    let eval = |flag: &str, out: &Path| {
        run(&[
            "evaluate",
            "--data",
            s(&data),
            "--weights",
            s(&gone),
            flag,
            s(out),
        ])
    };
    one_line(
        &eval("--results-file", &missing),
        2,
        &["--results-file", "missing", "does not exist"],
    );
    one_line(
        &eval("--per-class", &file.join("c.csv")),
        2,
        &["--per-class", "is not a folder"],
    );
    one_line(
        &eval("--results-file", dir.path()),
        2,
        &["--results-file", "is a directory"],
    );
    let images = f.path("images");
    let o = run(&[
        "predict",
        "--weights",
        s(&gone),
        "--features",
        s(&dir.path().join("missing/f.npy")),
        s(&images),
    ]);
    one_line(&o, 2, &["--features", "does not exist"]);
    let o = run(&[
        "predict",
        "--weights",
        s(&gone),
        "--features",
        "-",
        s(&images),
    ]);
    one_line(&o, 2, &["--features -", "standard output"]);
    let o = run(&["convert", s(&gone), s(&missing)]);
    one_line(&o, 2, &["output", "missing", "does not exist"]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Root writes anywhere: a read-only folder only stops other users.
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::File::create(ro.join("probe")).is_err() {
            let o = eval("--results-file", &ro.join("r.json"));
            one_line(&o, 2, &["--results-file", "cannot create files"]);
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

/// `dpn predict -` with `input` on stdin: (exit code, paths of the rows
/// with their error cells).
fn predict_stdin(extra: &[&str], input: &[u8]) -> (Option<i32>, Vec<(String, String)>) {
    let f = fixture();
    let w = f.weights();
    let mut args = vec![
        "predict",
        "--weights",
        w.as_str(),
        "-k",
        "1",
        "--format",
        "csv",
    ];
    args.extend(FAST);
    args.extend(extra);
    args.push("-");
    let mut child = dpn()
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    let mut rd = csv::Reader::from_reader(o.stdout.as_slice());
    let rows = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[6].to_string())
        })
        .collect();
    (o.status.code(), rows)
}

#[test]
fn stdin_paths_are_taken_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    image(&a, 1);
    let spaced = dir.path().join(" b.png");
    image(&spaced, 2);
    let newline = dir.path().join("new\nline.png");
    image(&newline, 3);
    let d = s(dir.path());

    // A trailing space is part of the name: `a.png ` does not exist.
    let input = format!("{d}/a.png \n{d}/ b.png\r\n{d}/a.png\n");
    let (code, rows) = predict_stdin(&[], input.as_bytes());
    assert_eq!(code, Some(7));
    let paths: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("{d}/a.png "),
            format!("{d}/ b.png"),
            format!("{d}/a.png")
        ]
    );
    let failed: Vec<bool> = rows.iter().map(|r| !r.1.is_empty()).collect();
    assert_eq!(failed, [true, false, false]);

    // -0: NUL-separated, as `find -print0 | xargs -0` pass names.
    let input = format!("{d}/new\nline.png\0{d}/ b.png\0");
    let (code, rows) = predict_stdin(&["-0"], input.as_bytes());
    assert_eq!(code, Some(0), "{rows:?}");
    let paths: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(paths, [format!("{d}/new\nline.png"), format!("{d}/ b.png")]);
}

#[test]
fn feature_paths_survive_a_newline_in_a_name() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    for (i, name) in ["a\nb.png", "c.png"].iter().enumerate() {
        image(&imgs.join(name), i as u8);
    }
    let npy = dir.path().join("x.npy");
    let mut args = vec!["-q", "predict", "--weights"];
    let w = f.weights();
    args.extend([w.as_str(), "--features", s(&npy), "--format", "csv"]);
    args.extend(FAST);
    args.push(s(&imgs));
    ok(run(&args));
    let side = std::fs::read_to_string(dir.path().join("x.npy.paths.jsonl")).unwrap();
    let paths: Vec<String> = side
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            imgs.join("a\nb.png").display().to_string(),
            imgs.join("c.png").display().to_string()
        ]
    );
    // Two rows of 832 f32 after the .npy header.
    let npy = std::fs::read(&npy).unwrap();
    let header = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!(npy.len() - 10 - header, 2 * 832 * 4);
}

#[test]
fn broken_symlinks_in_a_data_folder_are_failed_inputs() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let cls = dir.path().join("n01440764");
    std::fs::create_dir(&cls).unwrap();
    std::fs::copy(f.path("images/a.png"), cls.join("a.png")).unwrap();
    std::os::unix::fs::symlink("gone.png", cls.join("dangling.png")).unwrap();
    std::os::unix::fs::symlink("loop.jpg", cls.join("loop.jpg")).unwrap();
    std::os::unix::fs::symlink("..", cls.join("up")).unwrap();

    let w = f.weights();
    let mut args = vec![
        "predict",
        "--weights",
        w.as_str(),
        "-k",
        "1",
        "--format",
        "csv",
    ];
    args.extend(FAST);
    args.push(s(dir.path()));
    let o = run(&args);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("2 of 3 images could not be read"), "{e}");
    assert!(e.contains("dangling.png") && e.contains("loop.jpg"), "{e}");

    let mut args = vec!["evaluate", "--data", s(dir.path()), "--weights", w.as_str()];
    args.extend(["--format", "json"]);
    args.extend(FAST);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["images"], 1);
    assert_eq!(v[0]["skipped"], 2);
}

#[test]
fn weights_that_are_not_files_say_what_they_are() {
    let f = fixture();
    let images = f.path("images");
    let dir = tempfile::tempdir().unwrap();
    let predict = |w: &str| run(&["predict", "--weights", w, "--device", "cpu", s(&images)]);
    one_line(
        &predict("/dev/zero"),
        2,
        &["/dev/zero", "is not a regular file", "character device"],
    );
    one_line(&predict(s(dir.path())), 2, &["is a directory"]);
    one_line(
        &predict(s(&dir.path().join("none.pth"))),
        2,
        &["none.pth", "does not exist"],
    );
    let out = dir.path().join("o.safetensors");
    one_line(
        &run(&["convert", "/dev/zero", s(&out)]),
        2,
        &["/dev/zero", "character device"],
    );
    one_line(
        &run(&["convert", s(dir.path()), s(&out)]),
        2,
        &["is a directory"],
    );
}

/// The entries of `dir`, by name.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn temporaries_of_killed_runs_name_their_owner_and_go_later() {
    use dpn::sys::atomic::{host, tmp_owner};
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // A FIFO nobody reads: the run stages the whole file in TMPDIR, then
    // waits to open the FIFO, where it is killed.
    let fifo = dir.path().join("out.safetensors");
    mkfifo(&fifo);
    let mut child = dpn()
        .env("TMPDIR", &tmp)
        .args(["-q", "convert", &f.weights(), s(&fifo)])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let staged = loop {
        let entries: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
        if let [e] = entries.as_slice() {
            let m = e.metadata().unwrap();
            if m.is_file() && m.len() > 0 {
                break e.file_name().into_string().unwrap();
            }
        }
        assert!(std::time::Instant::now() < deadline, "nothing staged");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        tmp_owner(&staged),
        Some((child.id(), host())),
        "{staged} does not name its owner"
    );
    // Others' temporaries stay: a live process's (this test's), another
    // host's, and names dpn cannot attribute.
    let keep = [
        format!(".dpn-tmp-{}-{}-live01", std::process::id(), host()),
        format!(".dpn-tmp-{}-{}x-other1", child.id(), host()),
        ".dpn-tmp-Ab12cd".to_string(),
        ".tmpAb12cd".to_string(),
    ];
    for k in &keep {
        std::fs::write(tmp.join(k), b"x").unwrap();
    }
    ok(dpn()
        .env("TMPDIR", &tmp)
        .args(["-q", "convert", &f.weights(), "/dev/null"])
        .output()
        .unwrap());
    let mut want = keep.to_vec();
    want.sort();
    assert_eq!(names_in(&tmp), want);
}

#[test]
fn a_named_output_whose_reader_goes_away_is_an_error() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.safetensors");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 10];
            std::fs::File::open(&fifo)
                .unwrap()
                .read_exact(&mut buf)
                .unwrap();
        })
    };
    let o = run(&["convert", &f.weights(), s(&fifo)]);
    reader.join().unwrap();
    one_line(&o, 1, &[s(&fifo), "broken pipe"]);
}

#[test]
fn replacing_a_file_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.safetensors");
    for mode in [0o640, 0o600] {
        std::fs::write(&out, b"old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode)).unwrap();
        ok(run(&["-q", "convert", &f.weights(), s(&out)]));
        let m = std::fs::metadata(&out).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{mode:o}");
        assert!(is_converted(&std::fs::read(&out).unwrap()));
    }
}

#[test]
fn paths_that_are_not_utf8_print_escaped_and_apart() {
    use std::os::unix::ffi::OsStrExt;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    let names: [&[u8]; 4] = [
        b"a\xfe.png",
        b"a\xff.png",
        "a\u{FFFD}.png".as_bytes(),
        b"plain.png",
    ];
    for (i, n) in names.iter().enumerate() {
        image(&imgs.join(std::ffi::OsStr::from_bytes(n)), i as u8);
    }
    let d = s(&imgs);
    let want = [
        format!("{d}/a\\xFE.png"),
        format!("{d}/a\\xFF.png"),
        format!("{d}/a\u{FFFD}.png"),
        format!("{d}/plain.png"),
    ];
    let w = f.weights();
    let npy = dir.path().join("x.npy");
    let predict = |format: &str, extra: &[&str]| {
        let mut args = vec!["predict", "--weights", w.as_str(), "-k", "1"];
        args.extend(["--format", format]);
        args.extend(FAST);
        args.extend(extra);
        args.push(d);
        let o = ok(run(&args));
        let e = stderr(&o);
        assert_eq!(
            e.lines().filter(|l| l.contains("escaped")).count(),
            1,
            "{format}: {e}"
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let mut expected = want.to_vec();
    expected.sort();

    let csv = predict("csv", &["--features", s(&npy)]);
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let got: Vec<String> = rd.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(sorted(got), expected);

    let json = predict("json", &[]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let got: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sorted(got), expected);

    let table = predict("table", &[]);
    let got: Vec<String> = table
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(str::to_string)
        .collect();
    assert_eq!(sorted(got), expected);

    let side = std::fs::read_to_string(dir.path().join("x.npy.paths.jsonl")).unwrap();
    let got: Vec<String> = side
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sorted(got), expected);
}

#[test]
fn evaluate_records_a_data_folder_that_is_not_utf8_escaped() {
    use std::os::unix::ffi::OsStrExt;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(std::ffi::OsStr::from_bytes(b"val\xfe"));
    for class in ["a", "b"] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        image(&data.join(class).join("1.png"), class.len() as u8);
    }
    let results = dir.path().join("r.json");
    let w = f.weights();
    let mut args: Vec<std::ffi::OsString> = ["evaluate", "--weights", w.as_str(), "--data"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(data.clone().into());
    args.extend(["--results-file".into(), results.clone().into()]);
    args.extend(FAST.iter().map(Into::into));
    let o = ok(dpn().args(&args).output().unwrap());
    assert_eq!(
        stderr(&o).lines().filter(|l| l.contains("escaped")).count(),
        1,
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(
        v["data"].as_str().unwrap().ends_with("/val\\xFE"),
        "{}",
        v["data"]
    );
}
