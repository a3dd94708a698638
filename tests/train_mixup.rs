//! Mixup and CutMix (`--mixup`, `--cutmix`, `--cutmix-minmax`, ...): parity
//! with timm's `Mixup`. dpn draws each batch's numbers and mixes it
//! (`augment::mixup`); tests/py/mixup_reference.py runs timm's own `Mixup` on
//! the same batch with `np.random` replaced by a replay of dpn's draws, and
//! compares the mixed batch and the soft targets byte for byte, and the
//! loss on them with timm's `SoftTargetCrossEntropy`. The `dpn
//! train` side (flags, run.json, refusals) is in tests/train_cli.rs.

use std::process::Command;

use dpn::augment::mixup::{rng_for, Draws, MixMode, Mixup, RawBox, Share};
use dpn::train::loss::soft_target_cross_entropy;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

mod common;

/// One setting: (mode, mixup alpha, cutmix alpha, minmax, prob, switch
/// prob, smoothing, mixing enabled, updates).
type Case = (
    MixMode,
    f64,
    f64,
    Option<(f64, f64)>,
    f64,
    f64,
    f64,
    bool,
    u64,
);

#[test]
fn mixup_and_cutmix_match_timm_on_the_same_draws() {
    use MixMode::{Batch, Elem, Pair};
    let cases: [Case; 12] = [
        // Many batch draws: the switch and prob statistics.
        (Batch, 0.2, 1.0, None, 1.0, 0.5, 0.1, true, 400),
        (Batch, 0.8, 0.0, None, 0.6, 0.5, 0.0, true, 60),
        (Batch, 0.0, 1.0, None, 1.0, 0.5, 0.0, true, 60),
        (Batch, 0.3, 0.0, Some((0.2, 0.8)), 1.0, 0.3, 0.1, true, 60),
        (Pair, 0.4, 1.0, None, 1.0, 0.5, 0.1, true, 60),
        (Pair, 0.0, 0.0, Some((0.3, 0.9)), 0.8, 0.5, 0.0, true, 40),
        (Elem, 0.4, 1.0, None, 0.7, 0.5, 0.1, true, 60),
        (Elem, 1.0, 0.0, None, 1.0, 0.5, 0.2, true, 40),
        (Elem, 0.0, 0.5, Some((0.25, 0.75)), 1.0, 0.5, 0.1, true, 40),
        // Switched off (--mixup-off-epoch reached): no draws, smoothed targets.
        (Batch, 0.2, 1.0, None, 1.0, 0.5, 0.1, false, 3),
        (Pair, 0.2, 1.0, None, 1.0, 0.5, 0.1, false, 3),
        (Elem, 0.2, 1.0, None, 1.0, 0.5, 0.1, false, 3),
    ];
    // Not square, so that rows and columns cannot be confused.
    let (n, c, h, w, classes) = (6i64, 3i64, 9i64, 13i64, 7usize);
    tch::manual_seed(5);
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut json_cases = Vec::new();
    for (ci, &(mode, ma, ca, minmax, prob, switch, smoothing, enabled, updates)) in
        cases.iter().enumerate()
    {
        let m = Mixup {
            mixup_alpha: ma,
            cutmix_alpha: if minmax.is_some() { 1.0 } else { ca },
            cutmix_minmax: minmax,
            prob,
            switch_prob: switch,
            mode,
            label_smoothing: smoothing,
            num_classes: classes,
        };
        let mut draws = Vec::new();
        for u in 0..updates {
            let x = Tensor::randn([n, c, h, w], (Kind::Float, Device::Cpu));
            let y = Tensor::randint(classes as i64, [n], (Kind::Int64, Device::Cpu));
            let d = m.draw(
                &mut rng_for(ci as u64, u),
                n as usize,
                Share::single(n as usize),
                (h as usize, w as usize),
                enabled,
            );
            if !enabled {
                assert_eq!(d, Draws::Off);
            }
            let (mx, t) = m.mix(&x, &y, &d);
            assert_eq!(t.size(), [n, classes as i64]);
            let k = format!("c{ci}_u{u}");
            // The loss on them, against timm's SoftTargetCrossEntropy.
            let logits = Tensor::randn([n, classes as i64], (Kind::Float, Device::Cpu)) * 3.0;
            let loss = soft_target_cross_entropy(&logits, &t);
            tensors.push((format!("{k}_logits"), logits));
            tensors.push((format!("{k}_loss"), loss));
            tensors.push((format!("{k}_x"), x));
            tensors.push((format!("{k}_y"), y));
            tensors.push((format!("{k}_mixed"), mx));
            tensors.push((format!("{k}_targets"), t));
            draws.push(serde_json::to_value(&d).unwrap());
        }
        json_cases.push(json!({
            "mode": mode.name(), "mixup_alpha": ma, "cutmix_alpha": ca,
            "cutmix_minmax": minmax.map(|(a, b)| vec![a, b]), "prob": prob,
            "switch_prob": switch, "label_smoothing": smoothing,
            "num_classes": classes, "enabled": enabled, "draws": draws,
        }));
    }
    // Lambdas where `int(H * sqrt(1 - lam))` is one more in float32 (pair and
    // elem mode, numpy's arithmetic on timm's np.float32 lambdas) than in
    // float64 (batch mode): 5 against 4 rows of 7, 197 against 196 columns
    // of 224. Random draws almost never land there.
    let edge = [0.489_795_923_233_032_2, 0.226_542_651_653_289_8];
    for mode in [MixMode::Batch, MixMode::Elem] {
        let ci = json_cases.len();
        let m = Mixup {
            mixup_alpha: 0.0,
            cutmix_alpha: 1.0,
            cutmix_minmax: None,
            prob: 1.0,
            switch_prob: 0.5,
            mode,
            label_smoothing: 0.1,
            num_classes: classes,
        };
        let mut draws = Vec::new();
        for (u, &lam) in edge.iter().enumerate() {
            let centre = Some(RawBox::Centre { cy: 3, cx: 100 });
            let d = match mode {
                MixMode::Batch => Draws::Batch {
                    apply: 0.0,
                    switch: None,
                    beta: Some(lam),
                    bbox: centre,
                },
                _ => Draws::Elems {
                    switch: None,
                    beta_cutmix: Some(vec![lam, lam]),
                    beta_mixup: None,
                    apply: vec![0.0, 0.0],
                    boxes: vec![centre, centre],
                },
            };
            let x = Tensor::randn([2, 3, 7, 224], (Kind::Float, Device::Cpu));
            let y = Tensor::from_slice(&[1i64, 4]);
            let (mx, t) = m.mix(&x, &y, &d);
            let k = format!("c{ci}_u{u}");
            tensors.push((format!("{k}_x"), x));
            tensors.push((format!("{k}_y"), y));
            tensors.push((format!("{k}_mixed"), mx));
            tensors.push((format!("{k}_targets"), t));
            draws.push(serde_json::to_value(&d).unwrap());
        }
        json_cases.push(json!({
            "mode": mode.name(), "mixup_alpha": 0.0, "cutmix_alpha": 1.0,
            "cutmix_minmax": null, "prob": 1.0, "switch_prob": 0.5,
            "label_smoothing": 0.1, "num_classes": classes, "enabled": true,
            "draws": draws,
        }));
    }
    let dir = tempfile::Builder::new()
        .prefix("mixup-parity-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let file = dir.path().join("mixup.safetensors");
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    Tensor::write_safetensors(&named, &file).unwrap();
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(&json_cases).unwrap()).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/mixup_reference.py");
    let out = Command::new(common::python())
        .arg(script)
        .arg(&cases_file)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set DPN_TEST_PYTHON): {e}",
                common::python().display()
            )
        });
    assert!(
        out.status.success(),
        "timm disagrees: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{r}");
    // Every path was taken, and compared.
    let paths = &r["paths"];
    for p in ["unmixed", "mixup", "cutmix"] {
        for mode in ["batch", "pair", "elem"] {
            assert!(
                paths[mode][p].as_u64().unwrap_or(0) > 0,
                "no {mode} {p} in {r}"
            );
        }
    }
    assert!(r["clipped_boxes"].as_u64().unwrap() > 0, "{r}");
    assert!(r["losses"].as_u64().unwrap() > 800, "{r}");
}
