//! Where weights live on this machine: dpn's cache folder ([`cache`]), the
//! Hugging Face hub cache layout ([`hub`]) and the one look-up every command
//! uses to find the weights for a model ([`resolve`]).

pub mod cache;
pub mod hub;
pub mod resolve;

pub use cache::Cache;
pub use resolve::{find_weights, resolve_weights};
