//! Bar charts and histograms as inline SVG, drawn as rectangles on a
//! numeric axis by plotters' SVG backend
//! (<https://docs.rs/plotters/latest/plotters/element/struct.Rectangle.html>),
//! so that no other plotters feature is needed.
//!
//! As every chart of the reports, each comes with a title, axis labels and
//! its numbers as a `<details>` table, so the page reads without colour.

use std::ops::Range;

use maud::{html, Markup, PreEscaped};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{num, PALETTE};

/// One named set of bars: a value per category (None: no bar).
pub struct BarSeries {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Grouped bars: one group per category, one bar per series in each.
pub struct BarChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    /// How the numbers table writes a value.
    pub fmt: fn(f64) -> String,
}

/// A histogram of one sample with vertical markers (percentiles).
pub struct Histogram<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub samples: &'a [f64],
    pub bins: usize,
    pub markers: Vec<(f64, String)>,
}

const SIZE: (u32, u32) = (640, 360);

fn err(e: &dyn std::fmt::Display) -> String {
    e.to_string()
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart's frame (caption, margin, label areas): built for the chart
/// itself and, by `axis_top`, to measure the plot it leaves.
#[derive(Clone, Copy)]
struct Frame<'t> {
    caption: &'t str,
    x_area: u32,
    y_area: u32,
}

impl Frame<'_> {
    fn build<'a, 'b>(
        &self,
        root: &'a DrawingArea<SVGBackend<'b>, Shift>,
        x: Range<f64>,
        y: Range<f64>,
    ) -> Result<Chart<'a, 'b>, String> {
        ChartBuilder::on(root)
            .caption(self.caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(self.x_area)
            .y_label_area_size(self.y_area)
            .build_cartesian_2d(x, y)
            .map_err(|x| err(&x))
    }
}

/// The legend's font and its box's inner margin, shared by `draw_legend`
/// and the room `axis_top` leaves for it.
const LEGEND_FONT: (&str, u32) = ("sans-serif", 12);
const LEGEND_MARGIN: u32 = 10;

/// The series' legend in the plot's upper right corner.
fn draw_legend<'a, 'b: 'a>(c: &mut Chart<'a, 'b>) -> Result<(), String> {
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(LEGEND_FONT)
        .margin(LEGEND_MARGIN)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| err(&x))
}

fn bar_svg(chart: &BarChart) -> Result<String, String> {
    let n = chart.categories.len();
    let k = chart.series.len();
    let vals = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .copied()
            .filter(|v| v.is_finite())
    };
    if n == 0 || k == 0 || vals().next().is_none() {
        return Ok(String::new());
    }
    let hi = vals().fold(0.0f64, f64::max);
    let lo = vals().fold(0.0f64, f64::min);
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let y0 = if lo < 0.0 { lo - (hi - lo) * 0.08 } else { 0.0 };
    let labels: Vec<&str> = if k > 1 {
        chart.series.iter().map(|s| s.name.as_str()).collect()
    } else {
        Vec::new()
    };
    let frame = Frame {
        caption: chart.title,
        x_area: 44,
        y_area: 70,
    };
    let y1 = axis_top(y0, hi, 0.08, &labels, frame)?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(&x))?;
        let mut c = frame.build(&root, -0.5..(n as f64 - 0.5), y0..y1)?;
        c.configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(0)
            .x_desc(chart.x_label)
            .y_desc(chart.y_label)
            .y_label_formatter(&|v| short(*v))
            .draw()
            .map_err(|x| err(&x))?;
        let width = 0.8 / k as f64;
        for (j, s) in chart.series.iter().enumerate() {
            let colour = PALETTE[j % PALETTE.len()];
            let bars = s.values.iter().enumerate().filter_map(|(i, v)| {
                let v = v.filter(|v| v.is_finite())?;
                let left = i as f64 - 0.4 + j as f64 * width;
                Some(Rectangle::new(
                    [(left, 0.0f64.max(y0)), (left + width * 0.92, v)],
                    colour.filled(),
                ))
            });
            c.draw_series(bars)
                .map_err(|x| err(&x))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        // The category names under their groups (plotters places numeric
        // labels only).
        let style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (i, name) in chart.categories.iter().enumerate() {
            let (px, py) = c.backend_coord(&(i as f64, y0));
            root.draw(&Text::new(name.as_str(), (px, py + 4), style.clone()))
                .map_err(|x| err(&x))?;
        }
        if k > 1 {
            draw_legend(&mut c)?;
        }
        root.present().map_err(|x| err(&x))?;
    }
    Ok(out)
}

/// The top of a y axis that starts at `y0` so that a legend with these
/// `labels` in the upper corner sits above the data's highest value `hi`
/// instead of over it; at least `min` of the data's range as headroom.
///
/// plotters draws the legend inside the plot and does not move it, so the
/// room is measured with plotters' own layout: the plot's height from a
/// scratch chart in the real one's `Frame`, the legend's from its text
/// estimate (`MultiLineText` in `LEGEND_FONT`) plus `LEGEND_MARGIN` above
/// and below and the 5 px offset plotters puts between box and plot top.
fn axis_top(y0: f64, hi: f64, min: f64, labels: &[&str], frame: Frame) -> Result<f64, String> {
    let range = (hi - y0).max(f64::MIN_POSITIVE);
    let floor = hi + range * min;
    if labels.is_empty() {
        return Ok(floor);
    }
    let mut scratch = String::new();
    let plot = {
        let root = SVGBackend::with_string(&mut scratch, SIZE).into_drawing_area();
        let c = frame.build(&root, 0.0..1.0, 0.0..1.0)?;
        f64::from(c.plotting_area().dim_in_pixel().1)
    };
    let font: TextStyle = LEGEND_FONT.into_font().into();
    let mut text = MultiLineText::<_, &str>::new((0, 0), &font);
    for l in labels {
        text.push_line(*l);
    }
    let (_, h) = text.estimate_dimension().map_err(|x| err(&x))?;
    // 5 px offset, the margin above and below, and 8 px of air under the box.
    let legend = f64::from(h) + 5.0 + 2.0 * f64::from(LEGEND_MARGIN) + 8.0;
    let f = (legend / plot).min(0.6);
    // The data's top at (1 - f) of the axis: (hi - y0) / (top - y0) = 1 - f.
    Ok((y0 + range / (1.0 - f)).max(floor))
}

/// At most 10 y labels, and whole numbers only where the axis counts
/// things: plotters picks the finest 1-2-5 step that fits the number of
/// labels it is given, so up to `top + 1` labels keeps the step at 1 or
/// more (below that, rounded labels repeat: 0, 1, 1, 2, 2).
fn count_labels(top: f64) -> usize {
    (top.floor() as usize + 1).clamp(2, 10)
}

/// An axis label: 1.2G, 350M, 4.5k, 0.25.
fn short(v: f64) -> String {
    let a = v.abs();
    let (d, unit) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{}{unit}", num((v / d * 100.0).round() / 100.0))
}

/// The bar chart (a `<figure>`) with its numbers in a `<details>` table.
pub fn bar_chart(chart: &BarChart) -> Markup {
    let svg = bar_svg(chart).unwrap_or_default();
    html! {
        figure.chart {
            @if svg.is_empty() {
                figcaption { (chart.title) ": no data" }
            } @else {
                (PreEscaped(svg))
                figcaption { (chart.title) }
            }
            details {
                summary { "Numbers: " (chart.title) " (" (chart.y_label) ")" }
                table.numbers {
                    thead { tr { th { (chart.x_label) } @for s in &chart.series { th { (s.name) } } } }
                    tbody {
                        @for (i, c) in chart.categories.iter().enumerate() {
                            tr {
                                td { (c) }
                                @for s in &chart.series {
                                    td { (s.values.get(i).copied().flatten().map(chart.fmt).unwrap_or_else(|| "-".into())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Equal-width bins over the sample's range: (from, to, count) each.
pub fn bins(samples: &[f64], n: usize) -> Vec<(f64, f64, usize)> {
    let finite: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(lo) = finite.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    let hi = finite.iter().copied().fold(lo, f64::max);
    let n = n.max(1);
    let width = if hi > lo {
        (hi - lo) / n as f64
    } else {
        lo.abs().max(1e-3) * 0.01
    };
    let mut out: Vec<(f64, f64, usize)> = (0..n)
        .map(|i| (lo + i as f64 * width, lo + (i + 1) as f64 * width, 0))
        .collect();
    for v in finite {
        let i = (((v - lo) / width) as usize).min(n - 1);
        out[i].2 += 1;
    }
    if hi <= lo {
        out.truncate(1);
    }
    out
}

fn hist_svg(h: &Histogram, bins: &[(f64, f64, usize)]) -> Result<String, String> {
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        return Ok(String::new());
    };
    let (x0, x1) = (first.0, last.1);
    let pad = (x1 - x0) * 0.05;
    let (x0, x1) = (x0 - pad, x1 + pad);
    let tallest = bins.iter().map(|b| b.2).max().unwrap_or(1) as f64;
    let labels: Vec<&str> = h.markers.iter().map(|m| m.1.as_str()).collect();
    let frame = Frame {
        caption: h.title,
        x_area: 40,
        y_area: 50,
    };
    let top = axis_top(0.0, tallest, 0.15, &labels, frame)?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| err(&x))?;
        let mut c = frame.build(&root, x0..x1, 0.0..top)?;
        c.configure_mesh()
            .light_line_style(WHITE)
            .x_desc(h.x_label)
            .y_desc(h.y_label)
            .y_labels(count_labels(top))
            .y_label_formatter(&|v| num(v.round()))
            .draw()
            .map_err(|x| err(&x))?;
        let colour = PALETTE[0];
        c.draw_series(bins.iter().filter(|b| b.2 > 0).map(|&(a, b, n)| {
            Rectangle::new([(a, 0.0), (b, n as f64)], colour.mix(0.75).filled())
        }))
        .map_err(|x| err(&x))?;
        for (i, (x, label)) in h.markers.iter().enumerate() {
            let colour = PALETTE[(i + 1) % PALETTE.len()];
            let style = colour.stroke_width(2);
            c.draw_series(DashedLineSeries::new(
                vec![(*x, 0.0), (*x, top)],
                6,
                4,
                style,
            ))
            .map_err(|x| err(&x))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        if !h.markers.is_empty() {
            draw_legend(&mut c)?;
        }
        root.present().map_err(|x| err(&x))?;
    }
    Ok(out)
}

/// The histogram (a `<figure>`) with its bins in a `<details>` table.
pub fn histogram(h: &Histogram) -> Markup {
    let bins = bins(h.samples, h.bins);
    let svg = hist_svg(h, &bins).unwrap_or_default();
    html! {
        figure.chart {
            @if svg.is_empty() {
                figcaption { (h.title) ": no data" }
            } @else {
                (PreEscaped(svg))
                figcaption { (h.title) }
            }
            details {
                summary { "Numbers: " (h.title) }
                table.numbers {
                    thead { tr { th { (h.x_label) " from" } th { "to" } th { (h.y_label) } } }
                    tbody {
                        @for (a, b, n) in &bins { tr { td { (num(*a)) } td { (num(*b)) } td { (n) } } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_count_every_sample_once() {
        let s = [1.0, 1.5, 2.0, 2.0, 3.0, f64::NAN];
        let b = bins(&s, 4);
        assert_eq!(b.len(), 4);
        assert_eq!(b.iter().map(|b| b.2).sum::<usize>(), 5);
        assert_eq!((b[0].0, b[3].1), (1.0, 3.0));
        assert_eq!(b[3].2, 1, "the maximum falls in the last bin");
        let one = bins(&[2.5, 2.5], 10);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].2, 2);
        assert!(bins(&[], 3).is_empty());
    }

    #[test]
    fn charts_draw_svg_with_escaped_text() {
        let bars = bar_chart(&BarChart {
            title: "t <b>",
            x_label: "x",
            y_label: "y",
            categories: vec!["<i>a".into(), "b".into()],
            series: vec![BarSeries {
                name: "s".into(),
                values: vec![Some(1e9), None],
            }],
            fmt: num,
        })
        .into_string();
        assert!(bars.contains("<svg"), "{bars}");
        assert!(!bars.contains("<i>") && !bars.contains("<b>"), "{bars}");
        let h = histogram(&Histogram {
            title: "h",
            x_label: "ms",
            y_label: "runs",
            samples: &[1.0, 2.0, 2.5],
            bins: 5,
            markers: vec![(2.0, "median".into())],
        })
        .into_string();
        assert!(h.contains("<svg") && h.contains("median"), "{h}");
    }
}
