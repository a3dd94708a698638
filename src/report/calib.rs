//! The reliability diagram: for each confidence bin of
//! `metrics::calibration`, the accuracy of its images (a bar) beside the
//! diagonal of perfect calibration, with the expected calibration error
//! (ECE) in the title; the numbers in a `<details>` table.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

use super::chart::num;
use crate::metrics::calibration::{Bin, Calibration};

fn svg(c: &Calibration, title: &str) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (520, 420)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut ch = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|x| e(&x))?;
        ch.configure_mesh()
            .x_desc("confidence (top-1 probability)")
            .y_desc("accuracy (share of top-1 hits)")
            .draw()
            .map_err(|x| e(&x))?;
        let bars = RGBColor(31, 119, 180);
        let gap = RGBColor(214, 39, 40);
        let filled = || c.bins.iter().enumerate().filter(|(_, b)| b.images > 0);
        let mut rects = Vec::new();
        for (i, b) in filled() {
            let (lo, hi) = Bin::range(i);
            rects.push(Rectangle::new(
                [(lo, 0.0), (hi, b.accuracy())],
                bars.mix(0.85).filled(),
            ));
            rects.push(Rectangle::new(
                [(lo, 0.0), (hi, b.accuracy())],
                BLACK.stroke_width(1),
            ));
        }
        ch.draw_series(rects)
            .map_err(|x| e(&x))?
            .label("accuracy per bin")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], bars.filled()));
        // The gap between each bin's accuracy and its mean confidence.
        let gaps = filled().map(|(i, b)| {
            let (lo, hi) = Bin::range(i);
            Rectangle::new(
                [(lo, b.accuracy()), (hi, b.confidence())],
                gap.mix(0.35).filled(),
            )
        });
        ch.draw_series(gaps)
            .map_err(|x| e(&x))?
            .label("gap to the mean confidence")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], gap.mix(0.35).filled())
            });
        ch.draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(|x| e(&x))?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
        ch.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(out)
}

/// The diagram (a `<figure>`) with its numbers in a `<details>` table.
pub fn reliability(c: &Calibration) -> Markup {
    let ece = 100.0 * c.ece();
    let title = format!("Reliability diagram (ECE {ece:.2}%, 15 bins)");
    let svg = svg(c, &title).unwrap_or_default();
    html! {
        figure.chart {
            (PreEscaped(svg))
            figcaption { (title) }
            p data-k="ece" { "Expected calibration error: " (format!("{ece:.3}%")) " over " (c.images()) " images." }
            details {
                summary { "Numbers: " (title) }
                table.numbers {
                    thead { tr { th { "confidence bin" } th { "images" } th { "top-1 hits" } th { "mean confidence" } th { "accuracy" } th { "gap" } } }
                    tbody { @for (i, b) in c.bins.iter().enumerate() {
                        @let (lo, hi) = Bin::range(i);
                        tr { td { "(" (num((lo * 1e4).round() / 1e4)) ", " (num((hi * 1e4).round() / 1e4)) "]" }
                             td { (b.images) } td { (b.correct) }
                             td { @if b.images > 0 { (format!("{:.4}", b.confidence())) } @else { "-" } }
                             td { @if b.images > 0 { (format!("{:.4}", b.accuracy())) } @else { "-" } }
                             td { @if b.images > 0 { (format!("{:+.4}", b.accuracy() - b.confidence())) } @else { "-" } } }
                    } }
                }
            }
        }
    }
}
