//! `--layer-decay`: timm's `param_groups_layer_decay` layer ids for a DPN.
//!
//! timm's DPN `group_matcher(coarse=False)` is
//! `stem: ^features\.conv1`, `blocks: [^features\.conv(\d+)_(\d+), (^features\.conv5_bn_ac, MATCH_PREV_GROUP)]`;
//! `group_with_matcher` turns a match into an ordinal tuple
//! (stem `(0)`, block `convA_B` `(1, A, B)`, `conv5_bn_ac` `(1, 99999)`,
//! anything else, the classifier, `(inf)`), sorts the distinct tuples and
//! numbers them, a `99999` tuple joining the group before it. Layer `i` of
//! `n` gets the LR scale `max(min_scale, layer_decay^(n - 1 - i))`, and a
//! parameter whose scale is below `no_opt_scale` (when that is set and not 0,
//! Python's truthiness) is frozen: timm sets its `requires_grad` to false and
//! leaves it out of the optimizer (`timm.optim._param_groups`, 1.0.29).

use std::collections::HashMap;

/// `--layer-decay` with `--layer-decay-min-scale` and
/// `--layer-decay-no-opt-scale` (timm's `create_optimizer_v2` arguments
/// `layer_decay`, `layer_decay_min_scale`, `layer_decay_no_opt_scale`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerDecay {
    pub decay: f64,
    /// The smallest LR scale a layer gets (timm's default 0: no floor).
    pub min_scale: f64,
    /// Layers scaled below this are frozen; None (or 0) freezes nothing.
    pub no_opt_scale: Option<f64>,
}

impl LayerDecay {
    /// `decay` alone, with timm's defaults for the rest.
    pub fn new(decay: f64) -> LayerDecay {
        LayerDecay {
            decay,
            min_scale: 0.0,
            no_opt_scale: None,
        }
    }

    /// Whether a parameter at LR scale `scale` is left out of training.
    pub fn freezes(&self, scale: f64) -> bool {
        self.no_opt_scale.is_some_and(|s| s != 0.0 && scale < s)
    }
}

const MATCH_PREV_GROUP: f64 = 99999.0;

/// timm's ordinal tuple for one parameter name.
fn ordinal(name: &str) -> Vec<f64> {
    let Some(rest) = name.strip_prefix("features.conv") else {
        return vec![f64::INFINITY];
    };
    if rest.starts_with('1') {
        return vec![0.0];
    }
    if rest.starts_with("5_bn_ac") {
        return vec![1.0, MATCH_PREV_GROUP];
    }
    let digits = |s: &str| -> Option<(f64, usize)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (n > 0).then(|| (s[..n].parse().unwrap_or(0.0), n))
    };
    if let Some((a, n)) = digits(rest) {
        if let Some(after) = rest[n..].strip_prefix('_') {
            if let Some((b, _)) = digits(after) {
                return vec![1.0, a, b];
            }
        }
    }
    vec![f64::INFINITY]
}

/// Layer id and LR scale per parameter name.
pub fn scales(names: &[&str], ld: &LayerDecay) -> HashMap<String, (usize, f64)> {
    let mut keys: Vec<Vec<f64>> = names.iter().map(|n| ordinal(n)).collect();
    keys.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    keys.dedup();
    let mut ids = Vec::with_capacity(keys.len());
    let mut lid: i64 = -1;
    for k in &keys {
        if lid < 0 || k.last() != Some(&MATCH_PREV_GROUP) {
            lid += 1;
        }
        ids.push(lid as usize);
    }
    let layer_max = ids.last().copied().unwrap_or(0);
    names
        .iter()
        .map(|n| {
            let o = ordinal(n);
            let i = keys
                .iter()
                .position(|k| *k == o)
                .map_or(layer_max, |i| ids[i]);
            // powf as Python's `**` (libm pow), not powi's repeated products;
            // `max` as Python's (the first of equals; neither is NaN here).
            let scale = ld.decay.powf((layer_max - i) as f64);
            let scale = if ld.min_scale > scale {
                ld.min_scale
            } else {
                scale
            };
            (n.to_string(), (i, scale))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpn_layers_as_timm_groups_them() {
        let names = [
            "features.conv1_1.conv.weight",
            "features.conv2_1.c1x1_a.conv.weight",
            "features.conv2_2.c1x1_a.conv.weight",
            "features.conv3_1.c1x1_a.conv.weight",
            "features.conv5_bn_ac.bn.weight",
            "classifier.weight",
        ];
        let s = scales(&names, &LayerDecay::new(0.5));
        assert_eq!(s["features.conv1_1.conv.weight"], (0, 0.0625));
        assert_eq!(s["features.conv2_2.c1x1_a.conv.weight"].0, 2);
        assert_eq!(s["features.conv5_bn_ac.bn.weight"].0, 3);
        assert_eq!(s["classifier.weight"], (4, 1.0));

        let floored = LayerDecay {
            min_scale: 0.2,
            ..LayerDecay::new(0.5)
        };
        let s = scales(&names, &floored);
        assert_eq!(s["features.conv1_1.conv.weight"], (0, 0.2));
        assert_eq!(s["features.conv2_1.c1x1_a.conv.weight"], (1, 0.2));
        assert_eq!(s["features.conv2_2.c1x1_a.conv.weight"], (2, 0.25));
    }

    #[test]
    fn freezing_follows_pythons_truthiness() {
        let at = |no_opt_scale| LayerDecay {
            no_opt_scale,
            ..LayerDecay::new(0.5)
        };
        assert!(!at(None).freezes(0.01));
        assert!(!at(Some(0.0)).freezes(0.01));
        assert!(at(Some(0.1)).freezes(0.0625));
        // Strictly below: a layer at the threshold trains.
        assert!(!at(Some(0.125)).freezes(0.125));
    }
}
