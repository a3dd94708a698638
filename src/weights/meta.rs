//! The metadata keys dpn writes into a safetensors file's header: one list
//! that conversion, fetch, training and every reader agree on.

/// JSON list of the class names, in logit order (every `dpn train` output).
pub const CLASS_NAMES: &str = "dpn.class_names";
pub const FORMAT: &str = "format";
pub const MODEL: &str = "dpn.model";
pub const NUM_CLASSES: &str = "dpn.num_classes";
pub const SOURCE_FILE: &str = "dpn.source_file";
pub const SOURCE_SHA256: &str = "dpn.source_sha256";
pub const VERSION: &str = "dpn.version";
