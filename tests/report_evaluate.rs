//! `dpn evaluate --report` in a real browser (headless Chromium, network
//! off): no console errors or failed loads, a screenshot that is not blank,
//! the figures on the page (top-1, top-5, ECE, per-class counts) equal to
//! the results JSON; class folders named as markup, quoted or in bytes that
//! are not UTF-8 shown as text, never run; shards merged into the same
//! page; a 1000-class, 50,000-image page under 5 MB. Random dpn48b weights
//! at 32 px on a few images (Rust-made fixtures, no Python).

mod common;
mod report_browser;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::Value;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn dpn(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK")
        .env_remove("WORLD_SIZE")
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Random dpn48b weights, a labels file naming its 1000 outputs (hostile
/// names first, then a class whose folder is empty), and an ImageFolder
/// tree of those classes.
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::shared_tempdir("evalreport-fix-").keep();
        let registry = dpn::registry::Registry::load(None).unwrap();
        let arch = registry.get("dpn48b").unwrap().arch.clone();
        tch::manual_seed(11);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let net = dpn::model::Dpn::new(&vs.root(), &arch);
        let sd = dpn::weights::StateDict {
            tensors: dpn::model::state_dict(&vs, &net)
                .iter()
                .map(|(k, t)| (k.clone(), dpn::weights::from_tch(t).unwrap()))
                .collect(),
            metadata: Default::default(),
        };
        let raw = dir.join("raw.safetensors");
        dpn::weights::write_safetensors(&raw, &sd).unwrap();
        let w = dir.join("weights.safetensors");
        ok(dpn(&[
            os("-q"),
            os("convert"),
            raw.as_os_str(),
            w.as_os_str(),
        ]));
        // The folder of bytes that are not UTF-8 is looked up by its lossy
        // name, which the labels file spells with U+FFFD.
        let mut names = vec![
            HOSTILE.to_string(),
            "\"quoted\"".to_string(),
            "caf\u{FFFD}".to_string(),
            "plain".to_string(),
            "no images here".to_string(),
        ];
        names.extend((names.len()..1000).map(|i| format!("class {i}")));
        std::fs::write(dir.join("labels.txt"), names.join("\n")).unwrap();
        let data = dir.join("data");
        let folders: [(&[u8], usize); 4] = [
            (HOSTILE.as_bytes(), 3),
            (b"\"quoted\"", 3),
            (b"caf\xe9", 2),
            (b"plain", 2),
        ];
        let mut seed = 0u8;
        for (name, n) in folders {
            let d = data.join(OsStr::from_bytes(name));
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                seed = seed.wrapping_add(37);
                image(&d.join(format!("{i}.png")), seed);
            }
        }
        std::fs::create_dir_all(data.join("no images here")).unwrap();
        Fixture { dir }
    })
}

/// A 40x40 PNG whose colours depend on `seed`.
fn image(path: &Path, seed: u8) {
    let img = image::RgbImage::from_fn(40, 40, |x, y| {
        image::Rgb([
            (x * 6) as u8 ^ seed,
            (y * 6) as u8,
            seed.wrapping_mul(40) ^ (x * y) as u8,
        ])
    });
    img.save_with_format(path, image::ImageFormat::Png).unwrap();
}

/// `dpn evaluate` on the fixture with `extra` flags (small, fast settings).
fn evaluate(extra: &[&OsStr]) -> Output {
    evaluate_speaking(extra, true)
}

/// [`evaluate`], its warnings on stderr unless `quiet`.
fn evaluate_speaking(extra: &[&OsStr], quiet: bool) -> Output {
    let f = fixture();
    let (data, w, labels) = (
        f.path("data"),
        f.path("weights.safetensors"),
        f.path("labels.txt"),
    );
    let mut args: Vec<&OsStr> = if quiet { vec![os("-q")] } else { vec![] };
    args.extend([os("evaluate"), os("--data")]);
    args.extend([data.as_os_str(), os("--weights"), w.as_os_str()]);
    args.extend([os("--labels"), labels.as_os_str()]);
    for a in ["--device", "cpu", "--img-size", "32", "--workers", "1"] {
        args.push(os(a));
    }
    args.extend([os("--batch-size"), os("1")]);
    args.extend(extra);
    dpn(&args)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The page carries no script and no element of the data's: its only
/// images are the gallery's `data:` PNGs, and no element has an event
/// handler (a class name would bring `onerror="..."` if it were markup).
fn assert_runs_nothing(dom: &str) {
    let lower = dom.to_lowercase();
    assert!(!lower.contains("<script"), "the page has a script element");
    assert!(
        !lower.contains("onerror=\""),
        "an element has an onerror handler"
    );
    for (i, _) in lower.match_indices("<img") {
        assert!(
            lower[i..].starts_with("<img src=\"data:image/png;base64,"),
            "an image that is not the gallery's: {}",
            &dom[i..(i + 80).min(dom.len())]
        );
    }
}

/// The ECE of a results file's bins, computed here from the counts.
fn ece(r: &Value) -> f64 {
    let bins = r["breakdown"]["calibration"]["bins"].as_array().unwrap();
    let n: f64 = bins.iter().map(|b| b["images"].as_f64().unwrap()).sum();
    bins.iter()
        .filter(|b| b["images"].as_u64().unwrap() > 0)
        .map(|b| {
            let k = b["images"].as_f64().unwrap();
            let acc = b["correct"].as_f64().unwrap() / k;
            let conf = b["confidence_units"].as_f64().unwrap() / 16777216.0 / k;
            k / n * (acc - conf).abs()
        })
        .sum()
}

/// The page's figures against the results file `r`.
fn check_figures(dom: &str, r: &Value) {
    let cell = |key: &str| report_browser::cell(dom, "eval", key);
    let pct = |k: &str| format!("{:.3}%", r[k].as_f64().unwrap());
    assert_eq!(cell("top1"), pct("top1"));
    assert_eq!(cell("top5"), pct("top5"));
    assert_eq!(cell("images"), r["images"].to_string());
    assert_eq!(cell("ece"), format!("{:.3}%", 100.0 * ece(r)));
    let per_class = r["counts"]["per_class"].as_array().unwrap();
    let mut shown = 0;
    for (i, c) in per_class.iter().enumerate() {
        if c[0].as_u64().unwrap() == 0 {
            continue;
        }
        shown += 1;
        let row = format!("class-{i}");
        for (j, k) in ["images", "top1", "top5"].iter().enumerate() {
            assert_eq!(
                report_browser::cell(dom, &row, k),
                c[j].to_string(),
                "class {i} {k}"
            );
        }
    }
    assert_eq!(dom.matches("data-run=\"class-").count(), shown);
}

#[test]
fn report_renders_offline_with_the_results_figures_and_hostile_names_as_text() {
    let root = common::shared_tempdir("evalreport-run-").keep();
    let (page, results) = (root.join("report.html"), root.join("results.json"));
    let o = ok(evaluate_speaking(
        &[
            os("--results-file"),
            results.as_os_str(),
            os("--report"),
            page.as_os_str(),
            os("--report-errors"),
            os("4"),
        ],
        false,
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "1 class folder without images (no images here); counted as classes with none"
        ),
        "no warning about the empty class folder: {err}"
    );
    let r = json(&results);
    let b = &r["breakdown"];
    assert_eq!(b["calibration"]["bins"].as_array().unwrap().len(), 15);
    let misses = r["images"].as_u64().unwrap() - r["counts"]["correct1"].as_u64().unwrap();
    assert!(misses > 0, "random weights got every image right");
    let kept = b["gallery"].as_array().unwrap();
    assert_eq!(kept.len() as u64, misses.min(4));
    let conf: Vec<f64> = kept
        .iter()
        .map(|m| m["confidence"].as_f64().unwrap())
        .collect();
    assert!(conf.windows(2).all(|w| w[0] >= w[1]), "{conf:?}");

    let shot = root.join("evaluate.png");
    let t0 = Instant::now();
    let out = report_browser::render(&page, &shot);
    eprintln!(
        "rendered twice in {:.2} s; screenshot {}",
        t0.elapsed().as_secs_f64(),
        shot.display()
    );
    assert!(
        out.problems.is_empty(),
        "the browser reported: {:#?}",
        out.problems
    );
    let dom = out.dom;
    assert_runs_nothing(&dom);
    check_figures(&dom, &r);
    assert_eq!(
        dom.matches("<figure class=\"mistake\">").count(),
        kept.len()
    );
    // The names are shown as text: the markup escaped, the quotes as they
    // are, the bytes that are not UTF-8 as U+FFFD; the empty class listed.
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the hostile name is not shown"
    );
    assert!(dom.contains("\"quoted\""), "the quoted name is not shown");
    assert!(
        dom.contains("caf\u{FFFD}"),
        "the non-UTF-8 name is not shown"
    );
    assert!(
        dom.contains("4: no images here"),
        "the class without images is not listed"
    );
    for title in [
        "Confusion matrix (share of each true class)",
        "Top-1 accuracy per class, worst first",
    ] {
        assert!(
            dom.contains(&format!("<figcaption>{title}</figcaption>")),
            "no chart {title}"
        );
    }
    assert!(
        dom.contains("<figcaption>Reliability diagram (ECE "),
        "no reliability diagram"
    );
}

#[test]
fn shards_merge_into_the_same_report() {
    let root = common::shared_tempdir("evalreport-merge-").keep();
    let whole = root.join("whole.json");
    ok(evaluate(&[
        os("--results-file"),
        whole.as_os_str(),
        os("--report"),
        root.join("whole.html").as_os_str(),
    ]));
    let mut shards = Vec::new();
    for i in 0..2 {
        let shard = format!("{i}/2");
        ok(evaluate(&[
            os("--shard"),
            shard.as_ref(),
            os("--results-file"),
            root.join("s{rank}.json").as_os_str(),
            os("--report"),
            root.join("s{rank}.html").as_os_str(),
        ]));
        assert!(root.join(format!("s{i}.html")).is_file());
        shards.push(root.join(format!("s{i}.json")));
    }
    let (merged, page) = (root.join("merged.json"), root.join("merged.html"));
    let mut args: Vec<&OsStr> = vec![os("-q"), os("evaluate"), os("--merge")];
    args.extend(shards.iter().map(|p| p.as_os_str()));
    args.extend([
        os("--results-file"),
        merged.as_os_str(),
        os("--report"),
        page.as_os_str(),
    ]);
    ok(dpn(&args));
    let (w, m) = (json(&whole), json(&merged));
    // The shards add up to the whole, breakdown included (batch size 1: the
    // same logits in both).
    assert_eq!(m["counts"]["per_class"], w["counts"]["per_class"]);
    assert_eq!(m["breakdown"], w["breakdown"]);
    let out = report_browser::render(&page, &root.join("merged.png"));
    assert!(
        out.problems.is_empty(),
        "the browser reported: {:#?}",
        out.problems
    );
    assert_runs_nothing(&out.dom);
    check_figures(&out.dom, &m);
    assert!(out.dom.contains("Merged from 2 shard results files."));

    // Shards of an earlier dpn (or without --report): the page says what is missing.
    let mut old = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        let mut v = json(s);
        v.as_object_mut().unwrap().remove("breakdown");
        let p = root.join(format!("old{i}.json"));
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        old.push(p);
    }
    let page = root.join("old.html");
    let mut args: Vec<&OsStr> = vec![os("-q"), os("evaluate"), os("--merge")];
    args.extend(old.iter().map(|p| p.as_os_str()));
    args.extend([os("--report"), page.as_os_str()]);
    ok(dpn(&args));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("ran without --report"),
        "the page does not say what is missing"
    );
    assert!(
        html.contains("data-run=\"class-0\""),
        "the per-class table is missing"
    );

    // A breakdown that does not fit its counts is refused (exit 3, one line).
    let mut v = json(&shards[1]);
    v["breakdown"]["calibration"]["bins"][0]["images"] = 7.into();
    let bad = root.join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = dpn(&[
        os("evaluate"),
        os("--merge"),
        shards[0].as_os_str(),
        bad.as_os_str(),
        os("--report"),
        root.join("bad.html").as_os_str(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("report counts do not fit"), "{e}");
}

#[test]
fn report_paths_and_bounds_are_checked_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no/such/folder/r.html");
    let cases: [(&[&OsStr], &str); 3] = [
        (&[os("--report"), missing.as_os_str()], "does not exist"),
        (
            &[
                os("--report"),
                os("r.html"),
                os("--report-errors"),
                os("1001"),
            ],
            "1001",
        ),
        (&[os("--report-errors"), os("3")], "--report"),
    ];
    for (extra, says) in cases {
        let o = evaluate(extra);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(e.contains(says), "`{says}` not in {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let o = evaluate(&[os("--report"), missing.as_os_str()]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    assert!(!missing.exists());
}

/// A 1000-class, 50,000-image evaluation (synthetic counts through the
/// library, no model run): the page stays under 5 MB and renders cleanly;
/// class names with markup are escaped at that size too.
#[test]
fn a_thousand_class_report_is_bounded() {
    use dpn::metrics::breakdown::{png_data_uri, Breakdown, Mistake};
    use dpn::metrics::calibration::Calibration;
    use dpn::metrics::{Results, Setup, Tally};

    let classes = 1000u64;
    let mut t = Tally::new(classes as usize);
    let mut cal = Calibration::default();
    let mut confusion = std::collections::BTreeMap::new();
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    for k in 0..50_000u64 {
        let label = k % classes;
        let hard = (label % 10) as f64 / 10.0;
        let r = (next() % 1000) as f64 / 1000.0;
        let hit1 = r > 0.2 + 0.6 * hard;
        let hit5 = hit1 || r > 0.1;
        let pc = &mut t.per_class[label as usize];
        pc[0] += 1;
        pc[1] += u64::from(hit1);
        pc[2] += u64::from(hit5);
        t.images += 1;
        t.correct1 += u64::from(hit1);
        t.correct5 += u64::from(hit5);
        cal.add_one(0.3 + 0.69 * r, hit1);
        if !hit1 {
            let wrong = (label + 1 + next() % 40) % classes;
            *confusion.entry((label, wrong)).or_insert(0u64) += 1;
        }
    }
    t.seconds = 100.0;
    let gallery = (0..24u64)
        .map(|i| {
            let noise = image::RgbImage::from_fn(96, 96, |_, _| {
                let v = next();
                image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            });
            Mistake {
                path: format!("val/{HOSTILE}/ILSVRC2012_val_{i:08}.JPEG"),
                label: i * 41 % classes,
                confidence: 0.99 - i as f64 / 100.0,
                top3: vec![(i + 1, 0.9), (i + 2, 0.05), (i * 41 % classes, 0.01)],
                thumbnail: png_data_uri(&noise),
            }
        })
        .collect();
    let names: Vec<(String, String)> = (0..classes)
        .map(|i| {
            (
                format!("n{i:08}"),
                format!("<script>alert({i})</script> class {i}"),
            )
        })
        .collect();
    let breakdown = Breakdown {
        classes: names.clone(),
        calibration: cal,
        confusion: confusion.into_iter().map(|((a, b), n)| [a, b, n]).collect(),
        errors_kept: 24,
        gallery,
    };
    breakdown.fits(&t).unwrap();
    let pairs = breakdown.confusion.len();
    let setup = Setup {
        model: "dpn92".into(),
        weights: Some("dpn92.safetensors".into()),
        weights_sha256: None,
        data: Some("imagenet/val".into()),
        shard: "0/1".into(),
        shard_index: 0,
        shard_count: 1,
        total_images: 50_000,
        param_count: 37_668_392,
        img_size: 224,
        crop_pct: 0.875,
        interpolation: "bicubic".into(),
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
    let mut results = Results::new(setup, t, (Some(80.04), Some(94.84)));
    // What --results-file gains with --report (so that --merge can redraw
    // the page): the same pretty JSON `Results::write` writes.
    let plain = serde_json::to_vec_pretty(&results).unwrap().len();
    results.breakdown = Some(breakdown);
    let with = serde_json::to_vec_pretty(&results).unwrap().len();
    eprintln!("1000-class results file: {plain} bytes, with the report's breakdown {with} bytes");
    assert!(with < 5_000_000, "{with} bytes");
    let t0 = Instant::now();
    let html = dpn::report::eval::render(&dpn::report::eval::EvalPage {
        results: &results,
        classes: &names,
        note: None,
    });
    let made = t0.elapsed().as_secs_f64();
    let root = common::shared_tempdir("evalreport-1000-").keep();
    let page = root.join("report-1000.html");
    std::fs::write(&page, &html).unwrap();
    eprintln!("{pairs} confused pairs, top-1 {:.2}%", results.top1);
    eprintln!(
        "1000-class page: {} bytes, made in {made:.2} s: {}",
        html.len(),
        page.display()
    );
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    let t0 = Instant::now();
    let out = report_browser::render(&page, &root.join("report-1000.png"));
    eprintln!(
        "Chromium: DOM and screenshot in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        out.problems.is_empty(),
        "the browser reported: {:#?}",
        out.problems
    );
    assert_runs_nothing(&out.dom);
    assert!(out
        .dom
        .contains("&lt;script&gt;alert(7)&lt;/script&gt; class 7"));
    assert_eq!(out.dom.matches("data-run=\"class-").count(), 1000);
    assert_eq!(out.dom.matches("<figure class=\"mistake\">").count(), 24);
    assert!(out.dom.contains("1000 classes are too many for a matrix"));
    assert_eq!(
        report_browser::cell(&out.dom, "eval", "top1"),
        format!("{:.3}%", results.top1)
    );
}
