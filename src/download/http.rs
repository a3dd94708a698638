//! Downloads with resume, retries and a progress bar.
//!
//! HTTP goes through ureq (rustls): redirects are followed (release files
//! redirect to a CDN), by hand, so that one to another scheme (`file://`,
//! `ftp://`) is refused as what it is; proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`) are honoured, connect and read time out after
//! `--timeout`. An unfinished download stays in `<file>.part`; the next try
//! asks for the rest with `Range: bytes=N-`, and starts over when the server
//! answers with the whole file instead. `file://` URLs and plain paths are
//! copied the same way, without a network.
//!
//! Every download is bounded: its body may not outgrow the `Content-Length`
//! the server announced, the size the caller was told to expect (the hub's
//! `X-Linked-Size`), or [`MAX_DOWNLOAD`]; past that the attempt ends for good
//! and the partial file is removed. A server that keeps the connection
//! alive but sends less than [`MIN_SPEED`] bytes a second over a whole
//! [`SPEED_WINDOW`] (curl's `--speed-limit`/`--speed-time`) is given up on
//! like one that times out.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use crate::sys::error;
use crate::ui::{progress, Ui};

/// True for `file://` URLs and plain paths: nothing to download.
pub fn is_local(url: &str) -> bool {
    url.starts_with("file://") || !url.contains("://")
}

/// The path a local URL names.
pub fn local_path(url: &str) -> PathBuf {
    let p = url.strip_prefix("file://").unwrap_or(url);
    // `file://localhost/x` names `/x`.
    PathBuf::from(p.strip_prefix("localhost").unwrap_or(p))
}

/// The most bytes one download may bring: the largest DPN weights (dpn107's
/// `.pth`) are about 333 MB, so 2 GiB leaves room for any conversion of
/// them while a server that never ends its body stops there
/// (docs/conventions.md, "Limits on downloads and runs").
pub const MAX_DOWNLOAD: u64 = 2 << 30;

/// The slowest transfer accepted, in bytes per second, averaged over
/// [`SPEED_WINDOW`]: below it a download is a stalled one.
pub const MIN_SPEED: u64 = 1024;

/// How long a download may stay under [`MIN_SPEED`] before it is given up.
pub const SPEED_WINDOW: Duration = Duration::from_secs(30);

fn max_download() -> u64 {
    #[cfg(feature = "test-hooks")]
    if let Some(n) = crate::sys::fail::max_download() {
        return n;
    }
    MAX_DOWNLOAD
}

fn speed_window() -> Duration {
    #[cfg(feature = "test-hooks")]
    if let Some(w) = crate::sys::fail::speed_window() {
        return w;
    }
    SPEED_WINDOW
}

/// The most redirects one download follows.
pub const MAX_REDIRECTS: usize = 10;

/// A failed attempt: worth retrying or not.
enum Failure {
    Transient(String),
    Permanent(anyhow::Error),
}

pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
    retries: u32,
}

impl Client {
    pub fn new(timeout: Duration, retries: u32) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .http_status_as_error(false)
            // Followed in `get_following`, which checks each hop's scheme.
            .max_redirects(0)
            .user_agent(format!("dpn/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            agent,
            timeout,
            retries,
        }
    }

    /// Downloads `url` into `part`, continuing what `part` already holds.
    /// `headers` go with every request (an `Authorization` one is dropped on
    /// redirects). `expected` is the file's size where the caller knows it;
    /// the body may not outgrow it (nor [`MAX_DOWNLOAD`]). Failures carry
    /// exit code 5.
    #[allow(clippy::too_many_arguments)]
    pub fn download(
        &self,
        url: &str,
        part: &Path,
        headers: &[(String, String)],
        expected: Option<u64>,
        progress: bool,
        ui: &Ui,
        label: &str,
    ) -> Result<u64> {
        let ceiling = max_download();
        if let Some(n) = expected.filter(|&n| n > ceiling) {
            return Err(error::network(format!(
                "{url}: the server states {n} bytes, more than the {} a DPN weights file may be",
                indicatif::HumanBytes(ceiling)
            )));
        }
        let limit = expected.unwrap_or(ceiling);
        let bar = progress::bytes(progress, label);
        let result = self.download_with(url, part, headers, limit, &bar, ui);
        bar.finish_and_clear();
        result
    }

    fn download_with(
        &self,
        url: &str,
        part: &Path,
        headers: &[(String, String)],
        limit: u64,
        bar: &ProgressBar,
        ui: &Ui,
    ) -> Result<u64> {
        self.retrying(ui, || {
            if is_local(url) {
                copy_local(&local_path(url), part, limit, bar)
            } else {
                self.get_once(url, part, headers, limit, bar, ui)
            }
        })
    }

    /// A HEAD request to `url` that does not follow redirects (the caller
    /// wants the headers of the answer itself), retried as downloads are.
    /// A 4xx answer is returned for the caller to explain; 5xx, 408, 425 and
    /// 429 are retried.
    pub fn head(
        &self,
        url: &str,
        headers: &[(String, String)],
        ui: &Ui,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        self.retrying(ui, || {
            let mut req = self.agent.head(url);
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req
                .config()
                .max_redirects(0)
                .build()
                .call()
                .map_err(|e| self.classify(e, url))?;
            match resp.status().as_u16() {
                status @ (408 | 425 | 429 | 500..=599) => Err(Failure::Transient(format!(
                    "{url}: HTTP {status} from the server"
                ))),
                _ => Ok(resp),
            }
        })
    }

    /// Runs `once` until it succeeds or fails for good; transient failures
    /// are retried `self.retries` times with backoff, each announced on stderr.
    fn retrying<T>(&self, ui: &Ui, mut once: impl FnMut() -> Result<T, Failure>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match once() {
                Ok(n) => return Ok(n),
                Err(Failure::Permanent(e)) => return Err(e),
                Err(Failure::Transient(msg)) if attempt < self.retries => {
                    attempt += 1;
                    let wait = backoff(attempt);
                    ui.warn(format!(
                        "{msg}; retrying in {:.1} s ({attempt}/{})",
                        wait.as_secs_f64(),
                        self.retries
                    ));
                    std::thread::sleep(wait);
                }
                Err(Failure::Transient(msg)) => {
                    let tries = if self.retries > 0 {
                        format!(" (after {} retries)", self.retries)
                    } else {
                        String::new()
                    };
                    return Err(error::network(format!("{msg}{tries}")));
                }
            }
        }
    }

    fn get_once(
        &self,
        url: &str,
        part: &Path,
        headers: &[(String, String)],
        limit: u64,
        bar: &ProgressBar,
        ui: &Ui,
    ) -> Result<u64, Failure> {
        let offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if offset > 0 {
            ui.debug(format!("resuming {url} at byte {offset}"));
        }
        let resp = self.get_following(url, headers, offset, ui)?;
        let status = resp.status().as_u16();
        let start = match status {
            206 if offset > 0 => {
                let range_start = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if range_start != Some(offset) {
                    truncate(part).map_err(Failure::Permanent)?;
                    return Err(Failure::Transient(format!(
                        "{url}: the server sent an unexpected range; starting over"
                    )));
                }
                ui.info(format!(
                    "resuming download at {}",
                    indicatif::HumanBytes(offset)
                ));
                offset
            }
            200..=299 => {
                if offset > 0 {
                    ui.info(format!(
                        "{url}: the server ignores range requests; starting over"
                    ));
                }
                0
            }
            416 if offset > 0 => {
                // Our partial file is no prefix of the server's: start again.
                truncate(part).map_err(Failure::Permanent)?;
                return Err(Failure::Transient(format!(
                    "{url}: the server refused to resume (HTTP 416); starting over"
                )));
            }
            404 | 410 => {
                return Err(Failure::Permanent(error::network(format!(
                    "{url} does not exist (HTTP {status}); check the registry's URL or the mirror"
                ))))
            }
            401 | 403 => {
                return Err(Failure::Permanent(error::network(format!(
                    "access to {url} denied (HTTP {status}); the file may need a token or be gone"
                ))))
            }
            408 | 425 | 429 | 500..=599 => {
                return Err(Failure::Transient(format!(
                    "{url}: HTTP {status} from the server"
                )))
            }
            _ => {
                return Err(Failure::Permanent(error::network(format!(
                    "{url}: unexpected HTTP status {status}"
                ))))
            }
        };
        let total = resp
            .body()
            .content_length()
            .map(|n| n.saturating_add(start));
        if let Some(t) = total.filter(|&t| t > limit) {
            truncate(part).map_err(Failure::Permanent)?;
            return Err(Failure::Permanent(too_big(url, t, limit)));
        }
        let mut body = resp.into_body();
        let mut file = if start == 0 {
            File::create(part)
        } else {
            OpenOptions::new().append(true).open(part)
        }
        .with_context(|| format!("cannot write {}", part.display()))
        .map_err(Failure::Permanent)?;
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(start);
        let mut reader = body.as_reader();
        let mut got = start;
        let mut buf = vec![0u8; 1 << 16];
        let mut speed = SpeedCheck::new(got);
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = file.sync_all();
                    return Err(Failure::Transient(format!(
                        "{url}: connection lost after {got} bytes: {}",
                        self.describe_io(&e)
                    )));
                }
            };
            if got.saturating_add(n as u64) > limit {
                drop(file);
                truncate(part).map_err(Failure::Permanent)?;
                return Err(Failure::Permanent(too_big(url, got + n as u64, limit)));
            }
            file.write_all(&buf[..n])
                .with_context(|| format!("cannot write {}", part.display()))
                .map_err(Failure::Permanent)?;
            got += n as u64;
            bar.set_position(got);
            if let Some(msg) = speed.too_slow(got) {
                let _ = file.sync_all();
                return Err(Failure::Transient(format!("{url}: {msg}")));
            }
        }
        file.sync_all()
            .with_context(|| format!("cannot write {}", part.display()))
            .map_err(Failure::Permanent)?;
        if let Some(t) = total {
            if got != t {
                return Err(Failure::Transient(format!(
                    "{url}: download cut short at {got} of {t} bytes"
                )));
            }
        }
        Ok(got)
    }

    /// GET `url` (from byte `offset`), following redirects to HTTP(S)
    /// URLs only. `Authorization` goes to the first host alone, as ureq
    /// does when it follows them itself.
    fn get_following(
        &self,
        url: &str,
        headers: &[(String, String)],
        offset: u64,
        ui: &Ui,
    ) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut current = url.to_string();
        for hop in 0..=MAX_REDIRECTS {
            let mut req = self.agent.get(&current);
            for (k, v) in headers {
                if hop == 0 || !k.eq_ignore_ascii_case("authorization") {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            if offset > 0 {
                req = req.header("Range", format!("bytes={offset}-"));
            }
            let resp = req
                .config()
                .max_redirects(0)
                .build()
                .call()
                .map_err(|e| self.classify(e, url))?;
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            // A 3xx without a place to go (304, some 300s) is the caller's
            // unexpected status.
            let Some(location) = resp.headers().get("location") else {
                return Ok(resp);
            };
            let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
            let next = redirect_target(&current, &location)
                .map_err(|why| Failure::Permanent(error::network(format!("{url}: {why}"))))?;
            ui.debug(format!("{current} redirects to {next}"));
            current = next;
        }
        Err(Failure::Permanent(error::network(format!(
            "{url}: too many redirects (more than {MAX_REDIRECTS})"
        ))))
    }

    fn classify(&self, e: ureq::Error, url: &str) -> Failure {
        let secs = self.timeout.as_secs_f64();
        match e {
            ureq::Error::Timeout(t) => Failure::Transient(format!(
                "{url}: timed out after {secs} s ({t}; see --timeout)"
            )),
            ureq::Error::Io(io) => Failure::Transient(format!("{url}: {}", self.describe_io(&io))),
            ureq::Error::ConnectionFailed => Failure::Transient(format!("{url}: cannot connect")),
            ureq::Error::HostNotFound => Failure::Permanent(error::network(format!(
                "{url}: host not found (no network? use --mirror or --offline)"
            ))),
            ureq::Error::TooManyRedirects => Failure::Permanent(error::network(format!(
                "{url}: too many redirects (more than {MAX_REDIRECTS})"
            ))),
            ureq::Error::Protocol(p) => {
                Failure::Transient(format!("{url}: HTTP protocol error: {p}"))
            }
            other => Failure::Permanent(error::network(format!("{url}: {other}"))),
        }
    }

    fn describe_io(&self, e: &std::io::Error) -> String {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>());
        match inner {
            Some(ureq::Error::Timeout(_)) => {
                format!(
                    "timed out after {} s without data (see --timeout)",
                    self.timeout.as_secs_f64()
                )
            }
            Some(other) => other.to_string(),
            None if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                format!(
                    "timed out after {} s without data (see --timeout)",
                    self.timeout.as_secs_f64()
                )
            }
            None => e.to_string(),
        }
    }
}

/// Where a redirect from `base` to `location` goes: an absolute HTTP(S)
/// URL, or `location` resolved against `base` (RFC 3986, section 5.2). A
/// location with any other scheme is refused: a server must not send a
/// download to a local file (`file:///etc/passwd`) or another protocol.
fn redirect_target(base: &str, location: &str) -> Result<String, String> {
    let location = location.trim();
    if location.is_empty() {
        return Err("the server redirects to an empty location".to_string());
    }
    if let Some(scheme) = scheme_of(location) {
        let lower = scheme.to_ascii_lowercase();
        if lower == "http" || lower == "https" {
            return Ok(location.to_string());
        }
        return Err(format!(
            "the server redirects to {location}, which is not an HTTP(S) URL; refused"
        ));
    }
    let base_scheme = scheme_of(base).unwrap_or("http");
    if location.starts_with("//") {
        return Ok(format!("{base_scheme}:{location}"));
    }
    let after_scheme = &base[base_scheme.len() + 3..];
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let origin = &base[..base_scheme.len() + 3 + authority_end];
    let base_path = after_scheme[authority_end..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let (path, rest) = match location.find(['?', '#']) {
        Some(i) => location.split_at(i),
        None => (location, ""),
    };
    let joined = if path.starts_with('/') {
        path.to_string()
    } else if path.is_empty() {
        base_path.to_string()
    } else {
        let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
        format!("{dir}{path}")
    };
    Ok(format!("{origin}{}{rest}", remove_dot_segments(&joined)))
}

/// The URL scheme `s` starts with (`http` of `http://...`), if any.
fn scheme_of(s: &str) -> Option<&str> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// A path without `.` and `..` segments (RFC 3986, section 5.2.4).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." | ".." => {
                if *seg == ".." && out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// The error for a body that outgrows `limit` (exit code 5).
fn too_big(url: &str, got: u64, limit: u64) -> anyhow::Error {
    error::network(format!(
        "{url}: {got} bytes, more than the {limit} stated or allowed (a DPN weights file is at \
         most {}); the partial file was removed",
        indicatif::HumanBytes(max_download())
    ))
}

/// curl's `--speed-limit`/`--speed-time`: a transfer averaging less than
/// [`MIN_SPEED`] over a whole window is over. The read timeout alone never
/// ends a server that drips a byte at a time.
struct SpeedCheck {
    window: Duration,
    since: Instant,
    at: u64,
}

impl SpeedCheck {
    fn new(got: u64) -> SpeedCheck {
        SpeedCheck {
            window: speed_window(),
            since: Instant::now(),
            at: got,
        }
    }

    /// Why the transfer is given up, once a window closes too slow.
    fn too_slow(&mut self, got: u64) -> Option<String> {
        let elapsed = self.since.elapsed();
        if elapsed < self.window {
            return None;
        }
        let moved = got - self.at;
        let secs = elapsed.as_secs_f64();
        if (moved as f64) < MIN_SPEED as f64 * secs {
            return Some(format!(
                "slower than {} B/s: {moved} bytes in the last {secs:.1} s; the server is stalling",
                MIN_SPEED
            ));
        }
        self.since = Instant::now();
        self.at = got;
        None
    }
}

/// Copies a local file (a `file://` mirror) into `part`; same result as a
/// download, under the same size limit (a mirror path may be a device).
fn copy_local(src: &Path, part: &Path, limit: u64, bar: &ProgressBar) -> Result<u64, Failure> {
    let mut from = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Permanent(error::network(format!(
                "{} does not exist (mirror directory lacks the file)",
                src.display()
            ))))
        }
        Err(e) => {
            return Err(Failure::Permanent(
                anyhow::Error::new(e).context(format!("cannot read {}", src.display())),
            ))
        }
    };
    let mut run = || -> Result<u64> {
        let len = from.metadata()?.len();
        bar.set_length(len);
        let mut to =
            File::create(part).with_context(|| format!("cannot write {}", part.display()))?;
        from.seek(SeekFrom::Start(0))?;
        let n = std::io::copy(
            &mut bar.wrap_read((&mut from).take(limit.saturating_add(1))),
            &mut to,
        )
        .with_context(|| format!("cannot copy {} to {}", src.display(), part.display()))?;
        to.sync_all()?;
        if n > limit {
            drop(to);
            truncate(part)?;
            return Err(too_big(&src.display().to_string(), n, limit));
        }
        Ok(n)
    };
    run().map_err(Failure::Permanent)
}

fn truncate(part: &Path) -> Result<()> {
    match fs::remove_file(part) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", part.display())),
    }
}

/// 0.5 s, 1 s, 2 s, ... capped at 8 s, plus up to 0.25 s of jitter so that
/// many clients do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base = 500u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(4))
        .min(8000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % 250)
        .unwrap_or(0);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve_against_the_url_and_other_schemes_are_refused() {
        let base = "https://example.org/a/b/w.pth?x=1";
        for (location, want) in [
            (
                "https://cdn.example.net/w.pth",
                "https://cdn.example.net/w.pth",
            ),
            ("HTTP://cdn.example.net/w", "HTTP://cdn.example.net/w"),
            ("//cdn.example.net/w", "https://cdn.example.net/w"),
            ("/c/w.pth", "https://example.org/c/w.pth"),
            ("w2.pth?y=2", "https://example.org/a/b/w2.pth?y=2"),
            ("../c/w.pth", "https://example.org/a/c/w.pth"),
            ("../../../../w.pth", "https://example.org/w.pth"),
            ("./", "https://example.org/a/b/"),
            ("?y=2", "https://example.org/a/b/w.pth?y=2"),
        ] {
            assert_eq!(
                redirect_target(base, location).as_deref(),
                Ok(want),
                "{location}"
            );
        }
        assert_eq!(
            redirect_target("http://h:8080", "x").as_deref(),
            Ok("http://h:8080/x")
        );
        for refused in [
            "file:///etc/passwd",
            "ftp://h/w.pth",
            "javascript:alert(1)",
            "data:,x",
        ] {
            let why = redirect_target(base, refused).unwrap_err();
            assert!(
                why.contains(refused) && why.contains("not an HTTP(S) URL"),
                "{why}"
            );
        }
        assert!(redirect_target(base, " ").is_err());
    }
}
