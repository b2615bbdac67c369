//! The inventories: `GET /api/v1/inventory` for agents, and the admin's
//! upload (`PUT /api/v1/inventories/{name}`, also the dashboard's form).

use super::*;

pub(super) async fn inventory(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers).await?;
    Ok(Json(state.catalog().inventory_json()).into_response())
}

pub(super) async fn upload_inventory(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    use crate::body::FORM_LIMIT;
    if let Err(refusal) = admin(&state, &headers) {
        crate::body::drain(body, FORM_LIMIT).await;
        return Err(refusal);
    }
    let (body, _held) = crate::body::read(
        body,
        FORM_LIMIT,
        FORM_LIMIT,
        &state.bodies,
        state.config.idle_timeout,
    )
    .await
    .map_err(|e| unread(e, FORM_LIMIT))?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError(Refusal::new(
            400,
            "invalid_inventory",
            "the inventory is not UTF-8",
        ))
    })?;
    Ok(Json(store_inventory(&state, &name, text).await?).into_response())
}

/// Validates an inventory (alone, then with every other one), stores it and
/// makes it the catalog's; nothing is stored when it is refused.
pub(crate) async fn store_inventory(
    state: &AppState,
    name: &str,
    text: String,
) -> Result<serde_json::Value, ApiError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError(Refusal::new(
            400,
            "invalid_name",
            "inventory names are 1 to 64 letters, digits, - and _",
        )));
    }
    let source = format!("uploaded:{name}");
    let parsed = v6audit_model::Inventory::parse(&text, &source).map_err(|e| {
        let mut r = Refusal::new(400, "invalid_inventory", e.to_string());
        r.field = e.errors().first().and_then(|x| x.field.clone());
        ApiError(r)
    })?;
    // Check the whole catalog builds with it before storing anything.
    let mut uploaded = state.store.inventories().await.map_err(internal)?;
    uploaded.retain(|(n, _)| n != name);
    uploaded.push((name.to_owned(), text.clone()));
    let catalog = Catalog::build(&state.config.inventories, &uploaded)
        .map_err(|e| ApiError(Refusal::new(400, "invalid_inventory", e.to_string())))?;
    state
        .store
        .put_inventory(name, &text, now_ms())
        .await
        .map_err(internal)?;
    state.set_catalog(catalog);
    tracing::info!(inventory = %name, portals = parsed.portals.len(), "inventory uploaded");
    Ok(
        json!({"inventory": name, "portals": parsed.portals.len(), "campaigns": parsed.campaigns.len()}),
    )
}
