//! The TUI's state and what each key does to it: no terminal here, so every
//! behaviour is tested without one. Probe results arrive as events and land
//! in rows; `visible` gives the rows the view shows, filtered, sorted and
//! grouped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use v6audit_model::{Lang, Portal, PortalResult, Stage};
use v6audit_rules::Pack;

/// Text as the filter compares it: without diacritics, case and spaces, so
/// `hanoi` finds "Hà Nội" and `Da Nang` "Đà Nẵng" (the names are often
/// written joined and unmarked: Hanoi, Danang). Unicode canonical
/// decomposition (NFD, from the `unicode-normalization` crate, already in
/// the build through sqlx) splits a letter from its marks (`ộ` is `o`, a
/// circumflex and a dot below; `ư` is `u` and a horn), and the marks are
/// dropped. `đ` is a letter of its own, not a `d` with a mark, so NFD keeps
/// it: it is mapped by hand, as are the few Latin letters with a stroke.
pub(crate) fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c) && !c.is_whitespace())
        .map(|c| match c {
            'đ' | 'Đ' | 'ð' | 'Ð' => 'd',
            'ł' | 'Ł' => 'l',
            'ø' | 'Ø' => 'o',
            'ħ' | 'Ħ' => 'h',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// What the last drawing showed of the detail pane, so the keys scroll it
/// within its content; the loop hands it over after each drawing
/// ([`App::drawn`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DetailView {
    /// Lines the pane shows at once.
    pub page: u16,
    /// The scroll that shows the content's last line at the pane's bottom.
    pub max_scroll: u16,
}

/// How rows are ordered (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sort {
    Priority,
    Stage,
    Score,
    Id,
    Agency,
}

impl Sort {
    fn next(self) -> Self {
        match self {
            Self::Priority => Self::Stage,
            Self::Stage => Self::Score,
            Self::Score => Self::Id,
            Self::Id => Self::Agency,
            Self::Agency => Self::Priority,
        }
    }

    pub(crate) fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Priority, Lang::En) => "priority",
            (Self::Stage, Lang::En) => "stage",
            (Self::Score, Lang::En) => "score",
            (Self::Id, Lang::En) => "id",
            (Self::Agency, Lang::En) => "agency",
            (Self::Priority, Lang::Vi) => "ưu tiên",
            (Self::Stage, Lang::Vi) => "giai đoạn",
            (Self::Score, Lang::Vi) => "điểm",
            (Self::Id, Lang::Vi) => "mã",
            (Self::Agency, Lang::Vi) => "cơ quan",
        }
    }
}

/// What the user is typing into, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    None,
    Filter(String),
    /// Choosing the export format (`j`, `c`, `m`).
    Export,
}

/// A portal and, once probed, its result.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub portal: Portal,
    pub result: Option<PortalResult>,
    pub probing: bool,
}

/// Something the event loop must do for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    Quit,
    /// Probe this row's portal again.
    Reprobe(usize),
    /// Clear every result and audit again.
    RerunAll,
    /// Write the visible rows in this format.
    Export(ExportFormat),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    Json,
    Csv,
    Markdown,
}

impl ExportFormat {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Markdown => "md",
        }
    }
}

/// A key, as the app understands it (the loop maps terminal keys to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Backspace,
    CtrlC,
    Char(char),
}

#[derive(Debug)]
pub(crate) struct App {
    pub rows: Vec<Row>,
    /// Index into `visible()`.
    pub selected: usize,
    pub sort: Sort,
    /// The filter in force (without regard to case or diacritics, see
    /// [`fold`]; matches id, agency, name, stage, or `rule=status` such as
    /// `tls.v6-cert=fail`).
    pub filter: String,
    pub input: Input,
    pub group_by_agency: bool,
    pub detail: bool,
    pub help: bool,
    /// The pack the portals are judged with; its words word the detail.
    pub pack: Arc<Pack>,
    pub lang: Lang,
    pub color: bool,
    /// When the current audit began: the first run, `R`, or an `r` after
    /// the last audit ended. The clock and the rate count from here.
    pub started: Instant,
    /// When the last portal finished (the clock stops then).
    pub finished: Option<Instant>,
    /// Portals finished since `started`, for the rate.
    pub audit_done: usize,
    /// A line for the footer: what an action did.
    pub status: Option<String>,
    /// Lines the detail pane is scrolled by.
    pub detail_scroll: u16,
    /// What the last drawing showed of the detail pane.
    pub detail_view: DetailView,
}

impl App {
    pub(crate) fn new(portals: Vec<Portal>, pack: Arc<Pack>, lang: Lang, color: bool) -> Self {
        Self {
            rows: portals
                .into_iter()
                .map(|portal| Row {
                    portal,
                    result: None,
                    probing: false,
                })
                .collect(),
            selected: 0,
            sort: Sort::Priority,
            filter: String::new(),
            input: Input::None,
            group_by_agency: false,
            detail: false,
            help: false,
            pack,
            lang,
            color,
            started: Instant::now(),
            finished: None,
            audit_done: 0,
            status: None,
            detail_scroll: 0,
            detail_view: DetailView::default(),
        }
    }

    pub(crate) fn done(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.result.is_some() && !r.probing)
            .count()
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.finished
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(self.started)
    }

    /// Portals finished per second in the current audit.
    pub(crate) fn rate(&self) -> f64 {
        let s = self.elapsed().as_secs_f64();
        if s > 0.0 {
            self.audit_done as f64 / s
        } else {
            0.0
        }
    }

    /// Portals per stage among the finished ones.
    pub(crate) fn stage_counts(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for r in self.rows.iter().filter_map(|r| r.result.as_ref()) {
            c[usize::from(r.verdict.stage.number())] += 1;
        }
        c
    }

    /// A row's probing began. After the last audit ended, this begins a
    /// new one (an `r`): the clock and the rate start again from it, not
    /// from the first run.
    pub(crate) fn started_row(&mut self, index: usize) {
        if self.finished.is_some() {
            self.begin_audit();
        }
        if let Some(r) = self.rows.get_mut(index) {
            r.probing = true;
        }
    }

    /// A row's result arrived.
    pub(crate) fn finished_row(&mut self, index: usize, result: PortalResult) {
        if let Some(r) = self.rows.get_mut(index) {
            r.result = Some(result);
            r.probing = false;
            self.audit_done += 1;
        }
        if self.done() == self.rows.len() {
            self.finished = Some(Instant::now());
        }
    }

    /// Forgets every result, for a new run.
    pub(crate) fn restart(&mut self) {
        for r in &mut self.rows {
            r.result = None;
            r.probing = false;
        }
        self.begin_audit();
    }

    /// The clock and the rate start again.
    fn begin_audit(&mut self) {
        self.started = Instant::now();
        self.finished = None;
        self.audit_done = 0;
    }

    /// Whether a row passes `filter`, already [`fold`]ed.
    fn matches(&self, row: &Row, filter: &str) -> bool {
        if filter.is_empty() {
            return true;
        }
        let p = &row.portal;
        if let Some((rule, status)) = filter.split_once('=') {
            return row
                .result
                .as_ref()
                .and_then(|r| r.verdict.status(rule.trim()))
                .is_some_and(|s| s.as_str() == status.trim());
        }
        let has = |text: &str| fold(text).contains(filter);
        let stage = row.result.as_ref().map(|r| r.verdict.stage);
        has(&p.id)
            || p.agency.as_deref().is_some_and(has)
            || p.name.as_deref().is_some_and(has)
            || stage.is_some_and(|s| s.name() == filter || s.number().to_string() == filter)
    }

    /// The rows shown, in order: filtered, grouped by agency when asked, sorted.
    pub(crate) fn visible(&self) -> Vec<usize> {
        let filter = fold(self.filter.trim());
        let mut idx: Vec<usize> = (0..self.rows.len())
            .filter(|i| self.matches(&self.rows[*i], &filter))
            .collect();
        let key = |i: &usize| {
            let r = &self.rows[*i];
            let v = r.result.as_ref().map(|x| &x.verdict);
            (
                v.map_or(0, |v| v.priority),
                v.map_or(Stage::Ipv6Complete, |v| v.stage),
                v.map_or(101, |v| u32::from(v.score)),
            )
        };
        idx.sort_by(|a, b| {
            let (ra, rb) = (&self.rows[*a], &self.rows[*b]);
            let agency = |r: &Row| r.portal.agency.clone().unwrap_or_default();
            let group = if self.group_by_agency {
                agency(ra).cmp(&agency(rb))
            } else {
                std::cmp::Ordering::Equal
            };
            let (ka, kb) = (key(a), key(b));
            let order = match self.sort {
                Sort::Priority => kb.0.cmp(&ka.0).then(ka.1.cmp(&kb.1)),
                Sort::Stage => ka.1.cmp(&kb.1).then(kb.0.cmp(&ka.0)),
                Sort::Score => ka.2.cmp(&kb.2),
                Sort::Id => std::cmp::Ordering::Equal,
                Sort::Agency => agency(ra).cmp(&agency(rb)),
            };
            group.then(order).then(ra.portal.id.cmp(&rb.portal.id))
        });
        idx
    }

    /// The row under the cursor.
    pub(crate) fn current(&self) -> Option<usize> {
        self.visible().get(self.selected).copied()
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
        } else if self.selected >= n {
            self.selected = n - 1;
        }
    }

    /// Takes what the drawing showed of the detail pane. A scroll past the
    /// content (the pane grew, or a new result is shorter) comes back to
    /// the content's end.
    pub(crate) fn drawn(&mut self, view: DetailView) {
        self.detail_view = view;
        self.detail_scroll = self.detail_scroll.min(view.max_scroll);
    }

    /// Scrolls the detail to `to`, within its content.
    fn scroll_detail(&mut self, to: u16) {
        self.detail_scroll = to.min(self.detail_view.max_scroll);
    }

    /// Applies a key; returns what the loop must do.
    pub(crate) fn on_key(&mut self, key: Key) -> Action {
        if key == Key::CtrlC {
            return Action::Quit;
        }
        match &mut self.input {
            Input::Filter(text) => {
                match key {
                    Key::Char(c) => text.push(c),
                    Key::Backspace => {
                        text.pop();
                    }
                    Key::Enter => {
                        self.filter = text.clone();
                        self.input = Input::None;
                        self.selected = 0;
                    }
                    Key::Esc => self.input = Input::None,
                    _ => {}
                }
                return Action::None;
            }
            Input::Export => {
                self.input = Input::None;
                return match key {
                    Key::Char('j') => Action::Export(ExportFormat::Json),
                    Key::Char('c') => Action::Export(ExportFormat::Csv),
                    Key::Char('m') => Action::Export(ExportFormat::Markdown),
                    _ => Action::None,
                };
            }
            Input::None => {}
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            return if key == Key::Char('q') {
                Action::Quit
            } else {
                Action::None
            };
        }
        let page = 10;
        match key {
            Key::Char('q') => return Action::Quit,
            Key::Esc => {
                if self.detail {
                    self.detail = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                } else {
                    return Action::Quit;
                }
            }
            // With the detail open, the moving keys scroll it, by a line
            // or by its height, within its content.
            Key::Up | Key::Char('k') if self.detail => {
                self.scroll_detail(self.detail_scroll.saturating_sub(1));
            }
            Key::Down | Key::Char('j') if self.detail => {
                self.scroll_detail(self.detail_scroll.saturating_add(1));
            }
            Key::PageUp if self.detail => {
                let by = self.detail_view.page.max(1);
                self.scroll_detail(self.detail_scroll.saturating_sub(by));
            }
            Key::PageDown if self.detail => {
                let by = self.detail_view.page.max(1);
                self.scroll_detail(self.detail_scroll.saturating_add(by));
            }
            Key::Home if self.detail => self.scroll_detail(0),
            Key::End if self.detail => self.scroll_detail(u16::MAX),
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Down | Key::Char('j') => self.selected += 1,
            Key::PageUp => self.selected = self.selected.saturating_sub(page),
            Key::PageDown => self.selected += page,
            Key::Home => self.selected = 0,
            Key::End => self.selected = usize::MAX,
            Key::Enter => {
                self.detail = !self.detail;
                self.detail_scroll = 0;
            }
            Key::Char('/') => self.input = Input::Filter(self.filter.clone()),
            Key::Char('s') => self.sort = self.sort.next(),
            Key::Char('g') => self.group_by_agency = !self.group_by_agency,
            Key::Char('?') => self.help = true,
            Key::Char('e') => self.input = Input::Export,
            Key::Char('r') => {
                if let Some(i) = self.current() {
                    self.clamp();
                    return Action::Reprobe(i);
                }
            }
            Key::Char('R') => return Action::RerunAll,
            _ => {}
        }
        self.clamp();
        Action::None
    }

    /// The visible rows' results, for export.
    pub(crate) fn visible_results(&self) -> Vec<PortalResult> {
        self.visible()
            .into_iter()
            .filter_map(|i| self.rows[i].result.clone())
            .collect()
    }
}
