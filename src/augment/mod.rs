//! Training augmentation, as timm's recipe scripts use it.

pub mod auto_augment;
pub mod blur;
pub mod color_jitter;
pub mod enhance;
pub mod erasing;
pub mod geometry;
pub mod mixup;
pub mod ops;
pub mod pixel;
pub mod rand_augment;
pub mod splits;

pub use erasing::{apply_box, Draw, EraseBox, EraseMode, RandomErasing};
