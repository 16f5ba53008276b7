//! The endpoints, their errors (`{"error": "..."}` with the status that fits) and access (a
//! bearer token, when one is set).

use super::metrics::Snapshot;
use super::{same_secret, watch, Shared};
use crate::cli::MAX_BATCH;
use crate::net::Node;
use axum::body::{to_bytes, Body};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use p2p_sync_core::store::Store;
use p2p_sync_core::validate::{validate_key, validate_value};
use p2p_sync_core::{CommandError, Write};
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest `POST /v1/import` body.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// Items in a page of `GET /v1/kv` unless `limit` says otherwise, and the most it may ask.
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 10_000;

/// The status page.
const PAGE: &str = include_str!("page.html");

/// An error answer: its status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }

    fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn storage(error: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("storage error: {error}"),
        )
    }
}

/// The node stopped before it answered.
fn shutting_down() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the node is shutting down")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type Answer = Result<Response, ApiError>;

/// Every route, behind the token check.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/v1/kv", get(list))
        .route(
            "/v1/kv/{*key}",
            get(get_key).put(put_key).delete(delete_key),
        )
        .route("/v1/import", axum::routing::post(import))
        .route("/v1/status", get(status))
        .route("/v1/watch", get(watch::watch))
        .route("/metrics", get(super::metrics::metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::from_fn_with_state(shared.clone(), authorize))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            super::local::local_only,
        ))
        .with_state(shared)
}

/// With a token set, every request must carry `Authorization: Bearer TOKEN`.
async fn authorize(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(token) = &shared.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if !same_secret(given, token.as_bytes()) {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send Authorization: Bearer TOKEN",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The key in the path, checked as the REPL checks it.
fn checked_key(shared: &Shared, key: &str) -> Result<(), ApiError> {
    validate_key(key, &shared.config)
        .map_err(|error| ApiError::bad(format!("invalid key: {error}")))
}

/// A write's version as JSON.
pub fn version_json(write: &Write) -> Value {
    json!({
        "time_ms": write.version.hlc.wall_ms,
        "counter": write.version.hlc.counter,
        "origin": write.version.origin,
    })
}

/// The body, up to `limit` bytes: refused with 413 from its `Content-Length`, or as soon as
/// more arrives, before it is all read.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(error) if is_length_limit(&error) => Err(too_large()),
        Err(error) => Err(ApiError::bad(format!("cannot read the body: {error}"))),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.to_string().contains("length limit") {
            return true;
        }
        cause = current.source();
    }
    false
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

async fn get_key(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Answer {
    checked_key(&shared, &key)?;
    let lookup = key.clone();
    let found = shared
        .call(move |node: &mut Node| node.store().get(&lookup))
        .await
        .ok_or_else(shutting_down)?
        .map_err(ApiError::storage)?;
    let Some(write) = found.filter(|write| write.value.is_some()) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("not found: {key}"),
        ));
    };
    if wants_json(&headers) {
        return Ok(Json(json!({
            "key": write.key,
            "value": write.value,
            "version": version_json(&write),
        }))
        .into_response());
    }
    let version =
        |text: String| HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("?"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::HeaderName::from_static("x-version-time"),
                version(write.version.hlc.wall_ms.to_string()),
            ),
            (
                header::HeaderName::from_static("x-version-counter"),
                version(write.version.hlc.counter.to_string()),
            ),
            (
                header::HeaderName::from_static("x-version-origin"),
                version(write.version.origin.clone()),
            ),
        ],
        write.value.unwrap_or_default(),
    )
        .into_response())
}

async fn put_key(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    checked_key(&shared, &key)?;
    let bytes = read_body(&headers, body, shared.config.max_value_bytes, "the value").await?;
    let value = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad("the value is not valid UTF-8 (values are text)"))?;
    validate_value(&value, &shared.config)
        .map_err(|error| ApiError::bad(format!("invalid value: {error}")))?;
    let verdicts = shared
        .call(move |node: &mut Node| node.put_many(&[(key, value)]))
        .await
        .ok_or_else(shutting_down)?
        .map_err(ApiError::storage)?;
    match verdicts.into_iter().next() {
        Some(Ok(write)) => {
            Ok(Json(json!({ "key": write.key, "version": version_json(&write) })).into_response())
        }
        Some(Err(error)) => Err(ApiError::bad(format!("invalid input: {error}"))),
        None => Err(ApiError::storage("no verdict")),
    }
}

async fn delete_key(State(shared): State<Shared>, Path(key): Path<String>) -> Answer {
    checked_key(&shared, &key)?;
    let deleted = key.clone();
    let had_value = shared
        .call(move |node: &mut Node| node.delete(&deleted))
        .await
        .ok_or_else(shutting_down)?
        .map_err(|error| match error {
            CommandError::Invalid(error) => ApiError::bad(format!("invalid key: {error}")),
            CommandError::Store(error) => ApiError::storage(error),
        })?;
    Ok(Json(json!({ "key": key, "deleted": true, "had_value": had_value })).into_response())
}

/// `GET /v1/kv` parameters.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    prefix: String,
    limit: Option<usize>,
    #[serde(default)]
    after: String,
}

async fn list(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Answer {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let ListQuery { prefix, after, .. } = query;
    let mut page = shared
        .call(move |node: &mut Node| node.store().live_page(&prefix, &after, limit + 1))
        .await
        .ok_or_else(shutting_down)?
        .map_err(ApiError::storage)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more {
        page.last().map(|write| write.key.clone())
    } else {
        None
    };
    let items: Vec<Value> = page
        .iter()
        .map(|write| json!({ "key": write.key, "value": write.value, "version": version_json(write) }))
        .collect();
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}

/// One NDJSON line of `POST /v1/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    key: String,
    value: Option<String>,
    #[serde(default)]
    delete: bool,
}

/// One checked import line: a put, or a delete when the value is `None`.
type Operation = (String, Option<String>);

/// Checks every line before anything is stored: a bad line refuses the whole body.
fn parse_import(shared: &Shared, body: &[u8]) -> Result<Vec<Operation>, ApiError> {
    let mut operations = Vec::new();
    for (index, line) in body.split(|&byte| byte == b'\n').enumerate() {
        let number = index + 1;
        let refuse = |problem: String| {
            ApiError::bad(format!("line {number}: {problem} (nothing was imported)"))
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: ImportLine = serde_json::from_slice(line).map_err(|error| {
            refuse(format!(
                "not {{\"key\":…,\"value\":…}} or {{\"key\":…,\"delete\":true}}: {error}"
            ))
        })?;
        validate_key(&parsed.key, &shared.config)
            .map_err(|error| refuse(format!("invalid key: {error}")))?;
        let value = match (parsed.value, parsed.delete) {
            (Some(value), false) => {
                validate_value(&value, &shared.config)
                    .map_err(|error| refuse(format!("invalid value: {error}")))?;
                Some(value)
            }
            (None, true) => None,
            _ => return Err(refuse("give either a value or \"delete\": true".into())),
        };
        operations.push((parsed.key, value));
    }
    Ok(operations)
}

/// Stores a chunk of operations in order: consecutive puts in one transaction and one gossip
/// batch, as piped `add`s are; deletes one by one, as `delete` does. Counts puts and deletes.
fn apply_chunk(node: &mut Node, chunk: Vec<Operation>) -> Result<(u64, u64), ApiError> {
    let (mut put, mut deleted) = (0, 0);
    let mut puts: Vec<(String, String)> = Vec::new();
    let flush = |node: &mut Node, puts: &mut Vec<(String, String)>| -> Result<u64, ApiError> {
        if puts.is_empty() {
            return Ok(0);
        }
        let verdicts = node
            .put_many(&std::mem::take(puts))
            .map_err(ApiError::storage)?;
        Ok(verdicts.iter().filter(|verdict| verdict.is_ok()).count() as u64)
    };
    for (key, value) in chunk {
        match value {
            Some(value) => puts.push((key, value)),
            None => {
                put += flush(node, &mut puts)?;
                match node.delete(&key) {
                    Ok(_) => deleted += 1,
                    Err(CommandError::Store(error)) => return Err(ApiError::storage(error)),
                    Err(CommandError::Invalid(error)) => {
                        return Err(ApiError::bad(error.to_string()))
                    }
                }
            }
        }
    }
    put += flush(node, &mut puts)?;
    Ok((put, deleted))
}

async fn import(State(shared): State<Shared>, headers: HeaderMap, body: Body) -> Answer {
    let body = read_body(&headers, body, MAX_IMPORT_BYTES, "the import").await?;
    let operations = parse_import(&shared, &body)?;
    drop(body);
    let (mut put, mut deleted) = (0, 0);
    let mut operations = operations.into_iter();
    loop {
        let chunk: Vec<Operation> = operations.by_ref().take(MAX_BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        let (p, d) = shared
            .call(move |node: &mut Node| apply_chunk(node, chunk))
            .await
            .ok_or_else(shutting_down)??;
        put += p;
        deleted += d;
    }
    Ok(Json(json!({ "put": put, "deleted": deleted })).into_response())
}

async fn status(State(shared): State<Shared>) -> Answer {
    let snapshot = Snapshot::take(&shared).await?;
    Ok(Json(snapshot.to_json()).into_response())
}
