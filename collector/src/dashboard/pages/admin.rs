//! The admin page and its forms: sign-in and sign-out, inventory upload,
//! campaign creation and token revocation, each accepted only from a live
//! session with its CSRF token, from this origin.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use v6audit_model::{Category, Stage};

use super::{AgentRow, Opt, agent_rows, failed, options};
use crate::config::hash_token;
use crate::dashboard::{
    Chrome, PageContext, SESSION_COOKIE, admin_session, cookie, html, now_ms, same, same_origin,
    see_other,
};
use crate::state::AppState;
use crate::store::Storage;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    configured: bool,
    signed_in: bool,
    csrf: String,
    notice: String,
    error: String,
    agents: Vec<AgentRow>,
    inventories: Vec<String>,
    stage_options: Vec<Opt>,
    category_options: Vec<Opt>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AdminQuery {
    done: Option<String>,
}

async fn admin_page(
    ctx: &PageContext,
    status: StatusCode,
    notice: String,
    error: String,
) -> Response {
    let state = &ctx.state;
    let t = ctx.t;
    let csrf = admin_session(state, &ctx.headers);
    let (agents, inventories) = if csrf.is_some() {
        let agents = match state.store.agents().await {
            Ok(a) => a,
            Err(e) => return failed(ctx, e),
        };
        let inventories = match state.store.inventories().await {
            Ok(i) => i.into_iter().map(|(n, _)| n).collect(),
            Err(e) => return failed(ctx, e),
        };
        (agent_rows(ctx, &agents), inventories)
    } else {
        (vec![], vec![])
    };
    let page = AdminPage {
        chrome: ctx.chrome("admin", t.admin_title.to_owned(), ""),
        configured: state.config.admin_token_hash.is_some(),
        signed_in: csrf.is_some(),
        csrf: csrf.unwrap_or_default(),
        notice,
        error,
        agents,
        inventories,
        stage_options: options(
            Stage::ALL
                .into_iter()
                .map(|s| (s.number().to_string(), t.stage_label(Some(s)).to_owned())),
            "3",
        ),
        category_options: options(
            Category::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), t.category_label(*c).to_owned())),
            "",
        ),
    };
    html(status, &page)
}

pub(crate) async fn admin(ctx: PageContext, Query(q): Query<AdminQuery>) -> Response {
    let notice = if q.done.is_some() {
        ctx.t.done_ok.to_owned()
    } else {
        String::new()
    };
    admin_page(&ctx, StatusCode::OK, notice, String::new()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

pub(crate) async fn admin_login(ctx: PageContext, Form(form): Form<LoginForm>) -> Response {
    let state = &ctx.state;
    if !same_origin(&ctx.headers) {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    let Some(expected) = state.config.admin_token_hash else {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.admin_not_configured.to_owned(),
        )
        .await;
    };
    if !same(&hash_token(&form.token), &expected) {
        tracing::warn!("a dashboard sign-in with a wrong admin token");
        return admin_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            String::new(),
            ctx.t.wrong_token.to_owned(),
        )
        .await;
    }
    let Some((id, _)) = state.sessions.start() else {
        return failed(&ctx, "the system random generator failed");
    };
    let secure = if state.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let mut r = see_other("/admin");
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Checks an admin form: a live session, the session's CSRF token, this origin.
fn admin_form(state: &AppState, headers: &HeaderMap, csrf: &str) -> bool {
    same_origin(headers)
        && admin_session(state, headers)
            .is_some_and(|expected| same(expected.as_bytes(), csrf.as_bytes()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn admin_logout(ctx: PageContext, Form(form): Form<CsrfForm>) -> Response {
    if !admin_form(&ctx.state, &ctx.headers, &form.csrf) {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    if let Some(id) = cookie(&ctx.headers, SESSION_COOKIE) {
        ctx.state.sessions.end(id);
    }
    let mut r = see_other("/admin");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("v6audit_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// Runs an admin action: refused (403) without a valid form; its error shown on the page.
async fn admin_action<F, Fut>(ctx: PageContext, csrf: &str, action: F) -> Response
where
    F: FnOnce(Arc<AppState>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    if !admin_form(&ctx.state, &ctx.headers, csrf) {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    match action(Arc::clone(&ctx.state)).await {
        Ok(()) => see_other("/admin?done=1"),
        Err(e) => admin_page(&ctx, StatusCode::BAD_REQUEST, String::new(), e).await,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct UploadForm {
    #[serde(default)]
    csrf: String,
    name: String,
    text: String,
}

pub(crate) async fn admin_upload(ctx: PageContext, Form(form): Form<UploadForm>) -> Response {
    let csrf = form.csrf.clone();
    admin_action(ctx, &csrf, |state| async move {
        crate::api::store_inventory(&state, &form.name, form.text)
            .await
            .map(|_| ())
            .map_err(|e| e.0.message)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CampaignForm {
    #[serde(default)]
    csrf: String,
    id: String,
    #[serde(default)]
    name: String,
    target_stage: u8,
    deadline: String,
    #[serde(default)]
    agencies: String,
    #[serde(default)]
    tags: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// A campaign made on the admin page is stored as an inventory of its own
/// (`campaign-ID`) that holds only the campaign, so it is validated, listed
/// and reloaded like any inventory.
fn campaign_inventory(form: &CampaignForm) -> String {
    let categories: Vec<&str> = Category::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| form.rest.contains_key(&format!("category_{c}")))
        .collect();
    let agencies: Vec<&str> = form
        .agencies
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tags: Vec<&str> = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut campaign = serde_json::json!({
        "id": form.id.trim(),
        "target_stage": form.target_stage,
        "deadline": form.deadline.trim(),
        "select": {},
    });
    if !form.name.trim().is_empty() {
        campaign["name"] = form.name.trim().into();
    }
    if !categories.is_empty() {
        campaign["select"]["categories"] = categories.into();
    }
    if !agencies.is_empty() {
        campaign["select"]["agencies"] = agencies.into();
    }
    if !tags.is_empty() {
        campaign["select"]["tags"] = tags.into();
    }
    // JSON is YAML: the inventory parser reads it with its line and field errors.
    serde_json::to_string_pretty(&serde_json::json!({
        "schema": v6audit_model::inventory::INVENTORY_SCHEMA,
        "name": format!("campaign {}", form.id.trim()),
        "portals": [],
        "campaigns": [campaign],
    }))
    .unwrap_or_default()
}

pub(crate) async fn admin_campaign(ctx: PageContext, Form(form): Form<CampaignForm>) -> Response {
    let csrf = form.csrf.clone();
    admin_action(ctx, &csrf, |state| async move {
        let text = campaign_inventory(&form);
        let name = format!("campaign-{}", form.id.trim());
        crate::api::store_inventory(&state, &name, text)
            .await
            .map(|_| ())
            .map_err(|e| e.0.message)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    agent: String,
}

pub(crate) async fn admin_revoke(ctx: PageContext, Form(form): Form<RevokeForm>) -> Response {
    let csrf = form.csrf.clone();
    admin_action(ctx, &csrf, |state| async move {
        match state.store.revoke_agent(&form.agent, now_ms()).await {
            Ok(true) => {
                tracing::info!(agent = %form.agent, "token revoked on the dashboard");
                Ok(())
            }
            Ok(false) => Err(format!("no agent named `{}`", form.agent)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}
