//! dpn: Dual Path Network image classifiers on libtorch.
//!
//! The folders are the architecture, and data flows one way (see
//! `ARCHITECTURE.md`): [`cli`] parses the command line, [`commands`] runs one
//! subcommand on the domain modules ([`train`], [`metrics`], [`download`]),
//! which build on the model and its inputs ([`model`], [`data`], [`weights`],
//! [`registry`], [`arch`], [`store`]); results and messages leave through
//! [`output`] and [`ui`]; [`sys`] holds the small leaves everything may use.
//! No module imports one above it.

pub mod cli;
pub mod commands;

pub mod download;
pub mod export;
pub mod metrics;
pub mod report;
pub mod train;

pub mod arch;
pub mod augment;
pub mod data;
pub mod dist;
pub mod model;
pub mod registry;
pub mod store;
pub mod weights;

pub mod output;
pub mod sys;
pub mod ui;
