//! Progress bars on stderr, drawn only for a person watching a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::Ui;

/// A bar over `total` units, hidden unless stderr is a terminal and not --quiet.
pub fn bar(ui: &Ui, total: u64, unit: &str) -> ProgressBar {
    if !ui.progress {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left) {{msg}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(total).with_style(style)
}
