//! The metadata keys dpn writes into a safetensors file's header: one list
//! that conversion, fetch, training and every reader agree on.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::arch::cost::MIN_IMAGE_SIZE;
use crate::arch::limits::MAX_IMAGE_SIZE;
use crate::registry::{Interpolation, Preprocess};
use crate::sys::error;

/// JSON list of the class names, in logit order (every `dpn train` output).
pub const CLASS_NAMES: &str = "dpn.class_names";
pub const FORMAT: &str = "format";
pub const MODEL: &str = "dpn.model";
pub const NUM_CLASSES: &str = "dpn.num_classes";
pub const SOURCE_FILE: &str = "dpn.source_file";
pub const SOURCE_SHA256: &str = "dpn.source_sha256";
pub const VERSION: &str = "dpn.version";

/// The eval preprocessing a `dpn train` run validated with, which
/// `predict`, `evaluate` and `profile` use unless a flag overrides it: the
/// input side in pixels, the center-crop fraction, the resize filter (as
/// timm names it) and the normalization (JSON lists of three numbers).
pub const EVAL_IMAGE_SIZE: &str = "dpn.eval.image_size";
pub const EVAL_CROP_PCT: &str = "dpn.eval.crop_pct";
pub const EVAL_INTERPOLATION: &str = "dpn.eval.interpolation";
pub const EVAL_MEAN: &str = "dpn.eval.mean";
pub const EVAL_STD: &str = "dpn.eval.std";

/// The metadata entries that record `p`.
pub fn preprocess_entries(p: &Preprocess) -> Vec<(&'static str, String)> {
    let list = |v: &[f64; 3]| serde_json::to_string(v).expect("numbers serialize");
    vec![
        (EVAL_IMAGE_SIZE, p.image_size.to_string()),
        (EVAL_CROP_PCT, p.crop_pct.to_string()),
        (EVAL_INTERPOLATION, p.interpolation.to_string()),
        (EVAL_MEAN, list(&p.mean)),
        (EVAL_STD, list(&p.std)),
    ]
}

/// The preprocessing recorded in `meta` (the metadata of the weights file
/// `path`), the entries it lacks taken from `base`; `None` when it records
/// none. A malformed entry is a bad-input error naming the file and key.
pub fn recorded_preprocess(
    meta: &BTreeMap<String, String>,
    base: &Preprocess,
    path: &Path,
) -> Result<Option<Preprocess>> {
    let keys = [
        EVAL_IMAGE_SIZE,
        EVAL_CROP_PCT,
        EVAL_INTERPOLATION,
        EVAL_MEAN,
        EVAL_STD,
    ];
    if !keys.iter().any(|k| meta.contains_key(*k)) {
        return Ok(None);
    }
    let bad = |key: &str, want: &str| {
        error::bad_input(format!(
            "weights {}: metadata `{key}` is `{}`, not {want}; fix or remove the entry",
            path.display(),
            meta[key]
        ))
    };
    let mut p = base.clone();
    if let Some(v) = meta.get(EVAL_IMAGE_SIZE) {
        p.image_size = v
            .parse()
            .ok()
            .filter(|n: &usize| (MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(n))
            .ok_or_else(|| {
                bad(
                    EVAL_IMAGE_SIZE,
                    &format!("a size from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels"),
                )
            })?;
    }
    if let Some(v) = meta.get(EVAL_CROP_PCT) {
        p.crop_pct = v
            .parse()
            .ok()
            .filter(|&c: &f64| c > 0.0 && c <= 1.0)
            .ok_or_else(|| bad(EVAL_CROP_PCT, "a fraction in (0, 1]"))?;
    }
    if let Some(v) = meta.get(EVAL_INTERPOLATION) {
        p.interpolation =
            serde_json::from_value::<Interpolation>(serde_json::Value::String(v.clone()))
                .map_err(|_| bad(EVAL_INTERPOLATION, "a resize filter such as bicubic"))?;
    }
    for (key, slot) in [(EVAL_MEAN, &mut p.mean), (EVAL_STD, &mut p.std)] {
        if let Some(v) = meta.get(key) {
            *slot = serde_json::from_str::<[f64; 3]>(v)
                .ok()
                .filter(|x| x.iter().all(|x| x.is_finite()))
                .ok_or_else(|| bad(key, "a list of three numbers"))?;
        }
    }
    if p.mean != base.mean || p.std != base.std {
        p.normalization = None;
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Preprocess {
        Preprocess {
            normalization: Some("imagenet".into()),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            crop_pct: 0.875,
            interpolation: Interpolation::Bicubic,
            image_size: 224,
        }
    }

    #[test]
    fn preprocessing_round_trips_through_metadata() {
        let path = Path::new("w.safetensors");
        let empty = BTreeMap::new();
        assert_eq!(recorded_preprocess(&empty, &base(), path).unwrap(), None);
        let p = Preprocess {
            normalization: None,
            mean: [0.5, 0.25, 0.125],
            crop_pct: 1.0,
            interpolation: Interpolation::Bilinear,
            image_size: 32,
            ..base()
        };
        let meta: BTreeMap<String, String> = preprocess_entries(&p)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(meta[EVAL_INTERPOLATION], "bilinear");
        assert_eq!(
            recorded_preprocess(&meta, &base(), path).unwrap(),
            Some(p.clone())
        );
        let mut bad = meta.clone();
        bad.insert(EVAL_CROP_PCT.into(), "1.5".into());
        let e = recorded_preprocess(&bad, &base(), path).unwrap_err();
        assert_eq!(error::exit_code(&e), 3);
        assert!(e.to_string().contains(EVAL_CROP_PCT), "{e}");
        // A size no command line could ask for is refused as well.
        for size in ["0", "100000"] {
            let mut bad = meta.clone();
            bad.insert(EVAL_IMAGE_SIZE.into(), size.into());
            let e = recorded_preprocess(&bad, &base(), path).unwrap_err();
            assert_eq!(error::exit_code(&e), 3);
            assert!(e.to_string().contains("from 32 to 4096"), "{e}");
        }
    }
}
