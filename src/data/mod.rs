//! Images in, model inputs out: decoding ([`decode`]), Pillow-exact
//! resampling ([`resize`]), timm's eval and train transforms ([`transform`])
//! a parallel, bounded batch loader ([`batches`]), the image folders and
//! path lists a command reads ([`folders`]), class names ([`classes`]) and
//! input sharding ([`shard`]).
//!
//! The reference is what timm feeds its models: Pillow's
//! `Image.open(f).convert("RGB")`, Pillow's `resize`, torchvision's
//! transforms. `tests/data_parity.rs` compares each step with them.

pub mod batches;
pub mod classes;
pub mod decode;
pub mod folders;
mod jpeg;
pub mod resize;
pub mod shard;
pub mod transform;

pub use batches::{Batch, BatchLoader, Failure, Item, LoaderOptions};
pub use decode::{decode_bytes, decode_file, RgbImage};
pub use resize::{resize, resize_window, Filter, Window};
pub use transform::{CropParams, EvalTransform, ImageTransform, TrainTransform};
