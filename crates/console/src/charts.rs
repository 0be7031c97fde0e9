//! Charts drawn on the server as plain SVG (no chart library fits a
//! server-rendered page without JavaScript and a strict CSP; these are
//! small). Every text in them is escaped; no chart carries script or
//! inline style, so the CSP holds.

use std::fmt::Write as _;

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A bar chart: one bar per `(label, value)`, labelled under the first, last
/// and every `label_every`-th bar. `title` is its accessible name.
pub fn bars(title: &str, data: &[(String, u64)], label_every: usize) -> String {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const PAD: f64 = 28.0;
    let max = data.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let n = data.len().max(1);
    // At most 48 units a bar, so a few bars do not fill the width.
    let step = ((W - 2.0 * PAD) / n as f64).min(48.0);
    // Labels at least 64 units apart, so dates never overlap.
    let label_every = label_every.max((64.0 / step).ceil() as usize);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" class=\"svg-chart\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>",
        H - PAD,
        W - PAD,
        H - PAD
    );
    let _ = write!(
        s,
        "<text x=\"2\" y=\"{}\" class=\"lbl\">{max}</text>",
        PAD - 8.0
    );
    if data.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" class=\"lbl\">no data</text>",
            W / 2.0 - 24.0,
            H / 2.0
        );
    }
    for (i, (label, v)) in data.iter().enumerate() {
        let h = (H - 2.0 * PAD) * (*v as f64) / (max as f64);
        let x = PAD + i as f64 * step;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" class=\"bar\"><title>{}: {v}</title></rect>",
            H - PAD - h,
            (step * 0.8).max(1.0),
            esc(label)
        );
        if i % label_every == 0 {
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{}\" class=\"lbl\">{}</text>",
                H - PAD + 14.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A custody timeline: one lane per period (site, from, until in ms), and
/// a tick per event time, over `[start, end]`.
pub fn custody(
    title: &str,
    periods: &[(String, u64, u64)],
    events: &[u64],
    start: u64,
    end: u64,
) -> String {
    const W: f64 = 720.0;
    const LANE: f64 = 26.0;
    const LEFT: f64 = 130.0;
    let span = end.saturating_sub(start).max(1) as f64;
    let x = |t: u64| LEFT + (W - LEFT - 10.0) * (t.saturating_sub(start) as f64) / span;
    let h = LANE * periods.len() as f64 + 40.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\" class=\"svg-chart\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    for (i, (site, from, until)) in periods.iter().enumerate() {
        let y = 8.0 + i as f64 * LANE;
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.1}\" class=\"lbl\">{}</text><rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"lane lane{}\"><title>{}</title></rect>",
            y + 15.0,
            esc(site),
            x(*from),
            (x(*until) - x(*from)).max(2.0),
            LANE - 8.0,
            i % 4,
            esc(site)
        );
    }
    let base = 8.0 + periods.len() as f64 * LANE;
    for t in events {
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" class=\"tick\"/>",
            x(*t),
            x(*t),
            base + 10.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_text() {
        let svg = bars("a<b", &[("<x>".into(), 3), ("y".into(), 1)], 1);
        assert!(svg.contains("a&lt;b") && svg.contains("&lt;x&gt;"));
        assert!(!svg.contains("<x>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let c = custody("t", &[("s\"1".into(), 0, 10)], &[5], 0, 10);
        assert!(c.contains("s&quot;1") && c.contains("class=\"tick\""));
    }
}
