//! `v6audit audit`: read the inventory and the pack, audit, print.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use v6audit_agent::anchor::Anchor;
use v6audit_agent::daemon::parts::Parts;
use v6audit_agent::daemon::push::Pusher;
use v6audit_agent::{Auditor, Event, Portals, ResolverChoice, Settings};
use v6audit_model::{
    Inventory, InventoryError, InventoryStream, Lang, Portal, PortalResult, Report, Unmeasured,
};
use v6audit_report::output::{self, Format};
use v6audit_report::terminal;
use v6audit_rules::Pack;

use crate::Outcome;
use crate::push::{PartSender, Pushed};

/// Inputs shared by the commands that audit (`audit`, `check`, `plan`).
#[derive(Debug, Clone, Args)]
pub(crate) struct AuditInputs {
    /// The inventory to audit (YAML, schema v6audit/inventory/v1).
    #[arg(value_name = "INVENTORY.yaml")]
    pub inventory: Option<PathBuf>,
    /// Audit this URL or host name (repeatable), with or without an inventory.
    #[arg(long = "target", value_name = "HOST_OR_URL")]
    pub targets: Vec<String>,
    /// The rule pack (default: the built-in pack).
    #[arg(long, value_name = "PACK.yaml")]
    pub rules: Option<PathBuf>,
    /// Ask this DNS resolver (IP:PORT, [IPv6]:PORT or IP) instead of the system's.
    #[arg(long, value_name = "IP:PORT", value_parser = parse_resolver)]
    pub resolver: Option<SocketAddr>,
    /// The port the zone's name servers are asked on directly (labs use another).
    #[arg(long, value_name = "PORT", default_value_t = 53)]
    pub ns_port: u16,
    /// Do not send ICMPv6 echo (net.icmpv6-echo then says it was not sent).
    /// Sending it needs root, CAP_NET_RAW or ping sockets
    /// (net.ipv4.ping_group_range).
    #[arg(long)]
    pub no_icmpv6: bool,
    /// The port mail servers are asked on over SMTP (labs use another).
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// Start DNSSEC validation (dns.dnssec) from the DNSKEY records in this
    /// file (zone-file lines, as `dig DNSKEY <zone>` prints them) instead of
    /// the root zone's keys; for labs and private roots.
    #[arg(long, value_name = "KEYS")]
    pub trust_anchor: Option<PathBuf>,
    /// Do not check DNSSEC (dns.dnssec then says it was not checked).
    #[arg(long, conflicts_with = "trust_anchor")]
    pub no_dnssec: bool,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Portals audited at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub concurrency: u16,
    /// Seconds each network step (DNS, connect, handshake, HTTP) may take.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Seconds one portal may take in all.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_secs)]
    pub budget: f64,
    /// Language of messages and remediation.
    #[arg(long, value_name = "en|vi", default_value = "en")]
    pub lang: Lang,
    /// The agent's name in the report (default: the host name).
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
    /// No progress bar on standard error.
    #[arg(long)]
    pub quiet: bool,
    /// Audit only shard K of N: the portals whose id hashes to K (FNV-1a of
    /// the id, modulo N), so that N agents given 1/N … N/N split one
    /// inventory, each portal audited once. The same on every machine and
    /// run; a collector shows agents with one vantage name as one vantage.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<v6audit_model::Shard>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 when the audit completed (whatever it found), 2 on bad input.

Examples:
  v6audit audit inventories/vn-public-services.yaml
  v6audit audit --target https://dichvucong.gov.vn/ --format json
  v6audit audit inv.yaml --resolver [::1]:5353 --ca-file ca.pem --format jsonl")]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub inputs: AuditInputs,
    /// Output format: table, json (the v1 report), jsonl (a result per line as
    /// each portal finishes), csv, markdown, junit or sarif.
    #[arg(long, short = 'f', value_name = "FORMAT", default_value = "table")]
    pub format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also push the report to this collector (its address, like https://collector:8080/).
    #[arg(long, value_name = "URL", requires = "token")]
    pub push: Option<url::Url>,
    /// The agent token for --push (from `v6audit collector token create`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "V6AUDIT_AGENT_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Trust the collector's certificate from this PEM file (for --push).
    #[arg(long, value_name = "PEM")]
    pub push_ca: Option<PathBuf>,
}

pub(crate) fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "`{s}` is not IP:PORT (write 192.0.2.53:53, [2001:db8::53]:53 or an address alone for port 53)"
    ))
}

pub(crate) fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.05..=3600.0).contains(&v) {
        return Err(format!("{v} s is out of range (0.05 to 3600)"));
    }
    Ok(v)
}

/// Seconds that `parse_secs` accepted (0.05 to 3600), as a duration.
pub(crate) fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::from_secs(10))
}

/// What an audit needs, loaded and checked.
pub(crate) struct Loaded {
    /// The inventory; with `streamed`, its portals are only the `--target`s
    /// (the file's are read as the run goes).
    pub inventory: Inventory,
    /// The inventory file, checked and read again portal by portal for the
    /// run (`audit`), so that no inventory is held whole.
    pub streamed: Option<InventoryStream>,
    pub pack: Arc<Pack>,
    pub settings: Settings,
    pub lang: Lang,
    /// Check that the resolver answers before auditing (`check`).
    pub require_resolver: bool,
    /// The shard audited, stated in the report.
    pub shard: Option<v6audit_model::Shard>,
}

/// Loads the inventory and pack; on bad input prints every problem and returns None.
pub(crate) fn load(inputs: &AuditInputs) -> Option<Loaded> {
    load_with(inputs, false)
}

/// [`load`], with the inventory file only checked when `stream` (its
/// portals are then read as the run goes: [`Loaded::take_portals`]).
// Long because it reads and checks every input of an audit, each with its own error.
pub(crate) fn load_with(inputs: &AuditInputs, stream: bool) -> Option<Loaded> {
    let mut streamed = None;
    let mut inventory = match &inputs.inventory {
        Some(path) if stream => match InventoryStream::open(path, inputs.shard) {
            Ok(s) => {
                let head = Inventory {
                    name: s.name.clone(),
                    source: s.source.clone(),
                    portals: Vec::new(),
                    campaigns: s.campaigns.clone(),
                };
                streamed = Some(s);
                head
            }
            Err(e) => {
                eprintln!("v6audit: invalid inventory:\n{}", terminal(&e.to_string()));
                return None;
            }
        },
        Some(path) => match Inventory::load(path) {
            Ok(inv) => inv,
            Err(e) => {
                // The errors quote the file: its control characters are shown.
                eprintln!("v6audit: invalid inventory:\n{}", terminal(&e.to_string()));
                return None;
            }
        },
        None => Inventory {
            name: None,
            source: "--target".to_owned(),
            portals: Vec::new(),
            campaigns: Vec::new(),
        },
    };
    if !inputs.targets.is_empty() {
        match Inventory::from_targets(&inputs.targets) {
            Ok(extra) => {
                for p in extra.portals {
                    let in_file = streamed.as_ref().is_some_and(|s| s.names.has_id(&p.id));
                    if in_file || inventory.portal(&p.id).is_some() {
                        eprintln!(
                            "v6audit: --target {} has the id `{}`, already used in the inventory",
                            p.url, p.id
                        );
                        return None;
                    }
                    inventory.portals.push(p);
                }
            }
            Err(e) => {
                eprintln!("v6audit: invalid target:\n{}", terminal(&e.to_string()));
                return None;
            }
        }
    }
    let (file_total, file_count) = streamed.as_ref().map_or((0, 0), |s| (s.total, s.count));
    if inventory.portals.is_empty() && file_total == 0 {
        eprintln!(
            "v6audit: nothing to audit: give an INVENTORY.yaml or --target HOST_OR_URL (see --help)"
        );
        return None;
    }
    if let Some(shard) = inputs.shard {
        // An empty shard is no error: N agents may share fewer than N portals.
        let all = inventory.portals.len() + file_total;
        shard.retain(&mut inventory.portals);
        if !inputs.quiet {
            eprintln!(
                "v6audit: shard {shard}: {} of the {all} portals",
                inventory.portals.len() + file_count
            );
        }
    }
    let pack = match &inputs.rules {
        Some(path) => match Pack::load(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("v6audit: invalid rule pack:\n{}", terminal(&e.to_string()));
                return None;
            }
        },
        None => Pack::default_pack(),
    };
    let dnssec = match Anchor::chosen(!inputs.no_dnssec, inputs.trust_anchor.as_deref()) {
        Ok(anchor) => anchor,
        Err(e) => {
            eprintln!("v6audit: invalid trust anchor: {e}");
            return None;
        }
    };
    if inputs.budget < inputs.timeout {
        // Honoured as given: each step then ends at the budget, not its timeout.
        eprintln!(
            "v6audit: warning: --budget {} is shorter than --timeout {}: each portal stops after {} s, so a step may not get its whole timeout",
            inputs.budget, inputs.timeout, inputs.budget
        );
    }
    let settings = Settings {
        resolver: inputs
            .resolver
            .map_or(ResolverChoice::System, ResolverChoice::At),
        ca_file: inputs.ca_file.clone(),
        concurrency: fitted_concurrency(usize::from(inputs.concurrency)),
        // parse_secs holds both to 0.05..=3600 s, so neither can panic.
        timeout: secs(inputs.timeout),
        portal_budget: secs(inputs.budget),
        ns_port: inputs.ns_port,
        icmpv6: !inputs.no_icmpv6,
        smtp_port: inputs.smtp_port,
        dnssec,
        ..Settings::default()
    };
    let mut settings = settings;
    settings.follow_pack(&pack.params);
    Some(Loaded {
        inventory,
        streamed,
        pack: Arc::new(pack),
        settings,
        lang: inputs.lang,
        require_resolver: false,
        shard: inputs.shard,
    })
}

impl Loaded {
    /// How many portals the run audits (before counterparts).
    pub(crate) fn count(&self) -> usize {
        self.inventory.portals.len() + self.streamed.as_ref().map_or(0, |s| s.count)
    }

    /// The portals of the run, taken: the run owns them. A streamed
    /// inventory is read on a blocking thread a few portals ahead of the
    /// run, then the `--target`s; the returned cell holds why the reading
    /// stopped early, if it did (the file changed).
    pub(crate) fn take_portals(
        &mut self,
    ) -> (Portals, Arc<std::sync::Mutex<Option<InventoryError>>>) {
        let failed = Arc::new(std::sync::Mutex::new(None));
        let extra = std::mem::take(&mut self.inventory.portals);
        let Some(stream) = self.streamed.take() else {
            return (extra.into(), failed);
        };
        let mut names = stream.names.clone();
        for p in &extra {
            names.insert(p);
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Portal>(64);
        let why = failed.clone();
        tokio::task::spawn_blocking(move || {
            // A closed channel: the run stopped; so does the reading.
            match stream.read(|p| tx.blocking_send(p).is_ok()) {
                Ok(()) => {
                    for p in extra {
                        if tx.blocking_send(p).is_err() {
                            break;
                        }
                    }
                }
                Err(e) => {
                    if let Ok(mut cell) = why.lock() {
                        *cell = Some(e);
                    }
                }
            }
        });
        let portals =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|p| (p, rx)) },
            );
        (Portals::streamed(portals, names), failed)
    }
}

/// `--concurrency`, lowered with a warning when the file-descriptor limit
/// cannot hold that many portals in flight: running out of sockets would
/// turn good portals' facts into errors.
fn fitted_concurrency(wanted: usize) -> usize {
    let (n, lowered) = v6audit_agent::limits::fit_concurrency(wanted);
    if let Some(limit) = lowered {
        eprintln!(
            "v6audit: warning: {wanted} portals at once need more file descriptors than the limit of {limit} (ulimit -n); auditing {n} at once"
        );
    }
    n
}

/// The agent's default name: this machine's host name.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "v6audit-agent".to_owned())
}

/// A progress bar on standard error, when it is a terminal.
pub(crate) fn progress(total: usize, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} portals · {per_sec:1} · eta {eta} · {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// What an audit ended with.
pub(crate) struct Audited {
    /// The report: with every result when they were kept, else with none
    /// (they went by), its summary of them all either way.
    pub report: Report,
    /// Why nothing could be measured, as [`Report::unmeasured`] says.
    pub unmeasured: Option<Unmeasured>,
    /// What `--push` delivered, when it was asked for.
    pub pushed: Option<Result<Pushed, String>>,
}

/// Runs the audit, streaming events to `on_result` as portals finish, and
/// with `push` sending the results to a collector in parts as they fill.
/// With `keep` false no result is held: memory stays flat at any inventory
/// size. None when it could not start (the reason is printed), or, when the
/// resolver must be checked first, when it does not answer.
pub(crate) async fn audit(
    loaded: &Loaded,
    portals: Portals,
    agent_id: &str,
    bar: &ProgressBar,
    keep: bool,
    push: Option<Pusher>,
    mut on_result: impl FnMut(usize, &PortalResult) -> std::io::Result<()>,
) -> anyhow::Result<Option<Audited>> {
    let auditor = match Auditor::new(loaded.settings.clone()).await {
        Ok(a) => a,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("v6audit: {e}");
            return Ok(None);
        }
    };
    if loaded.require_resolver
        && let Err(reason) = auditor.resolver_answers().await
    {
        bar.finish_and_clear();
        eprintln!("v6audit: {reason}; without DNS the audit cannot be trusted");
        return Ok(None);
    }
    let inventory =
        (loaded.inventory.source != "--target").then(|| loaded.inventory.source.clone());
    let mut push = push.map(|pusher| {
        let mut head = auditor.report_head(&loaded.pack, agent_id, inventory.clone());
        head.agent.shard = loaded.shard;
        (PartSender::new(pusher), Parts::new(head))
    });
    let mut finished = |index: usize, result: &PortalResult| -> std::io::Result<()> {
        bar.inc(1);
        if let Some((sender, parts)) = &mut push {
            if result.lookup_answered() {
                sender.measured();
            }
            if let Some(part) = parts.add(result)? {
                sender.part(part);
            }
        }
        on_result(index, result)
    };
    let (pack, lang) = (loaded.pack.clone(), loaded.lang);
    let mut on_event = |event: &Event| match event {
        Event::Started { id, .. } => {
            bar.set_message(id.clone());
            Ok(())
        }
        Event::Finished { index, result } => finished(*index, result),
    };
    let ran = if keep {
        auditor
            .audit_with(portals, pack, lang, agent_id, inventory, &mut on_event)
            .await
            .map(|report| {
                let unmeasured = report.unmeasured();
                (report, unmeasured)
            })
    } else {
        auditor
            .audit_streamed(portals, pack, lang, agent_id, inventory, |e| on_event(&e))
            .await
            .map(|s| (s.report, s.unmeasured))
    };
    bar.finish_and_clear();
    let (mut report, unmeasured) = ran?;
    report.agent.shard = loaded.shard;
    let pushed = match push {
        Some((sender, parts)) => {
            if let Some(part) = parts.finish()? {
                sender.part(part);
            }
            Some(sender.finish().await)
        }
        None => None,
    };
    Ok(Some(Audited {
        report,
        unmeasured,
        pushed,
    }))
}

/// Where output goes: a file, or standard output (coloured when it is a terminal).
pub(crate) fn sink(path: &Option<PathBuf>) -> anyhow::Result<(Box<dyn Write>, bool)> {
    match path {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Ok((Box::new(std::io::BufWriter::new(f)), false))
        }
        None => {
            let color = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            Ok((Box::new(anstream::stdout()), color))
        }
    }
}

/// The width to fit the table to: the terminal's, when standard output is one.
pub(crate) fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    let from_tty = crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w));
    Some(from_env.or(from_tty).unwrap_or(120).max(40))
}

/// Writes a finished report in a format that needs all results.
pub(crate) fn write_report(
    out: &mut dyn Write,
    report: &Report,
    pack: &Pack,
    format: Format,
    lang: Lang,
    color: bool,
    width: Option<usize>,
) -> std::io::Result<()> {
    let text = match format {
        Format::Table => output::table::render(report, lang, color, width),
        Format::Json => output::json(report),
        Format::Csv => output::csv::render(report),
        Format::Markdown => output::markdown::render(report, lang),
        Format::Junit => output::junit::render(report),
        Format::Sarif => output::sarif::render(report, pack, lang),
        // Written line by line as portals finish.
        Format::Jsonl => String::new(),
    };
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Audits with the loaded inputs, writing `format` to `output` (standard
/// output when None): JSON lines as portals finish, the rest at the end;
/// with `push`, the results go to the collector as they finish too. JSON
/// lines keep no result unless `keep` asks (`check` judges them all at the
/// end). None when the audit could not start (bad input, already reported).
pub(crate) async fn audit_to(
    loaded: &mut Loaded,
    inputs: &AuditInputs,
    format: Format,
    output: &Option<PathBuf>,
    push: Option<Pusher>,
    keep: bool,
) -> anyhow::Result<Option<Audited>> {
    let (mut out, color) = sink(output)?;
    let agent_id = inputs.agent_id.clone().unwrap_or_else(host_name);
    let bar = progress(loaded.count(), inputs.quiet);
    let streaming = format == Format::Jsonl;
    // One JSON document holds its results as their bytes, not as objects
    // (`check` judges the objects, so it keeps them).
    let as_bytes = format == Format::Json && !keep;
    let mut held: Vec<Option<Box<str>>> = Vec::new();
    // The run owns the portals: a second copy of a long inventory is memory
    // in proportion to it.
    let (portals, stopped) = loaded.take_portals();
    let loaded = &*loaded;
    let audited = audit(
        loaded,
        portals,
        &agent_id,
        &bar,
        keep || !(streaming || as_bytes),
        push,
        |index, result| {
            if streaming {
                out.write_all(output::jsonl_line(result).as_bytes())?;
                out.flush()?;
            }
            if as_bytes {
                if held.len() <= index {
                    held.resize_with(index + 1, || None);
                }
                held[index] = Some(output::json_held(result));
            }
            Ok(())
        },
    )
    .await?;
    let Some(audited) = audited else {
        return Ok(None);
    };
    if let Some(e) = stopped.lock().ok().and_then(|mut cell| cell.take()) {
        eprintln!("v6audit: {}", terminal(&e.to_string()));
        return Ok(None);
    }
    if as_bytes {
        let held: Vec<Box<str>> = held.into_iter().flatten().collect();
        output::write_json_with_results(&mut out, &audited.report, &held)?;
        out.flush()?;
        return Ok(Some(audited));
    }
    let width = if output.is_some() {
        None
    } else {
        terminal_width()
    };
    write_report(
        &mut out,
        &audited.report,
        &loaded.pack,
        format,
        loaded.lang,
        color,
        width,
    )?;
    Ok(Some(audited))
}

pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let Some(mut loaded) = load_with(&args.inputs, true) else {
        return Ok(Outcome::BadInput);
    };
    let pusher = match (&args.push, &args.token) {
        (Some(url), Some(token)) => {
            let mut base = url.clone();
            if !base.path().ends_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            match Pusher::new(
                &base,
                token,
                args.push_ca.as_deref(),
                Duration::from_secs(60),
            ) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("v6audit: --push: {e}");
                    return Ok(Outcome::BadInput);
                }
            }
        }
        _ => None,
    };
    let Some(audited) = audit_to(
        &mut loaded,
        &args.inputs,
        args.format,
        &args.output,
        pusher,
        false,
    )
    .await?
    else {
        return Ok(Outcome::BadInput);
    };
    if let Some(reason) = &audited.unmeasured {
        let why = reason.text(loaded.lang);
        let why = v6audit_report::terminal_line(&why);
        match loaded.lang {
            Lang::En => eprintln!(
                "v6audit: nothing could be measured from here: {why}; the results are unknown, not facts about the portals (exit status 3)"
            ),
            Lang::Vi => eprintln!(
                "v6audit: không đo được gì từ điểm đo này: {why}; các kết quả là chưa xác định, không phải sự thật về các cổng (mã thoát 3)"
            ),
        }
        if audited.pushed.is_some() {
            eprintln!("v6audit: --push: nothing was sent");
        }
        return Ok(Outcome::Unmeasured);
    }
    match audited.pushed {
        Some(Ok(p)) => eprintln!(
            "pushed {} report{}: {} results stored, {} already stored",
            p.parts,
            if p.parts == 1 { "" } else { "s" },
            p.stored,
            p.duplicates
        ),
        Some(Err(e)) => anyhow::bail!("{e}"),
        None => {}
    }
    Ok(Outcome::Ok)
}
