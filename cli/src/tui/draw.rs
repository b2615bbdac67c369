//! Drawing: a pure function of the app state onto a ratatui frame. Header
//! (progress and stages), the table, the detail pane of the selected portal,
//! the footer's keys, and the help overlay; colours only when allowed.
//! Every string from the inventory or the network (ids, names, agencies,
//! messages, certificate names, URLs, errors), and what the user typed, is
//! drawn through [`terminal_line`]: ratatui would silently drop a control
//! character, and would draw a bidi override as is; both are shown instead.
//! Outcomes are said in words, never in their Rust names.

use std::net::SocketAddr;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap,
};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
use v6audit_model::{
    AddressLookup, ChainStatus, DnsOutcome, Family, FetchOutcome, HttpFetch, Lang, Observation,
    PortalResult, Stage, Status, TlsOutcome,
};
use v6audit_report::output::{KEY_RULES, key_status, status_cell};
use v6audit_report::terminal_line;
use v6audit_rules::{Pack, render, words};

use super::app::{App, DetailView, Input, Row as PortalRow};

/// The mark before the selected row, and the columns it takes (the table
/// keeps them for every row, so the columns never shift).
const SELECTED: &str = "› ";
const SELECTED_WIDTH: u16 = 2;
/// The gap between the table's columns.
const COLUMN_GAP: u16 = 1;
/// The width of the help's key column.
const HELP_KEYS: usize = 20;

struct Words {
    title: &'static str,
    portal: &'static str,
    agency: &'static str,
    stage: &'static str,
    score: &'static str,
    probing: &'static str,
    waiting: &'static str,
    keys: &'static str,
    keys_short: &'static str,
    filter: &'static str,
    export: &'static str,
    findings: &'static str,
    addresses: &'static str,
    certificates: &'static str,
    redirects: &'static str,
    timings: &'static str,
    no_result: &'static str,
    no_agency: &'static str,
    no_match: &'static str,
    no_match_hint: &'static str,
    one_portal: &'static str,
    portals: &'static str,
    score_word: &'static str,
    priority_word: &'static str,
    until: &'static str,
    help: &'static [(&'static str, &'static str)],
    sorted_by: &'static str,
    grouped: &'static str,
    done: &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            title: "v6audit",
            portal: "PORTAL",
            agency: "AGENCY",
            stage: "STAGE",
            score: "SCORE",
            probing: "probing…",
            waiting: "waiting",
            keys: "↑↓/jk move · Enter detail · / filter · s sort · g group · r re-probe · R re-run · e export · ? help · q quit",
            keys_short: "↑↓ move · Enter detail · / filter · s sort · ? help · q quit",
            filter: "filter (id, agency, stage, or rule=status such as tls.v6-cert=fail)",
            export: "export the view as: j JSON · c CSV · m Markdown (Esc cancels)",
            findings: "Findings",
            addresses: "Addresses",
            certificates: "Certificates",
            redirects: "Redirects",
            timings: "Timings (ms): TCP / TLS / HTTP",
            no_result: "Not probed yet.",
            no_agency: "(no agency)",
            no_match: "no portal matches",
            no_match_hint: "Esc clears the filter, / changes it",
            one_portal: "portal",
            portals: "portals",
            score_word: "score",
            priority_word: "priority",
            until: "until",
            help: &[
                ("↑ ↓  j k", "move (in the detail: scroll)"),
                (
                    "PgUp PgDn Home End",
                    "jump a page, to the top or end (in the detail: scroll)",
                ),
                ("Enter", "open or close the selected portal's detail"),
                ("/", "filter by id, agency, stage, or rule=status"),
                ("s", "cycle the sort: priority, stage, score, id, agency"),
                ("g", "group by agency"),
                ("r", "probe the selected portal again"),
                ("R", "audit every portal again"),
                ("e", "export the view to a file (JSON, CSV, Markdown)"),
                ("?", "this help"),
                (
                    "q  Esc  Ctrl-C",
                    "quit (Esc first closes the detail or clears the filter)",
                ),
            ],
            sorted_by: "sorted by",
            grouped: "grouped by agency",
            done: "done",
        },
        Lang::Vi => Words {
            title: "v6audit",
            portal: "CỔNG",
            agency: "CƠ QUAN",
            stage: "GIAI ĐOẠN",
            score: "ĐIỂM",
            probing: "đang đo…",
            waiting: "chờ",
            keys: "↑↓/jk di chuyển · Enter chi tiết · / lọc · s sắp xếp · g nhóm · r đo lại · R đo lại hết · e xuất · ? trợ giúp · q thoát",
            keys_short: "↑↓ di chuyển · Enter chi tiết · / lọc · ? trợ giúp · q thoát",
            filter: "lọc (mã, cơ quan, giai đoạn, hoặc quy tắc=trạng thái như tls.v6-cert=fail)",
            export: "xuất bảng dạng: j JSON · c CSV · m Markdown (Esc để hủy)",
            findings: "Kết quả kiểm tra",
            addresses: "Địa chỉ",
            certificates: "Chứng chỉ",
            redirects: "Chuyển hướng",
            timings: "Thời gian (ms): TCP / TLS / HTTP",
            no_result: "Chưa đo.",
            no_agency: "(không có cơ quan)",
            no_match: "không có cổng nào khớp",
            no_match_hint: "Esc để xóa bộ lọc, / để sửa",
            one_portal: "cổng",
            portals: "cổng",
            score_word: "điểm",
            priority_word: "ưu tiên",
            until: "đến",
            help: &[
                ("↑ ↓  j k", "di chuyển (trong chi tiết: cuộn)"),
                (
                    "PgUp PgDn Home End",
                    "nhảy trang, về đầu, về cuối (trong chi tiết: cuộn)",
                ),
                ("Enter", "mở hoặc đóng chi tiết cổng đang chọn"),
                (
                    "/",
                    "lọc theo mã, cơ quan, giai đoạn, hoặc quy tắc=trạng thái",
                ),
                (
                    "s",
                    "đổi cách sắp xếp: ưu tiên, giai đoạn, điểm, mã, cơ quan",
                ),
                ("g", "nhóm theo cơ quan"),
                ("r", "đo lại cổng đang chọn"),
                ("R", "đo lại tất cả các cổng"),
                ("e", "xuất bảng ra tệp (JSON, CSV, Markdown)"),
                ("?", "trợ giúp này"),
                (
                    "q  Esc  Ctrl-C",
                    "thoát (Esc trước hết đóng chi tiết hoặc xóa bộ lọc)",
                ),
            ],
            sorted_by: "sắp xếp theo",
            grouped: "nhóm theo cơ quan",
            done: "xong",
        },
    }
}

fn status_style(app: &App, s: Option<Status>) -> Style {
    if !app.color {
        return Style::default();
    }
    match s {
        Some(Status::Pass) => Style::default().fg(Color::Green),
        Some(Status::Fail) => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(Status::Warn) => Style::default().fg(Color::Yellow),
        Some(Status::Error) => Style::default().fg(Color::Magenta),
        _ => Style::default().fg(Color::DarkGray),
    }
}

fn stage_style(app: &App, stage: Stage) -> Style {
    if !app.color {
        return Style::default();
    }
    match stage {
        Stage::Ipv4Only => Style::default().fg(Color::DarkGray),
        Stage::Broken => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Stage::Reachable => Style::default().fg(Color::Yellow),
        Stage::DualStack => Style::default().fg(Color::Green),
        Stage::Ipv6Complete => Style::default()
            .fg(Color::Green)
            .add_modifier(Modifier::BOLD),
    }
}

/// Draws the whole screen; returns what the detail pane showed, for the
/// keys that scroll it ([`App::drawn`]).
pub(crate) fn draw(frame: &mut Frame, app: &App) -> DetailView {
    let w = words(app.lang);
    let area = frame.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, &w, header);
    let mut view = DetailView::default();
    if app.detail {
        // Side by side when wide, one above the other when narrow.
        let [table, detail] = if body.width >= 140 {
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
        } else {
            Layout::vertical([Constraint::Length(body.height.min(8)), Constraint::Min(3)])
                .areas(body)
        };
        draw_table(frame, app, &w, table);
        view = draw_detail(frame, app, &w, detail);
    } else {
        draw_table(frame, app, &w, body);
    }
    draw_footer(frame, app, &w, footer);
    if app.help {
        draw_help(frame, app, &w, area);
    }
    view
}

fn draw_header(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let total = app.rows.len();
    let done = app.done();
    let secs = app.elapsed().as_secs();
    let counts = app.stage_counts();
    let stages: Vec<Span> = Stage::ALL
        .iter()
        .flat_map(|s| {
            [
                Span::styled(
                    format!("{} {}", counts[usize::from(s.number())], s.label(app.lang)),
                    stage_style(app, *s),
                ),
                Span::raw("  "),
            ]
        })
        .collect();
    let label = format!(
        "{done}/{total} · {:02}:{:02} · {:.1}/s{}",
        secs / 60,
        secs % 60,
        app.rate(),
        if done == total && total > 0 {
            format!(" · {}", w.done)
        } else {
            String::new()
        }
    );
    let ratio = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    let block = Block::default()
        .borders(Borders::BOTTOM)
        .title(Span::styled(
            format!(" {} ", w.title),
            if app.color {
                Style::default().add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            },
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, line] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let gauge_style = if app.color {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label)
            .gauge_style(gauge_style)
            .use_unicode(app.color),
        gauge,
    );
    frame.render_widget(Paragraph::new(Line::from(stages)), line);
}

/// `text` cut to `width` columns, with an ellipsis where it was cut (after
/// the last letter kept, not after a space).
fn fit(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if UnicodeWidthStr::width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        // Room for the ellipsis.
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    let mut out = out.trim_end().to_owned();
    if width > 0 {
        out.push('…');
    }
    out
}

/// The widths the table gives its columns in `width`: the layout ratatui's
/// `Table` makes (the selection's columns, then the columns with their gap,
/// from the start), so that cells are cut to fit with an ellipsis, not cut
/// by the table without one.
fn column_widths(constraints: &[Constraint], width: u16) -> Vec<u16> {
    let line = Rect::new(0, 0, width, 1);
    let gutter = [Constraint::Length(SELECTED_WIDTH), Constraint::Fill(0)];
    let [_, columns] = Layout::horizontal(gutter).areas(line);
    Layout::horizontal(constraints.iter().copied())
        .flex(Flex::Start)
        .spacing(COLUMN_GAP)
        .split(columns)
        .iter()
        .map(|r| r.width)
        .collect()
}

fn draw_table(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let visible = app.visible();
    let narrow = area.width < 100;
    let mut labels = vec![w.portal];
    let mut constraints = vec![Constraint::Min(12)];
    if !narrow {
        labels.push(w.agency);
        constraints.push(Constraint::Max(24));
    }
    labels.push(w.stage);
    constraints.push(Constraint::Length(16));
    for (_, en, vi) in KEY_RULES {
        labels.push(if app.lang == Lang::Vi { vi } else { en });
        constraints.push(Constraint::Length(7));
    }
    labels.push(w.score);
    constraints.push(Constraint::Length(5));
    let title = format!(
        " {} {}{} ",
        w.sorted_by,
        app.sort.label(app.lang),
        if app.group_by_agency {
            format!(" · {}", w.grouped)
        } else {
            String::new()
        }
    );
    let title = if app.filter.is_empty() {
        title
    } else {
        format!("{title}· /{} ", terminal_line(&app.filter))
    };
    let block = Block::default().borders(Borders::NONE).title(title);
    let inner = block.inner(area);
    let widths = column_widths(&constraints, inner.width);
    let header: Vec<Cell> = labels
        .iter()
        .zip(&widths)
        .map(|(label, width)| Cell::from(fit(label, *width)))
        .collect();
    // A group's header spans every column.
    let span = u16::try_from(labels.len()).unwrap_or(u16::MAX);
    let span_width = inner.width.saturating_sub(SELECTED_WIDTH);
    let agency_of = move |i: usize| app.rows[i].portal.agency.as_deref().unwrap_or_default();
    let selected = app.selected.min(visible.len().saturating_sub(1));
    let mut rows = Vec::new();
    let mut selected_row = None;
    let mut group = None;
    for (n, &i) in visible.iter().enumerate() {
        if app.group_by_agency && group != Some(agency_of(i)) {
            let agency = agency_of(i);
            group = Some(agency);
            let count = visible[n..]
                .iter()
                .take_while(|&&j| agency_of(j) == agency)
                .count();
            rows.push(group_row(app, w, agency, count, span, span_width));
        }
        if n == selected {
            selected_row = Some(rows.len());
        }
        rows.push(portal_row(app, w, &app.rows[i], narrow, &widths));
    }
    // Reversed video shows the selection with and without colour.
    let highlight = Style::default().add_modifier(Modifier::REVERSED);
    let table = Table::new(rows, constraints)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(block)
        .column_spacing(COLUMN_GAP)
        .highlight_spacing(HighlightSpacing::Always)
        .row_highlight_style(highlight)
        .highlight_symbol(SELECTED);
    let mut state = TableState::default();
    state.select(selected_row);
    frame.render_stateful_widget(table, area, &mut state);
    if visible.is_empty() && !app.filter.is_empty() {
        // Under the column headings, where the rows would be.
        let message = format!(
            "{} “{}” — {}",
            w.no_match,
            terminal_line(&app.filter),
            w.no_match_hint
        );
        let rows_area = Rect {
            x: inner.x.saturating_add(SELECTED_WIDTH),
            y: inner.y.saturating_add(1),
            width: inner.width.saturating_sub(SELECTED_WIDTH),
            height: inner.height.saturating_sub(1),
        };
        let message = Paragraph::new(message).wrap(Wrap { trim: true });
        frame.render_widget(message, rows_area);
    }
}

/// The row above a group (`g`): its agency and how many of its portals
/// the view shows. It is never selected: the cursor moves over portals.
fn group_row(
    app: &App,
    w: &Words,
    agency: &str,
    count: usize,
    span: u16,
    width: u16,
) -> Row<'static> {
    let name = if agency.is_empty() {
        w.no_agency.to_owned()
    } else {
        terminal_line(agency).into_owned()
    };
    let portals = if count == 1 { w.one_portal } else { w.portals };
    let text = format!("{name} — {count} {portals}");
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let style = if app.color {
        bold.fg(Color::Cyan)
    } else {
        bold
    };
    let cell = Cell::from(Span::styled(fit(&text, width), style));
    Row::new(vec![cell.column_span(span)])
}

/// One portal's row; its id and agency cut to their columns' `widths`.
fn portal_row(app: &App, w: &Words, r: &PortalRow, narrow: bool, widths: &[u16]) -> Row<'static> {
    let width_of = |column: usize| widths.get(column).copied().unwrap_or(0);
    let mut cells = vec![Cell::from(fit(&terminal_line(&r.portal.id), width_of(0)))];
    if !narrow {
        let agency = terminal_line(r.portal.agency.as_deref().unwrap_or_default());
        cells.push(Cell::from(fit(&agency, width_of(1))));
    }
    match (&r.result, r.probing) {
        (Some(res), false) => {
            let v = &res.verdict;
            let mark = if v.stage_certain { "" } else { "?" };
            cells.push(Cell::from(Span::styled(
                format!("{}{mark}", v.stage.numbered(app.lang)),
                stage_style(app, v.stage),
            )));
            for (rule, _, _) in KEY_RULES {
                let s = key_status(v, rule);
                cells.push(Cell::from(Span::styled(
                    status_cell(s),
                    status_style(app, s),
                )));
            }
            cells.push(Cell::from(v.score.to_string()));
        }
        (_, probing) => {
            cells.push(Cell::from(if probing { w.probing } else { w.waiting }));
            for _ in KEY_RULES {
                cells.push(Cell::from(""));
            }
            cells.push(Cell::from(""));
        }
    }
    Row::new(cells)
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |m| m.to_string())
}

/// `: why`, when there is a why.
fn because(error: Option<&str>) -> String {
    match error {
        Some(e) => format!(": {}", terminal_line(e)),
        None => String::new(),
    }
}

/// A word of the pack, in the app's language (every pack words every key;
/// the key itself stands in only if one did not).
fn say<'a>(pack: &'a Pack, lang: Lang, key: &'a str) -> &'a str {
    pack.word(key, lang).unwrap_or(key)
}

/// What a lookup that found no address got instead, in the pack's words.
fn lookup_words(pack: &Pack, lang: Lang, family: Family, lookup: &AddressLookup) -> String {
    let why = because(lookup.error.as_deref());
    let key = match (lookup.outcome, family) {
        (DnsOutcome::Ok | DnsOutcome::NoData, Family::V4) => "dns.no_a",
        (DnsOutcome::Ok | DnsOutcome::NoData, Family::V6) => "dns.no_aaaa",
        (other, _) => words::dns(other),
    };
    format!("{}{why}", say(pack, lang, key))
}

/// One family's page fetch: its redirect chain, and how it ended when it
/// did not reach a final page, in the pack's words.
fn fetch_words(pack: &Pack, lang: Lang, obs: &Observation, fetch: &HttpFetch) -> String {
    let dns = &obs.dns;
    let hops: Vec<String> = fetch
        .hops
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h.exchange.status.map_or("-".to_owned(), |s| s.to_string()),
                terminal_line(&h.url)
            )
        })
        .collect();
    // Why it reached no page, as the rules say it: the last hop's exchange,
    // each endpoint that failed, or the fetch's own reason, in the pack's
    // words (the agent's English only for what no word says).
    let reason = render::expand_words(
        pack,
        &v6audit_rules::engine::fetch_failure_reason(obs, fetch),
        lang,
    );
    let why = because(Some(&reason));
    let say = |key| say(pack, lang, key);
    // How the fetch ended, when it reached no page: the outcome's word
    // (one mapping, `words::fetch`), with what the outcome alone cannot say.
    let end = match (fetch.outcome, words::fetch(fetch.outcome)) {
        (_, None) => String::new(),
        (FetchOutcome::NoAddress, Some(key)) => {
            let lookup = match fetch.family {
                Family::V4 => &dns.a,
                Family::V6 => &dns.aaaa,
            };
            format!(
                "{} — {}",
                say(key),
                lookup_words(pack, lang, fetch.family, lookup)
            )
        }
        (FetchOutcome::NoVantage, Some(key)) => say(key).to_owned(),
        (FetchOutcome::Failed, Some(key)) => format!("{}{why}", say(key)),
        (_, Some(key)) => format!("{} — {}{why}", say("fetch.stopped"), say(key)),
    };
    let chain = hops.join(" → ");
    match (chain.is_empty(), end.is_empty()) {
        (_, true) => chain,
        (true, false) => end,
        (false, false) => format!("{chain} · {end}"),
    }
}

/// How a handshake that gave no certificate ended, in the pack's words.
fn tls_words(pack: &Pack, lang: Lang, outcome: TlsOutcome) -> String {
    match outcome {
        TlsOutcome::Ok => format!(
            "{}, {}",
            say(pack, lang, "tls.ok"),
            say(pack, lang, "tls.no_certificate")
        ),
        other => say(pack, lang, words::tls(other)).to_owned(),
    }
}

/// A certificate chain's verdict, in the pack's words.
fn chain_words(pack: &Pack, lang: Lang, status: Option<ChainStatus>) -> &str {
    say(pack, lang, status.map_or("chain.not_checked", words::chain))
}

/// The detail's lines for one result.
pub(crate) fn detail_lines(app: &App, r: &PortalResult) -> Vec<Line<'static>> {
    let w = words(app.lang);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut out = Vec::new();
    let p = &r.portal;
    out.push(Line::from(Span::styled(
        format!(
            "{} — {}",
            terminal_line(&p.id),
            terminal_line(p.name.as_deref().unwrap_or_default())
        ),
        bold,
    )));
    out.push(Line::from(format!(
        "{} · {} · {} · {} {} · {} {}",
        terminal_line(&p.url),
        terminal_line(p.agency.as_deref().unwrap_or_default()),
        r.verdict.stage.numbered(app.lang),
        w.score_word,
        r.verdict.score,
        w.priority_word,
        r.verdict.priority
    )));
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(w.findings.to_owned(), bold)));
    for f in &r.verdict.findings {
        out.push(Line::from(vec![
            Span::styled(
                format!("{:<5} ", f.status.as_str()),
                status_style(app, Some(f.status)),
            ),
            Span::raw(format!(
                "{}: {}",
                terminal_line(&f.rule),
                terminal_line(&f.message)
            )),
        ]));
        if !f.remediation.is_empty() && matches!(f.status, Status::Fail | Status::Warn) {
            out.push(Line::from(Span::styled(
                format!("      → {}", terminal_line(&f.remediation)),
                if app.color {
                    Style::default().fg(Color::DarkGray)
                } else {
                    Style::default()
                },
            )));
        }
    }
    let obs = &r.observation;
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(w.addresses.to_owned(), bold)));
    for (family, lookup) in [(Family::V4, &obs.dns.a), (Family::V6, &obs.dns.aaaa)] {
        let addrs: Vec<String> = lookup.addrs.iter().map(|a| a.to_string()).collect();
        let cname = if lookup.cname_chain.is_empty() {
            String::new()
        } else {
            format!(
                " (CNAME {})",
                terminal_line(&lookup.cname_chain.join(" → "))
            )
        };
        out.push(Line::from(format!(
            "  {}: {}{cname}",
            family.label(),
            if addrs.is_empty() {
                lookup_words(&app.pack, app.lang, family, lookup)
            } else {
                addrs.join(", ")
            }
        )));
    }
    let certs: Vec<_> = obs.endpoints.iter().filter(|e| e.tls.is_some()).collect();
    if !certs.is_empty() {
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(w.certificates.to_owned(), bold)));
        for e in certs {
            let Some(t) = &e.tls else { continue };
            let at = SocketAddr::new(e.addr, e.port);
            match &t.certificate {
                Some(c) => out.push(Line::from(format!(
                    "  {at}: {} {} · {} · {} {} · {}",
                    terminal_line(t.version.as_deref().unwrap_or_default()),
                    terminal_line(&c.subject),
                    terminal_line(&c.issuer),
                    w.until,
                    c.not_after.date(),
                    chain_words(&app.pack, app.lang, t.chain.as_ref().map(|v| v.status))
                ))),
                None => out.push(Line::from(format!(
                    "  {at}: {}{}",
                    tls_words(&app.pack, app.lang, t.outcome),
                    because(t.error.as_deref())
                ))),
            }
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(w.redirects.to_owned(), bold)));
    for fetch in [&obs.http.ipv4, &obs.http.ipv6].into_iter().flatten() {
        out.push(Line::from(format!(
            "  {}: {}",
            fetch.family.label(),
            fetch_words(&app.pack, app.lang, obs, fetch)
        )));
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(w.timings.to_owned(), bold)));
    for e in &obs.endpoints {
        out.push(Line::from(format!(
            "  {}: {} / {} / {}",
            SocketAddr::new(e.addr, e.port),
            ms(Some(e.tcp.ms)),
            ms(e.tls.as_ref().map(|t| t.ms)),
            ms(e.http.as_ref().map(|h| h.ms)),
        )));
    }
    out
}

/// The detail pane, scrolled within its content; returns how much it
/// shows and how far it can scroll.
fn draw_detail(frame: &mut Frame, app: &App, w: &Words, area: Rect) -> DetailView {
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(area);
    let lines = match app.current().and_then(|i| app.rows[i].result.as_ref()) {
        Some(r) => detail_lines(app, r),
        None => vec![Line::from(w.no_result)],
    };
    let text = Paragraph::new(lines).wrap(Wrap { trim: false });
    // The lines as the wrapping draws them (ratatui's
    // `unstable-rendered-line-info`), the block not counted.
    let total = u16::try_from(text.line_count(inner.width)).unwrap_or(u16::MAX);
    let view = DetailView {
        page: inner.height,
        max_scroll: total.saturating_sub(inner.height),
    };
    let scroll = app.detail_scroll.min(view.max_scroll);
    frame.render_widget(text.block(block).scroll((scroll, 0)), area);
    view
}

fn draw_footer(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let text = match &app.input {
        Input::Filter(t) => format!("/{}▏  {}", terminal_line(t), w.filter),
        Input::Export => w.export.to_owned(),
        Input::None => match &app.status {
            // An export's path, or why it failed: a path can hold anything.
            Some(status) => terminal_line(status).into_owned(),
            None if usize::from(area.width) >= w.keys.chars().count() => w.keys.to_owned(),
            None => w.keys_short.to_owned(),
        },
    };
    let style = if app.color {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    frame.render_widget(Paragraph::new(Span::styled(text, style)), area);
}

/// `text` in lines of at most `width` columns, broken between words (a
/// word longer than that keeps a line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let wanted = UnicodeWidthStr::width(line.as_str()) + 1 + UnicodeWidthStr::width(word);
        if !line.is_empty() && wanted > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out
}

/// The help, in a box the size of its lines (and its borders); where the
/// screen is narrower, each description wraps under itself, so no line
/// is lost.
fn draw_help(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let widest = w
        .help
        .iter()
        .map(|(_, d)| HELP_KEYS + UnicodeWidthStr::width(*d))
        .max()
        .unwrap_or(0);
    let width = u16::try_from(widest + 2).map_or(area.width, |b| b.min(area.width));
    // The room a description has beside the keys; too little, and the
    // lines are only cut.
    let room = usize::from(width.saturating_sub(2))
        .checked_sub(HELP_KEYS)
        .filter(|r| *r >= 10);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = Vec::new();
    for (k, d) in w.help {
        let parts = match room {
            Some(room) => wrap_words(d, room),
            None => vec![(*d).to_owned()],
        };
        for (n, part) in parts.into_iter().enumerate() {
            // The keys on the first line only, the column kept on the others.
            let key = if n == 0 { *k } else { "" };
            let gap = HELP_KEYS.saturating_sub(UnicodeWidthStr::width(key));
            lines.push(Line::from(vec![
                Span::styled(format!("{key}{}", " ".repeat(gap)), bold),
                Span::raw(part),
            ]));
        }
    }
    let height = u16::try_from(lines.len() + 2).map_or(area.height, |h| h.min(area.height));
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let title = if app.lang == Lang::Vi {
        " Phím tắt "
    } else {
        " Keys "
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}
