//! Charts drawn on the server with `plotters` (its SVG backend; no font
//! files, no script). Each chart is its own `image/svg+xml` resource that
//! a page loads with `<img src>`: an SVG loaded as an image runs no script
//! and loads nothing, and its answer carries a CSP of its own that allows
//! nothing at all ([`CHART_CSP`]). plotters escapes every text it writes.
//! Each page also shows the chart's figures as a table or list.

use armsledger_core::ids::Timestamp;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::ConsoleError;

/// Figures of a bar chart: `(label, value)` in order.
pub type Bars = Vec<(String, u64)>;
/// A custody period: site, from and until (ms).
pub type Period = (String, u64, u64);

/// The Content-Security-Policy of a chart: nothing may load or run.
pub const CHART_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The bars' colour (the console's brand blue).
const BAR: RGBColor = RGBColor(10, 88, 202);
/// Lane colours of a custody timeline, by lane.
const LANES: [RGBColor; 4] = [
    RGBColor(23, 59, 99),
    RGBColor(10, 88, 202),
    RGBColor(179, 92, 0),
    RGBColor(61, 90, 128),
];
/// Text colour.
const INK: RGBColor = RGBColor(33, 37, 41);

fn err(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Chart(e.to_string())
}

/// A chart as its own resource.
pub fn svg_response(svg: String) -> Response {
    let mut res = ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CHART_CSP),
    );
    res
}

/// A bar chart: one bar per `(label, value)`, in order; at most about
/// eight labels under the bars, so they never overlap.
pub fn bars(title: &str, data: &[(String, u64)]) -> Result<String, ConsoleError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = data.len().max(1);
        let max = data.iter().map(|d| d.1).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16).into_font().color(&INK))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..n as f64, 0u64..max + max / 10 + 1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(0)
            .y_labels(5)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(data.iter().enumerate().map(|(i, (_, v))| {
                let x = i as f64;
                Rectangle::new([(x + 0.1, 0), (x + 0.9, *v)], BAR.filled())
            }))
            .map_err(err)?;
        // Labels under every `every`-th bar, centred.
        let every = n.div_ceil(8).max(1);
        let below = ("sans-serif", 12)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (i, (label, _)) in data.iter().enumerate().step_by(every) {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0));
            root.draw(&Text::new(label.clone(), (x, y + 6), below.clone()))
                .map_err(err)?;
        }
        if data.is_empty() {
            root.draw(&Text::new(
                "no data",
                (340, 130),
                ("sans-serif", 14).into_font().color(&INK),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A custody timeline over `[start, end]` (ms): one lane per period (site,
/// from, until), and each event (ms) as a dot on the lane of the period it
/// falls in.
pub fn custody(
    title: &str,
    periods: &[Period],
    events: &[u64],
    start: u64,
    end: u64,
) -> Result<String, ConsoleError> {
    let lanes = periods.len().clamp(1, 40);
    let end = end.max(start.saturating_add(1));
    let height = 90 + 34 * u32::try_from(lanes).unwrap_or(40);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16).into_font().color(&INK))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(120)
            .build_cartesian_2d(start..end, 0f64..lanes as f64)
            .map_err(err)?;
        let day = |ms: &u64| {
            Timestamp(*ms)
                .rfc3339()
                .chars()
                .take(10)
                .collect::<String>()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(5)
            .x_label_formatter(&day)
            .y_labels(0)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        // Lane i is drawn top down: y from lanes - i - 1 to lanes - i.
        let lane_y = |i: usize| (lanes - 1 - i.min(lanes - 1)) as f64;
        chart
            .draw_series(
                periods
                    .iter()
                    .take(lanes)
                    .enumerate()
                    .map(|(i, (_, from, until))| {
                        let colour = LANES.get(i % LANES.len()).copied().unwrap_or(BAR);
                        let y = lane_y(i);
                        Rectangle::new(
                            [
                                (*from, y + 0.2),
                                ((*until).max(from.saturating_add(1)), y + 0.8),
                            ],
                            colour.filled(),
                        )
                    }),
            )
            .map_err(err)?;
        let lane_at = |t: u64| {
            // The latest period holding `t` (a hand-over instant is both).
            periods
                .iter()
                .take(lanes)
                .rposition(|(_, from, until)| *from <= t && t <= *until)
                .unwrap_or(0)
        };
        chart
            .draw_series(events.iter().map(|t| {
                Circle::new(
                    (*t, lane_y(lane_at(*t)) + 0.5),
                    4,
                    WHITE.filled().stroke_width(1),
                )
            }))
            .map_err(err)?;
        // Each lane's site, left of the plot.
        let left = ("sans-serif", 12)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, (site, _, _)) in periods.iter().take(lanes).enumerate() {
            let (x, y) = chart.backend_coord(&(start, lane_y(i) + 0.5));
            root.draw(&Text::new(site.clone(), (x - 8, y), left.clone()))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn charts_escape_their_text_and_carry_no_script_or_style() {
        let svg = bars("a<b", &[("<x>".into(), 3), ("y".into(), 1)]).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("a&lt;b") && svg.contains("&lt;x&gt;"), "{svg}");
        assert!(!svg.contains("<x>"));
        assert!(!svg.contains("<script") && !svg.contains("style="));
        // Two bars, drawn as rectangles of the bar colour.
        assert_eq!(svg.matches("fill=\"#0A58CA\"").count(), 2, "{svg}");
        let c = custody("t", &[("s\"1".into(), 0, 10)], &[5], 0, 10).unwrap();
        assert!(c.contains("s&quot;1") || c.contains("s&#34;1"), "{c}");
        assert!(c.contains("<circle"), "{c}");
        // One bar fills the plot: no empty segment beside it.
        let one = bars("one", &[("d".into(), 5)]).unwrap();
        assert_eq!(one.matches("fill=\"#0A58CA\"").count(), 1);
        // Quiet: no data draws no bar and says so.
        let empty = bars("nothing", &[]).unwrap();
        assert!(empty.contains("no data"));
        assert_eq!(empty.matches("fill=\"#0A58CA\"").count(), 0);
    }
}
