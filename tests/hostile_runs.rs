//! Hostile servers and hostile neighbours: a download that never ends or
//! drips, a hub that answers with something other than weights, two
//! training runs on one folder and the leftovers of killed runs. Each ends
//! in one line and a documented exit code, and nothing unfit is left where
//! a later command would take it for weights or a checkpoint.
//!
//! The servers are threads of the test answering on 127.0.0.1 with crafted
//! responses; no network is used.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- helpers

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One `dpn: error:` line with `code` and each of `needles`, no panic.
fn assert_one_line_error(o: &Output, code: i32, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("dpn: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    for n in needles {
        assert!(errors[0].contains(n), "`{n}` missing from: {err}");
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything under `dir`, as paths relative to it (files and folders).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------- server

/// What the server does with one request: (method, path) -> bytes written
/// to the socket (the handler writes them itself, so it may drip or never
/// stop).
type Handler = dyn Fn(&str, &str, &mut TcpStream) -> std::io::Result<()> + Send + Sync;

struct Server {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(
        handler: impl Fn(&str, &str, &mut TcpStream) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let l = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (handler, log) = (handler.clone(), l.clone());
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut first = String::new();
                    if reader.read_line(&mut first).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                    }
                    let mut parts = first.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    log.lock().unwrap().push(format!("{method} {path}"));
                    let _ = handler(&method, &path, &mut conn);
                    let _ = conn.shutdown(Shutdown::Both);
                });
            }
        });
        Server { port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// A whole response with a Content-Length.
fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

/// A 200 whose body has no stated length and never ends (until the client
/// hangs up).
fn endless(conn: &mut TcpStream) -> std::io::Result<()> {
    conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
    let chunk = vec![0u8; 1 << 16];
    loop {
        conn.write_all(&chunk)?;
    }
}

/// The hub's answer to `.../resolve/main/model.safetensors`: a redirect
/// to `/blob` with the given etag (and size, when stated).
fn hub_head(conn: &mut TcpStream, etag: &str, size: Option<usize>) -> std::io::Result<()> {
    let size = size.map(|s| s.to_string());
    let mut h = vec![
        ("Location", "/blob"),
        ("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567"),
        ("ETag", etag),
    ];
    if let Some(s) = &size {
        h.push(("X-Linked-Size", s.as_str()));
    }
    respond(conn, "302 Found", &h, b"")
}

// ---------------------------------------------------------------- setup

const ARCH: &str = concat!(
    "  Metadata: {Crop Pct: '0.9', Image Size: '64', Interpolation: bilinear}\n",
    "  DPN:\n",
    "    Architecture: {Small: true, Init Features: 10, K R: 64, Groups: 16, B: true,\n",
    "                   K Sec: [1, 2, 2, 1], Inc Sec: [8, 16, 16, 32], Activation: silu, Num Classes: 10}\n",
    "    Normalization: imagenet\n",
    "    Hub Id: test/tiny\n",
);

/// A temp dir with a cache, an HF home and a model index naming `tiny`,
/// whose weights come from `url`.
struct Env {
    dir: tempfile::TempDir,
    index: PathBuf,
}

impl Env {
    fn new(url: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index.yaml");
        std::fs::write(
            &index,
            format!("Models:\n- Name: tiny\n  Weights: {url}\n{ARCH}"),
        )
        .unwrap();
        Env { dir, index }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn hub(&self) -> PathBuf {
        self.dir.path().join("hf/hub")
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpn"));
        cmd.arg("--model-index").arg(&self.index).args(args);
        for k in [
            "DPN_MODEL_INDEX",
            "DPN_MIRROR",
            "DPN_OFFLINE",
            "HF_TOKEN",
            "HF_TOKEN_PATH",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "HF_HUB_OFFLINE",
            "XDG_CACHE_HOME",
            "RUST_BACKTRACE",
            "DPN_TEST_SPEED_WINDOW_MS",
            "DPN_TEST_MAX_DOWNLOAD",
        ] {
            cmd.env_remove(k);
        }
        for k in ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"] {
            cmd.env_remove(k).env_remove(k.to_ascii_lowercase());
        }
        cmd.env("NO_COLOR", "1")
            .env("DPN_CACHE_DIR", self.cache())
            .env("HF_HOME", self.dir.path().join("hf"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Weights that fit `tiny` (zeros), as safetensors bytes.
    fn weights(&self) -> Vec<u8> {
        let registry = dpn::registry::Registry::load(Some(&self.index)).unwrap();
        let arch = &registry.get("tiny").unwrap().arch;
        let mut sd = dpn::weights::StateDict::default();
        for p in dpn::model::parameter_shapes(arch) {
            let t = if p.name.ends_with("num_batches_tracked") {
                dpn::weights::RawTensor {
                    dtype: dpn::weights::DType::I64,
                    shape: vec![],
                    data: vec![0; 8],
                }
            } else {
                let shape: Vec<usize> = p.shape.iter().map(|&d| d as usize).collect();
                let n: usize = shape.iter().product();
                dpn::weights::RawTensor {
                    dtype: dpn::weights::DType::F32,
                    shape,
                    data: vec![0; n * 4],
                }
            };
            sd.tensors.push((p.name, t));
        }
        let path = self.dir.path().join("made.safetensors");
        dpn::weights::write_safetensors(&path, &sd).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    }
}

const HTML: &[u8] = b"<html>Not Found</html>\n\n\n\n\n";

// ---------------------------------------------------------------- downloads

#[cfg(feature = "test-hooks")] // the knobs that make it quick
#[test]
fn endless_body_stops_at_the_ceiling_and_leaves_nothing() {
    let server = Server::start(|_, _, conn| endless(conn));
    let env = Env::new(&server.url("/w/tiny-0123abcd.pth"));
    // The ceiling lowered from 2 GiB to 1 MiB (a test-hooks knob).
    let o = env.run(
        &["fetch", "tiny", "--retries", "0"],
        &[("DPN_TEST_MAX_DOWNLOAD", "1048576")],
    );
    assert_one_line_error(&o, 5, &["1048576", "partial file was removed"]);
    assert_eq!(tree(&env.cache().join("weights")), Vec::<String>::new());
}

#[test]
fn stated_sizes_bound_the_body() {
    // The hub states 1000 bytes; the blob's server never stops.
    let server = Server::start(|method, path, conn| match (method, path) {
        (_, p) if p.contains("/resolve/") => {
            hub_head(conn, &format!("\"{}\"", "a".repeat(64)), Some(1000))
        }
        (_, "/blob") => endless(conn),
        _ => respond(conn, "404 Not Found", &[], b""),
    });
    let env = Env::new("https://example.invalid/tiny-0123abcd.pth");
    let ep = server.url("");
    let o = env.run(
        &["fetch", "tiny", "--source", "hf", "--retries", "0"],
        &[("HF_ENDPOINT", ep.as_str())],
    );
    assert_one_line_error(&o, 5, &["more than the 1000", "partial file was removed"]);
    let blobs = env.hub().join("models--test--tiny/blobs");
    assert_eq!(tree(&blobs), Vec::<String>::new());

    // A Content-Length beyond the ceiling is refused before a byte is kept.
    let server = Server::start(|_, _, conn| {
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3000000000\r\nConnection: close\r\n\r\n",
        )?;
        endless(conn)
    });
    let env = Env::new(&server.url("/w/tiny-0123abcd.pth"));
    let o = env.run(&["fetch", "tiny", "--retries", "0"], &[]);
    assert_one_line_error(&o, 5, &["3000000000 bytes", "2.00 GiB"]);
    assert_eq!(tree(&env.cache().join("weights")), Vec::<String>::new());
}

#[cfg(feature = "test-hooks")] // the knobs that make it quick
#[test]
fn dripping_server_is_given_up_on() {
    // Headers at once, then one byte every 50 ms: far under 1 KiB/s, yet
    // never silent long enough for the read timeout.
    let server = Server::start(|_, _, conn| {
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n")?;
        loop {
            conn.write_all(b"x")?;
            conn.flush()?;
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let env = Env::new(&server.url("/w/tiny-0123abcd.pth"));
    // The 30 s window shortened to 1 s (a test-hooks knob).
    let o = env.run(
        &["fetch", "tiny", "--retries", "0", "--timeout", "5"],
        &[("DPN_TEST_SPEED_WINDOW_MS", "1000")],
    );
    assert_one_line_error(&o, 5, &["slower than 1024 B/s", "stalling"]);
    assert!(!env.cache().join("weights/tiny-0123abcd.pth").exists());
}

// ---------------------------------------------------------------- content

#[test]
fn hub_page_that_is_not_weights_never_enters_the_cache() {
    // An HTML page with a made-up etag: no digest to check, and not weights.
    let server = Server::start(|method, path, conn| match (method, path) {
        (_, p) if p.contains("/resolve/") => hub_head(conn, "\"notasha\"", None),
        (_, "/blob") => respond(conn, "200 OK", &[], HTML),
        _ => respond(conn, "404 Not Found", &[], b""),
    });
    let env = Env::new("https://example.invalid/tiny-0123abcd.pth");
    let ep = server.url("");
    for _ in 0..2 {
        let o = env.run(
            &["fetch", "tiny", "--source", "hf"],
            &[("HF_ENDPOINT", ep.as_str())],
        );
        assert_one_line_error(&o, 3, &["no safetensors file", "the file was removed"]);
        assert!(
            text(&o.stderr).contains("states no SHA-256"),
            "{}",
            text(&o.stderr)
        );
    }
    let repo = env.hub().join("models--test--tiny");
    assert_eq!(tree(&repo.join("blobs")), Vec::<String>::new());
    assert!(!repo.join("snapshots").exists() && !repo.join("refs").exists());
    // Twice downloaded: the second fetch did not find it "cached".
    assert_eq!(
        server
            .log()
            .iter()
            .filter(|l| l.starts_with("GET /blob"))
            .count(),
        2
    );

    // The page's own SHA-256 as the etag: the digest matches, the content
    // still is no weights.
    let sha = sha256(HTML);
    let etag = format!("\"{sha}\"");
    let server = Server::start(move |method, path, conn| match (method, path) {
        (_, p) if p.contains("/resolve/") => hub_head(conn, &etag, Some(HTML.len())),
        (_, "/blob") => respond(conn, "200 OK", &[], HTML),
        _ => respond(conn, "404 Not Found", &[], b""),
    });
    let ep = server.url("");
    let o = env.run(
        &["fetch", "tiny", "--source", "hf"],
        &[("HF_ENDPOINT", ep.as_str())],
    );
    assert_one_line_error(&o, 3, &["no safetensors file"]);
    assert_eq!(tree(&repo.join("blobs")), Vec::<String>::new());
}

#[test]
fn hub_safetensors_of_another_model_are_refused() {
    let other = Env::new("https://example.invalid/x.pth");
    std::fs::write(
        &other.index,
        format!(
            "Models:\n- Name: tiny\n  Weights: https://example.invalid/x.pth\n{}",
            ARCH.replace("K Sec: [1, 2, 2, 1]", "K Sec: [1, 1, 1, 1]")
        ),
    )
    .unwrap();
    let wrong = other.weights();
    let sha = sha256(&wrong);
    let etag = format!("\"{sha}\"");
    let len = wrong.len();
    let server = Server::start(move |method, path, conn| match (method, path) {
        (_, p) if p.contains("/resolve/") => hub_head(conn, &etag, Some(len)),
        (_, "/blob") => respond(conn, "200 OK", &[], &wrong),
        _ => respond(conn, "404 Not Found", &[], b""),
    });
    let env = Env::new("https://example.invalid/tiny-0123abcd.pth");
    let ep = server.url("");
    let o = env.run(
        &["fetch", "tiny", "--source", "hf"],
        &[("HF_ENDPOINT", ep.as_str())],
    );
    assert_one_line_error(
        &o,
        3,
        &[
            "is not weights of model `tiny`",
            "does not fit",
            "the file was removed",
        ],
    );
    assert_eq!(
        tree(&env.hub().join("models--test--tiny/blobs")),
        Vec::<String>::new()
    );
}

#[test]
fn url_without_a_hash_is_checked_and_listed_unverified() {
    let env = Env::new("https://example.invalid/placeholder.safetensors");
    let good = env.weights();
    let serving = Arc::new(Mutex::new(HTML.to_vec()));
    let s = serving.clone();
    let server = Server::start(move |_, _, conn| {
        let body = s.lock().unwrap().clone();
        respond(conn, "200 OK", &[], &body)
    });
    let env = Env::new(&server.url("/w/tiny.safetensors"));
    // An error page under the weights' name: refused, nothing cached.
    let o = env.run(&["fetch", "tiny"], &[]);
    assert_one_line_error(
        &o,
        3,
        &["tiny.safetensors from", "is not weights of model `tiny`"],
    );
    assert_eq!(tree(&env.cache().join("weights")), Vec::<String>::new());

    // The real file: fetched, and marked unverified (no digest named it).
    *serving.lock().unwrap() = good;
    let o = env.run(&["fetch", "tiny"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = env.run(&["fetch", "--list", "--format", "json"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["model"] == "tiny")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["kind"], "source");
    assert_eq!(rows[0]["verified"], false);
    let o = env.run(&["fetch", "--list"], &[]);
    assert!(
        text(&o.stdout).contains("unverified"),
        "{}",
        text(&o.stdout)
    );
}

// ---------------------------------------------------------------- training runs

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1").env_remove("RUST_BACKTRACE").env(
        "DPN_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"),
    );
    #[cfg(feature = "test-hooks")]
    c.env_remove(dpn::train::checkpoint::TEST_PAUSE_ENV);
    c
}

/// A short `dpn train` of dpn48b on the digits at 32 px (5 batches an epoch).
fn train(out: &Path, epochs: u32) -> Command {
    let mut c = dpn();
    c.args(common::digits_train_args(out, epochs, "32"))
        .args(["--lr", "0.05"]);
    c
}

fn resume(out: &Path, epochs: u32) -> Output {
    dpn()
        .arg("train")
        .arg("--resume")
        .arg(out)
        .arg("--epochs")
        .arg(epochs.to_string())
        .output()
        .unwrap()
}

/// The PID of a process that has ended.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn epoch(dir: &Path) -> u64 {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    s["epoch"].as_u64().unwrap()
}

#[test]
fn a_run_folder_takes_one_process_and_a_kill_before_the_first_checkpoint_starts_over() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // The first run: long enough to be running while the second tries.
    let mut first = train(&out, 1000)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(dpn::train::run_lock::LOCK_FILE);
    let pid = first.id().to_string();
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| s.trim().to_string())
        .ok()
        != Some(pid.clone())
    {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended");
        assert!(t0.elapsed() < Duration::from_secs(120), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A second run of the same folder fails at once, naming the first;
    // --resume too.
    let o = train(&out, 1).output().unwrap();
    assert_one_line_error(
        &o,
        2,
        &["in use by another dpn train", &format!("PID {pid}")],
    );
    let o = resume(&out, 1);
    assert_one_line_error(&o, 2, &[&format!("PID {pid}")]);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    // The folder as a kill before the first checkpoint leaves it: the
    // recorded settings, a half-written checkpoint of a dead process, an
    // empty checkpoint folder, a link being moved.
    let run = tmp.path().join("killed");
    let ckpts = run.join("checkpoints");
    let half = ckpts.join(format!(".tmp-{}-epoch-0001", dead_pid()));
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("model.safetensors"), vec![0u8; 4096]).unwrap();
    std::fs::create_dir_all(ckpts.join("epoch-0007")).unwrap();
    std::fs::copy(out.join("run.json"), run.join("run.json")).unwrap();
    std::os::unix::fs::symlink(
        "checkpoints/epoch-0007",
        run.join(format!(".last.tmp-{}", dead_pid())),
    )
    .unwrap();

    let o = resume(&run, 1);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("starting it again from scratch"), "{err}");
    assert_eq!(epoch(&run.join("last")), 1);
    let left: Vec<String> = tree(&run)
        .into_iter()
        .filter(|p| p.contains(".tmp") || p.contains("epoch-0007"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn resume_repairs_what_kills_leave_and_goes_on_from_the_last_complete_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = train(&out, 1).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ckpts = out.join("checkpoints");
    // `last` lost, an empty and a partial checkpoint folder, stale temporaries.
    std::fs::remove_file(out.join("last")).unwrap();
    std::fs::create_dir(ckpts.join("epoch-0007")).unwrap();
    std::fs::create_dir(ckpts.join("epoch-0008")).unwrap();
    std::fs::write(ckpts.join("epoch-0008/model.safetensors"), b"half").unwrap();
    let stale = ckpts.join(format!(".tmp-{}-epoch-0002", dead_pid()));
    std::fs::create_dir(&stale).unwrap();
    // A live process's temporary folder (this test's) is not touched.
    let live = ckpts.join(format!(".tmp-{}-epoch-0002", std::process::id()));
    std::fs::create_dir(&live).unwrap();

    let o = resume(&out, 2);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("incomplete checkpoint"), "{err}");
    assert!(err.contains("was missing; it now names"), "{err}");
    assert!(
        err.contains("resuming dpn48b") && err.contains("(epoch 1, step 0)"),
        "{err}"
    );
    assert_eq!(epoch(&out.join("last")), 2);
    for gone in [ckpts.join("epoch-0007"), ckpts.join("epoch-0008"), stale] {
        assert!(!gone.exists(), "{} left", gone.display());
    }
    assert!(live.exists());
}

#[test]
fn a_deleted_lock_file_lets_no_second_trainer_in() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut first = train(&out, 1000)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(dpn::train::run_lock::LOCK_FILE);
    let pid = first.id().to_string();
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| s.trim().to_string())
        .ok()
        != Some(pid.clone())
    {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended");
        assert!(t0.elapsed() < Duration::from_secs(120), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What a user clearing "stale" files does while the first run goes on;
    // then a stranger's file in its place.
    std::fs::remove_file(&lock).unwrap();
    let o = train(&out, 1).output().unwrap();
    let refused = o.status.code() == Some(2);
    std::fs::write(&lock, "1\n").unwrap();
    let o2 = resume(&out, 1);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(refused, "a second trainer got in: {}", text(&o.stderr));
    assert_one_line_error(&o, 2, &["in use by another dpn train"]);
    assert_one_line_error(&o2, 2, &["in use by another dpn train"]);
}

/// A checkpoint's state.json with progress no run could have made: each
/// is refused as corrupt, naming the file and the field, before anything
/// trains.
#[test]
fn corrupt_progress_in_a_checkpoint_state_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = train(&out, 1).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let state = out.join("last").join("state.json");
    let good = std::fs::read_to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    assert_eq!(v["epoch"], 1);
    for (field, value) in [
        ("epoch", "1e12"),
        ("epoch", "1000000000000"),
        ("epoch", "-1"),
        ("epoch", "\"1\""),
        ("step_in_epoch", "1000000000"),
        ("step_in_epoch", "2.5"),
    ] {
        let mut v = v.clone();
        v[field] = serde_json::from_str(value).unwrap();
        std::fs::write(&state, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let o = resume(&out, 3);
        assert_one_line_error(
            &o,
            3,
            &[&format!(
                "{}: corrupt checkpoint state: {field}",
                state.display()
            )],
        );
    }
    // A step past what an epoch of this run makes, all else consistent:
    // only the trainer, which knows the updates per epoch, can tell.
    let upe = v["update"].as_u64().unwrap();
    let mut past = v.clone();
    past["epoch"] = 0.into();
    past["step_in_epoch"] = (upe + 1).into();
    past["update"] = (upe + 1).into();
    std::fs::write(&state, serde_json::to_string_pretty(&past).unwrap()).unwrap();
    let o = resume(&out, 3);
    assert_one_line_error(
        &o,
        3,
        &[
            &format!(
                "{}: corrupt checkpoint state: step_in_epoch",
                state.display()
            ),
            &format!("past the {upe} updates"),
        ],
    );
    std::fs::write(&state, &good).unwrap();
}
