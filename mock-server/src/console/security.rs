//! Who may use the console, and how a page proves it came from the console itself.
//!
//! * **Loopback only** ([`super::start`] refuses another address unless forced) and a **Host check**
//!   (only `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`), so a page of another site that
//!   resolves its name to 127.0.0.1 (DNS rebinding) is refused.
//! * **A random token** (256 bits) created at start-up and printed as `…/login?token=…`. Opening it
//!   starts a browser session: a random session ID in an `HttpOnly`, `SameSite=Strict` cookie
//!   named per port. Every other page without a valid session answers 401.
//! * **CSRF**: every state-changing request (anything but GET/HEAD) must carry `csrf=` in its query,
//!   an HMAC of the session ID under a per-process key, and must not come from another origin
//!   (`Origin`, `Sec-Fetch-Site`). Forms put the value into their `action`.
//! * **Headers**: a CSP without inline scripts, no framing, no referrer to other sites, no caching.
//!
//! Tokens and session IDs are compared through HMAC tags (constant time).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::Console;

/// At most this many browser sessions; the least recently used is forgotten first.
pub const MAX_SESSIONS: usize = 32;

/// The console's secrets and its browser sessions.
pub struct Security {
    addr: SocketAddr,
    allow_remote: bool,
    token: String,
    token_tag: hmac::Tag,
    key: hmac::Key,
    /// Session ID → when it was last used (a counter, so the order is exact).
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    clock: u64,
    used: HashMap<String, u64>,
}

/// A request that passed the checks: its session and the CSRF value its forms must carry.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub sid: String,
    pub csrf: String,
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut raw)
        .expect("the system random source is available");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl Security {
    pub fn new(addr: SocketAddr, allow_remote: bool) -> Self {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("system randomness");
        let token = random_hex(32);
        let token_tag = hmac::sign(&key, token.as_bytes());
        Self {
            addr,
            allow_remote,
            token,
            token_tag,
            key,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The session cookie's name (per port: cookies are shared by every port of a host).
    pub fn cookie_name(&self) -> String {
        format!("cpkit_console_{}", self.addr.port())
    }

    fn token_matches(&self, given: &str) -> bool {
        // Compare tags, not the strings: the time taken does not depend on the token.
        hmac::verify(&self.key, given.as_bytes(), self.token_tag.as_ref()).is_ok()
    }

    /// The CSRF value of a session.
    pub fn csrf(&self, sid: &str) -> String {
        hex(hmac::sign(&self.key, format!("csrf:{sid}").as_bytes()).as_ref())
    }

    fn csrf_matches(&self, sid: &str, given: &str) -> bool {
        unhex(given).is_some_and(|tag| {
            hmac::verify(&self.key, format!("csrf:{sid}").as_bytes(), &tag).is_ok()
        })
    }

    /// Starts a browser session; returns its ID and the session forgotten to make room, if any.
    pub fn open_session(&self) -> (String, Option<String>) {
        let sid = random_hex(32);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let mut evicted = None;
        if sessions.used.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .used
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(s, _)| s.clone())
        {
            sessions.used.remove(&oldest);
            evicted = Some(oldest);
        }
        sessions.clock += 1;
        let now = sessions.clock;
        sessions.used.insert(sid.clone(), now);
        (sid, evicted)
    }

    /// Whether a session ID is live (and marks it used).
    fn touch(&self, sid: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.clock += 1;
        let now = sessions.clock;
        match sessions.used.get_mut(sid) {
            Some(t) => {
                *t = now;
                true
            }
            None => false,
        }
    }

    /// Whether the Host header names this console (any host when remote access was forced).
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if self.allow_remote {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let port = self.addr.port();
        [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            self.addr.to_string(),
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether a state-changing request comes from this console's own pages.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
            && !matches!(site, "same-origin" | "none")
        {
            return false;
        }
        match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let Some(host) = origin.strip_prefix("http://") else {
                    return false;
                };
                let mut host_only = HeaderMap::new();
                match HeaderValue::from_str(host) {
                    Ok(v) => {
                        host_only.insert(header::HOST, v);
                        // The origin must be the host this request was sent to.
                        headers.get(header::HOST).is_some_and(|h| h == host)
                            && self.host_allowed(&host_only)
                    }
                    Err(_) => false,
                }
            }
        }
    }

    fn session_of(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
            .filter(|sid| self.touch(sid))
    }
}

fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
}

/// Why a request was refused before reaching a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No valid session and no (or a wrong) token.
    NoToken,
    /// A state-changing request without the session's CSRF value or from another origin.
    Csrf,
    /// The Host header does not name this console.
    Host,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Self::NoToken => StatusCode::UNAUTHORIZED,
            Self::Csrf | Self::Host => StatusCode::FORBIDDEN,
        }
    }
}

fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // `same-origin`, not `no-referrer`: with no referrer, browsers send `Origin: null` on the
    // console's own form posts, which the origin check must refuse.
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::CACHE_CONTROL, "no-store");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    response
}

/// The page answered instead of the one asked for.
fn refused(console: &Console, why: Refusal) -> Response {
    let body = console.templates.refused(why);
    (why.status(), axum::response::Html(body)).into_response()
}

async fn guard(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let security = &console.security;
    if !security.host_allowed(request.headers()) {
        return harden(refused(&console, Refusal::Host));
    }
    // A refusal of the connection layer (too many upload bytes in flight): its own page.
    if let Some(crate::conn::EarlyRefusal(e)) = request.extensions().get() {
        let status =
            StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let body = console
            .templates
            .error(status.as_u16(), &e.message_ja, &e.message_en);
        return harden((status, axum::response::Html(body)).into_response());
    }
    let path = request.uri().path().to_owned();
    // The style sheet and the script are public (the refusal page needs the style sheet).
    if matches!(path.as_str(), "/assets/console.css" | "/assets/console.js") {
        return harden(next.run(request).await);
    }
    if path == "/login" {
        let given = query_value(request.uri().query(), "token").unwrap_or_default();
        if !security.token_matches(&given) {
            return harden(refused(&console, Refusal::NoToken));
        }
        let (sid, evicted) = security.open_session();
        if let Some(old) = evicted {
            console.bench.forget(&old);
        }
        let cookie = format!(
            "{}={sid}; Path=/; HttpOnly; SameSite=Strict",
            security.cookie_name()
        );
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        return harden(response);
    }
    let Some(sid) = security.session_of(request.headers()) else {
        return harden(refused(&console, Refusal::NoToken));
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let csrf = query_value(request.uri().query(), "csrf").unwrap_or_default();
        if !security.same_origin(request.headers()) || !security.csrf_matches(&sid, &csrf) {
            return harden(refused(&console, Refusal::Csrf));
        }
    }
    let csrf = security.csrf(&sid);
    request.extensions_mut().insert(Visitor { sid, csrf });
    harden(next.run(request).await)
}

/// Puts every route of `router` behind the checks.
pub fn wrap(router: Router<Console>, console: Console) -> Router<Console> {
    router.layer(middleware::from_fn_with_state(console, guard))
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Visitor>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security() -> Security {
        Security::new("127.0.0.1:4321".parse().unwrap(), false)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_token_and_csrf_values_are_checked_exactly() {
        let s = security();
        assert_eq!(s.token().len(), 64);
        assert!(s.token_matches(s.token()));
        assert!(!s.token_matches(""));
        assert!(!s.token_matches(&s.token()[1..]));
        let csrf = s.csrf("abc");
        assert!(s.csrf_matches("abc", &csrf));
        assert!(!s.csrf_matches("abd", &csrf));
        assert!(!s.csrf_matches("abc", ""));
        assert!(!s.csrf_matches("abc", "zz"));
        assert_ne!(
            Security::new("127.0.0.1:4321".parse().unwrap(), false).token(),
            s.token()
        );
    }

    #[test]
    fn hosts_other_than_this_console_are_refused() {
        let s = security();
        assert!(s.host_allowed(&headers(&[("host", "127.0.0.1:4321")])));
        assert!(s.host_allowed(&headers(&[("host", "localhost:4321")])));
        assert!(!s.host_allowed(&headers(&[("host", "evil.example:4321")])));
        assert!(!s.host_allowed(&headers(&[("host", "127.0.0.1:4322")])));
        assert!(!s.host_allowed(&HeaderMap::new()));
    }

    #[test]
    fn cross_origin_posts_are_refused() {
        let s = security();
        let host = ("host", "127.0.0.1:4321");
        assert!(s.same_origin(&headers(&[host])));
        assert!(s.same_origin(&headers(&[host, ("origin", "http://127.0.0.1:4321")])));
        assert!(!s.same_origin(&headers(&[host, ("origin", "http://evil.example")])));
        assert!(!s.same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!s.same_origin(&headers(&[host, ("origin", "http://localhost:4321")])));
        assert!(!s.same_origin(&headers(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(s.same_origin(&headers(&[host, ("sec-fetch-site", "same-origin")])));
    }

    #[test]
    fn sessions_are_bounded_and_the_least_recently_used_goes_first() {
        let s = security();
        let name = s.cookie_name();
        let ids: Vec<String> = (0..MAX_SESSIONS)
            .map(|_| s.open_session())
            .map(|(sid, evicted)| {
                assert_eq!(evicted, None);
                sid
            })
            .collect();
        let cookie = |sid: &str| headers(&[("cookie", &format!("other=1; {name}={sid}"))]);
        // Using the first session makes the second the least recently used.
        assert_eq!(
            s.session_of(&cookie(&ids[0])).as_deref(),
            Some(ids[0].as_str())
        );
        assert_eq!(s.session_of(&cookie("nope")), None);
        let (_, evicted) = s.open_session();
        assert_eq!(evicted.as_deref(), Some(ids[1].as_str()));
        assert_eq!(s.session_of(&cookie(&ids[1])), None);
        assert!(s.session_of(&cookie(&ids[0])).is_some());
    }
}
