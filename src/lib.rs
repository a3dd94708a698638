//! dpn: Dual Path Network image classifiers on libtorch.
//!
//! Data flows one way: [`cli`] parses the command line, [`commands`] runs one
//! subcommand, which reads the [`registry`] (model specs from
//! `model-index.yaml`), works out a network's shape ([`arch`]), finds weights
//! ([`cache`], [`weights`]) and renders results through [`output`].

pub mod allocator;
pub mod arch;
pub mod atomic;
pub mod cache;
pub mod classes;
pub mod cli;
pub mod commands;
pub mod convert;
pub mod counts;
pub mod data;
pub mod digest;
pub mod docs;
pub mod error;
pub mod features;
pub mod fetch;
pub mod inputs;
pub mod loader;
pub mod memory;
pub mod model;
pub mod output;
pub mod registry;
pub mod runtime;
pub mod train;
pub mod ui;
pub mod weights;
