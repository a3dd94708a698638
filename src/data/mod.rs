//! Images in, model inputs out: decoding ([`decode`]), Pillow-exact
//! resampling ([`resize`]), timm's eval and train transforms ([`transform`])
//! and a parallel, bounded batch loader ([`loader`]).
//!
//! The reference is what timm feeds its models: Pillow's
//! `Image.open(f).convert("RGB")`, Pillow's `resize`, torchvision's
//! transforms. `tests/data_parity.rs` compares each step with them.

pub mod decode;
pub mod loader;
pub mod resize;
pub mod transform;

pub use decode::{decode_bytes, decode_file, RgbImage};
pub use loader::{Batch, BatchLoader, Failure, Item, LoaderOptions};
pub use resize::{resize, resize_window, Filter, Window};
pub use transform::{CropParams, EvalTransform, ImageTransform, TrainTransform};
