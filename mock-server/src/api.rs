//! The hub's HTTP interface `/v1/…` (documented in `mock-server/openapi.json`, served at
//! `/v1/openapi.json`): axum handlers that turn requests into [`Hub`] calls and [`HubError`]s into
//! JSON refusals, and the audit middleware that appends every request and its outcome to the trace.
//!
//! Identity comes from the connection ([`PeerInfo`], set by the TLS listener from the client
//! certificate); a session token (`Authorization: Bearer …` from `POST /v1/login`) names the user
//! and terminal. Store and password work runs on the blocking pool.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, extract::multipart::MultipartRejection};
use serde::Serialize;

use crate::conn::EarlyRefusal;
use crate::error::{Code, HubError};
use crate::hub::{Caller, Destination, Hub, LoginRequest, SendRequest, Upload};
use crate::pki::CertKind;
use crate::store::{NewAudit, Session};
use crate::tls::PeerInfo;

/// The OpenAPI document of this interface.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Shared state of the router.
#[derive(Clone)]
pub struct App {
    pub hub: Arc<Hub>,
}

/// What the audit middleware records about a request besides method, path and status (shared
/// with `api2027`).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditNote {
    pub(crate) office: Option<String>,
    pub(crate) terminal: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) code: Option<&'static str>,
    pub(crate) detail: Option<serde_json::Value>,
}

/// A refusal as an HTTP response (boxed: results stay small on the success path).
pub struct ApiError(Box<(HubError, AuditNote)>);

impl ApiError {
    fn new(e: HubError, note: AuditNote) -> Self {
        Self(Box::new((e, note)))
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        Self::new(e, AuditNote::default())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a HubError,
}

/// The v1 interface's error object, `{"error": {...}}`, as JSON bytes (also the answer to a
/// request HTTP cannot parse, [`crate::framing`]).
pub fn error_body(e: &HubError) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody { error: e }).expect("a refusal serialises")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (e, mut note) = *self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let json = [(header::CONTENT_TYPE, "application/json")];
        let mut response = (status, json, error_body(&e)).into_response();
        crate::conn::close_if_needed(e.code, &mut response);
        note.code = Some(e.code.as_str());
        note.detail = Some(serde_json::json!({
            "message_ja": e.message_ja,
            "message_en": e.message_en,
            "file": e.file,
            // The refusal's own detail (e.g. the send unit's findings), for the console's audit view.
            "detail": e.detail,
        }));
        response.extensions_mut().insert(note);
        response
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok_json(value: impl Serialize, note: AuditNote) -> ApiResult {
    let mut response = Json(value).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(HubError::internal)?
}

/// The header that names the office on plain-HTTP (benchmark) connections.
pub const INSECURE_OFFICE_HEADER: &str = "x-cpkit-office";

/// The office of the connection: the client certificate (or the benchmark header on plain HTTP).
pub(crate) fn caller(hub: &Hub, peer: &PeerInfo, headers: &HeaderMap) -> Result<Caller, HubError> {
    if let Some(c) = &peer.caller {
        return Ok(c.clone());
    }
    if hub.config.insecure_plain_http
        && let Some(office) = headers
            .get(INSECURE_OFFICE_HEADER)
            .and_then(|v| v.to_str().ok())
    {
        return Ok(Caller {
            office: office.to_owned(),
            kind: Some(CertKind::KaigoHoken),
            cert_not_after: None,
            cert_serial: None,
        });
    }
    Err(HubError::new(
        Code::CertRequired,
        "電子証明書が確認できません。証明書を正しくインストールしてください。",
        "no client certificate identifies the office",
    ))
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// Resolves caller and session on the blocking pool.
async fn session(
    app: &App,
    peer: &PeerInfo,
    headers: &HeaderMap,
) -> Result<(Caller, Session), ApiError> {
    let caller = caller(&app.hub, peer, headers)?;
    let token = bearer(headers);
    let hub = app.hub.clone();
    let c = caller.clone();
    let session = blocking(move || {
        hub.check_caller(&c)?;
        hub.session(&c, token.as_deref())
    })
    .await
    .map_err(|e| {
        ApiError::new(
            e,
            AuditNote {
                office: Some(caller.office.clone()),
                ..AuditNote::default()
            },
        )
    })?;
    Ok((caller, session))
}

pub(crate) fn session_note(s: &Session) -> AuditNote {
    AuditNote {
        office: Some(s.office.clone()),
        terminal: Some(s.terminal.clone()),
        user_id: Some(s.user_id.clone()),
        ..AuditNote::default()
    }
}

fn with_note(note: &AuditNote) -> impl FnOnce(HubError) -> ApiError + '_ {
    move |e| ApiError::new(e, note.clone())
}

/// Every route of the v1 interface: method, path (axum syntax) and handler. The router is built
/// from this table and a test checks it against `openapi.json`, so the two cannot drift apart.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<App>)> {
    vec![
        ("get", "/v1/status", get(status)),
        (
            "post",
            "/v1/login",
            post(login).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        ),
        ("post", "/v1/sends", post(send_one)),
        ("post", "/v1/bulk-sends", post(send_bulk)),
        ("get", "/v1/inbox", get(inbox)),
        ("get", "/v1/inbox/{send_id}/files/{file_id}", get(download)),
        ("get", "/v1/sent", get(sent)),
        ("get", "/v1/drafts", get(drafts)),
        ("post", "/v1/drafts/{id}/send", post(send_draft)),
        ("delete", "/v1/drafts/{id}", delete(delete_draft)),
        ("get", "/v1/openapi.json", get(openapi)),
    ]
}

/// The largest JSON body (login) the interface reads.
pub const JSON_BODY_LIMIT: usize = 16 * 1024;

/// Builds the router of the v1 interface.
pub fn router(app: App) -> Router {
    let limit = crate::conn::request_body_limit(&app.hub.config);
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        router = router.route(path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(app.clone(), audit))
        .with_state(app)
}

async fn not_found() -> ApiError {
    HubError::no_endpoint().into()
}

async fn method_not_allowed(request: Request) -> ApiError {
    HubError::new(
        Code::MethodNotAllowed,
        "このAPIはその方法（HTTPメソッド）では呼び出せません。",
        format!(
            "{} is not a method of {} (see /v1/openapi.json)",
            request.method(),
            request.uri().path()
        ),
    )
    .into()
}

/// A JSON body the hub cannot read: too large (413), stalled, or malformed (400).
pub(crate) fn json_rejection(e: &JsonRejection) -> HubError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HubError::new(
            Code::TooLarge,
            "要求の大きさが上限を超えています。",
            "the request body is larger than the hub accepts",
        )
    } else if let Some(stalled) = crate::conn::stall_refusal(e) {
        stalled
    } else {
        HubError::bad_request(e.body_text())
    }
}

/// Item IDs in a path that are not numbers.
fn path_rejection(e: &PathRejection) -> HubError {
    HubError::bad_request(format!(
        "item IDs in the path are numbers: {}",
        e.body_text()
    ))
}

async fn openapi() -> Response {
    json_document(OPENAPI)
}

/// A static JSON document (the OpenAPI descriptions).
pub(crate) fn json_document(text: &'static str) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// Appends one audit row per request: who (office, terminal, user), what (method and path),
/// the status and the refusal code.
async fn audit(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    request: Request,
    next: Next,
) -> Response {
    let action = format!("{} {}", request.method(), request.uri().path());
    let response = match request.extensions().get::<EarlyRefusal>() {
        Some(EarlyRefusal(e)) => ApiError::from(e.clone()).into_response(),
        None => next.run(request).await,
    };
    let row = audit_row(&peer, action, &response);
    write_audit(&app.hub, row).await;
    response
}

/// The audit row of one answered request (the handler's [`AuditNote`], if any, says who and why).
pub(crate) fn audit_row(peer: &PeerInfo, action: String, response: &Response) -> NewAudit {
    let note = response
        .extensions()
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_default();
    NewAudit {
        peer: peer.remote.to_string(),
        office: note
            .office
            .or_else(|| peer.caller.as_ref().map(|c| c.office.clone())),
        terminal: note.terminal,
        user_id: note.user_id,
        action,
        status: response.status().as_u16(),
        code: note.code.map(str::to_owned),
        detail: note.detail,
    }
}

/// Appends an audit row on the blocking pool; a failure is logged, never shown to the client.
/// Each row is also the request's line on the `cpkit serve` terminal (target `cpkit::request`).
pub(crate) async fn write_audit(hub: &Arc<Hub>, row: NewAudit) {
    tracing::info!(
        target: "cpkit::request",
        "office {} terminal {} {} → {}{}",
        row.office.as_deref().unwrap_or("-"),
        row.terminal.as_deref().unwrap_or("-"),
        row.action,
        row.status,
        row.code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
    );
    let hub = hub.clone();
    match tokio::task::spawn_blocking(move || hub.store.audit(&[row])).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("failed to append to the audit log: {e}"),
        Err(e) => tracing::error!("failed to append to the audit log: {e}"),
    }
}

async fn status(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = caller(&app.hub, &peer, &headers)?;
    let hub = app.hub.clone();
    let note = AuditNote {
        office: Some(caller.office.clone()),
        ..AuditNote::default()
    };
    let status = blocking(move || hub.status(&caller))
        .await
        .map_err(with_note(&note))?;
    ok_json(status, note)
}

async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> ApiResult {
    let caller = caller(&app.hub, &peer, &headers)?;
    let Json(req) = body.map_err(|e| json_rejection(&e))?;
    let note = AuditNote {
        office: Some(caller.office.clone()),
        terminal: Some(req.terminal.clone()),
        user_id: Some(req.user_id.clone()),
        code: None,
        detail: Some(serde_json::json!({"client_version": req.client_version})),
    };
    let hub = app.hub.clone();
    let response = blocking(move || hub.login(&caller, &req))
        .await
        .map_err(with_note(&note))?;
    ok_json(response, note)
}

/// Reads a multipart send: `to` (once, or repeated for a bulk send; `OFFICE` or `OFFICE:TYPE`),
/// `message`, `draft` (`true`/`false`) and `file` parts with file names.
async fn read_send(
    app: &App,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<SendRequest, HubError> {
    let limits = &app.hub.config.limits;
    let too_large = || {
        HubError::new(
            Code::TooLarge,
            format!(
                "送信全体の大きさが上限（{}バイト）を超えています。",
                limits.max_send_bytes
            ),
            format!("the request is larger than {} bytes", limits.max_send_bytes),
        )
    };
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else if let Some(stalled) = crate::conn::stall_refusal(&e) {
            stalled
        } else {
            HubError::bad_request(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    let mut multipart = multipart.map_err(|e| {
        HubError::bad_request(format!("expected multipart/form-data: {}", e.body_text()))
    })?;
    let mut req = SendRequest {
        destinations: Vec::new(),
        message: String::new(),
        files: Vec::new(),
        draft: false,
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                let file_name = upload_file_name(&field)?;
                // Name and type are judged before the content is read.
                app.hub.check_upload(&file_name)?;
                let mut content = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    content.extend_from_slice(&chunk);
                    if content.len() as u64 > limits.max_file_bytes {
                        return Err(HubError::file_too_large(limits.max_file_bytes, file_name));
                    }
                }
                req.files.push(Upload {
                    name: file_name,
                    content: Arc::new(content),
                });
            }
            "to" | "message" | "draft" => {
                let text = field.text().await.map_err(multipart_error)?;
                match name.as_str() {
                    "to" => {
                        let (office, service_type) = match text.split_once(':') {
                            Some((o, t)) => (o.trim().to_owned(), Some(t.trim().to_owned())),
                            None => (text.trim().to_owned(), None),
                        };
                        req.destinations.push(Destination {
                            office,
                            service_type,
                        });
                    }
                    "message" => req.message = text,
                    _ => {
                        req.draft = match text.trim() {
                            "true" | "1" => true,
                            "false" | "0" | "" => false,
                            other => {
                                return Err(HubError::bad_request(format!(
                                    "draft must be true or false, not {other:?}"
                                )));
                            }
                        }
                    }
                }
            }
            other => {
                return Err(HubError::bad_request(format!(
                    "unknown form field {other:?} (expected to, message, draft, file)"
                )));
            }
        }
    }
    Ok(req)
}

/// The file name of a `file` part, from `filename="…"` (UTF-8). A part without one gets a
/// refusal that says why: `filename*` alone, bytes that are not UTF-8, or no name at all.
fn upload_file_name(field: &axum::extract::multipart::Field<'_>) -> Result<String, HubError> {
    if let Some(name) = field.file_name() {
        return Ok(name.to_owned());
    }
    let raw = field
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let lossy = String::from_utf8_lossy(raw);
    let refuse = |reason: &str, ja: &str, en: String| {
        HubError::new(Code::BadRequest, ja, en)
            .detail(serde_json::json!({ "reason": reason, "content_disposition": lossy }))
    };
    Err(if lossy.contains("filename*") {
        refuse(
            "filename_star_only",
            "ファイル名は filename=\"…\"（UTF-8）で送ってください（filename* だけでは受け付けません）。",
            "a file part names its file in filename*= only: send the UTF-8 name as filename=\"…\" (first, or alone)".to_owned(),
        )
    } else if lossy.contains("filename") {
        refuse(
            "filename_not_utf8",
            "ファイル名がUTF-8ではありません。UTF-8で送ってください。",
            format!("the file name is not UTF-8 ({lossy}): send names as UTF-8"),
        )
    } else {
        refuse(
            "filename_missing",
            "添付ファイルに名前がありません。",
            "a file part has no file name (Content-Disposition: form-data; name=\"file\"; filename=\"…\")".to_owned(),
        )
    })
}

async fn send_one(
    state: State<App>,
    peer: ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult {
    send(state, peer, headers, multipart, false).await
}

async fn send_bulk(
    state: State<App>,
    peer: ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult {
    send(state, peer, headers, multipart, true).await
}

async fn send(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
    bulk: bool,
) -> ApiResult {
    let (_, session) = session(&app, &peer, &headers).await?;
    let note = session_note(&session);
    let req = read_send(&app, multipart).await.map_err(with_note(&note))?;
    if !bulk && req.destinations.len() > 1 {
        return Err(ApiError::new(
            HubError::bad_request(
                "POST /v1/sends takes one destination; use /v1/bulk-sends for several",
            ),
            note,
        ));
    }
    let hub = app.hub.clone();
    let receipt = blocking(move || hub.send(&session, &req))
        .await
        .map_err(with_note(&note))?;
    let mut note = note;
    note.detail = Some(serde_json::json!({
        "ids": receipt.ids,
        "draft": receipt.draft,
        "deliveries": receipt.deliveries.iter().map(|d| serde_json::json!({
            "id": d.id, "to": d.to_office, "unit": d.unit, "serial": d.serial, "files": d.files,
        })).collect::<Vec<_>>(),
    }));
    ok_json(receipt, note)
}

async fn inbox(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
) -> ApiResult {
    let (_, session) = session(&app, &peer, &headers).await?;
    let mut note = session_note(&session);
    let hub = app.hub.clone();
    let items = blocking(move || hub.inbox(&session))
        .await
        .map_err(with_note(&note))?;
    note.detail =
        Some(serde_json::json!({"items": items.iter().map(|i| i.id).collect::<Vec<_>>()}));
    ok_json(serde_json::json!({ "items": items }), note)
}

async fn outgoing(app: App, peer: PeerInfo, headers: HeaderMap, drafts: bool) -> ApiResult {
    let (_, session) = session(&app, &peer, &headers).await?;
    let note = session_note(&session);
    let hub = app.hub.clone();
    let items = blocking(move || hub.outgoing(&session, drafts))
        .await
        .map_err(with_note(&note))?;
    ok_json(serde_json::json!({ "items": items }), note)
}

async fn sent(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
) -> ApiResult {
    outgoing(app, peer, headers, false).await
}

async fn drafts(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
) -> ApiResult {
    outgoing(app, peer, headers, true).await
}

async fn draft_action(
    app: App,
    peer: PeerInfo,
    headers: HeaderMap,
    id: i64,
    send: bool,
) -> ApiResult {
    let (_, session) = session(&app, &peer, &headers).await?;
    let mut note = session_note(&session);
    note.detail = Some(serde_json::json!({ "draft": id }));
    let hub = app.hub.clone();
    blocking(move || {
        if send {
            hub.send_draft(&session, id)
        } else {
            hub.delete_draft(&session, id)
        }
    })
    .await
    .map_err(with_note(&note))?;
    ok_json(
        serde_json::json!({ "id": id, "sent": send, "deleted": !send }),
        note,
    )
}

async fn send_draft(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_rejection(&e))?;
    draft_action(app, peer, headers, id, true).await
}

async fn delete_draft(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_rejection(&e))?;
    draft_action(app, peer, headers, id, false).await
}

/// `filename*=` value of RFC 5987 (UTF-8, percent-encoded).
pub(crate) fn content_disposition(name: &str) -> HeaderValue {
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn download(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    ids: Result<Path<(i64, i64)>, PathRejection>,
) -> ApiResult {
    let Path((send_id, file_id)) = ids.map_err(|e| path_rejection(&e))?;
    let (_, session) = session(&app, &peer, &headers).await?;
    let mut note = session_note(&session);
    note.detail = Some(serde_json::json!({ "send": send_id, "file": file_id }));
    let hub = app.hub.clone();
    let (name, content) = blocking(move || hub.download(&session, send_id, file_id))
        .await
        .map_err(with_note(&note))?;
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, content_disposition(&name)),
        ],
        content,
    )
        .into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}
