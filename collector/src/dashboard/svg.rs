//! Charts drawn on the server as inline SVG, so the pages need no script to
//! show them: the stacked area of stages over time, a portal's stage
//! timeline per vantage, and a campaign's trend line. Colours come from the
//! stylesheet's classes (`s0`…`s4`, `su`, `v0`…), which the Content Security
//! Policy allows where inline styles would not be; every text is escaped by
//! [`xml`], the escaping the agent's JUnit uses too.

use std::fmt::Write as _;

use v6audit_report::xml;

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One layer of the stacked area: its class, legend label and value per day.
#[derive(Debug)]
pub struct Layer<'a> {
    pub class: &'static str,
    pub label: &'a str,
    pub values: Vec<usize>,
}

fn x_at(i: usize, n: usize) -> f64 {
    if n <= 1 {
        LEFT
    } else {
        LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
    }
}

/// A stacked area chart: `layers` bottom to top, one value per date.
pub fn stacked_area(title: &str, dates: &[String], layers: &[Layer<'_>]) -> String {
    let n = dates.len();
    let totals: Vec<usize> = (0..n)
        .map(|i| {
            layers
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let y_at = |v: usize| TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / max as f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = xml(title)
    );
    // Grid lines and the count axis at 0, 25, 50, 75 and 100% of the largest total.
    for k in 0..=4 {
        let v = max * k / 4;
        let y = y_at(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0
        );
    }
    let mut below = vec![0usize; n];
    for layer in layers {
        let above: Vec<usize> = (0..n)
            .map(|i| below[i] + layer.values.get(i).copied().unwrap_or(0))
            .collect();
        if above != below {
            let mut points = String::new();
            if n == 1 {
                // One day: a bar across the plot.
                for (x, v) in [(LEFT, above[0]), (W - RIGHT, above[0])] {
                    let _ = write!(points, "{x:.1},{:.1} ", y_at(v));
                }
                for (x, v) in [(W - RIGHT, below[0]), (LEFT, below[0])] {
                    let _ = write!(points, "{x:.1},{:.1} ", y_at(v));
                }
            } else {
                for (i, v) in above.iter().enumerate() {
                    let _ = write!(points, "{:.1},{:.1} ", x_at(i, n), y_at(*v));
                }
                for (i, v) in below.iter().enumerate().rev() {
                    let _ = write!(points, "{:.1},{:.1} ", x_at(i, n), y_at(*v));
                }
            }
            let last = layer.values.last().copied().unwrap_or(0);
            let _ = write!(
                svg,
                r#"<polygon class="{c}" points="{p}"><title>{l}: {last}</title></polygon>"#,
                c = layer.class,
                p = points.trim_end(),
                l = xml(layer.label)
            );
        }
        below = above;
    }
    // Dates: the first, the middle and the last.
    if n > 0 {
        let mut marks = vec![0, n / 2, n - 1];
        marks.dedup();
        for i in marks {
            let anchor = if i == 0 && n > 1 {
                "start"
            } else if i == n - 1 && n > 1 {
                "end"
            } else {
                "middle"
            };
            let x = if n == 1 {
                (LEFT + W - RIGHT) / 2.0
            } else {
                x_at(i, n)
            };
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.1}" y="{y}" text-anchor="{anchor}">{d}</text>"#,
                y = H - 8.0,
                d = xml(&dates[i])
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One vantage's stages over time: (time in ms, stage) in time order.
#[derive(Debug)]
pub struct Track<'a> {
    pub label: &'a str,
    pub points: Vec<(i64, i64)>,
}

/// Step lines of stage (0 to 4) over time, one per vantage, between two times.
pub fn stage_timeline(
    title: &str,
    stage_labels: &[&str; 5],
    from_ms: i64,
    to_ms: i64,
    date_labels: (&str, &str),
    tracks: &[Track<'_>],
) -> String {
    let left = 150.0;
    let span = (to_ms - from_ms).max(1) as f64;
    let x_of = |ms: i64| left + (W - left - RIGHT) * ((ms - from_ms) as f64 / span).clamp(0.0, 1.0);
    let y_of = |stage: i64| TOP + (H - TOP - BOTTOM) * (1.0 - stage.clamp(0, 4) as f64 / 4.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = xml(title)
    );
    for (s, label) in stage_labels.iter().enumerate() {
        let y = y_of(s as i64);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
            x2 = W - RIGHT,
            tx = left - 6.0,
            ty = y + 4.0,
            l = xml(label)
        );
    }
    for (k, track) in tracks.iter().enumerate() {
        if track.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        let mut prev: Option<f64> = None;
        for (ms, stage) in &track.points {
            let (x, y) = (x_of(*ms), y_of(*stage));
            match prev {
                None => {
                    let _ = write!(d, "M{x:.1},{y:.1}");
                }
                Some(_) => {
                    let _ = write!(d, " H{x:.1} V{y:.1}");
                }
            }
            prev = Some(y);
        }
        let _ = write!(d, " H{:.1}", x_of(to_ms));
        let _ = write!(
            svg,
            r#"<path class="track v{c}" d="{d}"><title>{l}</title></path>"#,
            c = k % 4,
            l = xml(track.label)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis" x="{left}" y="{y}" text-anchor="start">{a}</text><text class="axis" x="{x}" y="{y}" text-anchor="end">{b}</text></svg>"#,
        y = H - 8.0,
        x = W - RIGHT,
        a = xml(date_labels.0),
        b = xml(date_labels.1)
    );
    svg
}

/// A small line of a share (0 to 1) over days.
pub fn sparkline(title: &str, values: &[f64]) -> String {
    let (w, h) = (120.0, 28.0);
    let n = values.len();
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        let x = if n <= 1 {
            0.0
        } else {
            w * i as f64 / (n - 1) as f64
        };
        let y = 2.0 + (h - 4.0) * (1.0 - v.clamp(0.0, 1.0));
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    format!(
        r#"<svg class="spark" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><polyline points="{p}"/></svg>"#,
        t = xml(title),
        p = points.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_a_chart_is_escaped() {
        let svg = stacked_area(
            "<script>alert(1)</script>",
            &["2026-11-27".to_owned()],
            &[Layer {
                class: "s0",
                label: "\"><script>",
                values: vec![3],
            }],
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("&quot;&gt;&lt;script&gt;: 3"));
    }

    #[test]
    fn layers_stack_on_each_other() {
        let dates: Vec<String> = (1..=3).map(|d| format!("2026-11-0{d}")).collect();
        let svg = stacked_area(
            "t",
            &dates,
            &[
                Layer {
                    class: "s3",
                    label: "a",
                    values: vec![1, 2, 4],
                },
                Layer {
                    class: "s0",
                    label: "b",
                    values: vec![3, 2, 0],
                },
            ],
        );
        // Two polygons; the top layer's last count is in its tooltip.
        assert_eq!(svg.matches("<polygon").count(), 2);
        assert!(svg.contains("<title>b: 0</title>"));
        // The axis tops out at the largest total (4).
        assert!(svg.contains(">4</text>"));
    }

    #[test]
    fn a_timeline_steps_from_stage_to_stage() {
        let labels = ["0", "1", "2", "3", "4"];
        let svg = stage_timeline(
            "t",
            &labels,
            0,
            100,
            ("a", "b"),
            &[Track {
                label: "hn",
                points: vec![(0, 0), (50, 3)],
            }],
        );
        assert!(svg.contains("class=\"track v0\""));
        assert!(svg.contains(" H"), "{svg}");
    }
}
