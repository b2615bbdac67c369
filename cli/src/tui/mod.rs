//! `v6audit tui`: the live audit for network admins, in the terminal. Data,
//! state and drawing apart, as in gitui and bottom (which keep their UI in
//! the binary too, so the libraries need no terminal crates): audit events
//! and keys arrive as [`UiEvent`]s, update the [`App`] state, and a pure
//! [`draw`] renders it. The loop is generic over the ratatui backend, so
//! tests drive it with `TestBackend`.

pub(crate) mod app;
pub(crate) mod draw;
#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use v6audit_agent::{Auditor, Event};
use v6audit_model::{Lang, Portal, PortalResult};
use v6audit_report::output;
use v6audit_rules::Pack;

pub(crate) use app::{Action, App, DetailView, ExportFormat, Key};
pub(crate) use draw::draw;

use crate::Outcome;
use crate::audit::{self, AuditInputs};

#[derive(Debug, Args)]
#[command(after_help = "\
Keys: arrows or j/k move, Enter shows the selected portal's findings and evidence,
/ filters (id, agency, stage, or rule=status such as tls.v6-cert=fail), s cycles
the sort, g groups by agency, r probes the selected portal again, R re-runs all,
e exports the view (JSON, CSV, Markdown), ? shows help, q or Esc quits.
No colour when NO_COLOR is set.")]
pub(crate) struct TuiArgs {
    #[command(flatten)]
    pub inputs: AuditInputs,
    /// Where `e` writes exports.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub export_dir: PathBuf,
}

pub(crate) async fn run(args: TuiArgs) -> anyhow::Result<Outcome> {
    let Some(loaded) = audit::load(&args.inputs) else {
        return Ok(Outcome::BadInput);
    };
    if !std::io::stdout().is_terminal() {
        eprintln!("v6audit: `tui` needs a terminal; use `v6audit audit` for pipes and files");
        return Ok(Outcome::BadInput);
    }
    let auditor = match Auditor::new(loaded.settings.clone()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("v6audit: {e}");
            return Ok(Outcome::BadInput);
        }
    };
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let portals = auditor.expand(loaded.inventory.portals.clone()).await;
    run_terminal(
        portals,
        auditor,
        loaded.pack.clone(),
        loaded.lang,
        color,
        args.export_dir,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    Ok(Outcome::Ok)
}

/// Something that happened: a key, a resize, a tick, or audit progress.
#[derive(Debug)]
pub(crate) enum UiEvent {
    Key(Key),
    Resize,
    Tick,
    Started {
        run: u64,
        index: usize,
    },
    Finished {
        run: u64,
        index: usize,
        result: Box<PortalResult>,
    },
}

/// What the loop asks of the world for an action.
pub(crate) trait Driver {
    /// The run whose events count (older runs' are ignored).
    fn run(&self) -> u64;
    fn reprobe(&self, index: usize, portal: Portal);
    /// Starts a new run of every portal; returns its number.
    fn rerun(&self, portals: Vec<Portal>) -> u64;
    /// Writes results; returns where.
    fn export(&self, format: ExportFormat, results: Vec<PortalResult>) -> Result<PathBuf, String>;
}

/// Runs audits for the TUI, feeding their events back into its channel.
#[derive(Debug)]
pub(crate) struct Runner {
    auditor: Auditor,
    pack: Arc<Pack>,
    lang: Lang,
    tx: mpsc::Sender<UiEvent>,
    run: AtomicU64,
    export_dir: PathBuf,
}

impl Runner {
    pub(crate) fn new(
        auditor: Auditor,
        pack: Arc<Pack>,
        lang: Lang,
        tx: mpsc::Sender<UiEvent>,
        export_dir: PathBuf,
    ) -> Self {
        Self {
            auditor,
            pack,
            lang,
            tx,
            run: AtomicU64::new(0),
            export_dir,
        }
    }
}

impl Driver for Runner {
    fn run(&self) -> u64 {
        self.run.load(Ordering::SeqCst)
    }

    fn reprobe(&self, index: usize, portal: Portal) {
        let (auditor, pack, lang, tx, run) = (
            self.auditor.clone(),
            self.pack.clone(),
            self.lang,
            self.tx.clone(),
            self.run(),
        );
        tokio::spawn(async move {
            let _ = tx.send(UiEvent::Started { run, index }).await;
            let result = auditor.audit_one(&portal, &pack, lang).await;
            let _ = tx
                .send(UiEvent::Finished {
                    run,
                    index,
                    result: Box::new(result),
                })
                .await;
        });
    }

    fn rerun(&self, portals: Vec<Portal>) -> u64 {
        let run = self.run.fetch_add(1, Ordering::SeqCst) + 1;
        self.auditor.forget_shared();
        let mut rx = self.auditor.run(portals, self.pack.clone(), self.lang);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let ui = match ev {
                    Event::Started { index, .. } => UiEvent::Started { run, index },
                    Event::Finished { index, result } => UiEvent::Finished { run, index, result },
                };
                if tx.send(ui).await.is_err() {
                    break;
                }
            }
        });
        run
    }

    fn export(&self, format: ExportFormat, results: Vec<PortalResult>) -> Result<PathBuf, String> {
        let report = self.auditor.report(results, &self.pack, "tui", None, 0);
        write_export(&self.export_dir, format, &report, self.lang)
    }
}

/// The name of an export written at `at`: `v6audit-20261202T075500Z.json`,
/// the UTC time in ISO 8601's basic format, so the names sort by time, read
/// as a date, and hold no colon (which Windows file systems refuse).
pub(crate) fn export_name(at: time::OffsetDateTime, format: ExportFormat) -> String {
    format!("{}.{}", export_stem(at), format.extension())
}

fn export_stem(at: time::OffsetDateTime) -> String {
    let t = at.to_offset(time::UtcOffset::UTC);
    format!(
        "v6audit-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes a report in an export format into `dir`, named by the time
/// ([`export_name`]; `-1`, `-2`… after the time when the name is taken).
pub(crate) fn write_export(
    dir: &Path,
    format: ExportFormat,
    report: &v6audit_model::Report,
    lang: Lang,
) -> Result<PathBuf, String> {
    let text = match format {
        ExportFormat::Json => output::json(report),
        ExportFormat::Csv => output::csv::render(report),
        ExportFormat::Markdown => output::markdown::render(report, lang),
    };
    let now = time::OffsetDateTime::now_utc();
    let mut path = dir.join(export_name(now, format));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{}-{n}.{}", export_stem(now), format.extension()));
        n += 1;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The loop: draws, then waits for the next event, until a key quits. The
/// keys act on what was drawn: the detail pane scrolls within the content
/// the last drawing measured.
pub(crate) async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut mpsc::Receiver<UiEvent>,
    driver: &dyn Driver,
) -> Result<(), String> {
    loop {
        let mut view = DetailView::default();
        terminal
            .draw(|f| view = draw(f, app))
            .map_err(|e| e.to_string())?;
        app.drawn(view);
        let Some(event) = events.recv().await else {
            return Ok(());
        };
        match event {
            UiEvent::Tick | UiEvent::Resize => {}
            UiEvent::Started { run, index } if run == driver.run() => app.started_row(index),
            UiEvent::Finished { run, index, result } if run == driver.run() => {
                app.finished_row(index, *result)
            }
            UiEvent::Started { .. } | UiEvent::Finished { .. } => {}
            UiEvent::Key(key) => match app.on_key(key) {
                Action::None => {}
                Action::Quit => return Ok(()),
                Action::Reprobe(i) => {
                    app.started_row(i);
                    driver.reprobe(i, app.rows[i].portal.clone());
                }
                Action::RerunAll => {
                    app.restart();
                    driver.rerun(app.rows.iter().map(|r| r.portal.clone()).collect());
                }
                Action::Export(format) => {
                    app.status = Some(match driver.export(format, app.visible_results()) {
                        Ok(path) => format!(
                            "{} {}",
                            if app.lang == Lang::Vi {
                                "đã ghi"
                            } else {
                                "written to"
                            },
                            path.display()
                        ),
                        Err(e) => e,
                    });
                }
            },
        }
    }
}

/// Maps a terminal key to the app's.
fn key_of(k: ratatui::crossterm::event::KeyEvent) -> Option<Key> {
    use ratatui::crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// Runs the TUI on the real terminal until the user quits. The terminal is
/// restored on quit, on Ctrl-C, and on panic (ratatui's hook).
pub(crate) async fn run_terminal(
    portals: Vec<Portal>,
    auditor: Auditor,
    pack: Arc<Pack>,
    lang: Lang,
    color: bool,
    export_dir: PathBuf,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<UiEvent>(1024);
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Keys come from a thread of their own (crossterm reads block).
    let (keys, halt) = (tx.clone(), stop.clone());
    let input = std::thread::spawn(move || {
        use ratatui::crossterm::event::{self, Event as CEvent};
        while !halt.load(Ordering::Relaxed) {
            if !event::poll(Duration::from_millis(200)).unwrap_or(false) {
                continue;
            }
            let ui = match event::read() {
                Ok(CEvent::Key(k)) => key_of(k).map(UiEvent::Key),
                Ok(CEvent::Resize(..)) => Some(UiEvent::Resize),
                _ => None,
            };
            if let Some(ui) = ui
                && keys.blocking_send(ui).is_err()
            {
                break;
            }
        }
    });
    let ticks = tx.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(250));
        while ticks.send(UiEvent::Tick).await.is_ok() {
            every.tick().await;
        }
    });
    let term = tx.clone();
    let sigterm = tokio::spawn(async move {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            let _ = term.send(UiEvent::Key(Key::CtrlC)).await;
        }
    });
    let runner = Runner::new(auditor, pack.clone(), lang, tx, export_dir);
    let mut app = App::new(portals.clone(), pack, lang, color);
    runner.rerun(portals);
    let result = run_loop(&mut terminal, &mut app, &mut rx, &runner).await;
    stop.store(true, Ordering::Relaxed);
    ticker.abort();
    sigterm.abort();
    ratatui::restore();
    let _ = input.join();
    result
}
