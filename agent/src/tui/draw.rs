//! Drawing: a pure function of the app state onto a ratatui frame. Header
//! (progress and stages), the table, the detail pane of the selected portal,
//! the footer's keys, and the help overlay; colours only when allowed.
//! Every string from the inventory or the network (ids, names, agencies,
//! messages, certificate names, URLs, errors) is drawn through
//! [`terminal_line`]: ratatui would silently drop a control character, and
//! would draw a bidi override as is; both are shown instead.

use std::net::SocketAddr;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Table, TableState, Wrap,
};
use v6audit_model::{Family, FetchOutcome, Lang, PortalResult, Stage, Status};
use v6audit_report::terminal_line;

use super::app::{App, DetailView, Input};
use crate::output::{KEY_RULES, status_cell};

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
pub fn draw(frame: &mut Frame, app: &App) -> DetailView {
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
                    format!("{} {}", counts[usize::from(s.number())], s.name()),
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

fn draw_table(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let visible = app.visible();
    let narrow = area.width < 100;
    let mut header = vec![Cell::from(w.portal)];
    if !narrow {
        header.push(Cell::from(w.agency));
    }
    header.push(Cell::from(w.stage));
    for (_, en, vi) in KEY_RULES {
        header.push(Cell::from(if app.lang == Lang::Vi { vi } else { en }));
    }
    header.push(Cell::from(w.score));
    let rows: Vec<Row> = visible
        .iter()
        .map(|&i| {
            let r = &app.rows[i];
            let mut cells = vec![Cell::from(terminal_line(&r.portal.id).into_owned())];
            if !narrow {
                cells.push(Cell::from(
                    terminal_line(r.portal.agency.as_deref().unwrap_or_default()).into_owned(),
                ));
            }
            match (&r.result, r.probing) {
                (Some(res), false) => {
                    let v = &res.verdict;
                    let mark = if v.stage_certain { "" } else { "?" };
                    cells.push(Cell::from(Span::styled(
                        format!("{} {}{mark}", v.stage.number(), v.stage.name()),
                        stage_style(app, v.stage),
                    )));
                    for (rule, _, _) in KEY_RULES {
                        let s = crate::output::key_status(v, rule);
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
        })
        .collect();
    let mut widths = vec![Constraint::Min(12)];
    if !narrow {
        widths.push(Constraint::Max(24));
    }
    widths.push(Constraint::Length(16));
    widths.extend(KEY_RULES.iter().map(|_| Constraint::Length(7)));
    widths.push(Constraint::Length(5));
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
        format!("{title}· /{} ", app.filter)
    };
    // Reversed video shows the selection with and without colour.
    let highlight = Style::default().add_modifier(Modifier::REVERSED);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(Block::default().borders(Borders::NONE).title(title))
        .row_highlight_style(highlight)
        .highlight_symbol("› ");
    let mut state = TableState::default();
    if !visible.is_empty() {
        state.select(Some(app.selected.min(visible.len() - 1)));
    }
    frame.render_stateful_widget(table, area, &mut state);
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |m| m.to_string())
}

/// The detail's lines for one result.
pub fn detail_lines(app: &App, r: &PortalResult) -> Vec<Line<'static>> {
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
        "{} · {} · {} {} · score {} · priority {}",
        terminal_line(&p.url),
        terminal_line(p.agency.as_deref().unwrap_or_default()),
        r.verdict.stage.number(),
        r.verdict.stage.name(),
        r.verdict.score,
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
                format!("{:?}", lookup.outcome).to_lowercase()
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
            match (&t.certificate, &t.chain) {
                (Some(c), chain) => out.push(Line::from(format!(
                    "  {at}: {} {} · {} · until {} · {}",
                    terminal_line(t.version.as_deref().unwrap_or_default()),
                    terminal_line(&c.subject),
                    terminal_line(&c.issuer),
                    c.not_after.date(),
                    chain
                        .as_ref()
                        .map_or("?".to_owned(), |v| format!("{:?}", v.status).to_lowercase())
                ))),
                (None, _) => out.push(Line::from(format!(
                    "  {at}: {:?} {}",
                    t.outcome,
                    terminal_line(t.error.as_deref().unwrap_or_default())
                ))),
            }
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(w.redirects.to_owned(), bold)));
    for fetch in [&obs.http.ipv4, &obs.http.ipv6].into_iter().flatten() {
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
        let end = match fetch.outcome {
            FetchOutcome::Complete => String::new(),
            other => format!(" [{other:?}]"),
        };
        out.push(Line::from(format!(
            "  {}: {}{end}",
            fetch.family.label(),
            hops.join(" → ")
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
        Input::Filter(t) => format!("/{t}▏  {}", w.filter),
        Input::Export => w.export.to_owned(),
        Input::None => app.status.clone().unwrap_or_else(|| {
            if usize::from(area.width) >= w.keys.chars().count() {
                w.keys
            } else {
                w.keys_short
            }
            .to_owned()
        }),
    };
    let style = if app.color {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    frame.render_widget(Paragraph::new(Span::styled(text, style)), area);
}

fn draw_help(frame: &mut Frame, app: &App, w: &Words, area: Rect) {
    let width = area.width.min(76);
    let height = (w.help.len() as u16 + 4).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = w
        .help
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:<20}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*d),
            ])
        })
        .collect();
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
