//! Scoring a classifier: what `dpn evaluate` reports and `dpn train`
//! validates with, computed by one piece of code.
//!
//! * [`tally`]: top-1/top-5 hits, per-class counts and the loss sum of a set
//!   of images, in integers so that shards add up exactly;
//! * [`loss_sum`]: the loss sum, an integer wide enough that it cannot wrap;
//! * [`results`]: the results file (figures, what produced them, the exact
//!   tally), merging the files of shards, and the per-class CSV.

pub mod loss_sum;
pub mod results;
pub mod tally;

pub use results::{Results, Setup};
pub use tally::{score, Tally};
