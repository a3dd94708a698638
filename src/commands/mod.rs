//! One module per subcommand; each exposes `Args` (clap) and `run`.
//! `cli::Command::run` picks the one to run.

pub mod augment;
pub mod augment_flags;
pub mod average;
pub mod common;
pub mod convert;
pub mod ema_flags;
pub mod evaluate;
pub mod export;
pub mod fetch;
pub mod info;
pub mod predict;
pub mod profile;
pub mod report;
pub mod train;

use crate::registry::Registry;
use crate::store::cache::Cache;
use crate::ui::Ui;

/// What every subcommand may read: the registry, the cache and the UI settings.
pub struct Context {
    pub registry: Registry,
    pub cache: Cache,
    pub ui: Ui,
}
