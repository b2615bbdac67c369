//! The portals: the table of every portal, filtered (search, agency,
//! category, stage, tag, vantage) and sorted on the server, the same as the
//! script does in place.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use v6audit_model::{Category, PortalInfo, Stage};

use super::{Opt, PageResult, failed, options, portal_href, stage_class};
use crate::dashboard::{Chrome, PageContext, html};
use crate::queries::snapshot;
use crate::views::PortalView;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PortalFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    vantage: String,
    #[serde(default)]
    sort: String,
}

#[derive(Debug)]
struct Header {
    key: &'static str,
    kind: &'static str,
    label: &'static str,
    href: String,
    active: bool,
    aria: &'static str,
}

#[derive(Debug)]
struct PortalRow {
    id: String,
    href: String,
    name: String,
    url: String,
    agency: String,
    stage_key: i64,
    stage_label: &'static str,
    stage_class: &'static str,
    reach: String,
    reach_key: usize,
    priority: u32,
    observed: String,
    observed_key: String,
    search: String,
}

#[derive(Template)]
#[template(path = "portals.html")]
struct PortalsPage {
    chrome: Chrome,
    f: PortalFilter,
    agencies: Vec<Opt>,
    categories: Vec<Opt>,
    stages: Vec<Opt>,
    tags: Vec<Opt>,
    vantages: Vec<Opt>,
    headers: Vec<Header>,
    rows: Vec<PortalRow>,
    total: usize,
}

fn portal_row(ctx: &PageContext, v: &PortalView) -> PortalRow {
    let p = &v.portal;
    let newest = v.vantages.iter().map(|x| x.observed_at.clone()).max();
    let newest_ms = newest.as_deref().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
    });
    let search = search_text(p);
    PortalRow {
        id: p.id.clone(),
        href: portal_href(&p.id),
        name: p.name.clone().unwrap_or_default(),
        url: p.url.clone(),
        agency: p.agency.clone().unwrap_or_default(),
        stage_key: v.combined.stage.map_or(-1, |s| i64::from(s.number())),
        stage_label: ctx.t.stage_label(v.combined.stage),
        stage_class: stage_class(v.combined.stage),
        reach: format!("{}/{}", v.combined.reachable_from, v.combined.vantages),
        reach_key: v.combined.reachable_from,
        priority: v.combined.priority,
        observed: newest_ms.map(|ms| ctx.datetime(ms)).unwrap_or_default(),
        observed_key: newest.unwrap_or_default(),
        search,
    }
}

/// Whether a portal passes the page's filters.
/// What the search box looks in: id, name, address and agency, lower case
/// (the server's filter and the script's, through `data-search`).
fn search_text(p: &PortalInfo) -> String {
    format!(
        "{} {} {} {}",
        p.id,
        p.name.as_deref().unwrap_or(""),
        p.url,
        p.agency.as_deref().unwrap_or("")
    )
    .to_lowercase()
}

fn matches(v: &PortalView, f: &PortalFilter, vantage_of: &BTreeMap<String, String>) -> bool {
    let p = &v.portal;
    let q = f.q.trim().to_lowercase();
    if !q.is_empty() && !search_text(p).contains(&q) {
        return false;
    }
    if !f.agency.is_empty() && p.agency.as_deref() != Some(f.agency.as_str()) {
        return false;
    }
    if !f.category.is_empty() && p.category.as_str() != f.category {
        return false;
    }
    match f.stage.as_str() {
        "" => {}
        "unmeasured" if v.combined.stage.is_some() => return false,
        "unmeasured" => {}
        s if v
            .combined
            .stage
            .is_none_or(|stage| s.parse::<u8>().ok() != Some(stage.number())) =>
        {
            return false;
        }
        _ => {}
    }
    if !f.tag.is_empty() && !p.tags.contains(&f.tag) {
        return false;
    }
    if !f.vantage.is_empty()
        && !v.vantages.iter().any(|x| {
            x.vantage.as_deref() == Some(f.vantage.as_str())
                || (x.vantage.is_none() && vantage_of.get(&x.agent) == Some(&f.vantage))
                || x.agent == f.vantage
        })
    {
        return false;
    }
    true
}

const SORTS: [(&str, &str); 7] = [
    ("priority", "num"),
    ("id", "text"),
    ("name", "text"),
    ("agency", "text"),
    ("stage", "num"),
    ("reach", "num"),
    ("observed", "text"),
];

pub(crate) async fn portals(ctx: PageContext, Query(f): Query<PortalFilter>) -> Response {
    portals_inner(&ctx, f).await.unwrap_or_else(|r| r)
}

async fn portals_inner(ctx: &PageContext, f: PortalFilter) -> PageResult {
    let t = ctx.t;
    let s = snapshot(&ctx.state).await.map_err(|e| failed(ctx, e))?;
    let vantage_of: BTreeMap<String, String> = s
        .agents
        .iter()
        .filter_map(|a| a.vantage.clone().map(|v| (a.name.clone(), v)))
        .collect();
    let mut rows: Vec<(PortalRow, &PortalView)> = s
        .views
        .iter()
        .filter(|v| matches(v, &f, &vantage_of))
        .map(|v| (portal_row(ctx, v), v))
        .collect();
    let (desc, key) = sort_of(&f.sort);
    sort_rows(&mut rows, key, desc);
    let headers = column_headers(ctx, &f, key, desc);
    let agencies: BTreeSet<String> = s
        .views
        .iter()
        .filter_map(|v| v.portal.agency.clone())
        .collect();
    let tags: BTreeSet<String> = s.views.iter().flat_map(|v| v.portal.tags.clone()).collect();
    let vantages: BTreeSet<String> = s
        .agents
        .iter()
        .map(|a| a.vantage.clone().unwrap_or_else(|| a.name.clone()))
        .collect();
    let total = s.views.len();
    let page = PortalsPage {
        chrome: ctx.chrome("portals", t.portals_title.to_owned(), "/api/v1/portals"),
        agencies: options(agencies.into_iter().map(|a| (a.clone(), a)), &f.agency),
        categories: options(
            Category::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), t.category_label(*c).to_owned())),
            &f.category,
        ),
        stages: options(
            Stage::ALL
                .into_iter()
                .map(|s| (s.number().to_string(), t.stage_label(Some(s)).to_owned()))
                .chain([("unmeasured".to_owned(), t.unmeasured.to_owned())]),
            &f.stage,
        ),
        tags: options(tags.into_iter().map(|a| (a.clone(), a)), &f.tag),
        vantages: options(vantages.into_iter().map(|a| (a.clone(), a)), &f.vantage),
        headers,
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        total,
        f: PortalFilter {
            sort: if f.sort.is_empty() {
                "-priority".to_owned()
            } else {
                f.sort.clone()
            },
            ..f
        },
    };
    Ok(html(StatusCode::OK, &page))
}

/// The sort the filter's `sort` asks for, `-` in front for descending: by
/// default most urgent first; a key not in [`SORTS`] sorts by priority.
fn sort_of(sort: &str) -> (bool, &'static str) {
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None if sort.is_empty() => (true, "priority"),
        None => (false, sort),
    };
    let key = SORTS
        .iter()
        .find(|s| s.0 == key)
        .map_or("priority", |s| s.0);
    (desc, key)
}

/// Sorts the rows by `key` (then by id), descending when `desc`.
fn sort_rows(rows: &mut [(PortalRow, &PortalView)], key: &str, desc: bool) {
    rows.sort_by(|(a, _), (b, _)| {
        let o = match key {
            "id" => a.id.cmp(&b.id),
            "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            "agency" => a.agency.cmp(&b.agency),
            "stage" => a.stage_key.cmp(&b.stage_key),
            "reach" => a.reach_key.cmp(&b.reach_key),
            "observed" => a.observed_key.cmp(&b.observed_key),
            _ => a.priority.cmp(&b.priority),
        };
        let o = if desc { o.reverse() } else { o };
        o.then(a.id.cmp(&b.id))
    });
}

/// The table's column headers, in its order: each a link that sorts by
/// its column, keeping the filter.
fn column_headers(ctx: &PageContext, f: &PortalFilter, key: &str, desc: bool) -> Vec<Header> {
    let t = ctx.t;
    let labels = [
        t.priority,
        t.portal,
        t.name,
        t.agency,
        t.stage,
        t.reachable_from,
        t.observed,
    ];
    // The column order of the table, with the label of each key.
    let columns = [
        ("id", 1),
        ("name", 2),
        ("agency", 3),
        ("stage", 4),
        ("reach", 5),
        ("priority", 0),
        ("observed", 6),
    ];
    let base_query = |sort: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &f.q),
            ("agency", &f.agency),
            ("category", &f.category),
            ("stage", &f.stage),
            ("tag", &f.tag),
            ("vantage", &f.vantage),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("sort", sort);
        format!("/portals?{}", q.finish())
    };
    columns
        .iter()
        .map(|(k, label)| {
            let kind = SORTS.iter().find(|s| s.0 == *k).map_or("text", |s| s.1);
            let active = *k == key;
            // A click on the active column flips it; on another, sorts it
            // (numbers high first, text A to Z).
            let next = if active {
                if desc { k.to_string() } else { format!("-{k}") }
            } else if kind == "num" {
                format!("-{k}")
            } else {
                k.to_string()
            };
            Header {
                key: k,
                kind,
                label: labels[*label],
                href: base_query(&next),
                active,
                aria: if desc { "descending" } else { "ascending" },
            }
        })
        .collect()
}
