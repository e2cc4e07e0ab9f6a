//! The `api = "2027"` shape: the care-plan API announced for the 介護保険資格確認等WEBサービス
//! (planned 2027), as far as secondary sources describe it (`../shared/domain/exchange.md` §1.10,
//! §1.12), documented in `mock-server/openapi-2027.json` and served at `/api/openapi.json`.
//!
//! This module owns the HTTP shape only; every exchange rule stays in [`Hub`]:
//!
//! * **Login in two steps.** `POST /api/v1/auth/login` checks the client certificate, user ID and
//!   password through [`Hub::login`] and issues a one-time password (6 digits), "delivered by email":
//!   the mock appends it as one JSON line to `<data dir>/otp-outbox.jsonl` ([`OTP_OUTBOX`]).
//!   `POST /api/v1/auth/otp` exchanges it for an access token (60 minutes) and a refresh token
//!   (8 hours, not rotated); `POST /api/v1/auth/refresh` mints new access tokens. OTPs expire
//!   after 5 minutes and are single-use; 5 wrong answers lock the challenge, and wrong answers
//!   count per user across challenges: `login_failures_before_lock` of them lock the account
//!   (ending its tokens). A user holds at most [`OTP_CHALLENGES_PER_USER`] open challenges.
//! * **Token state** lives in memory here (a restart logs everybody out): only SHA-256 hashes of
//!   challenge IDs, OTPs and tokens are kept, and every expiry is measured on the hub clock
//!   ([`Hub::now`]), so scenarios and tests can move time.
//! * **Care-plan calls** carry the interface version in the URL (`/api/careplan/{ifver}/…`, only
//!   `v1` exists): list sent, list received (honouring the hub's receive mode; file contents come
//!   inline as base64, because the announced API has no separate download call), and send to
//!   exactly one office (no bulk send) with standard CSV files as base64.
//! * **Envelope and errors.** Success is `{"result":"ok", …}`. System errors (certificate, token,
//!   unknown route or version, malformed request, internal) keep an HTTP error status from the
//!   published set 400/401/403/404/500; every other refusal of the hub is a business error and
//!   comes back as HTTP 200 with `{"result":"error","error":{…}}` ([`system_status`]).
//! * Every request appends one audit row, as in [`crate::api`] (never a password, OTP or token).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::api::{self, App, AuditNote, bearer, blocking, session_note};
use crate::error::{Code, HubError};
use crate::hub::{Caller, Destination, Hub, LoginRequest, SendRequest, Upload, VerifiedLogin};
use crate::store::{SendEntry, Session};
use crate::tls::PeerInfo;

/// The OpenAPI document of this interface.
pub const OPENAPI: &str = include_str!("../openapi-2027.json");
/// The care-plan interface versions this hub serves (`/api/careplan/{ifver}/…`).
pub const INTERFACE_VERSIONS: &[&str] = &["v1"];
/// Lifetime of an access token.
pub const ACCESS_TOKEN_SECONDS: i64 = 60 * 60;
/// Lifetime of a refresh token, counted from the OTP step.
pub const REFRESH_TOKEN_SECONDS: i64 = 8 * 60 * 60;
/// Lifetime of a one-time password.
pub const OTP_SECONDS: i64 = 5 * 60;
/// Wrong OTPs that lock a challenge.
pub const OTP_ATTEMPTS: u32 = 5;
/// The file in the data directory that stands in for the OTP email.
pub const OTP_OUTBOX: &str = "otp-outbox.jsonl";
/// How long expired entries are remembered (to say "expired" or "used" rather than "unknown").
pub const FORGET_AFTER_SECONDS: i64 = 5 * 60;
/// Open (unused, unexpired) login challenges one user may hold; the next login waits.
pub const OTP_CHALLENGES_PER_USER: usize = 3;

/// The HTTP status of a refusal in this shape: `Some` for system errors, `None` for business
/// errors (answered with HTTP 200 and `result: "error"`). Only statuses of the published set
/// (400/401/403/404/500/503) are used, so a size refusal is 400 here, not v1's 413.
pub fn system_status(code: Code) -> Option<u16> {
    match code {
        Code::CertRequired | Code::SessionInvalid => Some(401),
        Code::CertKindRefused | Code::OfficeNotRegistered | Code::CertRevoked => Some(403),
        Code::NotFound | Code::MethodNotAllowed => Some(404),
        Code::BadRequest | Code::TooLarge | Code::Timeout => Some(400),
        Code::Internal => Some(500),
        Code::TooManyConnections | Code::Busy => Some(503),
        _ => None,
    }
}

// ----- state --------------------------------------------------------------------------------

type Digest = [u8; 32];

fn digest(secret: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref());
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChallengeState {
    Open,
    Used,
    Locked,
}

/// A pending OTP: the session the password step established, waiting for its second factor.
#[derive(Debug)]
struct Challenge {
    otp: Digest,
    verified: VerifiedLogin,
    expires: i64,
    failures: u32,
    state: ChallengeState,
}

/// What a token grants: a hub session (office, user, terminal) until `expires`.
#[derive(Debug, Clone)]
struct Grant {
    session: Session,
    expires: i64,
}

#[derive(Debug, Default)]
struct Tokens {
    challenges: HashMap<Digest, Challenge>,
    access: HashMap<Digest, Grant>,
    refresh: HashMap<Digest, Grant>,
    /// Wrong OTPs per user since their last right one, across challenges.
    otp_failures: HashMap<String, u32>,
}

impl Tokens {
    /// Removes what expired: challenges (used or not) and tokens, kept for a short while so
    /// that a late answer says "expired" rather than "unknown".
    fn forget_old(&mut self, now: i64) {
        let keep = |expires: i64| expires + FORGET_AFTER_SECONDS > now;
        self.challenges.retain(|_, c| keep(c.expires));
        self.access.retain(|_, g| keep(g.expires));
        self.refresh.retain(|_, g| keep(g.expires));
    }

    /// Drops a locked user's open challenges. Their tokens stay until they expire, refused with
    /// the reason `account_locked` ([`check_grant`] asks the store on every call).
    fn end_user(&mut self, user_id: &str) {
        self.challenges
            .retain(|_, c| c.verified.session.user_id != user_id);
        self.otp_failures.remove(user_id);
    }
}

/// Shared state of the 2027 router: the hub, and the OTP and token state of this shape.
#[derive(Clone)]
pub struct ApiState {
    app: App,
    rng: SystemRandom,
    tokens: Arc<Mutex<Tokens>>,
    /// Serialises appends to the OTP outbox.
    outbox: Arc<Mutex<()>>,
}

impl ApiState {
    pub fn new(app: App) -> Self {
        Self {
            app,
            rng: SystemRandom::new(),
            tokens: Arc::new(Mutex::new(Tokens::default())),
            outbox: Arc::new(Mutex::new(())),
        }
    }

    fn hub(&self) -> &Arc<Hub> {
        &self.app.hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn random_hex(&self, bytes: usize) -> Result<String, HubError> {
        let mut raw = vec![0u8; bytes];
        self.rng
            .fill(&mut raw)
            .map_err(|_| HubError::internal("no system randomness"))?;
        Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A uniformly drawn 6-digit code.
    fn otp(&self) -> Result<String, HubError> {
        // The largest multiple of 10^6 below 2^32: rejecting above it keeps every code equally likely.
        const LIMIT: u32 = 4_294_000_000;
        loop {
            let mut raw = [0u8; 4];
            self.rng
                .fill(&mut raw)
                .map_err(|_| HubError::internal("no system randomness"))?;
            let n = u32::from_le_bytes(raw);
            if n < LIMIT {
                return Ok(format!("{:06}", n % 1_000_000));
            }
        }
    }

    /// "Emails" an OTP: one JSON line appended to the outbox in the data directory.
    fn deliver_otp(
        &self,
        session: &Session,
        challenge_id: &str,
        otp: &str,
        at: i64,
    ) -> Result<(), HubError> {
        let path = self.hub().config.data.join(OTP_OUTBOX);
        let mut line = serde_json::json!({
            "user_id": session.user_id,
            "office": session.office,
            "otp_challenge_id": challenge_id,
            "otp": otp,
            "at": at,
        })
        .to_string();
        line.push('\n');
        let _guard = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| HubError::internal(format!("failed to write {}: {e}", path.display())))
    }

    /// Issues an access token for a session.
    fn issue_access(
        &self,
        tokens: &mut Tokens,
        session: &Session,
        now: i64,
    ) -> Result<String, HubError> {
        let token = self.random_hex(32)?;
        tokens.access.insert(
            digest(&token),
            Grant {
                session: session.clone(),
                expires: now + ACCESS_TOKEN_SECONDS,
            },
        );
        Ok(token)
    }
}

// ----- envelope, errors, audit --------------------------------------------------------------

/// A refusal: a system error (HTTP error status) or a business error (HTTP 200). Boxed: handlers
/// return it in `Err`, and the error with its note is large.
struct Refusal(Box<(HubError, AuditNote)>);

impl Refusal {
    fn new(e: HubError, note: AuditNote) -> Self {
        Self(Box::new((e, note)))
    }
}

impl From<HubError> for Refusal {
    fn from(e: HubError) -> Self {
        Self::new(e, AuditNote::default())
    }
}

fn with_note(note: &AuditNote) -> impl FnOnce(HubError) -> Refusal + '_ {
    move |e| Refusal::new(e, note.clone())
}

/// The error object of both kinds of refusal.
#[derive(Serialize)]
struct ErrorObject<'a> {
    code: &'static str,
    message_ja: &'a str,
    message_en: &'a str,
    file: Option<&'a str>,
    detail: Option<&'a serde_json::Value>,
}

/// The 2027 shape's error answer, `{"result": "error", "error": {...}}`, as JSON bytes (also the
/// answer to a request HTTP cannot parse, [`crate::framing`]).
pub fn error_body(e: &HubError) -> Vec<u8> {
    let body = serde_json::json!({
        "result": "error",
        "error": ErrorObject {
            code: e.code.as_str(),
            message_ja: &e.message_ja,
            message_en: &e.message_en,
            file: e.file.as_deref(),
            detail: e.detail.as_ref(),
        },
    });
    serde_json::to_vec(&body).expect("a refusal serialises")
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (e, mut note) = *self.0;
        let system = system_status(e.code);
        let status = system
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        let mut response = (status, json, error_body(&e)).into_response();
        crate::conn::close_if_needed(e.code, &mut response);
        note.code = Some(e.code.as_str());
        note.detail = Some(serde_json::json!({
            "kind": if system.is_some() { "system" } else { "business" },
            "message_ja": e.message_ja,
            "message_en": e.message_en,
            "file": e.file,
        }));
        response.extensions_mut().insert(note);
        response
    }
}

type Reply = Result<Response, Refusal>;

/// `{"result":"ok", …fields}`.
fn ok(fields: serde_json::Value, note: AuditNote) -> Reply {
    let mut body = serde_json::Map::new();
    body.insert("result".to_owned(), "ok".into());
    if let serde_json::Value::Object(map) = fields {
        body.extend(map);
    }
    let mut response = Json(serde_json::Value::Object(body)).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

/// Appends one audit row per request: who (office, terminal, user), what (method and path),
/// the HTTP status and the refusal code (business errors included).
async fn audit(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    request: Request,
    next: Next,
) -> Response {
    let action = format!("{} {}", request.method(), request.uri().path());
    let response = match request.extensions().get::<crate::conn::EarlyRefusal>() {
        Some(crate::conn::EarlyRefusal(e)) => Refusal::from(e.clone()).into_response(),
        None => next.run(request).await,
    };
    let row = api::audit_row(&peer, action, &response);
    api::write_audit(state.hub(), row).await;
    response
}

// ----- identity -----------------------------------------------------------------------------

fn caller(state: &ApiState, peer: &PeerInfo, headers: &HeaderMap) -> Result<Caller, HubError> {
    api::caller(state.hub(), peer, headers)
}

fn token_invalid(reason: &str, ja: &str, en: &str) -> HubError {
    HubError::new(Code::SessionInvalid, ja, en).detail(serde_json::json!({ "reason": reason }))
}

/// Checks the interface version of a care-plan URL.
fn check_version(ifver: &str) -> Result<(), HubError> {
    if INTERFACE_VERSIONS.contains(&ifver) {
        return Ok(());
    }
    Err(HubError::new(
        Code::NotFound,
        format!("インタフェースバージョン「{ifver}」は提供されていません。"),
        format!(
            "care-plan interface version {ifver:?} is not served (served: {})",
            INTERFACE_VERSIONS.join(", ")
        ),
    )
    .detail(serde_json::json!({ "supported": INTERFACE_VERSIONS })))
}

/// A token works only with the certificate it was issued to, and only while its user is not
/// locked.
fn check_grant(hub: &Hub, grant: &Grant, caller: &Caller) -> Result<(), HubError> {
    if grant.session.cert_serial != caller.cert_serial {
        return Err(token_invalid(
            "certificate_mismatch",
            "このトークンは別の証明書で発行されています。ログインし直してください。",
            "the token was issued to another certificate: log in again",
        ));
    }
    if hub.check_session_user(&grant.session).is_err() {
        return Err(token_invalid(
            "account_locked",
            "このIDはロックされています。",
            "the user's ID was locked: its tokens no longer work",
        ));
    }
    Ok(())
}

/// Resolves the certificate and the access token of a care-plan call to a hub session.
async fn authorise(
    state: &ApiState,
    peer: &PeerInfo,
    headers: &HeaderMap,
    ifver: &str,
) -> Result<Session, Refusal> {
    check_version(ifver)?;
    let caller = caller(state, peer, headers)?;
    let note = AuditNote {
        office: Some(caller.office.clone()),
        ..AuditNote::default()
    };
    let token = bearer(headers);
    let st = state.clone();
    blocking(move || {
        st.hub().check_caller(&caller)?;
        let Some(token) = token else {
            return Err(token_invalid(
                "access_token_missing",
                "ログインしてください（アクセストークンがありません）。",
                "log in first: no access token (Authorization: Bearer …)",
            ));
        };
        let now = st.hub().now();
        let grant = st.lock().access.get(&digest(&token)).cloned();
        let Some(grant) = grant else {
            return Err(token_invalid(
                "access_token_unknown",
                "アクセストークンが無効です。ログインし直してください。",
                "unknown access token: log in again",
            ));
        };
        if grant.expires <= now {
            return Err(token_invalid(
                "access_token_expired",
                "アクセストークンの有効期限（60分）が切れています。リフレッシュトークンで再取得してください。",
                "the access token expired (60 minutes): get a new one from POST /api/v1/auth/refresh",
            ));
        }
        if grant.session.office != caller.office {
            return Err(token_invalid(
                "office_mismatch",
                "このアクセストークンは別の事業所の証明書で発行されています。",
                format!(
                    "the access token was issued to office {}, but this connection's certificate is office {}",
                    grant.session.office, caller.office
                )
                .as_str(),
            ));
        }
        check_grant(st.hub(), &grant, &caller)?;
        Ok(grant.session)
    })
    .await
    .map_err(with_note(&note))
}

// ----- routes -------------------------------------------------------------------------------

/// Every route of the 2027 shape: method, path (axum syntax) and handler. The router is built from
/// this table and a test checks it against `openapi-2027.json`.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<ApiState>)> {
    vec![
        (
            "post",
            "/api/v1/auth/login",
            post(login).layer(DefaultBodyLimit::max(api::JSON_BODY_LIMIT)),
        ),
        (
            "post",
            "/api/v1/auth/otp",
            post(otp).layer(DefaultBodyLimit::max(api::JSON_BODY_LIMIT)),
        ),
        (
            "post",
            "/api/v1/auth/refresh",
            post(refresh).layer(DefaultBodyLimit::max(api::JSON_BODY_LIMIT)),
        ),
        ("get", "/api/careplan/{ifver}/sent", get(sent)),
        ("get", "/api/careplan/{ifver}/received", get(received)),
        ("post", "/api/careplan/{ifver}/send", post(send)),
        ("get", "/api/openapi.json", get(openapi)),
    ]
}

/// Builds the router of the 2027 shape.
pub fn router(app: App) -> Router {
    // Files travel as base64 (4 bytes per 3) inside JSON.
    let limit = crate::conn::request_body_limit(&app.hub.config);
    let state = ApiState::new(app);
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        router = router.route(path, handler);
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), audit))
        .with_state(state)
}

async fn no_route() -> Refusal {
    HubError::no_endpoint().into()
}

async fn openapi() -> Response {
    api::json_document(OPENAPI)
}

// ----- authentication -----------------------------------------------------------------------

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub user_id: String,
    pub password: String,
    /// The terminal (PC) name; the sent list and first-lister-wins receiving are per terminal.
    pub terminal: String,
    /// Recorded with the terminal; when absent, the oldest version that knows V4.1 names.
    #[serde(default)]
    pub client_version: Option<String>,
    /// The terminal key issued at this terminal's first login (D-HUB-TERMINAL).
    #[serde(default)]
    pub terminal_key: Option<String>,
}

async fn login(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Reply {
    let caller = caller(&state, &peer, &headers)?;
    let Json(body) = body.map_err(|e| api::json_rejection(&e))?;
    let client_version = body
        .client_version
        .clone()
        .unwrap_or_else(|| state.hub().switches().v41_names_min_client);
    let note = AuditNote {
        office: Some(caller.office.clone()),
        terminal: Some(body.terminal.clone()),
        user_id: Some(body.user_id.clone()),
        code: None,
        detail: Some(serde_json::json!({ "client_version": client_version })),
    };
    let st = state.clone();
    let challenge_id = blocking(move || {
        let hub = st.hub();
        let req = LoginRequest {
            user_id: body.user_id,
            password: body.password,
            terminal: body.terminal,
            client_version,
            terminal_key: body.terminal_key,
        };
        // Every check of the hub, but no session yet: that opens after the OTP.
        let verified = hub.verify_login(&caller, &req)?;
        let now = hub.now();
        {
            let mut tokens = st.lock();
            tokens.forget_old(now);
            let open = tokens
                .challenges
                .values()
                .filter(|c| {
                    c.verified.session.user_id == req.user_id
                        && c.state == ChallengeState::Open
                        && c.expires > now
                })
                .count();
            if open >= OTP_CHALLENGES_PER_USER {
                return Err(HubError::new(
                    Code::RateLimited,
                    "ワンタイムパスワードの発行が続いています。届いたワンタイムパスワードを入力するか、5分ほど待ってから再度ログインしてください。",
                    format!(
                        "{open} one-time passwords of this user are still open: enter one, or wait until they expire ({OTP_SECONDS} s)"
                    ),
                )
                .detail(serde_json::json!({ "open_challenges": open, "limit": OTP_CHALLENGES_PER_USER })));
            }
        }
        let challenge_id = st.random_hex(16)?;
        let otp = st.otp()?;
        st.deliver_otp(&verified.session, &challenge_id, &otp, now)?;
        let mut tokens = st.lock();
        tokens.challenges.insert(
            digest(&challenge_id),
            Challenge {
                otp: digest(&otp),
                verified,
                expires: now + OTP_SECONDS,
                failures: 0,
                state: ChallengeState::Open,
            },
        );
        Ok(challenge_id)
    })
    .await
    .map_err(with_note(&note))?;
    ok(
        serde_json::json!({
            "otp_challenge_id": challenge_id,
            "otp_delivery": "email",
            "otp_expires_in": OTP_SECONDS,
        }),
        note,
    )
}

/// `POST /api/v1/auth/otp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpBody {
    pub otp_challenge_id: String,
    pub otp: String,
}

fn otp_refused(reason: &str, ja: &str, en: &str) -> HubError {
    HubError::new(Code::LoginFailed, ja, en).detail(serde_json::json!({ "reason": reason }))
}

async fn otp(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    body: Result<Json<OtpBody>, JsonRejection>,
) -> Reply {
    let caller = caller(&state, &peer, &headers)?;
    let Json(body) = body.map_err(|e| api::json_rejection(&e))?;
    let note = AuditNote {
        office: Some(caller.office.clone()),
        ..AuditNote::default()
    };
    let st = state.clone();
    let (session, access, refresh, terminal_key) = blocking(move || {
        let hub = st.hub();
        hub.check_caller(&caller)?;
        let now = hub.now();
        let lock_after = hub.config.limits.login_failures_before_lock;
        let mut tokens = st.lock();
        tokens.forget_old(now);
        let unknown = || {
            otp_refused(
                "otp_challenge_unknown",
                "ワンタイムパスワードの認証情報が見つかりません。もう一度ログインしてください。",
                "unknown OTP challenge: log in again",
            )
        };
        let key = digest(&body.otp_challenge_id);
        let challenge = tokens
            .challenges
            .get_mut(&key)
            .filter(|c| c.verified.session.office == caller.office)
            .ok_or_else(unknown)?;
        match challenge.state {
            ChallengeState::Open => {}
            ChallengeState::Used => {
                return Err(otp_refused(
                    "otp_used",
                    "このワンタイムパスワードは使用済みです。もう一度ログインしてください。",
                    "this one-time password was already used: log in again",
                ));
            }
            ChallengeState::Locked => return Err(otp_locked()),
        }
        if challenge.expires <= now {
            return Err(otp_refused(
                "otp_expired",
                "ワンタイムパスワードの有効期限（5分）が切れています。もう一度ログインしてください。",
                "the one-time password expired (5 minutes): log in again",
            ));
        }
        let user_id = challenge.verified.session.user_id.clone();
        if challenge.otp != digest(body.otp.trim()) {
            challenge.failures += 1;
            let challenge_failures = challenge.failures;
            if challenge_failures >= OTP_ATTEMPTS {
                challenge.state = ChallengeState::Locked;
            }
            // Failures count per user across challenges: a new challenge starts no new count.
            let user_failures = {
                let n = tokens.otp_failures.entry(user_id.clone()).or_insert(0);
                *n += 1;
                *n
            };
            if user_failures >= lock_after {
                tokens.end_user(&user_id);
                drop(tokens);
                hub.store.lock_user(&user_id)?;
                return Err(HubError::new(
                    Code::AccountLocked,
                    "ワンタイムパスワードを続けて誤ったため、このIDはロックされています。",
                    "the ID is locked after repeated wrong one-time passwords",
                )
                .detail(serde_json::json!({ "reason": "otp_user_locked", "failures": user_failures })));
            }
            if challenge_failures >= OTP_ATTEMPTS {
                return Err(otp_locked());
            }
            return Err(otp_refused(
                "otp_wrong",
                "ワンタイムパスワードが正しくありません。",
                "wrong one-time password",
            )
            .detail(serde_json::json!({
                "reason": "otp_wrong",
                "failures": challenge_failures,
                "lock_after": OTP_ATTEMPTS,
                "user_lock_after": lock_after,
            })));
        }
        challenge.state = ChallengeState::Used;
        let verified = challenge.verified.clone();
        tokens.otp_failures.remove(&user_id);
        drop(tokens);
        // The session (and a new terminal's key) opens now, after both factors.
        let login = hub.open_session(&verified)?;
        let mut session = verified.session;
        session.expires = now + REFRESH_TOKEN_SECONDS;
        let refresh = st.random_hex(32)?;
        let mut tokens = st.lock();
        tokens.refresh.insert(
            digest(&refresh),
            Grant {
                session: session.clone(),
                expires: session.expires,
            },
        );
        let access = st.issue_access(&mut tokens, &session, now)?;
        Ok((session, access, refresh, login.terminal_key))
    })
    .await
    .map_err(with_note(&note))?;
    let mut answer = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "access_expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_token": refresh,
        "refresh_expires_in": REFRESH_TOKEN_SECONDS,
        "office": session.office,
        "user_id": session.user_id,
        "terminal": session.terminal,
        "notices": state.hub().config.notices,
    });
    if let Some(key) = terminal_key {
        answer["terminal_key"] = key.into();
    }
    ok(answer, session_note(&session))
}

fn otp_locked() -> HubError {
    otp_refused(
        "otp_locked",
        "ワンタイムパスワードを続けて誤ったため、この認証は無効になりました。もう一度ログインしてください。",
        "too many wrong one-time passwords: this challenge is locked, log in again",
    )
}

/// `POST /api/v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

async fn refresh(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> Reply {
    let caller = caller(&state, &peer, &headers)?;
    let Json(body) = body.map_err(|e| api::json_rejection(&e))?;
    let note = AuditNote {
        office: Some(caller.office.clone()),
        ..AuditNote::default()
    };
    let st = state.clone();
    let (session, access, left) = blocking(move || {
        let hub = st.hub();
        hub.check_caller(&caller)?;
        let now = hub.now();
        let mut tokens = st.lock();
        tokens.forget_old(now);
        let grant = tokens
            .refresh
            .get(&digest(&body.refresh_token))
            .cloned()
            .ok_or_else(|| {
                token_invalid(
                    "refresh_token_unknown",
                    "リフレッシュトークンが無効です。ログインし直してください。",
                    "unknown refresh token: log in again",
                )
            })?;
        if grant.expires <= now {
            return Err(token_invalid(
                "refresh_token_expired",
                "リフレッシュトークンの有効期限（8時間）が切れています。ログインし直してください。",
                "the refresh token expired (8 hours): log in again",
            ));
        }
        if grant.session.office != caller.office {
            return Err(token_invalid(
                "office_mismatch",
                "このリフレッシュトークンは別の事業所の証明書で発行されています。",
                "the refresh token was issued to another office's certificate",
            ));
        }
        check_grant(hub, &grant, &caller)?;
        let access = st.issue_access(&mut tokens, &grant.session, now)?;
        Ok((grant.session, access, grant.expires - now))
    })
    .await
    .map_err(with_note(&note))?;
    ok(
        serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "access_expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_expires_in": left,
        }),
        session_note(&session),
    )
}

// ----- care-plan calls ----------------------------------------------------------------------

/// A file of a listed item; `content_base64` only in the received list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CarePlanFile {
    pub id: i64,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
}

/// A sent or received item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CarePlanItem {
    pub id: i64,
    pub from_office: String,
    pub from_service_type: Option<String>,
    pub to_office: String,
    pub to_service_type: Option<String>,
    pub message: String,
    /// The send unit the hub matched (`kyotaku-riyohyo`, …).
    pub unit: Option<String>,
    pub serial: Option<String>,
    /// Unix seconds (hub clock).
    pub sent_at: Option<i64>,
    /// The spec core's findings when the hub runs with an annotation profile.
    pub annotations: Option<serde_json::Value>,
    pub files: Vec<CarePlanFile>,
}

impl CarePlanItem {
    fn from_entry(e: SendEntry) -> Self {
        Self {
            id: e.id,
            from_office: e.from_office,
            from_service_type: e.from_type,
            to_office: e.to_office,
            to_service_type: e.to_type,
            message: e.message,
            unit: e.unit,
            serial: e.serial,
            sent_at: e.sent_at,
            annotations: e.annotations,
            files: e
                .files
                .into_iter()
                .map(|f| CarePlanFile {
                    id: f.id,
                    name: f.name,
                    size: f.size,
                    sha256: f.sha256,
                    content_base64: None,
                })
                .collect(),
        }
    }
}

async fn sent(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    Path(ifver): Path<String>,
) -> Reply {
    let session = authorise(&state, &peer, &headers, &ifver).await?;
    let note = session_note(&session);
    let hub = state.hub().clone();
    let items = blocking(move || hub.outgoing(&session, false))
        .await
        .map_err(with_note(&note))?;
    let items: Vec<CarePlanItem> = items.into_iter().map(CarePlanItem::from_entry).collect();
    ok(serde_json::json!({ "items": items }), note)
}

/// Query of `GET …/received`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceivedQuery {
    /// Only items with a larger ID (items already processed need not travel again).
    #[serde(default)]
    pub after: Option<i64>,
}

async fn received(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    Path(ifver): Path<String>,
    query: Result<Query<ReceivedQuery>, QueryRejection>,
) -> Reply {
    let session = authorise(&state, &peer, &headers, &ifver).await?;
    let mut note = session_note(&session);
    let Query(query) = query
        .map_err(|e| HubError::bad_request(e.body_text()))
        .map_err(with_note(&note))?;
    let hub = state.hub().clone();
    let items = blocking(move || {
        let after = query.after.unwrap_or(i64::MIN);
        let mut out = Vec::new();
        for entry in hub.inbox(&session)?.into_iter().filter(|e| e.id > after) {
            let mut item = CarePlanItem::from_entry(entry);
            for file in &mut item.files {
                let (_, content) = hub.download(&session, item.id, file.id)?;
                file.content_base64 = Some(BASE64.encode(&content));
            }
            out.push(item);
        }
        Ok(out)
    })
    .await
    .map_err(with_note(&note))?;
    note.detail =
        Some(serde_json::json!({ "items": items.iter().map(|i| i.id).collect::<Vec<_>>() }));
    ok(serde_json::json!({ "items": items }), note)
}

/// One file of a send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendFile {
    pub name: String,
    /// The file's bytes, standard base64 with padding.
    pub content_base64: String,
}

/// `POST /api/careplan/{ifver}/send`: exactly one destination office.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub to_office: String,
    #[serde(default)]
    pub to_service_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub files: Vec<SendFile>,
}

/// Reads a send body, refusing a list of destinations with its own message.
fn read_send(value: serde_json::Value) -> Result<SendRequest, HubError> {
    let one_destination = || {
        HubError::bad_request(
            "a send goes to exactly one office: to_office is one 10-digit office number (no bulk send in this API; call send once per destination)",
        )
    };
    if let serde_json::Value::Object(map) = &value {
        if map.get("to_office").is_some_and(|v| !v.is_string()) {
            return Err(one_destination());
        }
        if ["to_offices", "destinations", "to"]
            .iter()
            .any(|k| map.contains_key(*k))
        {
            return Err(one_destination());
        }
    }
    let body: SendBody = serde_json::from_value(value)
        .map_err(|e| HubError::bad_request(format!("malformed send: {e}")))?;
    let mut files = Vec::with_capacity(body.files.len());
    for f in body.files {
        let content = BASE64.decode(f.content_base64.trim()).map_err(|e| {
            HubError::bad_request(format!("content_base64 is not standard base64: {e}"))
                .file(f.name.as_str())
        })?;
        files.push(Upload {
            name: f.name,
            content: Arc::new(content),
        });
    }
    Ok(SendRequest {
        destinations: vec![Destination {
            office: body.to_office.trim().to_owned(),
            service_type: body.to_service_type.map(|t| t.trim().to_owned()),
        }],
        message: body.message.unwrap_or_default(),
        files,
        draft: false,
    })
}

async fn send(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    headers: HeaderMap,
    Path(ifver): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Reply {
    let session = authorise(&state, &peer, &headers, &ifver).await?;
    let mut note = session_note(&session);
    let Json(value) = body
        .map_err(|e| api::json_rejection(&e))
        .map_err(with_note(&note))?;
    let hub = state.hub().clone();
    let receipt = blocking(move || {
        let req = read_send(value)?;
        hub.send(&session, &req)
    })
    .await
    .map_err(with_note(&note))?;
    let Some(delivery) = receipt.deliveries.into_iter().next() else {
        return Err(Refusal::new(
            HubError::internal("a stored send returned no delivery"),
            note,
        ));
    };
    note.detail = Some(serde_json::json!({
        "id": delivery.id, "to": delivery.to_office, "unit": delivery.unit,
        "serial": delivery.serial, "files": delivery.files,
    }));
    ok(
        serde_json::json!({
            "id": delivery.id,
            "to_office": delivery.to_office,
            "to_service_type": delivery.to_type,
            "unit": delivery.unit,
            "serial": delivery.serial,
            "files": delivery.files,
            "annotations": delivery.annotations,
        }),
        note,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_split_into_system_and_business_errors() {
        assert_eq!(system_status(Code::SessionInvalid), Some(401));
        assert_eq!(system_status(Code::CertKindRefused), Some(403));
        assert_eq!(system_status(Code::NotFound), Some(404));
        assert_eq!(system_status(Code::TooLarge), Some(400));
        assert_eq!(system_status(Code::Internal), Some(500));
        for business in [
            Code::DestinationNotSupported,
            Code::FileNameFormat,
            Code::LoginFailed,
            Code::LicenceInactive,
            Code::AccountLocked,
        ] {
            assert_eq!(system_status(business), None, "{business:?}");
        }
    }

    #[test]
    fn a_send_names_one_destination() {
        let list = serde_json::json!({ "to_office": ["0320000202", "0320000500"], "files": [] });
        let e = read_send(list).unwrap_err();
        assert_eq!(e.code, Code::BadRequest);
        assert!(
            e.message_en.contains("exactly one office"),
            "{}",
            e.message_en
        );
        let bulk = serde_json::json!({ "to_office": "0320000202", "to_offices": ["0320000500"] });
        assert_eq!(read_send(bulk).unwrap_err().code, Code::BadRequest);
        let one = serde_json::json!({
            "to_office": "0320000202",
            "files": [{ "name": "a.pdf", "content_base64": "JVBERi0=" }],
        });
        let req = read_send(one).unwrap();
        assert_eq!(req.destinations.len(), 1);
        assert_eq!(req.files[0].content.as_slice(), b"%PDF-");
        let bad = serde_json::json!({
            "to_office": "0320000202",
            "files": [{ "name": "a.pdf", "content_base64": "%%%" }],
        });
        assert_eq!(read_send(bad).unwrap_err().file.as_deref(), Some("a.pdf"));
    }

    #[test]
    fn the_configuration_selects_this_shape_as_2027() {
        let config: crate::Config = toml::from_str("api = \"2027\"").unwrap();
        assert_eq!(config.api, crate::config::ApiShape::Api2027);
    }

    #[test]
    fn only_served_interface_versions_pass() {
        check_version("v1").unwrap();
        let e = check_version("v2").unwrap_err();
        assert_eq!((e.code, system_status(e.code)), (Code::NotFound, Some(404)));
    }
}
