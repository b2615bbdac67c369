//! Charts drawn on the server as inline SVG, so the pages need no script to
//! show them: the stacked steps of stages over days, a portal's stage
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
    /// The stylesheet class it is filled with (`s0`…`s4`, `su`).
    pub class: &'static str,
    /// Its name in the tooltip, with its last day's count.
    pub label: &'a str,
    /// Its count on each day, in the order of the dates.
    pub values: Vec<usize>,
}

/// How wide a single day is drawn: a bar, not the whole plot.
const BAR: f64 = 120.0;

/// Where day `i` of `n` begins and ends on the x axis. Each day is a column
/// of the plot, since a day's count holds over the whole day (a line from
/// one day's count to the next would draw counts nobody measured); a single
/// day is a bar in the middle.
fn day_span(i: usize, n: usize) -> (f64, f64) {
    let plot = W - LEFT - RIGHT;
    if n <= 1 {
        let mid = LEFT + plot / 2.0;
        (mid - BAR / 2.0, mid + BAR / 2.0)
    } else {
        let w = plot / n as f64;
        (LEFT + w * i as f64, LEFT + w * (i + 1) as f64)
    }
}

/// A point in tenths of a unit, as the SVG writes it.
type Tenths = (i64, i64);

fn tenths(x: f64, y: f64) -> Tenths {
    ((x * 10.0).round() as i64, (y * 10.0).round() as i64)
}

/// Adds a corner to an outline, leaving out the point before it when the
/// two lie on one straight (horizontal or vertical) line with it: a year
/// of unchanged days is two corners, not 730.
fn corner(outline: &mut Vec<Tenths>, p: Tenths) {
    if let [.., a, b] = outline.as_slice()
        && ((a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1))
    {
        outline.pop();
    }
    if outline.last() != Some(&p) {
        outline.push(p);
    }
}

/// Stacked steps: `layers` bottom to top, one value per date, each day's
/// counts level across its day.
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
            let points = layer_points(&above, &below, y_at);
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
    date_marks(&mut svg, dates);
    svg.push_str("</svg>");
    svg
}

/// The outline of a layer between the totals `below` it and `above` it,
/// as polygon points: the top edge left to right, then the bottom edge back.
fn layer_points(above: &[usize], below: &[usize], y_at: impl Fn(usize) -> f64) -> String {
    let n = above.len();
    let mut outline: Vec<Tenths> = Vec::with_capacity(4 * n);
    for (i, v) in above.iter().enumerate() {
        let (x0, x1) = day_span(i, n);
        corner(&mut outline, tenths(x0, y_at(*v)));
        corner(&mut outline, tenths(x1, y_at(*v)));
    }
    for (i, v) in below.iter().enumerate().rev() {
        let (x0, x1) = day_span(i, n);
        corner(&mut outline, tenths(x1, y_at(*v)));
        corner(&mut outline, tenths(x0, y_at(*v)));
    }
    let mut points = String::new();
    for (x, y) in &outline {
        let _ = write!(
            points,
            "{}.{},{}.{} ",
            x.div_euclid(10),
            x.rem_euclid(10),
            y.div_euclid(10),
            y.rem_euclid(10)
        );
    }
    points
}

/// The dates under a chart: the first, the middle and the last.
fn date_marks(svg: &mut String, dates: &[String]) {
    let n = dates.len();
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
            let x = match (anchor, day_span(i, n)) {
                ("start", (x0, _)) => x0,
                ("end", (_, x1)) => x1,
                (_, (x0, x1)) => (x0 + x1) / 2.0,
            };
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.1}" y="{y}" text-anchor="{anchor}">{d}</text>"#,
                y = H - 8.0,
                d = xml(&dates[i])
            );
        }
    }
}

/// One vantage's stages over time: (time in ms, stage) in time order.
#[derive(Debug)]
pub struct Track<'a> {
    /// The vantage's name: the line's tooltip.
    pub label: &'a str,
    /// Where the line steps: (time in ms since the epoch, stage 0 to 4), in time order.
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

    /// The corners of each polygon of a chart.
    fn polygons(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("points=\"")
            .skip(1)
            .map(|rest| {
                rest[..rest.find('"').unwrap()]
                    .split(' ')
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    /// Every edge, the closing one too, is horizontal or vertical: steps.
    fn assert_steps(corners: &[(f64, f64)], svg: &str) {
        for (i, a) in corners.iter().enumerate() {
            let b = corners[(i + 1) % corners.len()];
            let level = (a.1 - b.1).abs() < 0.05;
            let upright = (a.0 - b.0).abs() < 0.05;
            assert!(level || upright, "a sloped edge {a:?} → {b:?} in {svg}");
        }
    }

    fn has(corners: &[(f64, f64)], x: f64, y: f64) -> bool {
        corners
            .iter()
            .any(|c| (c.0 - x).abs() < 0.06 && (c.1 - y).abs() < 0.06)
    }

    #[test]
    fn a_single_day_is_a_bar() {
        // Regression: a collector with one day of data drew a ramp from
        // zero (the day before) up to that day's counts.
        let svg = stacked_area(
            "t",
            &["2026-12-02".to_owned()],
            &[
                Layer {
                    class: "s4",
                    label: "a",
                    values: vec![6],
                },
                Layer {
                    class: "s1",
                    label: "b",
                    values: vec![3],
                },
            ],
        );
        let shapes = polygons(&svg);
        assert_eq!(shapes.len(), 2, "{svg}");
        for corners in &shapes {
            assert_eq!(corners.len(), 4, "a rectangle: {svg}");
            assert_steps(corners, &svg);
            let left = corners.iter().map(|c| c.0).fold(f64::MAX, f64::min);
            let right = corners.iter().map(|c| c.0).fold(f64::MIN, f64::max);
            assert!((right - left - BAR).abs() < 0.2, "{left}..{right}");
            assert!(left > LEFT && right < W - RIGHT, "a bar, not the plot");
        }
        // Stacked: b sits on a, up to the total (9, the top of the axis).
        let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / 9.0);
        let mid = LEFT + (W - LEFT - RIGHT) / 2.0;
        assert!(has(&shapes[0], mid - BAR / 2.0, y(6.0)), "{svg}");
        assert!(has(&shapes[1], mid - BAR / 2.0, y(9.0)), "{svg}");
        assert!(has(&shapes[1], mid + BAR / 2.0, y(6.0)), "{svg}");
        // The date under the bar.
        assert!(svg.contains(">2026-12-02</text>"));
    }

    #[test]
    fn each_day_holds_its_count() {
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
        let shapes = polygons(&svg);
        assert_eq!(shapes.len(), 2, "{svg}");
        for corners in &shapes {
            assert_steps(corners, &svg);
        }
        // Layer a is at 1 over the whole first day (the first third of the
        // plot), then steps up to 2 where the second day begins.
        let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / 4.0);
        let day = (W - LEFT - RIGHT) / 3.0;
        let a = &shapes[0];
        assert!(has(a, LEFT, y(1.0)), "{svg}");
        assert!(has(a, LEFT + day, y(1.0)), "{svg}");
        assert!(has(a, LEFT + day, y(2.0)), "{svg}");
        assert!(has(a, W - RIGHT, y(4.0)), "{svg}");
        // Layer b sits on a's steps, up to the total of 4.
        let b = &shapes[1];
        assert!(has(b, LEFT, y(4.0)), "{svg}");
        assert!(has(b, LEFT, y(1.0)) && has(b, LEFT + day, y(1.0)), "{svg}");
        // A year of unchanged days is a rectangle per layer, not 1,460 corners.
        let year: Vec<String> = (0..365).map(|d| format!("d{d}")).collect();
        let svg = stacked_area(
            "t",
            &year,
            &[Layer {
                class: "s3",
                label: "a",
                values: vec![5; 365],
            }],
        );
        assert_eq!(polygons(&svg)[0].len(), 4, "{svg}");
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
