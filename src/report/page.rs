//! The page frame shared by every report: one HTML file with its style
//! inline and no script, so it opens offline and nothing of the data runs.

use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#111;max-width:1400px}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;font-size:13px}\
th{background:#eee}tr.differs th{background:#ffe08a}mark{background:#ffe08a}\
.charts{display:flex;flex-wrap:wrap;gap:1em}figure.chart{margin:0;border:1px solid #ddd;padding:4px}\
figure.chart svg{display:block}figcaption{font-weight:bold;font-size:14px}\
details{margin:.3em 0}.gap{color:#a00}small{color:#555}\
.gallery{display:flex;flex-wrap:wrap;gap:.6em}figure.mistake{margin:0;width:200px;font-size:12px;border:1px solid #ddd;padding:4px}\
figure.mistake img{display:block;width:96px;height:96px;object-fit:contain;image-rendering:pixelated}figure.mistake ol{margin:.2em 0;padding-left:1.4em}\
@media print{details{display:none}}";

/// `body` framed as a whole page titled `title` (maud escapes every value).
pub fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                // No network: forbid every fetch and every script at the page level.
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) footer { small { "Written by dpn " (env!("CARGO_PKG_VERSION")) "." } } }
        }
    }
    .into_string()
}
