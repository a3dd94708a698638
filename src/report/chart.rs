//! Line charts as inline SVG, drawn by plotters' SVG backend
//! (<https://docs.rs/plotters/latest/plotters/backend/struct.SVGBackend.html>).
//!
//! Every chart comes with a title, axis labels and the numbers it draws as
//! a `<details>` table, so the page reads without colour and prints.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

/// One named line: `(x, y)` points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a line chart shows.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    /// A vertical marker (the best epoch), with its label.
    pub marker: Option<(f64, String)>,
    /// Rows of the numbers table: skip to at most this many (long step logs).
    pub max_table_rows: usize,
}

/// Colours that stay apart in grey too (dash-free plotters lines differ by shade).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 23, 23),
];

fn bounds(series: &[Series]) -> Option<(f64, f64, f64, f64)> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let mut b: Option<(f64, f64, f64, f64)> = None;
    for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        b = Some(match b {
            None => (x, x, y, y),
            Some((a, c, d, e)) => (a.min(x), c.max(x), d.min(y), e.max(y)),
        });
    }
    b.map(|(x0, x1, y0, y1)| {
        let (x0, x1) = if x1 > x0 {
            (x0, x1)
        } else {
            (x0 - 0.5, x0 + 0.5)
        };
        let pad = if y1 > y0 {
            (y1 - y0) * 0.05
        } else {
            y0.abs().max(1.0) * 0.05
        };
        (x0, x1, y0 - pad, y1 + pad)
    })
}

/// The chart's SVG (empty when there is nothing to draw); `extra` are
/// dashed vertical markers (where a run was resumed), drawn when inside
/// the x range.
fn svg(chart: &LineChart, extra: &[(f64, String)]) -> Result<String, String> {
    let Some((x0, x1, y0, y1)) = bounds(&chart.series) else {
        return Ok(String::new());
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut c = ChartBuilder::on(&root)
            .caption(chart.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|x| e(&x))?;
        c.configure_mesh()
            .x_desc(chart.x_label)
            .y_desc(chart.y_label)
            .draw()
            .map_err(|x| e(&x))?;
        for (i, s) in chart.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let pts = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            c.draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        }
        if let Some((x, label)) = &chart.marker {
            c.draw_series(LineSeries::new(vec![(*x, y0), (*x, y1)], BLACK.mix(0.4)))
                .map_err(|x| e(&x))?
                .label(label.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.4)));
        }
        for (x, label) in extra.iter().filter(|(x, _)| (x0..=x1).contains(x)) {
            let style = RGBColor(120, 60, 0).stroke_width(1);
            c.draw_series(DashedLineSeries::new(vec![(*x, y0), (*x, y1)], 6, 4, style))
                .map_err(|x| e(&x))?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        let mut labels: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        labels.extend(chart.marker.iter().map(|(_, l)| l.as_str()));
        labels.extend(extra.iter().map(|(_, l)| l.as_str()));
        let corner = legend_corner(&chart.series, (x0, x1, y0, y1), &labels);
        c.configure_series_labels()
            .position(corner)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(out)
}

/// The corner of the plot where the legend covers the least of the lines.
/// plotters draws a legend where it is told, over whatever is there; the
/// plot is about 560x270 px, a legend line about 15 px high and 7 px a
/// character wide plus the key.
fn legend_corner(
    series: &[Series],
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    labels: &[&str],
) -> SeriesLabelPosition {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let w = ((chars as f64 * 7.0 + 50.0) / 560.0).min(1.0);
    let h = ((labels.len() as f64 * 15.0 + 24.0) / 270.0).min(1.0);
    // Each line as points along it, in the plot's unit square (y up), so
    // that a segment crossing a corner without a point in it still counts.
    let mut pts = Vec::new();
    for s in series {
        let p: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0)))
            .collect();
        for pair in p.windows(2) {
            let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
            for k in 0..8 {
                let t = k as f64 / 8.0;
                pts.push((ax + (bx - ax) * t, ay + (by - ay) * t));
            }
        }
        pts.extend(p.last());
    }
    // In order of preference on a tie.
    let corners = [
        (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0 - h)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 0.0)),
        (SeriesLabelPosition::UpperLeft, (0.0, 1.0 - h)),
        (SeriesLabelPosition::LowerLeft, (0.0, 0.0)),
    ];
    let covered = |(cx, cy): (f64, f64)| {
        pts.iter()
            .filter(|(x, y)| (cx..=cx + w).contains(x) && (cy..=cy + h).contains(y))
            .count()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, at) in corners {
        let n = covered(at);
        if n < best.0 {
            best = (n, pos);
        }
    }
    best.1
}

/// Formats a number for the tables: integers as such, others to 6 significant digits.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The chart (a `<figure>`) with its numbers in a `<details>` table.
pub fn line_chart(chart: &LineChart) -> Markup {
    line_chart_marked(chart, &[])
}

/// [`line_chart`] with dashed vertical markers at `extra` (x, label), listed
/// under its numbers too.
pub fn line_chart_marked(chart: &LineChart, extra: &[(f64, String)]) -> Markup {
    // plotters escapes the text it writes into the SVG (captions, labels).
    let svg = svg(chart, extra).unwrap_or_default();
    let n = chart
        .series
        .iter()
        .map(|s| s.points.len())
        .max()
        .unwrap_or(0);
    let stride = n.div_ceil(chart.max_table_rows.max(1)).max(1);
    html! {
        figure.chart {
            @if svg.is_empty() {
                figcaption { (chart.title) ": no data" }
            } @else {
                (PreEscaped(svg))
                figcaption { (chart.title) }
            }
            details {
                summary { "Numbers: " (chart.title) @if stride > 1 { " (one point in " (stride) ")" } }
                table.numbers {
                    thead { tr { th { "series" } th { (chart.x_label) } th { (chart.y_label) } } }
                    tbody {
                        @for s in &chart.series {
                            @for (i, (x, y)) in s.points.iter().enumerate() {
                                @if i % stride == 0 || i + 1 == s.points.len() {
                                    tr { td { (s.name) } td { (num(*x)) } td { (num(*y)) } }
                                }
                            }
                        }
                    }
                }
                @if !extra.is_empty() {
                    p.markers { "Marked: " @for (i, (x, label)) in extra.iter().enumerate() { @if i > 0 { "; " } (label) " at " (chart.x_label) " " (num(*x)) } }
                }
            }
        }
    }
}
