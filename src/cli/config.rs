//! `dpn train --config FILE`: timm's args.yaml as command-line options.
//!
//! The file's keys become the `dpn train` options they mean
//! (`train::timm_args`), appended to the command line for the arguments it
//! did not set, and the whole line is parsed again. So clap checks every
//! value once, the command line wins over the file as it does in timm's
//! `train.py` (its `parser.set_defaults(**cfg)`), and `run.json` records
//! what ran as if it had been typed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use super::Cli;
use crate::sys::error;
use crate::train::timm_args::{self, Derived};

/// Why the command line with a config file could not be read.
pub enum ConfigError {
    /// clap's own (help, a bad flag on the command line).
    Clap(clap::Error),
    /// The file: unreadable, not YAML, keys dpn cannot honour, a bad value.
    File(anyhow::Error),
}

/// `matches` with `dpn train --config FILE`'s options added, and notes for
/// stderr (keys accepted without effect); `matches` itself otherwise.
pub fn apply(
    matches: ArgMatches,
    argv: Vec<OsString>,
) -> Result<(ArgMatches, Vec<String>), ConfigError> {
    let Some(("train", sub)) = matches.subcommand() else {
        return Ok((matches, Vec::new()));
    };
    let Some(file) = sub.get_one::<PathBuf>("config").cloned() else {
        return Ok((matches, Vec::new()));
    };
    let doc = read(&file).map_err(ConfigError::File)?;
    let from_cli = |id: &str| -> Option<String> {
        if sub.value_source(id) != Some(ValueSource::CommandLine) {
            return None;
        }
        let raw = sub.get_raw(id)?;
        Some(
            raw.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let expansion = timm_args::expand(&doc, &from_cli).map_err(|problems| {
        ConfigError::File(error::usage(format!(
            "--config {}: keys dpn cannot honour: {}; remove or change them (README: timm's train.py arguments)",
            file.display(),
            problems.join("; ")
        )))
    })?;
    let mut full = argv;
    for d in &expansion.flags {
        full.extend(d.words.iter().cloned());
    }
    let notes = if expansion.unused.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "--config {}: not applied (they change how timm runs, not what it computes): {}",
            file.display(),
            expansion.unused.join(", ")
        )]
    };
    match Cli::command().try_get_matches_from(full) {
        Ok(m) => Ok((m, notes)),
        Err(e) => Err(ConfigError::File(blame(&file, &expansion.flags, &e))),
    }
}

fn read(file: &Path) -> anyhow::Result<serde_yaml::Value> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        error::bad_input(format!(
            "--config {}: cannot read it: {e}; pass timm's args.yaml",
            file.display()
        ))
    })?;
    serde_yaml::from_str(&text).map_err(|e| {
        error::bad_input(format!(
            "--config {}: not YAML ({e}); pass timm's args.yaml",
            file.display()
        ))
    })
}

/// clap's complaint about an option the file gave, named by its timm key.
fn blame(file: &Path, flags: &[Derived], e: &clap::Error) -> anyhow::Error {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split([' ', '=']).next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    let id = arg.trim_start_matches('-').replace('-', "_");
    let key = flags.iter().find(|d| d.id == id).map(|d| d.key.as_str());
    let msg = e.to_string();
    let first = msg
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string();
    match key {
        Some(k) => error::usage(format!("--config {}: {k}: {first}", file.display())),
        None => error::usage(format!("--config {}: {first}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::timm_args::{Act, ACTIONS, LEGACY};

    /// Every option the table names is a `dpn train` argument whose clap id
    /// is its long name with `_` (what `apply` asks clap about).
    #[test]
    fn the_table_names_train_arguments() {
        let cmd = Cli::command();
        let train = cmd.find_subcommand("train").unwrap();
        let ids: Vec<(String, Option<String>)> = train
            .get_arguments()
            .map(|a| (a.get_id().to_string(), a.get_long().map(str::to_string)))
            .collect();
        for (key, act) in ACTIONS.iter().chain(LEGACY) {
            if let Act::Flag(long) | Act::Switch(long) = act {
                let id = long.replace('-', "_");
                assert!(
                    ids.iter()
                        .any(|(i, l)| *i == id && l.as_deref() == Some(*long)),
                    "{key}: --{long} is not a train argument with id {id}"
                );
            }
        }
        for id in [
            "data",
            "val_data",
            "val_split",
            "img_size",
            "amp",
            "device",
            "workers",
            "output",
            "weights",
            "resume",
            "dist_bn",
            "model",
        ] {
            assert!(ids.iter().any(|(i, _)| i == id), "{id}");
        }
    }
}
