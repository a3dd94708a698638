//! Scoring a classifier: what `dpn evaluate` reports and `dpn train`
//! validates with, computed by one piece of code.
//!
//! * [`tally`]: top-1/top-5 hits, per-class counts and the loss sum of a set
//!   of images, in integers so that shards add up exactly;
//! * [`loss_sum`]: the loss sum, an integer wide enough that it cannot wrap;
//! * [`results`]: the results file (figures, what produced them, the exact
//!   tally), merging the files of shards, and the per-class CSV;
//! * [`breakdown`]: what `dpn evaluate --report` shows beyond the tally
//!   (confusions, the most confident mistakes), fed batch by batch;
//! * [`calibration`]: confidence bins and the expected calibration error.

pub mod breakdown;
pub mod calibration;
pub mod loss_sum;
pub mod results;
pub mod tally;

pub use results::{Results, Setup};
pub use tally::{score, Tally};
