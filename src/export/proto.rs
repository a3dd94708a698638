//! The ONNX schema's messages, generated at build time by prost from
//! `proto/onnx.proto` (see build.rs and proto/README.md).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
