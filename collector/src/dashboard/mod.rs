//! The dashboard: server-rendered HTML pages for IT departments, on the
//! same port as the API. This module owns what every page shares: the
//! routes, read access (public, or viewer tokens and Basic auth), the
//! administrator's sessions with their CSRF tokens (the cookie and the
//! checks; the sessions themselves are kept in the state, `sessions.rs`),
//! the language (a switch on every page, remembered in a cookie), dates in
//! the configured time zone, the security headers (a strict
//! Content-Security-Policy) and the static files, and the context every page
//! is rendered in ([`PageContext`], an axum extractor). The pages themselves
//! are in `pages/`, one file each, their words in `text/`, their charts in
//! `svg.rs`, the pack's texts as HTML in `markup.rs`.

mod markup;
mod pages;
pub mod svg;
pub mod text;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use v6audit_model::Lang;

use crate::config::{Access, hash_token};
use crate::state::AppState;
pub(crate) use crate::state::now_ms;
use text::Texts;

/// The cookie that holds an administrator's session id (HttpOnly, SameSite=Strict, 12 hours).
pub const SESSION_COOKIE: &str = "v6audit_session";
/// The cookie that remembers the language chosen with the switch (a year).
pub const LANG_COOKIE: &str = "v6audit_lang";
pub use crate::projections::CHART_DAYS;

/// The policy every page is served with: nothing from elsewhere, no inline
/// script or style, forms only to this origin, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");
const ICON_SVG: &str = include_str!("../../static/icon.svg");

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Compares two secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of the request's admin session, when it has a live one.
fn admin_session(state: &AppState, headers: &HeaderMap) -> Option<String> {
    state.config.admin_token_hash?;
    cookie(headers, SESSION_COOKIE).and_then(|id| state.sessions.csrf(id))
}

/// Whether the request may read: a public dashboard, or a viewer token or
/// the admin token (Bearer, or the password of Basic auth), or an admin session.
fn may_read(state: &AppState, headers: &HeaderMap) -> bool {
    let d = &state.config.dashboard;
    if d.access == Access::Public {
        return true;
    }
    let accepted = |secret: &str| {
        let h = hash_token(secret);
        d.viewer_token_hashes.iter().any(|v| same(v, &h))
            || state.config.admin_token_hash.is_some_and(|a| same(&a, &h))
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = auth.strip_prefix("Bearer ")
        && accepted(token.trim())
    {
        return true;
    }
    if let Some(b64) = auth.strip_prefix("Basic ")
        && let Some(decoded) = base64_decode(b64.trim())
        && let Ok(text) = String::from_utf8(decoded)
        && let Some((_, password)) = text.split_once(':')
        && accepted(password)
    {
        return true;
    }
    admin_session(state, headers).is_some()
}

/// Standard base64 (RFC 4648), for Basic auth; padding optional, at most
/// 4 KiB of input.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if s.len() > 4096 {
        return None;
    }
    LENIENT.decode(s).ok()
}

/// Refuses reads the configuration does not allow (pages and the read API).
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if may_read(&state, req.headers()) {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "This v6audit dashboard is private: sign in with a viewer token (any user name, the token as password), or as administrator at /admin.\n",
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"v6audit\", charset=\"UTF-8\""),
    );
    r
}

/// The language of a request: `?lang=`, else the cookie, else the browser's
/// first choice between English and Vietnamese, else the configured default.
pub fn lang_of(state: &AppState, headers: &HeaderMap, query: Option<&str>) -> Lang {
    if let Some(l) = query.and_then(|q| q.parse().ok()) {
        return l;
    }
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|c| c.parse().ok()) {
        return l;
    }
    if let Some(accept) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    {
        for part in accept.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("vi") {
                return Lang::Vi;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
    }
    state.config.dashboard.default_lang
}

/// What the page frame shows: navigation, the language switch, the footer.
#[derive(Debug)]
pub struct Chrome {
    /// The words of the page's language.
    pub t: &'static Texts,
    /// The page's language code (`en` or `vi`), for `<html lang>`.
    pub lang: &'static str,
    /// The navigation entry marked current (`overview`, `portals`, …); empty for none.
    pub nav: &'static str,
    /// The page's title, in `<title>` and its heading.
    pub title: String,
    /// The link that switches to English and returns to this page.
    pub switch_en: String,
    /// The link that switches to Vietnamese and returns to this page.
    pub switch_vi: String,
    /// The time zone the page's times are in, with its offset now: `Asia/Ho_Chi_Minh (UTC+07)`.
    pub tz: String,
    /// When the page was made, in that zone, to the minute.
    pub generated: String,
    /// The API address with the same numbers.
    pub api: String,
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The context of one page request.
#[derive(Debug)]
pub struct PageContext {
    /// The collector's shared state.
    pub state: Arc<AppState>,
    /// The page's language ([`lang_of`]).
    pub lang: Lang,
    /// The words of `lang`.
    pub t: &'static Texts,
    /// Path and query of the request, for the language switch to return to.
    pub here: String,
    /// The request's headers: cookies, and the admin forms' origin check.
    pub headers: HeaderMap,
}

impl PageContext {
    /// The context of a request with these headers and this URI.
    pub fn new(state: Arc<AppState>, headers: &HeaderMap, uri: &axum::http::Uri) -> Self {
        let query_lang = uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        let lang = lang_of(&state, headers, query_lang.as_deref());
        let here = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Self {
            state,
            lang,
            t: Texts::of(lang),
            here,
            headers: headers.clone(),
        }
    }

    /// The frame of a page: `nav` is its navigation entry, `api` the API address with the same
    /// numbers (empty for none).
    pub fn chrome(&self, nav: &'static str, title: String, api: &str) -> Chrome {
        let zone = &self.state.config.time_zone;
        let offset = zone.to_offset(jiff::Timestamp::now());
        Chrome {
            t: self.t,
            lang: self.lang.code(),
            nav,
            title,
            switch_en: format!("/lang/en?back={}", enc(&self.here)),
            switch_vi: format!("/lang/vi?back={}", enc(&self.here)),
            tz: format!("{} (UTC{offset})", self.state.config.time_zone_name),
            generated: self.datetime(now_ms()),
            api: api.to_owned(),
        }
    }

    /// A time in the configured zone, to the minute.
    pub fn datetime(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).map_or_else(
            |_| String::new(),
            |t| {
                t.to_zoned(self.state.config.time_zone.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            },
        )
    }
}

/// Every page handler takes its context as an argument: the language and
/// the rest are read from the request's head, and nothing can refuse it.
impl FromRequestParts<Arc<AppState>> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::new(Arc::clone(state), &parts.headers, &parts.uri))
    }
}

/// A rendered page with the security headers; `no-store`, since pages can
/// show private data.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render\n",
            )
                .into_response()
        }
    }
}

/// Security headers for every dashboard answer, pages and static files alike.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

#[derive(Debug, Deserialize)]
struct Back {
    back: Option<String>,
}

/// The origin a `back=` path is joined onto to see where it leads.
const LOCAL_BASE: &str = "http://collector.invalid/";

/// Only a path on this site, else `/`. The path must start with one `/`,
/// hold no control character and no backslash (browsers drop tabs and line
/// breaks, and read `\` as `/`: `/<TAB>/host` is `//host`), and, joined onto
/// a fixed base URL, keep the base's origin. What is returned is the joined
/// URL's path and query, percent-encoded, so the `Location` is plain ASCII.
fn local_path(back: Option<&str>) -> String {
    let Some(b) = back else {
        return "/".to_owned();
    };
    if !b.starts_with('/') || b.starts_with("//") || b.chars().any(|c| c.is_control() || c == '\\')
    {
        return "/".to_owned();
    }
    let Ok(base) = url::Url::parse(LOCAL_BASE) else {
        return "/".to_owned();
    };
    match base.join(b) {
        Ok(u) if u.origin() == base.origin() => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        _ => "/".to_owned(),
    }
}

/// Sets the language cookie and returns to the page (without its `lang=`).
async fn switch_lang(Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let Ok(lang) = code.parse::<Lang>() else {
        return (StatusCode::NOT_FOUND, "unknown language (en or vi)\n").into_response();
    };
    let back = local_path(q.back.as_deref());
    let back = strip_lang_param(&back);
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn strip_lang_param(path: &str) -> String {
    let Some((p, q)) = path.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return p.to_owned();
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{p}?{q}")
}

/// A POST from a page of this collector: the Origin (or Referer), when the
/// browser sends one, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(o) => url::Url::parse(o).ok().is_some_and(|u| {
            let authority = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return false,
            };
            authority.eq_ignore_ascii_case(host)
        }),
    }
}

/// The pages that need read access.
pub fn pages(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/portals", get(pages::portals))
        .route("/portals/{id}", get(pages::portal))
        .route("/agencies", get(pages::agencies))
        .route("/agency", get(pages::agency))
        .route("/fix-first", get(pages::fix_first))
        .route("/changes", get(pages::changes))
        .route_layer(axum::middleware::from_fn_with_state(state, guard))
}

/// The pages open to everyone: static files, the language switch, the admin
/// page (which has its own sign-in).
pub fn open_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/static/icon.svg",
            get(|| async { asset("image/svg+xml", ICON_SVG) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/static/icon.svg") }),
        )
        .route("/lang/{code}", get(switch_lang))
        .route("/admin", get(pages::admin))
        .route("/admin/login", post(pages::admin_login))
        .route("/admin/logout", post(pages::admin_logout))
        .route("/admin/inventories", post(pages::admin_upload))
        .route("/admin/campaigns", post(pages::admin_campaign))
        .route("/admin/agents/revoke", post(pages::admin_revoke))
}

/// The HTML answer for a path nothing serves.
pub fn not_found(state: Arc<AppState>, headers: &HeaderMap, uri: &axum::http::Uri) -> Response {
    let ctx = PageContext::new(state, headers, uri);
    pages::error_page(
        &ctx,
        StatusCode::NOT_FOUND,
        ctx.t.not_found,
        ctx.t.not_found,
    )
}

/// Body of a redirect after a POST (303 See Other).
fn see_other(to: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(
            base64_decode("dmlld2VyOnNlY3JldA==").as_deref(),
            Some(&b"viewer:secret"[..])
        );
        assert_eq!(base64_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert!(base64_decode("!!!!").is_none());
    }

    #[test]
    fn the_language_switch_returns_only_to_this_site() {
        assert_eq!(local_path(Some("/portals?q=a")), "/portals?q=a");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(None), "/");
        // Regression: a tab (or any control character) was let through, and
        // browsers drop it, so `/<TAB>/host` went to `//host`.
        assert_eq!(local_path(Some("/\t/127.0.0.1:19198/")), "/");
        assert_eq!(local_path(Some("/\n/evil.example/")), "/");
        assert_eq!(local_path(Some("/\u{7f}/evil.example/")), "/");
        assert_eq!(local_path(Some("/x\\y")), "/");
        assert_eq!(
            local_path(Some("/portals/é?q=a b")),
            "/portals/%C3%A9?q=a%20b"
        );
        assert_eq!(strip_lang_param("/portals?lang=vi&q=x"), "/portals?q=x");
        assert_eq!(strip_lang_param("/?lang=en"), "/");
    }

    #[test]
    fn a_post_from_another_site_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://[::1]:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
    }
}
