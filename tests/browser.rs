//! The dashboard in a real browser: Debian's Chromium, headless, driven
//! through Debian's chromedriver (W3C WebDriver) against a collector seeded
//! by lab audits from two agents. It opens each page, sorts and filters the
//! portal table, opens a detail, switches the language, signs in as
//! administrator and creates a campaign, and checks that a portal named
//! `<script>alert(1)</script>` shows as text. Then the layout on a laptop
//! (1366×900) and a phone (390×844): no page scrolls sideways, the agencies'
//! ranking fits, the search box holds its placeholder. A screenshot of each
//! page is saved under the cargo target's tmp directory (the path is printed).
//!
//! `scripts/test.sh` installs chromium and chromium-driver when it runs as
//! root, and sets V6AUDIT_REQUIRE_BROWSER; elsewhere, without them, the test
//! says it is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webdriver;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use v6audit_agent::daemon::{AgentConfig, Daemon};
use v6audit_collector::config::hash_token;
use v6audit_collector::server::Background;
use v6audit_collector::store::Storage;
use v6audit_lab::{Lab, LabConfig, Mix, Scenario};
use webdriver::{Driver, Session};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser's tools, or None (skip) when they are not installed.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let (chromium, driver) = (PathBuf::from(CHROMIUM), PathBuf::from(CHROMEDRIVER));
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    assert!(
        std::env::var_os("V6AUDIT_REQUIRE_BROWSER").is_none(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver"
    );
    eprintln!(
        "skipping the browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver; scripts/test.sh does as root)"
    );
    None
}

/// Runs one agent daemon against the lab twice, pushing to the collector.
async fn agent_runs(dir: &Path, lab: &Lab, base: &str, token: &str, name: &str) {
    let yaml = common::lab_agent_yaml(dir, lab, base, token, name);
    let config = AgentConfig::load(&yaml, dir, name).unwrap();
    let daemon = Daemon::new(config).unwrap();
    let log = common::Lines::default();
    daemon.run(Some(2), &log, std::future::pending()).await;
    let lines = log.0.lock().unwrap().clone();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("acknowledged report "))
            .count(),
        2,
        "{lines:#?}"
    );
}

/// The ids of the visible rows of the portal table, in order.
async fn visible_ids(s: &Session) -> Vec<String> {
    s.execute(
        "return Array.from(document.querySelectorAll('#portal-table tbody tr'))\
         .filter(r => !r.hidden).map(r => r.getAttribute('data-id'));",
        json!([]),
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|v| v.as_str().unwrap().to_owned())
    .collect()
}

/// The first match's left edge, width and height, in CSS pixels.
async fn box_of(s: &Session, css: &str) -> [f64; 3] {
    let v = s
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();\
             return [r.left, r.width, r.height];",
            json!([css]),
        )
        .await;
    let n = |i: usize| v[i].as_f64().unwrap();
    [n(0), n(1), n(2)]
}

/// The page's width and the viewport's (without its scroll bar): a page
/// wider than its viewport scrolls sideways.
async fn page_width(s: &Session) -> (f64, f64) {
    let v = s
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
            json!([]),
        )
        .await;
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

/// The width the search box's placeholder needs in the box's font, the
/// width the box has for text, and the placeholder.
const PLACEHOLDER_FITS: &str = "const q = document.getElementById('q');\
    const cs = getComputedStyle(q);\
    const c = document.createElement('canvas').getContext('2d');\
    c.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;\
    const room = q.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);\
    return [c.measureText(q.placeholder).width, room, q.placeholder];";

/// The ranking's layout: the viewport's width, the last column's right edge
/// and width, whether the table's box scrolls (and may), and the most lines
/// an agency's name takes.
const RANKING_LAYOUT: &str = "const vw = document.documentElement.clientWidth;\
    const last = document.querySelector('#ranking thead th:last-child').getBoundingClientRect();\
    const wrap = document.getElementById('ranking').parentElement;\
    const lines = Array.from(document.querySelectorAll('#ranking td.agency a'))\
        .map(a => a.getClientRects().length);\
    return {vw: vw, right: last.right, width: last.width,\
        scrolls: wrap.scrollWidth > wrap.clientWidth, overflow: getComputedStyle(wrap).overflowX,\
        lines: Math.max(...lines)};";

async fn api(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    eprintln!("screenshots: {}", shots.display());

    // The lab, a collector on SQLite judging with the lab's pack, two agents.
    let lab = Lab::start(LabConfig {
        portals: Scenario::ALL.len(),
        mix: Mix::All,
        dir: dir.path().join("lab"),
    })
    .await
    .unwrap();
    let database = format!("sqlite://{}", dir.path().join("collector.db").display());
    let mut config = common::lab_collector_config(dir.path(), &lab, database);
    config.admin_token_hash = Some(hash_token("admin-secret"));
    let state = v6audit_collector::prepare(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let server = Background::spawn(listener, state.clone()).unwrap();
    let base = server.base();
    for (name, vantage) in [("hanoi-1", "VNPT Hà Nội"), ("hcm-1", "Viettel TP.HCM")] {
        let token = v6audit_collector::new_token().unwrap();
        state
            .store
            .create_agent(name, Some(vantage), &hash_token(&token), 0)
            .await
            .unwrap();
        agent_runs(dir.path(), &lab, &base, &token, name).await;
    }
    // An inventory whose strings try to be markup.
    let hostile = "schema: v6audit/inventory/v1\nportals:\n  - id: xss\n    url: https://xss.gov.vn/\n    name: \"<script>alert(1)</script>\"\n    agency: \"\\\"><img src=x onerror=alert(2)>\"\n    category: citizen\n";
    let r = reqwest::Client::new()
        .put(format!("{base}/api/v1/inventories/hostile"))
        .bearer_auth("admin-secret")
        .body(hostile)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let portals = api(&base, "/api/v1/portals").await["portals"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(portals.len(), Scenario::ALL.len() + 1);

    let driver = Driver::start(&chromedriver).await;
    let s = driver.session(&chromium, &dir.path().join("profile")).await;

    // Overview: the numbers of the API.
    s.goto(&format!("{base}/")).await;
    assert_eq!(s.text_of("h1").await, "Where the IPv6 migration stands");
    assert_eq!(s.text_of("#total").await, portals.len().to_string());
    for (stage, key) in [
        "ipv4-only",
        "broken",
        "reachable",
        "dual-stack",
        "ipv6-complete",
    ]
    .iter()
    .enumerate()
    {
        let n = portals
            .iter()
            .filter(|p| p["combined"]["stage"] == json!(stage))
            .count();
        assert_eq!(
            s.text_of(&format!("[data-stage='{key}']")).await,
            n.to_string(),
            "{key}"
        );
    }
    assert_eq!(s.text_of("[data-stage='unmeasured']").await, "1");
    assert!(
        !s.find_all("svg.chart polygon").await.is_empty(),
        "the progress chart"
    );
    assert_eq!(s.find_all("#agent-table tbody tr").await.len(), 2);
    s.screenshot(&shots.join("01-overview.png")).await;

    // Portals: sort by a click on a header, in place; filter as one types.
    s.goto(&format!("{base}/portals")).await;
    assert_eq!(visible_ids(&s).await.len(), portals.len());
    let before = s.current_url().await;
    let id_header = s.find("#portal-table th[data-key='id'] a").await;
    s.click(&id_header).await;
    let mut sorted: Vec<String> = portals
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    sorted.sort();
    assert_eq!(visible_ids(&s).await, sorted);
    assert_eq!(s.current_url().await, before, "sorted in place, no reload");
    let id_header = s.find("#portal-table th[data-key='id'] a").await;
    s.click(&id_header).await;
    sorted.reverse();
    assert_eq!(visible_ids(&s).await, sorted);
    let q = s.find("#q").await;
    s.type_into(&q, "refused").await;
    let shown = visible_ids(&s).await;
    assert!(
        !shown.is_empty() && shown.iter().all(|id| id.contains("refused")),
        "{shown:?}"
    );
    assert_eq!(s.text_of("#shown").await, shown.len().to_string());
    s.screenshot(&shots.join("02-portals-filtered.png")).await;
    // A stage chosen in the list reloads the table with that stage only.
    let option = s.find("#f-stage option[value='1']").await;
    s.click(&option).await;
    s.wait_for_url(|u| u.contains("stage=1")).await;
    let broken: Vec<String> = portals
        .iter()
        .filter(|p| {
            p["combined"]["stage"] == 1 && p["name"].as_str().unwrap_or("").contains("refused")
        })
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let mut got = visible_ids(&s).await;
    got.sort();
    assert_eq!(got, broken, "stage 1 and the search kept");
    for e in s.find_all("#portal-table tbody .stage").await {
        assert_eq!(s.text(&e).await, "1 · IPv6 broken");
    }

    // A detail: the findings, the evidence, per vantage.
    let link = s.find("#portal-table tbody tr a").await;
    let id = s.text(&link).await;
    s.click(&link).await;
    s.wait_for_url(|u| u.ends_with(&format!("/portals/{id}")))
        .await;
    assert!(s.text_of("h1").await.ends_with(&format!("({id})")));
    assert_eq!(
        s.find_all("section.vantage").await.len(),
        2,
        "one section per vantage"
    );
    let row = s
        .find("section.vantage tr[data-rule='web.v6-reachable']")
        .await;
    assert_eq!(s.attr(&row, "data-status").await.as_deref(), Some("fail"));
    assert!(s.text(&row).await.contains("refused"));
    assert!(
        s.text_of("section.vantage .addrs")
            .await
            .contains("127.0.0.1")
    );
    // Regression: the skip link's `.skip` rule (left: -999px) also moved
    // every `st skip` badge off the page, so skipped findings had no status.
    let skip = "section.vantage tr[data-status='skip'] .st";
    let skipped = s.find(skip).await;
    assert!(s.displayed(&skipped).await, "a skipped finding's status");
    assert_eq!(s.text(&skipped).await, "skip");
    let [left, width, height] = box_of(&s, skip).await;
    assert!(
        left >= 0.0 && width > 0.0 && height > 0.0,
        "the status at {left} px, {width}×{height}"
    );
    s.screenshot(&shots.join("03-portal-detail.png")).await;

    // The evidence of a page loading a script from a host without AAAA.
    let sub_id = portals
        .iter()
        .find_map(|p| {
            p["id"]
                .as_str()
                .filter(|id| id.starts_with("subresource-v4-only"))
        })
        .unwrap()
        .to_owned();
    s.goto(&format!("{base}/portals/{sub_id}")).await;
    let row = s
        .find("section.vantage tr[data-rule='web.subresources-v6']")
        .await;
    assert_eq!(s.attr(&row, "data-status").await.as_deref(), Some("fail"));
    let host = s
        .find("section.vantage li[data-host='sso-v4only.lab.test']")
        .await;
    assert_eq!(s.attr(&host, "data-ok").await.as_deref(), Some("false"));
    let cdn = s
        .find("section.vantage li[data-host='edge.lab.test']")
        .await;
    assert_eq!(s.attr(&cdn, "data-ok").await.as_deref(), Some("true"));
    let smtp = s
        .find_all("section.vantage ul.smtp li[data-ok='true']")
        .await;
    assert_eq!(
        smtp.len(),
        4,
        "mail.lab.test over IPv6 and IPv4, from each of the two vantages"
    );
    s.screenshot(&shots.join("03b-subresources.png")).await;
    s.goto(&format!("{base}/portals/{id}")).await;

    // Vietnamese: the switch, then remembered on the next page.
    let vi = s.find("#lang-vi").await;
    s.click(&vi).await;
    // The switch comes back to the same address: wait for the new page.
    s.wait_for("html[lang='vi']").await;
    s.wait_for_url(|u| u.ends_with(&format!("/portals/{id}")))
        .await;
    let lang = s
        .execute("return document.documentElement.lang;", json!([]))
        .await;
    assert_eq!(lang, "vi");
    assert_eq!(s.text_of("nav a[href='/']").await, "Tổng quan");
    assert_eq!(s.text_of("section.vantage h3").await, "Kết quả kiểm tra");
    s.screenshot(&shots.join("04-portal-detail-vi.png")).await;
    s.goto(&format!("{base}/portals")).await;
    assert_eq!(s.text_of("h1").await, "Cổng thông tin");
    s.screenshot(&shots.join("05-portals-vi.png")).await;
    let en = s.find("#lang-en").await;
    s.click(&en).await;
    s.wait_for("html[lang='en']").await;
    s.wait_for_url(|u| u.ends_with("/portals")).await;
    assert_eq!(s.text_of("h1").await, "Portals");

    // Agencies: the API's ranking; a drill-down.
    let ranking = api(&base, "/api/v1/ranking").await;
    s.goto(&format!("{base}/agencies")).await;
    let rows = s.find_all("#ranking tbody tr").await;
    assert_eq!(rows.len(), ranking["ranking"].as_array().unwrap().len());
    let first = ranking["ranking"][0]["agency"].as_str().unwrap().to_owned();
    assert_eq!(
        s.attr(&rows[0], "data-agency").await.as_deref(),
        Some(first.as_str())
    );
    s.screenshot(&shots.join("06-agencies.png")).await;
    let link = s.find("#ranking tbody tr a").await;
    s.click(&link).await;
    s.wait_for_url(|u| u.contains("/agency?name=")).await;
    assert_eq!(s.text_of("h1").await, first);
    assert_eq!(s.text_of("#agency-rank").await, "1");

    // Fix first: the API's priorities, the first item's steps open.
    let prio = api(&base, "/api/v1/priorities").await;
    s.goto(&format!("{base}/fix-first")).await;
    let items = s.find_all("#fix-list > li").await;
    assert_eq!(
        s.attr(&items[0], "data-id").await.as_deref(),
        prio["priorities"][0]["portal"]["id"].as_str()
    );
    let step = s.find("#fix-list > li details[open] .steps pre").await;
    assert!(
        s.displayed(&step).await,
        "the most urgent portal's steps are shown"
    );
    // Regression: each item read "1. 1.", the list's number and a printed one.
    let heading = s.text_of("#fix-list > li h2").await;
    assert!(
        !heading.starts_with(|c: char| c.is_ascii_digit()),
        "{heading}"
    );
    // The priority, with what it is made of.
    let parts = s.text_of("#fix-list > li .why").await;
    let priority = &prio["priorities"][0]["combined"]["priority"];
    assert!(parts.ends_with(&format!("= {priority}")), "{parts}");
    s.screenshot(&shots.join("07-fix-first.png")).await;

    // Changes.
    s.goto(&format!("{base}/changes")).await;
    assert_eq!(s.text_of("h1").await, "Changes");
    s.screenshot(&shots.join("08-changes.png")).await;

    // Admin: sign in, create a campaign; the overview shows its progress.
    s.goto(&format!("{base}/admin")).await;
    let token = s.find("#login input[name='token']").await;
    s.type_into(&token, "admin-secret").await;
    let submit = s.find("#login button").await;
    s.click(&submit).await;
    // The sign-in posts and comes back to /admin: wait for the signed-in page.
    assert_eq!(s.wait_for("#admin-agents tbody tr").await.len(), 2);
    for (field, value) in [("id", "citizen-2027"), ("name", "Dịch vụ công dân 2027")] {
        let e = s.find(&format!("#campaign input[name='{field}']")).await;
        s.type_into(&e, value).await;
    }
    s.execute(
        "document.querySelector(\"#campaign input[name='deadline']\").value = '2027-06-30';",
        json!([]),
    )
    .await;
    let citizen = s.find("#campaign input[name='category_citizen']").await;
    s.click(&citizen).await;
    let create = s.find("#campaign button").await;
    s.click(&create).await;
    s.wait_for_url(|u| u.contains("done=1")).await;
    s.screenshot(&shots.join("09-admin.png")).await;
    s.goto(&format!("{base}/")).await;
    let row = s
        .find("#campaign-table tr[data-campaign='citizen-2027']")
        .await;
    assert!(s.text(&row).await.contains("Dịch vụ công dân 2027"));
    let campaigns = api(&base, "/api/v1/campaigns").await;
    let c = &campaigns["campaigns"][0];
    assert!(
        s.text(&row)
            .await
            .contains(&format!("{}/{}", c["at_target"], c["portals"]))
    );

    // A portal named <script>alert(1)</script>: text, not markup.
    s.goto(&format!("{base}/portals/xss")).await;
    assert_eq!(s.text_of("h1").await, "<script>alert(1)</script> (xss)");
    assert!(!s.alert_open().await, "no script ran");
    let counts = s
        .execute(
            "return [document.scripts.length, document.images.length];",
            json!([]),
        )
        .await;
    assert_eq!(
        counts,
        json!([1, 0]),
        "only our own script; no injected image"
    );
    assert!(
        s.text_of("#portal-facts")
            .await
            .contains("\"><img src=x onerror=alert(2)>")
    );
    s.screenshot(&shots.join("10-xss-as-text.png")).await;
    s.goto(&format!("{base}/portals?q=alert")).await;
    assert_eq!(visible_ids(&s).await, ["xss"]);
    assert!(!s.alert_open().await);

    // Layout on a laptop (1366×900) and on a phone (390×844).
    let detail = format!("/portals/{id}");
    for (width, height, device) in [(1366, 900, "laptop"), (390, 844, "phone")] {
        s.set_window_size(width, height).await;
        // No page scrolls sideways: what is wider (a table) scrolls in its box.
        for path in [
            "/",
            "/portals",
            "/agencies",
            "/fix-first",
            "/changes",
            detail.as_str(),
        ] {
            s.goto(&format!("{base}{path}")).await;
            let (page, viewport) = page_width(&s).await;
            assert!(
                page <= viewport,
                "{path} is {page} px wide on a {viewport} px {device}"
            );
        }
        // Regression: /agencies was wider than 1366 px (its last column cut,
        // names over 3 or 4 lines): the stage columns are headed by number.
        s.goto(&format!("{base}/agencies")).await;
        let r = s.execute(RANKING_LAYOUT, json!([])).await;
        let (vw, right) = (r["vw"].as_f64().unwrap(), r["right"].as_f64().unwrap());
        assert!(r["lines"].as_f64().unwrap() <= 2.0, "{device}: {r}");
        if device == "laptop" {
            assert!(r["width"].as_f64().unwrap() > 0.0, "{r}");
            assert!(
                right <= vw,
                "the last column ends at {right} px of {vw}: {r}"
            );
            assert_eq!(r["scrolls"], json!(false), "{r}");
        } else {
            assert_eq!(r["overflow"], "auto", "the table scrolls in its box: {r}");
        }
        s.screenshot(&shots.join(format!("11-agencies-{device}.png")))
            .await;
        // Regression: the search box cut its placeholder ("…or age…").
        for lang in ["en", "vi"] {
            s.goto(&format!("{base}/portals?lang={lang}")).await;
            let v = s.execute(PLACEHOLDER_FITS, json!([])).await;
            let (needs, room) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
            assert!(
                needs <= room,
                "{lang}, {device}: {} needs {needs} px, the box has {room}",
                v[2]
            );
            s.screenshot(&shots.join(format!("12-portals-{lang}-{device}.png")))
                .await;
        }
        s.goto(&format!("{base}/fix-first")).await;
        s.screenshot(&shots.join(format!("13-fix-first-{device}.png")))
            .await;
    }

    s.quit().await;
    drop(driver);
    server.stop().await.unwrap();
    lab.shutdown().await;
}
