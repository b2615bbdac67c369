//! The TUI without a terminal: key handling on the app state, the drawing
//! on `TestBackend` compared with snapshots (times masked, in `snapshots/`
//! here), and the event loop driven by a channel. Unit tests of the binary:
//! it has no library to test from `tests/` (cli/tests/cli/tui.rs runs the
//! binary in tmux).

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use tokio::sync::mpsc;
use v6audit_model::{Lang, Portal, PortalResult, Report, Stage};

use crate::tui::{self, Action, App, Driver, ExportFormat, Key, UiEvent};

fn report() -> Report {
    // The agent's fixture: a lab audit of 18 portals, one per scenario.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = dir.join("../agent/tests/fixtures/report-lab.json");
    let text = std::fs::read_to_string(fixture).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The pack the fixture was judged with (the lab's: the default pack with
/// the lab's loopback allowed), whose words the detail uses.
fn pack() -> std::sync::Arc<v6audit_rules::Pack> {
    std::sync::Arc::new(v6audit_rules::Pack::default_pack())
}

fn portals(r: &Report) -> Vec<Portal> {
    r.results
        .iter()
        .map(|x| {
            let mut p = Portal::from_target(&x.portal.url).unwrap();
            p.id = x.portal.id.clone();
            p.name = x.portal.name.clone();
            p.agency = x.portal.agency.clone();
            p.category = x.portal.category;
            p
        })
        .collect()
}

/// An app with the first `done` results in, the clock stopped.
fn app(done: usize, lang: Lang) -> App {
    let r = report();
    let mut app = App::new(portals(&r), pack(), lang, false);
    for (i, res) in r.results.into_iter().enumerate().take(done) {
        app.finished_row(i, res);
    }
    // A minute ago, so the clock and the rate keep their widths: started
    // just now, the rate was thousands a second or more, as fast as the
    // machine, and a faster machine shortened the bar of the snapshot.
    let now = Instant::now();
    app.started = now
        .checked_sub(Duration::from_secs(60))
        .expect("a minute since the machine booted");
    if done < app.rows.len() {
        app.finished = None;
        app.started_row(done);
    } else {
        app.finished = Some(now);
    }
    app
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        tui::draw(f, app);
    })
    .unwrap();
    screen(&t)
}

/// What the terminal shows, a line per row, trailing spaces cut.
fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_owned())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Sends `keys`, then `q`, through the event loop, which draws before each
/// event; returns the last screen, the one the keys left.
async fn press(t: &mut Terminal<TestBackend>, app: &mut App, keys: &[Key]) -> String {
    let events: Vec<UiEvent> = keys.iter().map(|k| UiEvent::Key(*k)).collect();
    send(t, app, events).await
}

/// As [`press`], for any events.
async fn send(t: &mut Terminal<TestBackend>, app: &mut App, events: Vec<UiEvent>) -> String {
    let (tx, mut rx) = mpsc::channel(64);
    for e in events {
        tx.send(e).await.unwrap();
    }
    tx.send(UiEvent::Key(Key::Char('q'))).await.unwrap();
    tui::run_loop(t, app, &mut rx, &Recorder::default())
        .await
        .unwrap();
    screen(t)
}

/// Types a filter and applies it; returns the ids shown.
fn filter(a: &mut App, text: &str) -> Vec<String> {
    a.on_key(Key::Char('/'));
    for c in text.chars() {
        a.on_key(Key::Char(c));
    }
    a.on_key(Key::Enter);
    ids(a)
}

/// The text of a detail line.
fn text_of(line: &ratatui::text::Line) -> String {
    line.spans.iter().map(|s| s.content.to_string()).collect()
}

/// The detail of the portal `id`, a line per line.
fn detail_of(a: &App, r: &Report, id: &str) -> String {
    let result = r.results.iter().find(|x| x.portal.id == id).unwrap();
    let lines: Vec<String> = tui::draw::detail_lines(a, result)
        .iter()
        .map(text_of)
        .collect();
    lines.join("\n")
}

fn snapshot(name: &str, text: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"\d\d:\d\d · [0-9.]+/s", "<mm:ss> · <rate>/s");
    s.add_filter(r"\b[1-6]\d{4}\b", "<port>");
    s.bind(|| insta::assert_snapshot!(name, text));
}

fn ids(app: &App) -> Vec<String> {
    app.visible()
        .iter()
        .map(|&i| app.rows[i].portal.id.clone())
        .collect()
}

#[test]
fn the_table_sorts_by_priority_then_cycles_through_the_sorts() {
    let mut a = app(18, Lang::En);
    let first = &a.rows[a.visible()[0]];
    assert_eq!(
        first.result.as_ref().unwrap().verdict.stage,
        Stage::Broken,
        "broken first"
    );
    for want in ["stage", "score", "id", "agency", "priority"] {
        assert_eq!(a.on_key(Key::Char('s')), Action::None);
        assert_eq!(a.sort.label(Lang::En), want);
    }
    a.on_key(Key::Char('s'));
    a.on_key(Key::Char('s'));
    a.on_key(Key::Char('s'));
    assert_eq!(a.sort.label(Lang::En), "id");
    assert_eq!(ids(&a)[0], "cname-0002");
}

#[test]
fn filters_by_id_agency_stage_and_rule_status() {
    let mut a = app(18, Lang::En);
    assert_eq!(filter(&mut a, "hostile-s"), ["hostile-slow-0017"]);
    // Esc clears a filter before it quits.
    assert_eq!(a.on_key(Key::Esc), Action::None);
    assert_eq!(ids(&a).len(), 18);
    assert_eq!(filter(&mut a, "broken").len(), 6);
    a.on_key(Key::Esc);
    assert_eq!(
        filter(&mut a, "tls.v6-cert=fail"),
        ["v6-expired-cert-0010", "v6-wrong-cert-0009"]
    );
    a.on_key(Key::Esc);
    assert_eq!(filter(&mut a, "kiểm thử").len(), 4);
}

#[test]
fn moving_grouping_detail_reprobe_export_and_quit() {
    let mut a = app(18, Lang::En);
    a.on_key(Key::Down);
    a.on_key(Key::Char('j'));
    assert_eq!(a.selected, 2);
    a.on_key(Key::Char('k'));
    assert_eq!(a.selected, 1);
    a.on_key(Key::End);
    assert_eq!(a.selected, 17, "the cursor stays on the last row");
    a.on_key(Key::Home);
    a.on_key(Key::Char('g'));
    let agencies: Vec<String> = a
        .visible()
        .iter()
        .map(|&i| a.rows[i].portal.agency.clone().unwrap())
        .collect();
    let mut sorted = agencies.clone();
    sorted.sort();
    assert_eq!(agencies, sorted, "grouped by agency");
    a.on_key(Key::Enter);
    assert!(a.detail);
    let selected = a.current().unwrap();
    assert_eq!(a.on_key(Key::Char('r')), Action::Reprobe(selected));
    assert_eq!(a.on_key(Key::Char('R')), Action::RerunAll);
    a.on_key(Key::Char('e'));
    assert_eq!(a.on_key(Key::Char('c')), Action::Export(ExportFormat::Csv));
    a.on_key(Key::Char('?'));
    assert!(a.help);
    assert_eq!(
        a.on_key(Key::Char('x')),
        Action::None,
        "any key closes the help"
    );
    assert!(!a.help);
    assert_eq!(
        a.on_key(Key::Esc),
        Action::None,
        "Esc closes the detail first"
    );
    assert!(!a.detail);
    assert_eq!(a.on_key(Key::Esc), Action::Quit);
    assert_eq!(a.on_key(Key::CtrlC), Action::Quit);
    assert_eq!(a.on_key(Key::Char('q')), Action::Quit);
}

#[test]
fn screens_match_their_snapshots() {
    snapshot("tui_empty", &render(&app(0, Lang::En), 120, 30));
    snapshot("tui_filling", &render(&app(7, Lang::En), 120, 30));
    snapshot("tui_finished", &render(&app(18, Lang::En), 120, 30));
    let mut detail = app(18, Lang::En);
    detail.on_key(Key::Enter);
    snapshot("tui_detail", &render(&detail, 120, 40));
    let mut filtered = app(18, Lang::En);
    for k in "/broken".chars() {
        filtered.on_key(Key::Char(k));
    }
    filtered.on_key(Key::Enter);
    snapshot("tui_filter", &render(&filtered, 120, 30));
    let mut help = app(18, Lang::En);
    help.on_key(Key::Char('?'));
    snapshot("tui_help", &render(&help, 120, 30));
    snapshot("tui_80x24", &render(&app(18, Lang::En), 80, 24));
    snapshot("tui_vi", &render(&app(18, Lang::Vi), 120, 30));
}

#[test]
fn a_small_terminal_still_shows_the_essentials() {
    let text = render(&app(18, Lang::En), 80, 24);
    assert!(text.contains("18/18"), "{text}");
    assert!(text.contains("1 broken"), "{text}");
    assert!(text.contains("PORTAL"), "{text}");
    assert!(text.lines().last().unwrap().contains("q quit"), "{text}");
    // Narrow: the agency column goes, the rules stay.
    assert!(
        !text.contains("AGENCY") && text.contains("v6 TLS"),
        "{text}"
    );
}

/// Regression: a certificate or an inventory name with escape sequences
/// (`\e[2J\e[H\e]0;PWNED\a`) or a right-to-left override reached the screen
/// through the TUI, and went raw into its exports. Both are shown instead.
#[test]
fn certificate_cn_with_escape_sequences_does_not_reach_the_tui_or_its_exports() {
    const PWNED: &str = "\u{1b}[2J\u{1b}[H\u{1b}]0;PWNED\u{7}";
    const SHOWN: &str = "\\x1b[2J\\x1b[H\\x1b]0;PWNED\\x07";
    let mut r = report();
    for x in &mut r.results {
        x.portal.name = Some(format!("Cổng {PWNED}"));
        x.portal.agency = Some("Bộ \u{202e}abc".to_owned());
        for e in &mut x.observation.endpoints {
            if let Some(c) = e.tls.as_mut().and_then(|t| t.certificate.as_mut()) {
                c.subject = format!("CN={PWNED}");
            }
        }
    }
    let raw =
        |text: &str| text.contains('\u{1b}') || text.contains('\u{7}') || text.contains('\u{202e}');
    let mut a = App::new(portals(&r), pack(), Lang::En, false);
    for (i, res) in r.results.iter().cloned().enumerate() {
        a.finished_row(i, res);
    }
    let now = Instant::now();
    a.started = now;
    a.finished = Some(now);
    a.on_key(Key::Enter);
    let screen = render(&a, 120, 40);
    assert!(!raw(&screen), "{screen}");
    assert!(screen.contains(&format!("Cổng {SHOWN}")), "{screen}");
    assert!(screen.contains("Bộ <U+202E>abc"), "{screen}");
    // The certificate's name, in the detail's lines.
    let with_cert = r
        .results
        .iter()
        .find(|x| {
            x.observation
                .endpoints
                .iter()
                .any(|e| e.tls.as_ref().is_some_and(|t| t.certificate.is_some()))
        })
        .unwrap();
    let detail: String = tui::draw::detail_lines(&a, with_cert)
        .iter()
        .flat_map(|l| l.spans.iter().map(|s| s.content.to_string()))
        .collect();
    assert!(!raw(&detail), "{detail}");
    assert!(detail.contains(&format!("CN={SHOWN}")), "{detail}");
    // The exports a person opens: Markdown and CSV.
    let dir = tempfile::tempdir().unwrap();
    for format in [ExportFormat::Markdown, ExportFormat::Csv] {
        let path = tui::write_export(dir.path(), format, &r, Lang::En).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!raw(&text), "{}:\n{text}", path.display());
        assert!(text.contains(SHOWN), "{}:\n{text}", path.display());
    }
}

/// Records what the loop asked for.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<String>>,
    dir: PathBuf,
}

impl Driver for Recorder {
    fn run(&self) -> u64 {
        1
    }
    fn reprobe(&self, index: usize, portal: Portal) {
        self.asked
            .lock()
            .unwrap()
            .push(format!("reprobe {index} {}", portal.id));
    }
    fn rerun(&self, portals: Vec<Portal>) -> u64 {
        self.asked
            .lock()
            .unwrap()
            .push(format!("rerun {}", portals.len()));
        1
    }
    fn export(&self, format: ExportFormat, results: Vec<PortalResult>) -> Result<PathBuf, String> {
        let r = report();
        let mut report = r;
        report.results = results;
        tui::write_export(&self.dir, format, &report, Lang::En)
    }
}

#[tokio::test]
async fn the_loop_fills_the_table_from_events_and_obeys_keys() {
    let r = report();
    let mut app = App::new(portals(&r), pack(), Lang::En, false);
    let (tx, mut rx) = mpsc::channel(64);
    for (i, res) in r.results.iter().enumerate() {
        tx.send(UiEvent::Finished {
            run: 1,
            index: i,
            result: Box::new(res.clone()),
        })
        .await
        .unwrap();
    }
    // A stale event from an earlier run is ignored.
    tx.send(UiEvent::Started { run: 0, index: 0 })
        .await
        .unwrap();
    for k in [
        Key::Char('/'),
        Key::Char('g'),
        Key::Char('o'),
        Key::Char('o'),
        Key::Char('d'),
        Key::Enter,
        Key::Enter,
        Key::Char('r'),
        Key::Char('e'),
        Key::Char('m'),
        Key::Char('q'),
    ] {
        tx.send(UiEvent::Key(k)).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder {
        dir: dir.path().to_owned(),
        ..Recorder::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    tui::run_loop(&mut terminal, &mut app, &mut rx, &recorder)
        .await
        .unwrap();
    // Every result arrived; the re-probed one is being probed again.
    assert_eq!(app.done(), 17);
    assert!(app.rows[0].probing && app.rows[0].result.is_some());
    assert!(app.detail);
    assert_eq!(*recorder.asked.lock().unwrap(), ["reprobe 0 good-0001"]);
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1);
    let md = std::fs::read_to_string(&written[0]).unwrap();
    assert!(
        md.starts_with("# IPv6 audit") && md.contains("good-0001"),
        "{md}"
    );
    assert!(
        app.status.as_deref().unwrap().starts_with("written to "),
        "{:?}",
        app.status
    );
}

/// Regression: with the detail open, PgDn, PgUp, Home and End moved the
/// list's selection (and so changed the portal the detail showed) instead
/// of scrolling the detail. They scroll it now, and never past its end.
#[tokio::test]
async fn page_keys_in_the_open_detail_scroll_it_not_the_list() {
    let mut a = app(18, Lang::En);
    // A detail pane of 15 lines, for some 45 lines of detail.
    let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let portal = a.current().unwrap();
    let id = a.rows[portal].portal.id.clone();
    let title = format!("{id} — ");
    let opened = press(&mut t, &mut a, &[Key::Enter]).await;
    assert!(opened.contains(&title), "{opened}");

    let paged = press(&mut t, &mut a, &[Key::PageDown]).await;
    assert_eq!(a.current(), Some(portal), "the selection stays");
    assert!(paged.contains(&format!("› {id}")), "{paged}");
    assert!(!paged.contains(&title), "the detail scrolled:\n{paged}");
    assert_eq!(a.detail_scroll, a.detail_view.page);

    // End: the detail's last line on the pane's last line.
    let end = press(&mut t, &mut a, &[Key::End]).await;
    let result = a.rows[portal].result.clone().unwrap();
    let last = text_of(tui::draw::detail_lines(&a, &result).last().unwrap());
    let lines: Vec<&str> = end.lines().collect();
    let bottom = lines.iter().rposition(|l| l.starts_with('└')).unwrap();
    assert!(lines[bottom - 1].contains(last.trim()), "{end}");
    let max = a.detail_scroll;
    assert!(max > a.detail_view.page, "{max}");
    // No further: the content ends there.
    let more = press(&mut t, &mut a, &[Key::PageDown, Key::Down, Key::End]).await;
    assert_eq!(a.detail_scroll, max);
    assert_eq!(more, end);

    let back = press(&mut t, &mut a, &[Key::PageUp]).await;
    assert_eq!(a.detail_scroll, max - a.detail_view.page, "{back}");
    let top = press(&mut t, &mut a, &[Key::Home]).await;
    assert!(top.contains(&title), "{top}");
    assert_eq!(a.current(), Some(portal), "the selection never moved");
}

/// Regression: a filter that matched nothing left an empty table, as if
/// the audit had no portals. It says so now, and how to clear it; what
/// was typed is shown, not obeyed.
#[test]
fn a_filter_that_matches_nothing_says_so_and_how_to_clear_it() {
    let mut a = app(18, Lang::En);
    assert!(filter(&mut a, "zzz\u{1b}[2J").is_empty());
    let text = render(&a, 120, 30);
    let said = "no portal matches “zzz\\x1b[2J” — Esc clears the filter, / changes it";
    assert!(text.contains(said), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert_eq!(a.on_key(Key::Esc), Action::None);
    assert_eq!(ids(&a).len(), 18);
    assert!(!render(&a, 120, 30).contains("no portal matches"));
    let mut vi = app(18, Lang::Vi);
    filter(&mut vi, "zzz");
    let text = render(&vi, 120, 30);
    let said = "không có cổng nào khớp “zzz” — Esc để xóa bộ lọc, / để sửa";
    assert!(text.contains(said), "{text}");
}

/// Regression: `g` sorted the rows by agency but drew no group headers, so
/// nothing showed where a group began. Each group has a header row with
/// its count, and the cursor moves over the portals only.
#[test]
fn grouping_by_agency_draws_a_header_per_group_with_its_count() {
    let mut a = app(18, Lang::En);
    a.on_key(Key::Char('g'));
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for r in &a.rows {
        *groups.entry(r.portal.agency.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(groups.len(), 4);
    let text = render(&a, 120, 30);
    let mut at = 0;
    for (agency, n) in &groups {
        let header = format!("  {agency} — {n} portals");
        let line = text
            .lines()
            .position(|l| l == header)
            .unwrap_or_else(|| panic!("no header `{header}`:\n{text}"));
        assert!(line > at, "the groups in order:\n{text}");
        at = line;
    }
    snapshot("tui_grouped", &text);
    // The selection is always on a portal, never on a header.
    for n in 0..a.rows.len() {
        let text = render(&a, 120, 30);
        let selected = text.lines().find(|l| l.starts_with('›')).unwrap();
        let id = &a.rows[a.current().unwrap()].portal.id;
        assert!(
            selected.starts_with(&format!("› {id} ")),
            "row {n}:\n{text}"
        );
        a.on_key(Key::Down);
    }
}

/// Regression: a long agency ran into the stage (`(Lab Minis 1 broken`)
/// and long ids were cut short without a sign. Both end in an ellipsis
/// now, a column gap before the next column.
#[test]
fn a_long_agency_or_id_is_cut_with_an_ellipsis_before_the_next_column() {
    let wide = render(&app(18, Lang::En), 120, 30);
    assert!(wide.contains("Bộ Thí nghiệm (Lab Mini… 1 broken"), "{wide}");
    assert!(!wide.contains("(Lab Minis 1 broken"), "{wide}");
    let narrow = render(&app(18, Lang::En), 80, 24);
    assert!(narrow.contains("› hostile-slow-0… 1 broken"), "{narrow}");
    let vi = render(&app(18, Lang::Vi), 120, 30);
    // In Vietnamese the stage reads in Vietnamese too (issue 17.5).
    assert!(vi.contains("Bộ Thí nghiệm (Lab Mini… 1 IPv6 lỗi"), "{vi}");
    assert!(vi.contains("TLS v6  so v4   ĐIỂM"), "{vi}");
}

/// Regression: the filter `hanoi` found nothing, though an agency is "Sở
/// Mô phỏng Hà Nội": the filter now ignores diacritics, case and spaces
/// (`đ` reads as `d`).
#[test]
fn the_filter_hanoi_finds_ha_noi() {
    let mut a = app(18, Lang::En);
    let mut in_ha_noi: Vec<String> = a
        .rows
        .iter()
        .filter(|r| r.portal.agency.as_deref() == Some("Sở Mô phỏng Hà Nội"))
        .map(|r| r.portal.id.clone())
        .collect();
    in_ha_noi.sort();
    assert_eq!(in_ha_noi.len(), 5);
    for text in ["hanoi", "HA NOI", "Hà Nội", "ha noi"] {
        let mut found = filter(&mut a, text);
        found.sort();
        assert_eq!(found, in_ha_noi, "{text}");
        a.on_key(Key::Esc);
    }
    assert_eq!(tui::app::fold("Đà Nẵng"), "danang");
    assert_eq!(tui::app::fold("ĐỒNG THÁP"), "dongthap");
    assert_eq!(tui::app::fold("Thừa Thiên Huế"), "thuathienhue");
}

/// Regression: a gone portal's redirects read `IPv4:  [NoAddress]` (a Rust
/// name, after an empty chain). Every outcome is in the pack's words now.
#[test]
fn a_gone_portals_detail_says_why_nothing_was_fetched_in_words() {
    let r = report();
    let a = app(18, Lang::En);
    let gone = detail_of(&a, &r, "gone-0004");
    for family in ["IPv4", "IPv6"] {
        assert!(
            gone.contains(&format!("  {family}: NXDOMAIN (no such name)")),
            "{gone}"
        );
        assert!(
            gone.contains(&format!(
                "  {family}: not fetched — NXDOMAIN (no such name)"
            )),
            "{gone}"
        );
    }
    let v4_only = detail_of(&a, &r, "ipv4-only-0003");
    assert!(v4_only.contains("  IPv6: no AAAA record"), "{v4_only}");
    assert!(
        v4_only.contains("  IPv6: not fetched — no AAAA record"),
        "{v4_only}"
    );
    let left = detail_of(&a, &r, "redirect-v4-only-0012");
    assert!(
        left.contains("· stopped — a redirect leads to a host without an address in this family: "),
        "{left}"
    );
    let refused = detail_of(&a, &r, "v6-refused-0005");
    assert!(refused.contains("  IPv6: failed: TCP [::1]:"), "{refused}");
    // The same line for a Vietnamese reader: each endpoint's failure in the
    // pack's words, not the agent's "TCP to …: Connection refused".
    let vi = detail_of(&app(18, Lang::Vi), &r, "v6-refused-0005");
    let line = vi
        .lines()
        .find(|l| l.starts_with("  IPv6: ") && l.contains("TCP"))
        .unwrap();
    assert!(line.contains("bị từ chối"), "{line}");
    assert!(
        !line.contains("Connection refused") && !line.contains("TCP to"),
        "{line}"
    );
    let wrong = detail_of(&a, &r, "v6-wrong-cert-0009");
    assert!(wrong.contains(" · name mismatch"), "{wrong}");
    let silent = detail_of(&a, &r, "v6-tls-silent-0006");
    assert!(
        silent.contains(": the handshake did not complete within the timeout"),
        "{silent}"
    );
    // No Rust name of an outcome in any detail, in either language.
    let debug = [
        "NoAddress",
        "NoVantage",
        "LeftFamily",
        "RedirectLoop",
        "TooManyRedirects",
        "[Failed]",
        "NxDomain",
        "nxdomain",
        "NoData",
        "nodata",
        "ServFail",
        "NotAsked",
        "namemismatch",
        "NameMismatch",
        "unknownissuer",
        "notyetvalid",
        "ProtocolVersion",
    ];
    for lang in Lang::ALL {
        let a = app(18, lang);
        for x in &r.results {
            let text = detail_of(&a, &r, &x.portal.id);
            for name in debug {
                assert!(!text.contains(name), "{lang} {name}:\n{text}");
            }
        }
    }
}

/// Regression: the help box lost its last line (`…clears the filter` with
/// no `)`): the box is now as wide and as tall as its lines and borders,
/// and where the screen is narrower the lines wrap instead of being cut.
#[test]
fn the_help_box_shows_its_last_line_at_80x24() {
    for (lang, last) in [
        (
            Lang::En,
            "quit (Esc first closes the detail or clears the filter)",
        ),
        (
            Lang::Vi,
            "thoát (Esc trước hết đóng chi tiết hoặc xóa bộ lọc)",
        ),
    ] {
        let mut a = app(18, lang);
        a.on_key(Key::Char('?'));
        let text = render(&a, 80, 24);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(last))
            .unwrap_or_else(|| panic!("{lang}: no `{last}`:\n{text}"));
        assert!(lines[at + 1].contains('└'), "{lang}:\n{text}");
    }
    // Narrower than the lines: they wrap, and the last word is still there.
    let mut a = app(18, Lang::En);
    a.on_key(Key::Char('?'));
    let text = render(&a, 50, 24);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains("filter)")).unwrap();
    assert!(lines[at + 1].contains('└'), "{text}");
    assert!(text.contains("q  Esc  Ctrl-C"), "{text}");
}

/// Regression: after `r`, the gauge showed the rate since the first run
/// (18 portals in 30 s: `0.6/s`) and its clock; a new audit starts both
/// again.
#[tokio::test]
async fn after_a_reprobe_the_gauge_shows_that_audits_rate_and_clock() {
    let mut a = app(18, Lang::En);
    let now = Instant::now();
    a.started = now.checked_sub(Duration::from_secs(30)).unwrap();
    a.finished = Some(now);
    let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let before = press(&mut t, &mut a, &[]).await;
    assert!(before.contains("18/18 · 00:30 · 0.6/s · done"), "{before}");

    let portal = a.current().unwrap();
    let result = a.rows[portal].result.clone().unwrap();
    let probing = press(&mut t, &mut a, &[Key::Char('r')]).await;
    assert!(probing.contains("17/18 · 00:0"), "{probing}");
    assert!(probing.contains(" · 0.0/s"), "{probing}");
    let done = send(
        &mut t,
        &mut a,
        vec![UiEvent::Finished {
            run: 1,
            index: portal,
            result: Box::new(result),
        }],
    )
    .await;
    let label = done.lines().find(|l| l.contains("18/18 · ")).unwrap();
    let (_, after) = label.split_once("18/18 · 00:0").unwrap();
    let rate: f64 = after
        .split_once(" · ")
        .and_then(|(_, r)| r.split_once("/s"))
        .map(|(r, _)| r.parse().unwrap())
        .unwrap();
    // One portal in under ten seconds.
    assert!(rate > 0.1 && !label.contains(" 0.6/s"), "{label}");
}

/// Regression: exports were named by Unix time (`v6audit-1764661500.json`).
/// The name is a UTC time a person reads, with no colon (Windows file
/// systems refuse them).
#[test]
fn exports_are_named_by_a_readable_utc_time() {
    assert_eq!(
        tui::export_name(datetime!(2026-12-02 07:55:00 UTC), ExportFormat::Json),
        "v6audit-20261202T075500Z.json"
    );
    // Another offset is the same UTC time.
    assert_eq!(
        tui::export_name(datetime!(2026-12-02 14:55:09 +7), ExportFormat::Markdown),
        "v6audit-20261202T075509Z.md"
    );
    let readable = |name: &str| {
        let stamp = name.strip_prefix("v6audit-").and_then(|s| s.get(..16));
        stamp.is_some_and(|s| {
            let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
            digits(&s[..8]) && s.as_bytes()[8] == b'T' && digits(&s[9..15]) && s.ends_with('Z')
        }) && !name.contains(':')
    };
    let dir = tempfile::tempdir().unwrap();
    let r = report();
    let first = tui::write_export(dir.path(), ExportFormat::Csv, &r, Lang::En).unwrap();
    let second = tui::write_export(dir.path(), ExportFormat::Csv, &r, Lang::En).unwrap();
    assert_ne!(
        first, second,
        "a second export does not overwrite the first"
    );
    for path in [first, second] {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(readable(name) && name.ends_with(".csv"), "{name}");
    }
}
