//! Progress bars on stderr, drawn only for a person watching a terminal:
//! one factory, three styles (items, an epoch's batches, bytes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::Ui;

/// A bar with `template` over `total` units (unknown when `None`), hidden
/// unless `visible`.
fn styled(visible: bool, total: Option<u64>, template: &str, chars: Option<&str>) -> ProgressBar {
    if !visible {
        return ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
    }
    let mut style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    if let Some(chars) = chars {
        style = style.progress_chars(chars);
    }
    ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style)
}

/// A bar over `total` units, hidden unless stderr is a terminal and not --quiet.
pub fn bar(ui: &Ui, total: u64, unit: &str) -> ProgressBar {
    styled(
        ui.progress,
        Some(total),
        &format!("{{bar:30}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left) {{msg}}"),
        None,
    )
}

/// One training epoch's batches, prefixed `epoch E/N`.
pub fn epoch(ui: &Ui, len: u64, epoch: u64, epochs: u64) -> ProgressBar {
    let bar = styled(
        ui.progress,
        Some(len),
        "{prefix} {bar:30} {pos}/{len} batches ({elapsed}<{eta}) {msg}",
        None,
    );
    bar.set_prefix(format!("epoch {}/{epochs}", epoch + 1));
    bar
}

/// A download of a size learnt later (`set_length`), labelled `label`.
pub fn bytes(visible: bool, label: &str) -> ProgressBar {
    let bar = styled(
        visible,
        None,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        Some("=> "),
    );
    bar.set_message(label.to_string());
    bar
}
