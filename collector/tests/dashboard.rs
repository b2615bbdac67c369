//! The dashboard's pages on a collector seeded with the lab report, on both
//! storage backends: each page renders, shows the numbers the API answers,
//! escapes what inventories say, speaks Vietnamese when asked (and
//! remembers), keeps private dashboards private, and accepts admin actions
//! only from a signed-in session with its CSRF token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::{Value, json};
use support::*;
use v6audit_collector::config::{Access, hash_token};
use v6audit_collector::store::Storage;

/// A page: status, headers, body.
struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// The values of an attribute, in document order.
    fn attrs(&self, name: &str) -> Vec<String> {
        let needle = format!(" {name}=\"");
        self.body
            .match_indices(&needle)
            .map(|(i, _)| {
                let rest = &self.body[i + needle.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    }

    /// The text of the element with this id (tags inside removed).
    fn by_id(&self, id: &str) -> String {
        let needle = format!("id=\"{id}\"");
        let i = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no #{id} in {}", self.body));
        let start = i + self.body[i..].find('>').unwrap() + 1;
        let end = start + self.body[start..].find("</").unwrap();
        self.body[start..end].trim().to_owned()
    }

    /// The text a reader sees: the body without its tags (and so without
    /// attribute values).
    fn visible_text(&self) -> String {
        let mut text = String::with_capacity(self.body.len());
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    text.push(' ');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text
    }

    /// The texts of the elements that open with `open` (up to the next tag).
    fn texts_after(&self, open: &str) -> Vec<String> {
        self.body
            .split(open)
            .skip(1)
            .map(|rest| rest[..rest.find('<').unwrap()].to_owned())
            .collect()
    }

    /// The rows of a table body: for each <tr> with `attr`, its value.
    fn rows(&self, table_id: &str, attr: &str) -> Vec<String> {
        let i = self
            .body
            .find(&format!("id=\"{table_id}\""))
            .unwrap_or_else(|| panic!("no table #{table_id} in {}", self.body));
        let end = i + self.body[i..].find("</table>").unwrap();
        let part = Self {
            status: 0,
            headers: Default::default(),
            body: self.body[i..end].to_owned(),
        };
        part.attrs(attr)
    }
}

async fn page(c: &Running, path: &str, headers: &[(&str, &str)]) -> Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = client.get(format!("{}{path}", c.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

async fn post(c: &Running, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = client
        .post(format!("{}{path}", c.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

/// A collector with the lab report stored.
async fn seeded(db: &Db, tweak: impl FnOnce(&mut v6audit_collector::Config)) -> Running {
    seeded_with_token(db, tweak).await.0
}

/// The same, with the agent's token.
async fn seeded_with_token(
    db: &Db,
    tweak: impl FnOnce(&mut v6audit_collector::Config),
) -> (Running, String) {
    let c = Running::start(db, tweak).await;
    let token = c.token("hanoi-1").await;
    let (status, _) = c
        .push(
            Some(&token),
            serde_json::to_vec(&lab_report()).unwrap(),
            false,
        )
        .await;
    assert_eq!(status, 200);
    (c, token)
}

fn api_portals(v: &Value) -> Vec<Value> {
    v["portals"].as_array().unwrap().clone()
}

/// Whether `word` is in `text` as a word of its own (not inside another).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A later run of the lab report in which good-0001 loses IPv6 (it answers
/// as v6-refused does), so the collector records changes.
fn good_portal_loses_ipv6(report: &Value) -> Value {
    let mut later = rerun(report, 60);
    let find = |r: &Value, id: &str| {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .position(|x| x["portal"]["id"].as_str().unwrap().starts_with(id))
            .unwrap()
    };
    let mut obs = report["results"][find(report, "v6-refused-")]["observation"].clone();
    let g = find(&later, "good-");
    obs["started_at"] = later["results"][g]["observation"]["started_at"].clone();
    obs["host"] = json!("good-0001.lab.test");
    later["results"][g]["observation"] = obs;
    later
}

battery! {
    every_page_shows_the_numbers_of_the_api => |db: Db| async move {
        let (c, token) = seeded_with_token(&db, |_| {}).await;
        let (_, portals) = c.get("/api/v1/portals").await;
        let portals = api_portals(&portals);

        // Overview: the counts per stage are the API's combined stages.
        let p = page(&c, "/", &[]).await;
        assert_eq!(p.status, 200);
        assert_eq!(p.headers["content-type"], "text/html; charset=utf-8");
        let csp = p.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self'"), "{csp}");
        assert!(p.body.contains("<html lang=\"en\">"));
        assert_eq!(p.by_id("total"), portals.len().to_string());
        for (stage, key) in ["ipv4-only", "broken", "reachable", "dual-stack", "ipv6-complete"].iter().enumerate() {
            let n = portals.iter().filter(|x| x["combined"]["stage"] == json!(stage)).count();
            let shown = p.body.split(&format!("data-stage=\"{key}\">")).nth(1).unwrap();
            assert_eq!(&shown[..shown.find('<').unwrap()], n.to_string(), "stage {key}");
        }
        // The chart and the agents' health are there.
        assert!(p.body.contains("<svg class=\"chart\""));
        assert_eq!(p.rows("agent-table", "data-agent"), ["hanoi-1"]);
        assert!(p.body.contains(">reporting</span>"));

        // Portals: every portal of the API, most urgent first like /priorities.
        let p = page(&c, "/portals", &[]).await;
        assert_eq!(p.status, 200);
        let ids = p.rows("portal-table", "data-id");
        assert_eq!(ids.len(), portals.len());
        let (_, prio) = c.get("/api/v1/priorities").await;
        let first: Vec<String> = prio["priorities"].as_array().unwrap().iter().map(|x| x["portal"]["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids[..first.len()], first[..]);
        // Filtered by stage, by search, sorted by id.
        let broken: Vec<String> = portals.iter().filter(|x| x["combined"]["stage"] == 1).map(|x| x["id"].as_str().unwrap().to_owned()).collect();
        let mut shown = page(&c, "/portals?stage=1", &[]).await.rows("portal-table", "data-id");
        shown.sort();
        let mut expected = broken.clone();
        expected.sort();
        assert_eq!(shown, expected);
        assert_eq!(page(&c, "/portals?q=REFUSED", &[]).await.rows("portal-table", "data-id"), ["v6-refused-0005"]);
        let sorted = page(&c, "/portals?sort=id", &[]).await.rows("portal-table", "data-id");
        let mut all: Vec<String> = portals.iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect();
        all.sort();
        assert_eq!(sorted, all);
        let p = page(&c, "/portals?tag=good&vantage=VNPT%20H%C3%A0%20N%E1%BB%99i", &[]).await;
        assert_eq!(p.rows("portal-table", "data-id"), ["good-0001"]);
        assert_eq!(page(&c, "/portals?vantage=elsewhere", &[]).await.rows("portal-table", "data-id").len(), 0);

        // Detail: the findings of the API, with their remediation, and the evidence.
        let (_, detail) = c.get("/api/v1/portals/v6-refused-0005").await;
        let p = page(&c, "/portals/v6-refused-0005", &[]).await;
        assert_eq!(p.status, 200);
        let findings = detail["vantages"][0]["findings"].as_array().unwrap();
        for f in findings {
            let row = format!("data-rule=\"{}\" data-status=\"{}\"", f["rule"].as_str().unwrap(), f["status"].as_str().unwrap());
            assert!(p.body.contains(&row), "{row}");
        }
        assert!(p.body.contains("Make the web server listen on IPv6"), "the remediation of web.v6-reachable");
        let aaaa = detail["vantages"][0]["observation"]["dns"]["aaaa"]["addrs"][0].as_str().unwrap();
        assert!(p.body.contains(&format!("<dd class=\"addrs\">{aaaa}</dd>")));
        assert_eq!(p.by_id("combined-stage"), "1 · IPv6 broken");
        assert!(p.body.contains("class=\"track v0\""), "the stage timeline");
        assert_eq!(page(&c, "/portals/no-such-portal", &[]).await.status, 404);

        // Agencies: the ranking of the API.
        let (_, ranking) = c.get("/api/v1/ranking").await;
        let p = page(&c, "/agencies", &[]).await;
        let agencies: Vec<String> = ranking["ranking"].as_array().unwrap().iter().map(|r| r["agency"].as_str().unwrap().to_owned()).collect();
        assert_eq!(p.rows("ranking", "data-agency"), agencies);
        for r in ranking["ranking"].as_array().unwrap() {
            assert!(p.body.contains(&format!("<span class=\"num index\">{:.1}</span>", r["index"].as_f64().unwrap())));
        }
        // One agency's page: its portals.
        let agency = &agencies[0];
        let p = page(&c, &format!("/agency?name={}", url::form_urlencoded::byte_serialize(agency.as_bytes()).collect::<String>()), &[]).await;
        assert_eq!(p.status, 200);
        let mine = portals.iter().filter(|x| x["agency"] == json!(agency)).count();
        assert_eq!(p.rows("portal-table", "data-id").len(), mine);
        assert_eq!(p.by_id("agency-rank"), "1");

        // Fix first: the priority list, with the plan's steps.
        let p = page(&c, "/fix-first", &[]).await;
        let listed = p.attrs("data-id");
        assert_eq!(listed, first);
        assert!(p.body.contains("<h3>"), "plan steps");
        assert!(p.body.contains("curl -6"), "a verification command");

        // Changes: good-0001 loses IPv6 in a later run; the feed is the API's.
        let later = good_portal_loses_ipv6(&lab_report());
        assert_eq!(c.push(Some(&token), serde_json::to_vec(&later).unwrap(), false).await.0, 200);
        let (_, changes) = c.get("/api/v1/changes").await;
        let p = page(&c, "/changes", &[]).await;
        let kinds: Vec<String> = changes["changes"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
        assert_eq!(p.rows("change-table", "data-kind"), kinds);
        let regressions = page(&c, "/changes?kind=regressions", &[]).await.rows("change-table", "data-kind");
        assert!(regressions.contains(&"lost_ipv6".to_owned()), "{regressions:?}");
        assert!(!regressions.contains(&"gained_ipv6".to_owned()), "{regressions:?}");
        // The overview counts the week's regressions, and the detail shows what changed.
        let p = page(&c, "/", &[]).await;
        assert_eq!(p.by_id("week-regressions"), regressions.len().to_string());
        let p = page(&c, "/portals/good-0001", &[]).await;
        assert!(p.body.contains("data-kind=\"lost_ipv6\""));
        assert!(p.body.contains("4 → 1"));

        // Unknown pages: HTML for people, JSON under /api/.
        let p = page(&c, "/no/such/page", &[]).await;
        assert_eq!(p.status, 404);
        assert!(p.body.contains("Page not found"));
        let (status, body) = c.get("/api/v1/nothing").await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
        // Static files, served by the collector itself.
        let css = page(&c, "/static/app.css", &[]).await;
        assert_eq!((css.status, css.headers["content-type"].to_str().unwrap()), (200, "text/css; charset=utf-8"));
        assert_eq!(page(&c, "/static/app.js", &[]).await.status, 200);
        c.stop().await;
    };

    inventory_text_is_escaped => |db: Db| async move {
        let c = seeded(&db, |_| {}).await;
        let hostile = "schema: v6audit/inventory/v1\nportals:\n  - id: xss\n    url: https://xss.gov.vn/\n    name: \"<script>alert(1)</script>\"\n    agency: \"\\\"><img src=x onerror=alert(2)>\"\n    tags: [\"<b>t</b>\"]\n";
        let r = c.client.put(format!("{}/api/v1/inventories/hostile", c.base)).bearer_auth("admin-secret").body(hostile).send().await.unwrap();
        assert_eq!(r.status(), 200);
        for path in ["/portals", "/portals/xss", "/agencies", "/fix-first", "/"] {
            let p = page(&c, path, &[]).await;
            assert_eq!(p.status, 200, "{path}");
            assert!(!p.body.contains("<script>alert"), "{path}");
            assert!(!p.body.contains("<img src=x"), "{path}");
            assert!(!p.body.contains("<b>t</b>"), "{path}");
        }
        let p = page(&c, "/portals/xss", &[]).await;
        assert!(p.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || p.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", p.body);
        c.stop().await;
    };

    the_language_is_switched_and_remembered => |db: Db| async move {
        let c = seeded(&db, |_| {}).await;
        let p = page(&c, "/lang/vi?back=/portals%3Fstage%3D1", &[]).await;
        assert!(matches!(p.status, 303 | 307), "{}", p.status);
        assert_eq!(p.headers["location"], "/portals?stage=1");
        let cookie = p.headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("v6audit_lang=vi;"), "{cookie}");
        let p = page(&c, "/portals?stage=1", &[("cookie", "v6audit_lang=vi")]).await;
        assert!(p.body.contains("<html lang=\"vi\">"));
        assert!(p.body.contains("<h1>Cổng thông tin</h1>"));
        assert!(p.body.contains("1 · IPv6 bị lỗi"));
        // A detail in Vietnamese: the findings of the API's ?lang=vi.
        let (_, detail) = c.get("/api/v1/portals/v6-refused-0005?lang=vi").await;
        let p = page(&c, "/portals/v6-refused-0005", &[("cookie", "v6audit_lang=vi")]).await;
        let message = detail["vantages"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "web.v6-reachable").unwrap()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("không nhận kết nối TCP"), "{message}");
        assert!(p.body.contains(&message), "{message}");
        // The browser's language when nothing was chosen; ?lang= wins over everything.
        assert!(page(&c, "/", &[("accept-language", "vi-VN,vi;q=0.9,en;q=0.5")]).await.body.contains("<html lang=\"vi\">"));
        assert!(page(&c, "/?lang=en", &[("cookie", "v6audit_lang=vi")]).await.body.contains("<html lang=\"en\">"));
        // The switch never sends anyone elsewhere.
        let p = page(&c, "/lang/en?back=//evil.example/", &[]).await;
        assert_eq!(p.headers["location"], "/");
        c.stop().await;
    };

    lang_switch_back_with_tab_stays_on_this_origin => |db: Db| async move {
        // Regression: `/lang/en?back=/%09/127.0.0.1:19198/` sent Chromium to
        // another origin: the tab passed the check, browsers drop it, and
        // `//127.0.0.1:19198/` is another host.
        let c = Running::start(&db, |_| {}).await;
        let base = url::Url::parse(&c.base).unwrap();
        for back in ["/%09/127.0.0.1:19198/", "/%0A/evil.example/", "/%0D%0A/evil.example/", "/%00/evil.example/", "/%5C/evil.example/", "%09//evil.example/", "/%7F/evil.example/"] {
            let p = page(&c, &format!("/lang/en?back={back}"), &[]).await;
            assert!(matches!(p.status, 303 | 307), "{back}: {}", p.status);
            let location = p.headers["location"].to_str().unwrap();
            assert_eq!(location, "/", "{back}");
            assert_eq!(base.join(location).unwrap().origin(), base.origin(), "{back}");
        }
        // A path of this site is kept.
        let p = page(&c, "/lang/en?back=/agency%3Fname%3DB%E1%BB%99", &[]).await;
        assert_eq!(p.headers["location"], "/agency?name=B%E1%BB%99");
        c.stop().await;
    };

    a_private_dashboard_needs_a_viewer_token => |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("viewers");
        std::fs::write(&tokens, "# viewers\nviewer-secret\n").unwrap();
        let c = seeded(&db, |cfg| {
            cfg.dashboard.access = Access::Private;
            cfg.dashboard.viewer_token_hashes = vec![hash_token("viewer-secret")];
        }).await;
        for path in ["/", "/portals", "/api/v1/portals", "/api/v1/ranking"] {
            let p = page(&c, path, &[]).await;
            assert_eq!(p.status, 401, "{path}");
            assert!(p.headers["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"v6audit\""));
        }
        // "viewer:viewer-secret" and "x:wrong" in base64.
        assert_eq!(page(&c, "/", &[("authorization", "Basic dmlld2VyOnZpZXdlci1zZWNyZXQ=")]).await.status, 200);
        assert_eq!(page(&c, "/", &[("authorization", "Basic eDp3cm9uZw==")]).await.status, 401);
        assert_eq!(page(&c, "/api/v1/portals", &[("authorization", "Bearer viewer-secret")]).await.status, 200);
        // Health, static files and the sign-in page stay open; agents still push with their own tokens.
        for path in ["/healthz", "/static/app.css", "/admin"] {
            assert_eq!(page(&c, path, &[]).await.status, 200, "{path}");
        }
        c.stop().await;
    };

    skipped_findings_show_their_status => |db: Db| async move {
        // Regression: the skip link's rule `.skip { position: absolute; left:
        // -999px }` also matched a finding's `st skip` badge, so a skipped
        // finding showed no status at all.
        let c = seeded(&db, |_| {}).await;
        let p = page(&c, "/portals/v6-refused-0005", &[]).await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("<a class=\"skip-link\" href=\"#main\">"), "{}", p.body);
        assert!(p.body.contains("data-status=\"skip\"><td><code>"), "a skipped finding");
        assert!(p.body.contains("<span class=\"st skip\">skip</span>"), "{}", p.body);
        let css = page(&c, "/static/app.css", &[]).await.body;
        assert!(css.contains(".skip-link {"), "{css}");
        assert!(!css.contains(".skip {") && !css.contains(".skip:"), "a rule for `.skip` alone hides the badges again");
        c.stop().await;
    };

    remediation_shows_code_not_backticks => |db: Db| async move {
        // Regression: the pack's `code` spans were shown with their backticks.
        let c = seeded(&db, |_| {}).await;
        let p = page(&c, "/portals/v6-refused-0005", &[]).await;
        assert!(
            p.body.contains("(nginx <code>listen [::]:443 ssl;</code>, Apache <code>Listen [::]:443</code>,"),
            "{}", p.body
        );
        let cells: Vec<&str> = p.body.split("<td class=\"pre\">").skip(1).map(|r| &r[..r.find("</td>").unwrap()]).collect();
        assert!(cells.iter().any(|c| c.contains("<code>")), "{cells:?}");
        for cell in &cells {
            assert!(!cell.contains('`'), "{cell}");
        }
        // The plan's steps and checks too, and nothing but `code` is markup there.
        let p = page(&c, "/fix-first", &[]).await;
        let blocks: Vec<&str> = p.body.split("<pre>").skip(1).map(|r| &r[..r.find("</pre>").unwrap()]).collect();
        assert!(!blocks.is_empty());
        for block in &blocks {
            assert!(!block.contains('`'), "{block}");
            let tags = block.matches('<').count();
            assert_eq!(tags, block.matches("<code>").count() + block.matches("</code>").count(), "{block}");
        }
        assert!(p.body.contains("<code>curl -6 -v https://"), "a check as code");
        c.stop().await;
    };

    fix_first_is_numbered_once => |db: Db| async move {
        // Regression: each item read "1. 1.": the list's own number, and a
        // number printed in its heading.
        let c = seeded(&db, |_| {}).await;
        let p = page(&c, "/fix-first", &[]).await;
        assert!(p.body.contains("<ol class=\"fix\" id=\"fix-list\">"));
        assert!(!p.body.contains("class=\"rank\""), "{}", p.body);
        let items = p.attrs("data-id").len();
        assert!(items > 0);
        assert_eq!(p.body.matches("<h2><a href=\"/portals/").count(), items, "each heading starts with the portal");
        c.stop().await;
    };

    a_priority_shows_its_parts => |db: Db| async move {
        // Regression: a bare priority (10882) told a manager nothing.
        let c = seeded(&db, |_| {}).await;
        let (_, prio) = c.get("/api/v1/priorities").await;
        let list = prio["priorities"].as_array().unwrap();
        let refused = list.iter().find(|x| x["portal"]["id"] == "v6-refused-0005").unwrap();
        // A broken business portal for 50,000 people, two stages from dual-stack.
        assert_eq!(refused["combined"]["priority"], 10882);
        let p = page(&c, "/portals/v6-refused-0005", &[]).await;
        assert_eq!(p.by_id("priority"), "10882");
        for part in [
            "<li>IPv6 broken, so it comes first: <strong>+10000</strong></li>",
            "<li>Weight of business services: <strong>× 3</strong></li>",
            "<li>Audience of 50000: <strong>× 1.47</strong></li>",
            "<li>Stages to go to stage 3: <strong>× 2</strong></li>",
            "<li class=\"sum\">10000 + 3 × 1.47 × 2 × 100 = 10882</li>",
        ] {
            assert!(p.body.contains(part), "{part} in {}", p.body);
        }
        // On the fix-first list, every item's priority is the API's, and its sum adds up to it.
        let p = page(&c, "/fix-first", &[]).await;
        let expected: Vec<String> = list.iter().map(|x| x["combined"]["priority"].to_string()).collect();
        assert_eq!(p.texts_after("<span class=\"priority\">"), expected);
        let sums = p.texts_after("<li class=\"sum\">");
        assert_eq!(sums.len(), expected.len());
        for (sum, total) in sums.iter().zip(&expected) {
            assert!(sum.ends_with(&format!("= {total}")), "{sum} is not {total}");
        }
        // In Vietnamese.
        let p = page(&c, "/portals/v6-refused-0005", &[("cookie", "v6audit_lang=vi")]).await;
        assert!(p.body.contains("<li>IPv6 bị lỗi nên được xếp trước hết: <strong>+10000</strong></li>"), "{}", p.body);
        assert!(p.body.contains("<li>Trọng số của loại dịch vụ doanh nghiệp: <strong>× 3</strong></li>"), "{}", p.body);
        c.stop().await;
    };

    every_page_in_vietnamese_names_stages_and_categories_in_vietnamese => |db: Db| async move {
        // Regression: English stage names ("1 broken", in the changes'
        // messages), the API's English summary, statuses and the ranking's
        // method reached the Vietnamese dashboard around the word table.
        let (c, token) = seeded_with_token(&db, |_| {}).await;
        let later = good_portal_loses_ipv6(&lab_report());
        assert_eq!(c.push(Some(&token), serde_json::to_vec(&later).unwrap(), false).await.0, 200);
        let (_, portals) = c.get("/api/v1/portals").await;
        let portals = api_portals(&portals);
        let (_, ranking) = c.get("/api/v1/ranking").await;
        let agency = ranking["ranking"][0]["agency"].as_str().unwrap().to_owned();
        let mut paths: Vec<String> = ["/", "/portals", "/agencies", "/fix-first", "/changes", "/admin"]
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        paths.push(format!("/agency?name={}", url::form_urlencoded::byte_serialize(agency.as_bytes()).collect::<String>()));
        paths.extend(portals.iter().map(|p| format!("/portals/{}", p["id"].as_str().unwrap())));
        // The English words: each stage's label and its bare name (but
        // "dual-stack", which inventory names and the pack's Vietnamese use
        // too), the stages as the model writes them ("1 broken"), "not
        // measured", the category labels, and the API's summary.
        let en = &v6audit_collector::dashboard::text::EN;
        let mut english: Vec<String> = en.stages.iter().map(|s| (*s).to_owned()).collect();
        english.extend(en.stages.iter().filter_map(|s| s.split_once(" · ")).map(|(_, name)| name.to_owned()).filter(|name| name != "dual-stack"));
        english.extend(v6audit_model::Stage::ALL.iter().map(|s| s.to_string()));
        english.push(en.unmeasured.to_owned());
        english.extend(en.categories.iter().map(|c| (*c).to_owned()));
        english.push("reachable over IPv6 from".to_owned());
        english.push("went from stage".to_owned());
        let categories = ["citizen", "business", "information", "internal"];
        for path in &paths {
            let p = page(&c, path, &[("cookie", "v6audit_lang=vi")]).await;
            assert_eq!(p.status, 200, "{path}");
            assert!(p.body.contains("<html lang=\"vi\">"), "{path}");
            let text = p.visible_text();
            for word in &english {
                assert!(!text.contains(word.as_str()), "{path}: `{word}` in {text}");
            }
            for word in categories {
                assert!(!has_word(&text, word), "{path}: `{word}` in {text}");
            }
            for status in en.statuses {
                assert!(!p.body.contains(&format!("\">{status}</span>")), "{path}: the status `{status}`");
            }
        }
        // The same words are there in English: the check can fail.
        let p = page(&c, "/portals/v6-refused-0005", &[]).await;
        let text = p.visible_text();
        assert!(text.contains("1 · IPv6 broken") && text.contains("business services"), "{text}");
        assert!(text.contains("reachable over IPv6 from 0 of 1 vantages"), "{text}");
        let p = page(&c, "/changes", &[]).await;
        assert!(p.visible_text().contains("from 4 · IPv6 complete to 1 · IPv6 broken"), "{}", p.body);
        let p = page(&c, "/changes", &[("cookie", "v6audit_lang=vi")]).await;
        assert!(p.visible_text().contains("từ 4 · IPv6 hoàn chỉnh sang 1 · IPv6 bị lỗi"), "{}", p.body);
        c.stop().await;
    };

    admin_actions_need_a_session_and_its_csrf_token => |db: Db| async move {
        let c = seeded(&db, |_| {}).await;
        // Signed out: only the sign-in form.
        let p = page(&c, "/admin", &[]).await;
        assert!(p.body.contains("id=\"login\""));
        assert!(!p.body.contains("name=\"csrf\""));
        let p = post(&c, "/admin/login", &[("token", "wrong")], &[]).await;
        assert_eq!(p.status, 401);
        assert_eq!(p.by_id("error"), "That is not the admin token.");
        // From another site: refused even with the right token.
        let p = post(&c, "/admin/login", &[("token", "admin-secret")], &[("origin", "https://evil.example")]).await;
        assert_eq!(p.status, 403);
        let p = post(&c, "/admin/login", &[("token", "admin-secret")], &[]).await;
        assert_eq!(p.status, 303);
        let set = p.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        let session = set.split(';').next().unwrap().to_owned();
        let p = page(&c, "/admin", &[("cookie", &session)]).await;
        let csrf = p.attrs("value").into_iter().find(|v| v.starts_with("v6a_")).expect("a CSRF token");
        assert_eq!(p.rows("admin-agents", "data-agent"), ["hanoi-1"]);

        // Revoke: without the CSRF token, or without the session, nothing happens.
        let p = post(&c, "/admin/agents/revoke", &[("agent", "hanoi-1")], &[("cookie", &session)]).await;
        assert_eq!(p.status, 403);
        let p = post(&c, "/admin/agents/revoke", &[("agent", "hanoi-1"), ("csrf", &csrf)], &[]).await;
        assert_eq!(p.status, 403);
        let p = post(&c, "/admin/agents/revoke", &[("agent", "hanoi-1"), ("csrf", &csrf)], &[("cookie", &session), ("origin", "https://evil.example")]).await;
        assert_eq!(p.status, 403);
        let agents = c.state.store.agents().await.unwrap();
        assert!(agents[0].revoked_ms.is_none());
        let p = post(&c, "/admin/agents/revoke", &[("agent", "hanoi-1"), ("csrf", &csrf)], &[("cookie", &session)]).await;
        assert_eq!((p.status, p.headers["location"].to_str().unwrap()), (303, "/admin?done=1"));
        assert!(c.state.store.agents().await.unwrap()[0].revoked_ms.is_some());

        // A campaign: an invalid one is refused with its field, nothing stored.
        let bad = [("csrf", csrf.as_str()), ("id", "ipv6-2027"), ("name", "Citizen portals"), ("target_stage", "3"), ("deadline", "2027-02-30"), ("category_citizen", "1")];
        let p = post(&c, "/admin/campaigns", &bad, &[("cookie", &session)]).await;
        assert_eq!(p.status, 400);
        assert!(p.by_id("error").contains("deadline"), "{}", p.by_id("error"));
        assert!(c.state.store.inventories().await.unwrap().is_empty());
        let good = [("csrf", csrf.as_str()), ("id", "ipv6-2027"), ("name", "Citizen portals"), ("target_stage", "3"), ("deadline", "2027-06-30"), ("category_citizen", "1")];
        let p = post(&c, "/admin/campaigns", &good, &[("cookie", &session)]).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let (_, campaigns) = c.get("/api/v1/campaigns").await;
        let made = campaigns["campaigns"].as_array().unwrap().iter().find(|x| x["id"] == "ipv6-2027").expect("the campaign").clone();
        assert_eq!((made["target_stage"].as_i64(), made["deadline"].as_str()), (Some(3), Some("2027-06-30")));
        // Its progress is on the overview.
        let p = page(&c, "/", &[]).await;
        assert_eq!(p.rows("campaign-table", "data-campaign"), ["ipv6-2027"]);

        // An inventory: a broken one names its line, a good one is taken.
        let form = [("csrf", csrf.as_str()), ("name", "extra"), ("text", "schema: v6audit/inventory/v1\nportals:\n  - id: x\n    url: notaurl\n")];
        let p = post(&c, "/admin/inventories", &form, &[("cookie", &session)]).await;
        assert_eq!(p.status, 400);
        assert_eq!(p.by_id("error"), "uploaded:extra:4:10: portals[0].url: invalid URL `notaurl`: relative URL without a base");
        let form = [("csrf", csrf.as_str()), ("name", "extra"), ("text", "schema: v6audit/inventory/v1\nportals:\n  - {id: extra-portal, url: \"https://extra.gov.vn/\", agency: Extra}\n")];
        assert_eq!(post(&c, "/admin/inventories", &form, &[("cookie", &session)]).await.status, 303);
        assert!(page(&c, "/portals", &[]).await.rows("portal-table", "data-id").contains(&"extra-portal".to_owned()));

        // Signing out ends the session.
        assert_eq!(post(&c, "/admin/logout", &[("csrf", &csrf)], &[("cookie", &session)]).await.status, 303);
        assert!(page(&c, "/admin", &[("cookie", &session)]).await.body.contains("id=\"login\""));
        c.stop().await;
    };
}
