//! `v6audit demo`: the lab, an audit of it, the table, and a collector on
//! SQLite that the audit is pushed to, in one command, on loopback only.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use v6audit_agent::anchor::Anchor;
use v6audit_agent::daemon::push::{Pusher, gzip_report};
use v6audit_agent::{ResolverChoice, Settings};
use v6audit_collector::config::hash_token;
use v6audit_collector::server::Background;
use v6audit_collector::store::Storage;
use v6audit_collector::{Config, Overrides};
use v6audit_lab::{Lab, LabConfig, Mix, Scenario};
use v6audit_model::{Inventory, Lang};
use v6audit_report::output::Format;
use v6audit_rules::Pack;

use crate::Outcome;
use crate::audit::{self, Loaded};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many lab portals to audit (by default one of each scenario).
    #[arg(long, value_name = "N", default_value_t = Scenario::ALL.len() as u32)]
    pub portals: u32,
    /// Language of messages.
    #[arg(long, value_name = "en|vi", default_value = "en")]
    pub lang: Lang,
    /// Keep the collector's API up until Ctrl-C (the default on a terminal).
    #[arg(long, conflicts_with = "exit")]
    pub serve: bool,
    /// Exit once the table is printed (the default when output is not a terminal).
    #[arg(long)]
    pub exit: bool,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let dir = tempfile::Builder::new().prefix("v6audit-demo-").tempdir()?;
    let lab = Lab::start(LabConfig {
        portals: args.portals as usize,
        mix: Mix::All,
        dir: dir.path().to_owned(),
    })
    .await?;
    let w = demo_words(args.lang);
    eprintln!(
        "{}",
        w.start
            .replace("{n}", &lab.portals.len().to_string())
            .replace("{dns}", &lab.resolver().to_string())
    );
    // A collector on SQLite in the demo's directory, judging with the lab's pack.
    let mut config = Config::load(
        None,
        &Overrides {
            listen: Some("[::1]:0".into()),
            database: Some(format!(
                "sqlite://{}",
                dir.path().join("collector.db").display()
            )),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    config.state_dir = dir.path().to_owned();
    config.rules = Some(lab.pack_path.clone());
    config.inventories = vec![lab.inventory_path.clone()];
    let state = v6audit_collector::prepare(config).await?;
    let token = v6audit_collector::new_token().map_err(anyhow::Error::msg)?;
    state
        .store
        .create_agent("demo", Some("loopback"), &hash_token(&token), 0)
        .await?;
    let listener = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let server = Background::spawn(listener, state.clone())?;
    let api = server.base();

    let inventory = Inventory::load(&lab.inventory_path)?;
    let pack = Pack::load(&lab.pack_path)?;
    let mut settings = Settings {
        resolver: ResolverChoice::At(lab.resolver()),
        ca_file: Some(lab.ca_path.clone()),
        ns_port: lab.dns.port,
        smtp_port: lab.ports.smtp,
        dnssec: Some(Arc::new(
            Anchor::from_file(&lab.anchor_path).map_err(anyhow::Error::msg)?,
        )),
        // The silent and slow lab portals make the agent wait out a
        // timeout; a short one keeps the demo quick.
        timeout: Duration::from_secs(3),
        portal_budget: Duration::from_secs(10),
        ..Settings::default()
    };
    settings.follow_pack(&pack.params);
    let loaded = Loaded {
        inventory,
        streamed: None,
        pack: Arc::new(pack),
        settings,
        lang: args.lang,
        require_resolver: false,
        shard: None,
    };
    let bar = audit::progress(loaded.inventory.portals.len(), false);
    let Some(audited) = audit::audit(
        &loaded,
        loaded.inventory.portals.clone().into(),
        "demo",
        &bar,
        true,
        None,
        |_, _| Ok(()),
    )
    .await?
    else {
        return Ok(Outcome::BadInput);
    };
    let report = audited.report;
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = anstream::stdout();
    audit::write_report(
        &mut out,
        &report,
        &loaded.pack,
        Format::Table,
        args.lang,
        color,
        audit::terminal_width(),
    )?;
    let base = url::Url::parse(&format!("{api}/"))?;
    let pusher =
        Pusher::new(&base, &token, None, Duration::from_secs(30)).map_err(anyhow::Error::msg)?;
    let acked = pusher
        .push(gzip_report(&report))
        .await
        .map_err(|e| anyhow::anyhow!("push to the demo collector: {e}"))?;
    println!();
    println!("{}", w.pushed.replace("{n}", &acked.stored.to_string()));
    println!("  {api}/");
    println!("{}", w.api);
    for path in [
        "portals",
        "priorities",
        "progress?group=agency",
        "ranking",
        "changes",
        "export.csv",
    ] {
        println!("  {api}/api/v1/{path}");
    }
    println!("  {api}/metrics");
    println!();
    println!("{}", w.lab);
    println!("{}", w.own);
    let keep = args.serve || (!args.exit && std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if keep {
        println!();
        println!("{}", w.stay);
        crate::shutdown_signal().await;
    }
    let _ = server.stop().await;
    lab.shutdown().await;
    Ok(Outcome::Ok)
}

/// The demo's own words (its first line and its footer), in each language.
struct DemoWords {
    start: &'static str,
    pushed: &'static str,
    api: &'static str,
    lab: &'static str,
    own: &'static str,
    stay: &'static str,
}

fn demo_words(lang: Lang) -> DemoWords {
    match lang {
        Lang::En => DemoWords {
            start: "v6audit demo: {n} simulated portals on loopback (DNS at {dns}), audited with the lab's CA and pack.",
            pushed: "Pushed to a collector on SQLite ({n} results stored). Its dashboard:",
            api: "and its API:",
            lab: "To audit the lab yourself: v6audit lab serve, then the command it prints.",
            own: "To audit your own portals: v6audit audit inventories/vn-public-services.yaml",
            stay: "The collector and the lab stay up until Ctrl-C.",
        },
        Lang::Vi => DemoWords {
            start: "v6audit demo: {n} cổng mô phỏng trên loopback (DNS tại {dns}), kiểm tra bằng CA và bộ quy tắc của phòng thí nghiệm.",
            pushed: "Đã gửi tới bộ thu thập trên SQLite (lưu {n} kết quả). Bảng điều khiển:",
            api: "và API của nó:",
            lab: "Để tự kiểm tra phòng thí nghiệm: v6audit lab serve, rồi chạy lệnh nó in ra.",
            own: "Để kiểm tra các cổng của bạn: v6audit audit inventories/vn-public-services.yaml",
            stay: "Bộ thu thập và phòng thí nghiệm chạy đến khi bấm Ctrl-C.",
        },
    }
}
