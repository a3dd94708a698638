//! `dpn fetch` against a real HTTP server on 127.0.0.1 started by each test:
//! download, verification, conversion, resume, errors, mirrors, the hub
//! route and many processes fetching at once. The weights are a small real
//! `.pth` written by torch (tests/py/fetch_make_pth.py).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- fixture

/// The test weights: bytes and their SHA-256 (hex).
fn pth() -> &'static (Vec<u8>, String) {
    static PTH: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    PTH.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("DPN_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("w.pth");
        let o = Command::new(&python)
            .arg(root.join("tests/py/fetch_make_pth.py"))
            .arg(&out)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {} (set DPN_TEST_PYTHON): {e}", python.display())
            });
        assert!(
            o.status.success(),
            "fetch_make_pth.py: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        let sha = sha256(&bytes);
        (bytes, sha)
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------- server

/// Per-test switches of the server.
#[derive(Default)]
struct Behaviour {
    /// Cut this many GET responses of files after `cut_after` body bytes.
    cuts: usize,
    cut_after: usize,
    ignore_range: bool,
    /// Answer nothing (a stalled server).
    stall: bool,
    /// Answer this many file GETs with 503 first.
    fail_503: usize,
    /// Wait this long before answering a file GET.
    delay: Duration,
    /// Answer this many hub `resolve` requests with 503 first.
    hub_fail_503: usize,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    redirects: HashMap<String, String>,
    /// Hub repositories: repo id -> (commit, sha256 of model.safetensors).
    hub: HashMap<String, (String, String)>,
    behaviour: Behaviour,
    /// One line per request: `METHOD target [range=...] [auth]`.
    log: Vec<String>,
}

struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            behaviour,
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        Server { port, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn add_file(&self, path: &str, bytes: &[u8]) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_string(), bytes.to_vec());
    }

    fn redirect(&self, from: &str, to: &str) {
        self.state
            .lock()
            .unwrap()
            .redirects
            .insert(from.to_string(), to.to_string());
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn gets(&self, path: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l.starts_with(&format!("GET {path}")))
            .count()
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<(String, String, HashMap<String, String>)> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    Ok((method, target, headers))
}

fn handle(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let (mut method, mut target, mut headers) = read_request(&mut reader)?;
    if method == "CONNECT" {
        // Acting as the proxy: tunnel to ourselves.
        state.lock().unwrap().log.push(format!("CONNECT {target}"));
        conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        (method, target, headers) = read_request(&mut reader)?;
    }
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
        None => target.clone(),
    };
    let range = headers.get("range").cloned();
    let mut line = format!("{method} {target}");
    if let Some(r) = &range {
        line.push_str(&format!(" range={r}"));
    }
    if let Some(a) = headers.get("authorization") {
        line.push_str(&format!(" auth={a}"));
    }

    let mut st = state.lock().unwrap();
    st.log.push(line);
    if st.behaviour.stall {
        drop(st);
        std::thread::sleep(Duration::from_secs(20));
        return Ok(());
    }
    if let Some(to) = st.redirects.get(&path).cloned() {
        drop(st);
        return respond(&mut conn, "302 Found", &[("Location", to)], b"", None);
    }
    if let Some((repo, rest)) = path.trim_start_matches('/').split_once("/resolve/") {
        let Some((commit, sha)) = st.hub.get(repo).cloned() else {
            drop(st);
            return respond(&mut conn, "404 Not Found", &[], b"", None);
        };
        if st.behaviour.hub_fail_503 > 0 {
            st.behaviour.hub_fail_503 -= 1;
            drop(st);
            return respond(&mut conn, "503 Service Unavailable", &[], b"busy", None);
        }
        drop(st);
        if rest != "main/model.safetensors" {
            return respond(&mut conn, "404 Not Found", &[], b"", None);
        }
        let h = [
            ("Location", format!("/lfs/{sha}")),
            ("X-Repo-Commit", commit),
            ("X-Linked-Etag", format!("\"{sha}\"")),
            ("ETag", "\"not-the-blob\"".to_string()),
        ];
        return respond(&mut conn, "302 Found", &h, b"", None);
    }
    let Some(body) = st.files.get(&path).cloned() else {
        drop(st);
        return respond(&mut conn, "404 Not Found", &[], b"not found", None);
    };
    if method == "HEAD" {
        drop(st);
        return respond(&mut conn, "200 OK", &[], b"", None);
    }
    let b = &mut st.behaviour;
    let delay = b.delay;
    if b.fail_503 > 0 {
        b.fail_503 -= 1;
        drop(st);
        return respond(&mut conn, "503 Service Unavailable", &[], b"busy", None);
    }
    let cut = (b.cuts > 0).then(|| {
        b.cuts -= 1;
        b.cut_after
    });
    let ignore_range = b.ignore_range;
    drop(st);
    std::thread::sleep(delay);
    let start = range
        .filter(|_| !ignore_range)
        .and_then(|r| {
            r.strip_prefix("bytes=")
                .and_then(|r| r.strip_suffix('-'))
                .map(str::to_string)
        })
        .and_then(|s| s.parse::<usize>().ok());
    match start {
        Some(s) if s >= body.len() => {
            respond(&mut conn, "416 Range Not Satisfiable", &[], b"", None)
        }
        Some(s) => {
            let cr = format!("bytes {s}-{}/{}", body.len() - 1, body.len());
            respond(
                &mut conn,
                "206 Partial Content",
                &[("Content-Range", cr)],
                &body[s..],
                cut,
            )
        }
        None => respond(&mut conn, "200 OK", &[], &body, cut),
    }
}

/// Writes a response; with `cut`, only that many body bytes, then closes.
fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    cut: Option<usize>,
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
    conn.write_all(&body[..cut.unwrap_or(body.len()).min(body.len())])?;
    conn.flush()?;
    conn.shutdown(Shutdown::Both)
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

/// A temp dir with a cache, an HF home and a model index naming `tiny`
/// whose weights URL is `url` (its last segment is the file name).
struct Env {
    dir: tempfile::TempDir,
    index: PathBuf,
    file_name: String,
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
        let file_name = url.rsplit('/').next().unwrap().to_string();
        Env {
            dir,
            index,
            file_name,
        }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn weights(&self) -> PathBuf {
        self.cache().join("weights")
    }

    fn hf_home(&self) -> PathBuf {
        self.dir.path().join("hf")
    }

    fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpn"));
        cmd.arg("--model-index").arg(&self.index).args(args);
        for k in [
            "DPN_MODEL_INDEX",
            "DPN_MIRROR",
            "DPN_OFFLINE",
            "NO_COLOR",
            "HF_ENDPOINT",
            "HF_TOKEN",
            "HF_TOKEN_PATH",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "HF_HUB_OFFLINE",
            "XDG_CACHE_HOME",
        ] {
            cmd.env_remove(k);
        }
        // The network stays on 127.0.0.1: no proxy unless a test sets one.
        for k in ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"] {
            cmd.env_remove(k).env_remove(k.to_ascii_lowercase());
        }
        cmd.env("DPN_CACHE_DIR", self.cache())
            .env("HF_HOME", self.hf_home());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cmd(args, env).output().unwrap()
    }

    /// Names of the files under the cache's weights/.
    fn cached(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.weights())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn stem(&self) -> String {
        self.file_name.split('.').next().unwrap().to_string()
    }

    /// Exactly the three files a complete fetch leaves.
    fn assert_complete(&self) {
        let f = &self.file_name;
        let mut want = vec![
            f.clone(),
            format!("{f}.provenance.json"),
            format!("{}.safetensors", self.stem()),
        ];
        want.sort();
        assert_eq!(self.cached(), want);
        assert_eq!(std::fs::read(self.weights().join(f)).unwrap(), pth().0);
    }
}

/// A served copy of the fixture, named `tiny-<8 hex of its SHA-256>.pth`.
fn served(behaviour: Behaviour) -> (Server, Env) {
    let server = Server::start(behaviour);
    let (bytes, sha) = pth();
    let path = format!("/releases/tiny-{}.pth", &sha[..8]);
    server.add_file(&path, bytes);
    let env = Env::new(&server.url(&path));
    (server, env)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status.code(),
        text(&o.stderr)
    );
}

/// One clear line on stderr with the exit code, no panic.
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

// ---------------------------------------------------------------- tests

#[test]
fn fetch_verifies_converts_and_records_provenance() {
    let (server, env) = served(Behaviour::default());
    let (bytes, sha) = pth();
    let o = env.run(&["fetch", "tiny", "--format", "json"]);
    assert_ok(&o);
    env.assert_complete();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["model"], "tiny");
    assert_eq!(v[0]["status"], "downloaded");
    assert_eq!(v[0]["sha256"], sha.as_str());
    assert_eq!(v[0]["size"], bytes.len() as u64);
    assert_eq!(server.gets("/releases/"), 1);

    // Provenance: URL, digest, date.
    let prov: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            env.weights()
                .join(format!("{}.provenance.json", env.file_name)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(prov["sha256"], sha.as_str());
    assert_eq!(
        prov["url"],
        server.url(&format!("/releases/{}", env.file_name)).as_str()
    );
    assert_eq!(prov["size"], bytes.len() as u64);
    let date = prov["fetched_at"].as_str().unwrap();
    assert!(
        date.len() == 20 && date.ends_with('Z') && date.as_bytes()[10] == b'T',
        "{date}"
    );

    // The conversion holds the same tensors, and says where it came from.
    let converted = env.weights().join(format!("{}.safetensors", env.stem()));
    let st = dpn::weights::read_safetensors(&converted).unwrap();
    let src = dpn::weights::read_any(&env.weights().join(&env.file_name)).unwrap();
    assert_eq!(st.tensors.len(), src.tensors.len());
    for (name, t) in &src.tensors {
        assert_eq!(st.get(name), Some(t), "{name}");
    }
    assert_eq!(st.metadata["dpn.model"], "tiny");
    assert_eq!(st.metadata["dpn.source_sha256"], sha.as_str());
    assert_eq!(st.metadata["dpn.source_file"], env.file_name.as_str());
    assert_eq!(st.metadata["dpn.version"], env!("CARGO_PKG_VERSION"));

    // The cached model computes what the downloaded file does.
    let registry = dpn::registry::Registry::load(Some(&env.index)).unwrap();
    let spec = registry.get("tiny").unwrap();
    let x = tch::Tensor::randn([2, 3, 64, 64], (tch::Kind::Float, tch::Device::Cpu));
    let logits = |path: &std::path::Path| {
        let l = dpn::weights::load::load_model(&registry, spec, path, tch::Device::Cpu).unwrap();
        tch::no_grad(|| l.model.forward_t(&x, false))
    };
    let cached = logits(&converted);
    let source = logits(&env.weights().join(&env.file_name));
    assert_eq!(cached.size(), [2, 10]);
    assert!(cached.equal(&source), "cached and source logits differ");

    // A verified file is not downloaded again; --force does.
    let o = env.run(&["fetch", "tiny", "--format", "csv"]);
    assert_ok(&o);
    assert!(text(&o.stdout).contains(",cached,"), "{}", text(&o.stdout));
    assert_eq!(server.gets("/releases/"), 1);
    let o = env.run(&["fetch", "tiny", "--force"]);
    assert_ok(&o);
    assert_eq!(server.gets("/releases/"), 2);
    env.assert_complete();

    // --list, --verify.
    let o = env.run(&["fetch", "--list", "--format", "json"]);
    assert_ok(&o);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["model"] == "tiny")
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["source", "converted"]);
    assert_eq!(
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "source")
            .unwrap()["sha256"],
        sha.as_str()
    );
    assert_ok(&env.run(&["fetch", "--verify", "tiny"]));

    // The library's resolver finds the conversion first; an explicit file wins.
    let registry = dpn::registry::Registry::load(Some(&env.index)).unwrap();
    let spec = registry.get("tiny").unwrap();
    let cache = dpn::store::cache::Cache::new(env.cache());
    assert_eq!(
        dpn::store::resolve_weights(&cache, spec, None).unwrap(),
        converted
    );
    let explicit = env.weights().join(&env.file_name);
    assert_eq!(
        dpn::store::resolve_weights(&cache, spec, Some(&explicit)).unwrap(),
        explicit
    );

    // A cached file that no longer matches: --verify fails with exit 4.
    let src_path = env.weights().join(&env.file_name);
    let mut damaged = bytes.clone();
    damaged[1000] ^= 0xff;
    std::fs::write(&src_path, &damaged).unwrap();
    let o = env.run(&["fetch", "--verify", "tiny"]);
    assert_one_line_error(&o, 4, &["fail verification", &sha[..8]]);
    assert!(text(&o.stdout).contains("FAILED"));
    // The conversion made from the old bytes is reported too.
    assert!(
        text(&o.stderr).contains(&format!("converted from a file with SHA-256 {sha}")),
        "{}",
        text(&o.stderr)
    );

    // ... and a fetch notices, downloads again and ends verified.
    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    assert!(
        text(&o.stderr).contains("fails its digest check"),
        "{}",
        text(&o.stderr)
    );
    env.assert_complete();

    // --clean removes everything of the model.
    let o = env.run(&["fetch", "--clean", "tiny"]);
    assert_ok(&o);
    assert!(env.cached().is_empty(), "{:?}", env.cached());
    let err = dpn::store::resolve_weights(&cache, spec, None).unwrap_err();
    assert_eq!(dpn::sys::error::exit_code(&err), 6);
    let msg = format!("{err:#}");
    assert!(
        msg.contains("no weights for tiny in ") && msg.contains("run `dpn fetch tiny`"),
        "{msg}"
    );
}

#[test]
fn interrupted_download_resumes_with_range() {
    let (bytes, _) = pth();
    let half = bytes.len() / 2;
    let (server, env) = served(Behaviour {
        cuts: 1,
        cut_after: half,
        ..Behaviour::default()
    });
    let o = env.run(&["fetch", "tiny", "--retries", "0"]);
    assert_one_line_error(&o, 5, &["connection lost", "tiny-"]);
    // Only the partial download is there, under its own name.
    assert_eq!(env.cached(), [format!("{}.part", env.file_name)]);
    assert_eq!(
        std::fs::metadata(env.weights().join(format!("{}.part", env.file_name)))
            .unwrap()
            .len(),
        half as u64
    );

    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    let log = server.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1].ends_with(&format!("range=bytes={half}-")), "{log:?}");
    env.assert_complete();
}

#[test]
fn cut_connection_is_retried_within_one_call() {
    let (server, env) = served(Behaviour {
        cuts: 1,
        cut_after: 300_000,
        ..Behaviour::default()
    });
    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    assert!(text(&o.stderr).contains("retrying"), "{}", text(&o.stderr));
    let log = server.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1].ends_with("range=bytes=300000-"), "{log:?}");
    env.assert_complete();
}

#[test]
fn server_ignoring_range_means_starting_over() {
    let (server, env) = served(Behaviour {
        cuts: 1,
        cut_after: 500_000,
        ignore_range: true,
        ..Behaviour::default()
    });
    let o = env.run(&["fetch", "tiny", "--retries", "0"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    assert!(
        text(&o.stderr).contains("ignores range requests; starting over"),
        "{}",
        text(&o.stderr)
    );
    let log = server.log();
    assert!(log[1].contains("range=bytes=500000-"), "{log:?}");
    env.assert_complete();
}

#[test]
fn digest_mismatch_is_rejected_and_nothing_is_left() {
    let server = Server::start(Behaviour::default());
    let (bytes, sha) = pth();
    server.add_file("/releases/tiny-deadbeef.pth", bytes);
    let env = Env::new(&server.url("/releases/tiny-deadbeef.pth"));
    let o = env.run(&["fetch", "tiny"]);
    assert_one_line_error(&o, 4, &["digest check", "deadbeef", sha]);
    assert!(env.cached().is_empty(), "{:?}", env.cached());
}

#[test]
fn http_errors_timeouts_and_redirects() {
    // 404: exit 5, a clear message, nothing left.
    let server = Server::start(Behaviour::default());
    let env = Env::new(&server.url("/releases/tiny-0123abcd.pth"));
    let o = env.run(&["fetch", "tiny"]);
    assert_one_line_error(&o, 5, &["HTTP 404", "/releases/tiny-0123abcd.pth"]);
    assert!(env.cached().is_empty(), "{:?}", env.cached());
    assert_eq!(server.log().len(), 1, "a 404 is not retried");

    // A stalled server: the timeout ends it.
    let stalled = Server::start(Behaviour {
        stall: true,
        ..Behaviour::default()
    });
    let env = Env::new(&stalled.url("/releases/tiny-0123abcd.pth"));
    let t = Instant::now();
    let o = env.run(&["fetch", "tiny", "--timeout", "0.5", "--retries", "0"]);
    assert_one_line_error(&o, 5, &["timed out"]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(env.cached().is_empty(), "{:?}", env.cached());

    // A redirect chain to the file (release downloads redirect to a CDN).
    let (server, _) = served(Behaviour::default());
    let (_, sha) = pth();
    let name = format!("tiny-{}.pth", &sha[..8]);
    server.redirect(&format!("/a/{name}"), &format!("/b/{name}"));
    server.redirect(
        &format!("/b/{name}"),
        &server.url(&format!("/releases/{name}")),
    );
    let env = Env::new(&server.url(&format!("/a/{name}")));
    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    env.assert_complete();

    // Transient errors are retried with backoff.
    let (server, env) = served(Behaviour {
        fail_503: 1,
        ..Behaviour::default()
    });
    let o = env.run(&["fetch", "tiny"]);
    assert_ok(&o);
    assert_eq!(server.gets("/releases/"), 2);
    env.assert_complete();
}

#[test]
fn offline_and_file_mirrors() {
    let (server, env) = served(Behaviour::default());
    let weights = env.weights();
    // Nothing cached: fails at once, naming the path it looked for.
    let o = env.run(&["fetch", "tiny", "--offline"]);
    assert_one_line_error(
        &o,
        6,
        &["offline", weights.join(&env.file_name).to_str().unwrap()],
    );
    let o = env.run_env(&["fetch", "tiny"], &[("DPN_OFFLINE", "1")]);
    assert_one_line_error(&o, 6, &["offline"]);
    assert!(server.log().is_empty());

    // A file:// mirror (and a plain directory) needs no network at all.
    let mirror = env.dir.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join(&env.file_name), &pth().0).unwrap();
    let url = format!("file://{}", mirror.display());
    let o = env.run(&["fetch", "tiny", "--mirror", &url, "--offline"]);
    assert_ok(&o);
    env.assert_complete();
    let prov = std::fs::read_to_string(weights.join(format!("{}.provenance.json", env.file_name)))
        .unwrap();
    assert!(prov.contains(&format!("{url}/{}", env.file_name)), "{prov}");
    assert_ok(&env.run(&["fetch", "--clean", "--all"]));
    assert!(env.cached().is_empty());
    let o = env.run_env(
        &["fetch", "tiny", "--force"],
        &[("DPN_MIRROR", mirror.to_str().unwrap())],
    );
    assert_ok(&o);
    env.assert_complete();
    assert!(server.log().is_empty(), "{:?}", server.log());

    // Cached: --offline succeeds without a request.
    let o = env.run(&["fetch", "tiny", "--offline", "--format", "csv"]);
    assert_ok(&o);
    assert!(text(&o.stdout).contains(",cached,"));

    // A mirror that lacks the file.
    let o = env.run(&[
        "fetch",
        "tiny",
        "--force",
        "--mirror",
        env.dir.path().join("nowhere").to_str().unwrap(),
    ]);
    assert_one_line_error(&o, 5, &["does not exist"]);
}

#[test]
fn proxy_variables_are_honoured() {
    let (server, _) = served(Behaviour::default());
    let (_, sha) = pth();
    // A host that only the proxy (our server) knows.
    let env = Env::new(&format!(
        "http://weights.invalid/releases/tiny-{}.pth",
        &sha[..8]
    ));
    let proxy = server.url("");
    let o = env.run_env(&["fetch", "tiny"], &[("HTTPS_PROXY", &proxy)]);
    assert_ok(&o);
    let log = server.log();
    assert_eq!(
        log,
        [
            "CONNECT weights.invalid:80".to_string(),
            format!("GET /releases/tiny-{}.pth", &sha[..8])
        ]
    );
    env.assert_complete();

    // NO_PROXY bypasses a proxy that is not there.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (server, env) = served(Behaviour::default());
    let dead_proxy = format!("http://127.0.0.1:{dead}");
    let o = env.run_env(
        &["fetch", "tiny", "--retries", "0"],
        &[("HTTPS_PROXY", &dead_proxy)],
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    let o = env.run_env(
        &["fetch", "tiny"],
        &[("HTTPS_PROXY", &dead_proxy), ("NO_PROXY", "127.0.0.1")],
    );
    assert_ok(&o);
    assert_eq!(server.gets("/releases/"), 1);
}

#[test]
fn hugging_face_hub_source_and_cache_layout() {
    let server = Server::start(Behaviour::default());
    let (pth_bytes, _) = pth();
    // model.safetensors as the hub holds it: our conversion of the fixture.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("w.pth");
    std::fs::write(&src, pth_bytes).unwrap();
    let sd = dpn::weights::read_any(&src).unwrap();
    let st_path = tmp.path().join("model.safetensors");
    dpn::weights::write_safetensors(&st_path, &sd).unwrap();
    let st = std::fs::read(&st_path).unwrap();
    let sha = sha256(&st);
    let commit = "0123456789abcdef0123456789abcdef01234567";
    server
        .state
        .lock()
        .unwrap()
        .hub
        .insert("test/tiny".into(), (commit.into(), sha.clone()));
    server.add_file(&format!("/lfs/{sha}"), &st);
    let env = Env::new("https://example.invalid/unused/tiny-0123abcd.pth");
    let endpoint = server.url("");
    let hfenv = [
        ("HF_ENDPOINT", endpoint.as_str()),
        ("HF_TOKEN", "hf_secret"),
    ];

    let o = env.run_env(
        &["fetch", "tiny", "--source", "hf", "--format", "json"],
        &hfenv,
    );
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["sha256"], sha.as_str());
    assert_eq!(v[0]["status"], "downloaded");
    let repo = env.hf_home().join("hub/models--test--tiny");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        commit
    );
    let pointer = repo
        .join("snapshots")
        .join(commit)
        .join("model.safetensors");
    assert_eq!(
        std::fs::read_link(&pointer).unwrap(),
        Path::new("../../blobs").join(&sha)
    );
    assert_eq!(std::fs::read(repo.join("blobs").join(&sha)).unwrap(), st);
    assert_eq!(v[0]["path"], pointer.to_str().unwrap());
    let log = server.log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log[0].starts_with("HEAD /test/tiny/resolve/main/model.safetensors auth=Bearer hf_secret"),
        "{log:?}"
    );
    assert!(
        log[1].starts_with("GET /test/tiny/resolve/main/model.safetensors auth=Bearer hf_secret"),
        "{log:?}"
    );
    assert_eq!(
        log[2],
        format!("GET /lfs/{sha}"),
        "the token does not follow the redirect"
    );
    // Nothing of the download's scaffolding is left in the blobs.
    assert_eq!(std::fs::read_dir(repo.join("blobs")).unwrap().count(), 1);

    // Found again with no network at all, as a timm user's download would be.
    let o = env.run_env(
        &["fetch", "tiny", "--source", "hf", "--format", "csv"],
        &[("HF_ENDPOINT", "http://127.0.0.1:9")],
    );
    assert_ok(&o);
    assert!(text(&o.stdout).contains(",cached,"));
    let o = env.run_env(&["fetch", "tiny", "--source", "hf", "--offline"], &[]);
    assert_ok(&o);
    assert_eq!(server.log().len(), 3);

    // HF_HUB_CACHE moves the hub cache: nothing there, and offline says where it looked.
    let other = env.dir.path().join("elsewhere");
    let o = env.run_env(
        &["fetch", "tiny", "--source", "hf", "--offline"],
        &[("HF_HUB_CACHE", other.to_str().unwrap())],
    );
    assert_one_line_error(&o, 6, &["models--test--tiny", other.to_str().unwrap()]);

    // `dpn info` counts the hub's file as cached, where predict would load it from.
    let o = env.run(&["info", "tiny", "--format", "json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["weights"]["cached"], true, "{v}");
    assert_eq!(v[0]["weights"]["cached_path"], pointer.to_str().unwrap());

    // What the resolver's last fallback finds.
    assert_eq!(
        dpn::store::hub::cached_file(&env.hf_home().join("hub"), "test/tiny"),
        Some(pointer)
    );

    // A hub that does not know the repository.
    let server404 = Server::start(Behaviour::default());
    let ep = server404.url("");
    let o = env.run_env(
        &["fetch", "tiny", "--source", "hf", "--force"],
        &[("HF_ENDPOINT", &ep)],
    );
    assert_one_line_error(&o, 5, &["HTTP 404"]);
}

#[test]
fn sixteen_processes_download_once() {
    let (server, env) = served(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let children: Vec<_> = (0..16)
        .map(|_| {
            env.cmd(&["fetch", "tiny"], &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut statuses = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_ok(&o);
        let mut s = String::new();
        o.stdout.as_slice().read_to_string(&mut s).unwrap();
        statuses.push(if s.contains("downloaded") {
            "downloaded"
        } else {
            "cached"
        });
    }
    assert_eq!(server.gets("/releases/"), 1, "{:?}", server.log());
    assert_eq!(
        statuses.iter().filter(|s| **s == "downloaded").count(),
        1,
        "{statuses:?}"
    );
    env.assert_complete();
    assert_ok(&env.run(&["fetch", "--verify", "tiny"]));
}

#[test]
fn hub_requests_are_retried_like_downloads() {
    // The hub's first answer (to the HEAD that finds the commit) is a 503.
    let server = Server::start(Behaviour {
        hub_fail_503: 1,
        ..Behaviour::default()
    });
    let (pth_bytes, _) = pth();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("w.pth");
    std::fs::write(&src, pth_bytes).unwrap();
    let st_path = tmp.path().join("model.safetensors");
    dpn::weights::write_safetensors(&st_path, &dpn::weights::read_any(&src).unwrap()).unwrap();
    let st = std::fs::read(&st_path).unwrap();
    let sha = sha256(&st);
    server.state.lock().unwrap().hub.insert(
        "test/tiny".into(),
        (
            "0123456789abcdef0123456789abcdef01234567".into(),
            sha.clone(),
        ),
    );
    server.add_file(&format!("/lfs/{sha}"), &st);
    let env = Env::new("https://example.invalid/unused/tiny-0123abcd.pth");
    let endpoint = server.url("");
    let o = env.run_env(
        &["fetch", "tiny", "--source", "hf", "--retries", "2"],
        &[("HF_ENDPOINT", endpoint.as_str())],
    );
    assert_ok(&o);
    assert!(
        text(&o.stderr).contains("HTTP 503") && text(&o.stderr).contains("retrying"),
        "{}",
        text(&o.stderr)
    );
    let heads = server
        .log()
        .iter()
        .filter(|l| l.starts_with("HEAD /test/tiny/resolve/main/model.safetensors"))
        .count();
    assert_eq!(heads, 2, "{:?}", server.log());
}

#[test]
fn a_redirect_to_another_scheme_is_refused_as_such() {
    let server = Server::start(Behaviour::default());
    let path = "/releases/tiny-0123abcd.pth";
    server.redirect(path, "file:///etc/passwd");
    let env = Env::new(&server.url(path));
    let o = env.run(&["fetch", "tiny"]);
    assert_one_line_error(
        &o,
        5,
        &[
            path,
            "redirect",
            "file:///etc/passwd",
            "not an HTTP(S) URL",
            "refused",
        ],
    );
    assert!(!text(&o.stderr).contains("too many"), "{}", text(&o.stderr));
    assert!(env.cached().is_empty(), "{:?}", env.cached());
    assert_eq!(server.log().len(), 1, "{:?}", server.log());

    // A relative redirect is followed; a loop still ends as one.
    let (server, _) = served(Behaviour::default());
    let (_, sha) = pth();
    let name = format!("tiny-{}.pth", &sha[..8]);
    server.redirect(&format!("/a/{name}"), &format!("../releases/{name}"));
    let env = Env::new(&server.url(&format!("/a/{name}")));
    assert_ok(&env.run(&["fetch", "tiny"]));
    env.assert_complete();
    server.redirect("/loop/tiny-0123abcd.pth", "/loop/tiny-0123abcd.pth");
    let env = Env::new(&server.url("/loop/tiny-0123abcd.pth"));
    let o = env.run(&["fetch", "tiny"]);
    assert_one_line_error(&o, 5, &["too many redirects", "/loop/tiny-0123abcd.pth"]);
}
