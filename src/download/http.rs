//! Downloads with resume, retries and a progress bar.
//!
//! HTTP goes through ureq (rustls): redirects are followed (release files
//! redirect to a CDN), proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`,
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
            .max_redirects(10)
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
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if offset > 0 {
            req = req.header("Range", format!("bytes={offset}-"));
            ui.debug(format!("resuming {url} at byte {offset}"));
        }
        let resp = req.call().map_err(|e| self.classify(e, url))?;
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
            ureq::Error::TooManyRedirects => {
                Failure::Permanent(error::network(format!("{url}: too many redirects")))
            }
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
