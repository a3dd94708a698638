//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod common;
pub mod convert;
pub mod evaluate;
pub mod fetch;
pub mod info;
pub mod predict;
pub mod profile;
pub mod progress;
pub mod train;

use anyhow::Result;

use crate::cache::Cache;
use crate::cli::Command;
use crate::registry::Registry;
use crate::ui::Ui;

/// What every subcommand may read: the registry, the cache and the UI settings.
pub struct Context {
    pub registry: Registry,
    pub cache: Cache,
    pub ui: Ui,
}

pub fn run(command: Command, ctx: &Context) -> Result<()> {
    match command {
        Command::Info(args) => info::run(args, ctx),
        Command::Convert(args) => convert::run(args, ctx),
        Command::Profile(args) => profile::run(args, ctx),
        Command::Predict(args) => predict::run(args, ctx),
        Command::Evaluate(args) => evaluate::run(args, ctx),
        Command::Fetch(args) => fetch::run(args, ctx),
        Command::Train(args) => train::run(args, ctx),
    }
}
