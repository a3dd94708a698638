//! Headless Chromium for the report tests: opens a page from a file with
//! the network disabled, returns its DOM after rendering, the console
//! messages Chromium logged, and a screenshot checked to be not blank.
//! Debian's `chromium` (/usr/bin/chromium), installed by `make setup`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Rendered {
    /// The DOM after the page loaded (`--dump-dom`).
    pub dom: String,
    /// Console messages and failed loads Chromium logged.
    pub problems: Vec<String>,
}

/// The Chromium to use: $DPN_CHROMIUM, else /usr/bin/chromium; fails
/// (never skips) when there is none.
pub fn chromium() -> PathBuf {
    let p = std::env::var_os("DPN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        p.is_file(),
        "{} not found: the report tests need headless Chromium; run `make setup` \
         (it installs Debian's chromium package) or set DPN_CHROMIUM",
        p.display()
    );
    p
}

fn base_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        // No network: every host resolves to nothing, and no proxy works.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,2200",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// Lines of Chromium's log that say the page logged to the console or a load failed.
fn problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Refused to")
                || l.contains("net::ERR")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
        })
        .map(str::to_string)
        .collect()
}

/// Opens `page` twice (DOM, then screenshot into `shot`).
pub fn render(page: &Path, shot: &Path) -> Rendered {
    let exe = chromium();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(&exe)
        .args(base_args(profile.path()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut found = problems(&String::from_utf8_lossy(&out.stderr));
    let profile2 = tempfile::tempdir().unwrap();
    let out2 = Command::new(&exe)
        .args(base_args(profile2.path()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out2.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out2.stderr)
    );
    found.extend(problems(&String::from_utf8_lossy(&out2.stderr)));
    assert_not_blank(shot);
    Rendered {
        dom,
        problems: found,
    }
}

/// The screenshot has content: enough pixels far from the background.
pub fn assert_not_blank(shot: &Path) {
    let img = image::open(shot).expect("screenshot is a PNG").to_rgb8();
    let bg = *img.get_pixel(0, 0);
    let differ = img
        .pixels()
        .filter(|p| {
            p.0.iter()
                .zip(bg.0.iter())
                .any(|(a, b)| a.abs_diff(*b) > 40)
        })
        .count();
    let share = differ as f64 / (img.width() * img.height()) as f64;
    assert!(
        share > 0.01,
        "{}: screenshot looks blank ({:.4} of pixels differ from the background)",
        shot.display(),
        share
    );
}

/// The text of the element carrying `data-k="{key}"` inside the row `data-run="{run}"` of the DOM.
#[allow(dead_code)] // the run reports' summary rows; other pages have their own
pub fn cell(dom: &str, run_attr: &str, key: &str) -> String {
    let row_at = dom
        .find(&format!("data-run=\"{run_attr}\""))
        .unwrap_or_else(|| panic!("no row for run {run_attr} in the page"));
    let rest = &dom[row_at..];
    let k = rest
        .find(&format!("data-k=\"{key}\">"))
        .unwrap_or_else(|| panic!("no {key} cell for run {run_attr}"));
    let text = &rest[k + key.len() + 10..];
    text[..text.find('<').unwrap()].to_string()
}

/// Page-level safety: no script element, no inline event handler, no
/// element from the data's markup (text nodes come back escaped).
#[allow(dead_code)] // not every report test calls it (evaluate pages have images)
pub fn assert_no_script(dom: &str) {
    let lower = dom.to_lowercase();
    assert!(!lower.contains("<script"), "the page has a script element");
    assert!(
        !lower.contains("<img"),
        "the page has an img element from the data"
    );
}
