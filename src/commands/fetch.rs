//! `dpn fetch`: pretrained weights into the cache; `--list`, `--verify` and
//! `--clean` look after what is there.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::builder::FalseyValueParser;
use clap::{ArgAction, Args, ValueEnum};

use super::Context;
use crate::download::{self, hf, Fetched, Options, Provenance};
use crate::output::{self, Cell, Column, Format, Table};
use crate::registry::ModelSpec;
use crate::store::hub;
use crate::sys::digest::file_sha256;
use crate::sys::error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// The URL the registry names (or the same file name under --mirror)
    Url,
    /// model.safetensors of the model's hub id, in the Hugging Face cache
    Hf,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Downloads each model's weights into the cache (DPN_CACHE_DIR, default $XDG_CACHE_HOME/dpn), checks \
the SHA-256 prefix in the file name, moves the file into place atomically, records where it came \
from in <file>.provenance.json and converts it once to safetensors. A verified file already cached \
is not downloaded again (--force does). An interrupted download resumes on the next call. \
Processes fetching the same model at once download it once; the others wait for it.

A download enters the cache only when it holds the model's tensors (names and shapes); a file \
whose name carries no SHA-256 prefix is listed as unverified. A body larger than the server's \
Content-Length, the hub's stated size or 2 GiB is stopped and removed, and a transfer slower \
than 1 KiB/s over 30 s is given up (both exit code 5).

With --source hf the file is model.safetensors of the model's hub id, kept in the Hugging Face \
cache (HF_HOME, HF_HUB_CACHE; HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE are honoured), where \
files a timm user downloaded are found without network; the download is checked against the \
hub's SHA-256 (X-Linked-Etag) and must be safetensors. Proxy variables (HTTPS_PROXY, NO_PROXY) \
are honoured.

Examples:
  dpn fetch dpn92
  dpn fetch --all --mirror https://mirror.example.org/dpn
  dpn fetch dpn68b --mirror /shared/weights --offline
  dpn fetch --list
  dpn fetch --verify dpn92
  dpn fetch --clean --all")]
pub struct FetchArgs {
    /// Models whose weights to fetch (or to list, verify, clean)
    #[arg(value_name = "MODEL", required_unless_present_any = ["all", "list", "verify"])]
    pub models: Vec<String>,

    /// Every model that has weights (with --clean: everything in the cache)
    #[arg(long, conflicts_with = "models")]
    pub all: bool,

    /// Where to fetch from
    #[arg(long, value_enum, default_value_t = SourceKind::Url)]
    pub source: SourceKind,

    /// Download again even when a verified file is cached
    #[arg(long)]
    pub force: bool,

    /// Base URL or directory (file:// or a plain path) holding the same file names
    #[arg(long, env = "DPN_MIRROR", value_name = "BASE_URL")]
    pub mirror: Option<String>,

    /// Never touch the network; fail at once when a file is not cached
    #[arg(long, env = "DPN_OFFLINE", action = ArgAction::SetTrue, value_parser = FalseyValueParser::new())]
    pub offline: bool,

    /// Connect and read timeout, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Retries after a transient failure (timeout, lost connection, HTTP 5xx or 429)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// List cached weights (of MODELs, or of every model)
    #[arg(long, group = "action")]
    pub list: bool,

    /// Re-check cached files against their digests (exit code 4 on a mismatch)
    #[arg(long, group = "action")]
    pub verify: bool,

    /// Remove cached files of MODELs (or, with --all, everything under the cache's weights/)
    #[arg(long, group = "action")]
    pub clean: bool,

    /// Output format of the result table
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: FetchArgs, ctx: &Context) -> Result<()> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(error::usage(format!(
            "--timeout must be a positive number of seconds, not {}",
            args.timeout
        )));
    }
    let specs: Vec<&ModelSpec> = if args.models.is_empty() {
        ctx.registry.models().iter().collect()
    } else {
        args.models
            .iter()
            .map(|n| ctx.registry.get(n))
            .collect::<Result<Vec<_>>>()?
    };
    let table = if args.list {
        list(ctx, &specs)
    } else if args.verify {
        return verify(ctx, &specs, args.format);
    } else if args.clean {
        clean(ctx, &specs, args.all)?
    } else {
        fetch_all(ctx, &args, &specs)?
    };
    table.print(args.format)
}

fn fetch_all(ctx: &Context, args: &FetchArgs, specs: &[&ModelSpec]) -> Result<Table> {
    let opts = Options {
        force: args.force,
        offline: args.offline,
        mirror: args.mirror.clone().filter(|m| !m.is_empty()),
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        progress: ctx.ui.progress,
    };
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("source", "Source", false),
        Column::new("status", "Status", false),
        Column::new("size", "Size", true),
        Column::new("sha256", "SHA-256", false),
        Column::new("path", "Path", false),
    ]);
    for spec in specs {
        let has = match args.source {
            SourceKind::Url => spec.weights.is_some(),
            SourceKind::Hf => spec.hub_id.is_some(),
        };
        if args.all && !has {
            ctx.ui.info(format!(
                "{}: no pretrained weights to fetch; skipped",
                spec.name
            ));
            continue;
        }
        let got: Fetched = match args.source {
            SourceKind::Url => download::fetch_url(&ctx.cache, spec, &opts, &ctx.ui)?,
            SourceKind::Hf => hf::fetch(spec, &opts, &ctx.ui)?,
        };
        t.push(vec![
            Cell::plain(got.model),
            Cell::plain(match args.source {
                SourceKind::Url => "url",
                SourceKind::Hf => "hf",
            }),
            Cell::plain(if got.downloaded {
                "downloaded"
            } else {
                "cached"
            }),
            Cell::new(got.size, output::bytes(got.size)),
            Cell::plain(got.sha256),
            Cell::plain(got.converted.display().to_string()),
        ]);
    }
    Ok(t)
}

/// One cached file of a model.
struct Entry {
    model: String,
    kind: &'static str,
    path: PathBuf,
}

fn entries(ctx: &Context, specs: &[&ModelSpec]) -> Vec<Entry> {
    let hub = hub::hub_cache_dir();
    let mut out = Vec::new();
    for spec in specs {
        let mut push = |kind, path: Option<PathBuf>| {
            if let Some(path) = path.filter(|p| p.is_file()) {
                out.push(Entry {
                    model: spec.name.clone(),
                    kind,
                    path,
                });
            }
        };
        push("source", ctx.cache.source_path(spec));
        let converted = ctx.cache.converted_path(spec);
        if Some(&converted) != ctx.cache.source_path(spec).as_ref() {
            push("converted", Some(converted));
        }
        push("partial", ctx.cache.partial_path(spec));
        push(
            "hub",
            spec.hub_id
                .as_deref()
                .and_then(|id| hub::cached_file(&hub, id)),
        );
    }
    out
}

fn list(ctx: &Context, specs: &[&ModelSpec]) -> Table {
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("kind", "Kind", false),
        Column::new("size", "Size", true),
        Column::new("sha256", "SHA-256", false),
        Column::new("verified", "Verified", false),
        Column::new("fetched_at", "Fetched", false),
        Column::new("url", "URL", false),
        Column::new("path", "Path", false),
    ]);
    for e in entries(ctx, specs) {
        let size = fs::metadata(&e.path).map(|m| m.len()).unwrap_or(0);
        let spec = specs.iter().find(|s| s.name == e.model);
        let prov = match e.kind {
            "source" => spec
                .and_then(|s| ctx.cache.provenance_path(s))
                .and_then(|p| Provenance::read(&p)),
            _ => None,
        };
        let sha = match e.kind {
            "hub" => hub::blob_digest(&e.path).map(|(s, _)| s),
            _ => prov.as_ref().map(|p| p.sha256.clone()),
        };
        let verified = spec.is_some_and(|s| verified(s, &e));
        t.push(vec![
            Cell::plain(e.model),
            Cell::plain(e.kind),
            Cell::new(size, output::bytes(size)),
            Cell::plain(sha),
            Cell::new(verified, if verified { "sha256" } else { "unverified" }),
            Cell::plain(prov.as_ref().map(|p| p.fetched_at.clone())),
            Cell::plain(prov.and_then(|p| p.url)),
            Cell::plain(e.path.display().to_string()),
        ]);
    }
    t
}

/// Whether a cached file was checked against a digest its source stated
/// (the SHA-256 prefix in the registry's file name, the hub's LFS SHA-256),
/// rather than only found to be weights of the model.
fn verified(spec: &ModelSpec, e: &Entry) -> bool {
    match e.kind {
        "source" | "converted" => spec
            .weights
            .as_ref()
            .is_some_and(|w| w.sha256_prefix.is_some()),
        "hub" => hub::blob_digest(&e.path).is_some(),
        _ => false,
    }
}

fn verify(ctx: &Context, specs: &[&ModelSpec], format: Format) -> Result<()> {
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("kind", "Kind", false),
        Column::new("status", "Status", false),
        Column::new("detail", "Detail", false),
        Column::new("path", "Path", false),
    ]);
    let mut failures = Vec::new();
    for e in entries(ctx, specs)
        .into_iter()
        .filter(|e| e.kind != "partial")
    {
        let spec = specs
            .iter()
            .find(|s| s.name == e.model)
            .expect("entry of a listed spec");
        let (ok, detail) = match check(ctx, spec, &e) {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        if !ok {
            failures.push(format!("{}: {detail}", e.path.display()));
        }
        t.push(vec![
            Cell::plain(e.model),
            Cell::plain(e.kind),
            Cell::plain(if ok { "ok" } else { "FAILED" }),
            Cell::plain(detail),
            Cell::plain(e.path.display().to_string()),
        ]);
    }
    t.print(format)?;
    if failures.is_empty() {
        ctx.ui
            .info(format!("{} cached file(s) verified", t.rows.len()));
        Ok(())
    } else {
        Err(error::verification(format!(
            "{} cached file(s) fail verification: {}",
            failures.len(),
            failures.join("; ")
        )))
    }
}

/// Ok(detail) when the file verifies, Err(why) when not.
fn check(ctx: &Context, spec: &ModelSpec, e: &Entry) -> Result<String, String> {
    match e.kind {
        "source" => {
            let (sha, _) = file_sha256(&e.path).map_err(|err| format!("{err:#}"))?;
            let expected = spec
                .weights
                .as_ref()
                .and_then(|w| w.sha256_prefix.as_deref())
                .map(str::to_ascii_lowercase);
            if let Some(exp) = expected.filter(|x| !sha.starts_with(x.as_str())) {
                return Err(format!("SHA-256 expected to start with {exp}, got {sha}"));
            }
            let prov = ctx
                .cache
                .provenance_path(spec)
                .and_then(|p| Provenance::read(&p));
            if let Some(p) = prov.filter(|p| p.sha256 != sha) {
                return Err(format!(
                    "SHA-256 recorded at download {}, now {sha}",
                    p.sha256
                ));
            }
            Ok(format!("sha256 {sha}"))
        }
        "converted" => {
            let sd = crate::weights::read_safetensors(&e.path).map_err(|err| format!("{err:#}"))?;
            let src_sha = sd
                .metadata
                .get(crate::weights::meta::SOURCE_SHA256)
                .cloned();
            let source = ctx.cache.source_path(spec).filter(|p| p.is_file());
            if let (Some(recorded), Some(source)) = (&src_sha, source) {
                let (sha, _) = file_sha256(&source).map_err(|err| format!("{err:#}"))?;
                if &sha != recorded {
                    return Err(format!("converted from a file with SHA-256 {recorded}, but the source is now {sha}"));
                }
            }
            Ok(format!("{} tensors, readable", sd.len()))
        }
        "hub" => match hub::blob_digest(&e.path) {
            Some((expected, _)) => {
                let (sha, _) = file_sha256(&e.path).map_err(|err| format!("{err:#}"))?;
                if sha == expected {
                    Ok(format!("sha256 {sha}"))
                } else {
                    Err(format!("SHA-256 expected {expected}, got {sha}"))
                }
            }
            None => Ok("no digest to check against (not an LFS blob)".to_string()),
        },
        _ => Ok(String::new()),
    }
}

fn clean(ctx: &Context, specs: &[&ModelSpec], all: bool) -> Result<Table> {
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    if all {
        if let Ok(dir) = fs::read_dir(ctx.cache.weights_dir()) {
            for entry in dir.flatten() {
                let p = entry.path();
                // A lock file may be held by a running fetch: leave it to that process.
                if p.is_file() && p.extension().is_none_or(|x| x != "lock") {
                    paths.push(("-".to_string(), p));
                }
            }
        }
    } else {
        for spec in specs {
            let files = [
                ctx.cache.source_path(spec),
                Some(ctx.cache.converted_path(spec)),
                ctx.cache.provenance_path(spec),
                ctx.cache.partial_path(spec),
            ];
            for p in files.into_iter().flatten() {
                if p.is_file() && !paths.iter().any(|(_, q)| q == &p) {
                    paths.push((spec.name.clone(), p));
                }
            }
        }
    }
    paths.sort_by(|a, b| a.1.cmp(&b.1));
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("size", "Size", true),
        Column::new("path", "Removed", false),
    ]);
    let mut total = 0;
    for (model, p) in paths {
        let size = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        remove(&p)?;
        total += size;
        t.push(vec![
            Cell::plain(model),
            Cell::new(size, output::bytes(size)),
            Cell::plain(p.display().to_string()),
        ]);
    }
    ctx.ui.info(format!(
        "removed {} file(s), {} (the Hugging Face cache is left alone)",
        t.rows.len(),
        output::bytes(total)
    ));
    Ok(t)
}

fn remove(p: &Path) -> Result<()> {
    fs::remove_file(p).map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", p.display()))
}
