//! `config.json`: what timm's Hugging Face model folders hold beside
//! `model.safetensors` (the layout `timm.models.push_to_hub` and `save_for_hf`
//! write), so that timm loads a dpn training checkpoint as a hub model:
//! `timm.create_model("local-dir:FOLDER", pretrained=True)` builds the
//! architecture, loads the weights and takes the eval preprocessing and the
//! class names from it.

use serde_json::{json, Value};

use crate::arch::{ArchSpec, Plan};
use crate::model::{CLASSIFIER, FIRST_CONV};
use crate::registry::{ModelSpec, Preprocess, Source};

/// The file name timm's `load_model_config_from_path` reads.
pub const CONFIG_FILE: &str = "config.json";

/// What timm builds a model that is not one of its own from: this entry
/// point, with every hyper-parameter given in `model_args` (which override
/// the entry point's own).
const TIMM_BASE: &str = "dpn68b";

/// The config.json of `spec`'s network with `arch` (its class count), whose
/// outputs are `classes` and whose eval preprocessing is `pp`.
pub fn timm_config(
    spec: &ModelSpec,
    arch: &ArchSpec,
    classes: &[String],
    pp: &Preprocess,
) -> Value {
    let plan = Plan::new(arch);
    // The built-in models are timm's, under timm's names; a model from a
    // user's index is described in full.
    let own = spec.source == Source::Embedded;
    let mut cfg = json!({
        "architecture": if own { spec.name.as_str() } else { TIMM_BASE },
        "num_classes": arch.num_classes,
        "num_features": plan.num_features,
        "global_pool": "avg",
        "label_names": classes,
    });
    if !own {
        cfg["model_args"] = json!({
            "small": arch.small,
            "num_init_features": arch.init_features,
            "k_r": arch.k_r,
            "groups": arch.groups,
            "b": arch.b,
            "k_sec": arch.k_sec,
            "inc_sec": arch.inc_sec,
            "act_layer": arch.activation.to_string(),
        });
    }
    // The feature map side before the pool: the network strides 32.
    let pool = pp.image_size.div_ceil(32);
    cfg["pretrained_cfg"] = json!({
        "custom_load": false,
        "input_size": [arch.in_chans, pp.image_size, pp.image_size],
        "fixed_input_size": false,
        "interpolation": pp.interpolation.to_string(),
        "crop_pct": pp.crop_pct,
        "crop_mode": "center",
        "mean": pp.mean,
        "std": pp.std,
        "num_classes": arch.num_classes,
        "pool_size": [pool, pool],
        "first_conv": FIRST_CONV,
        "classifier": CLASSIFIER,
    });
    cfg
}
