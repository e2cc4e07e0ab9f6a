//! The exchange client: one keep-alive HTTP/1.1 connection over mutual TLS per office identity,
//! speaking the `/v1` interface. Used by `cpkit send / inbox / fetch`, by the harness's personas
//! and by the tests.
//!
//! Refusals come back as [`ClientError::Refused`] carrying the hub's [`HubError`]; a refused
//! client certificate (which TLS 1.3 reports only on the first request) becomes
//! [`ClientError::CertificateRefused`] with the TLS alert and a hint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use ring::rand::{SecureRandom, SystemRandom};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::HubError;
use crate::hub::{Destination, LoginRequest, LoginResponse, SendReceipt, Status};
use crate::store::SendEntry;

/// What went wrong talking to the exchange. Messages carry their cause in the text (no
/// `source()` chain), so a caller printing the chain never repeats the operating system's words.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad exchange URL {0:?}: expected https://HOST:PORT")]
    Url(String),
    #[error(
        "refusing to send a password over plain http:// ({0}): use https://{rest}",
        rest = .0.trim_start_matches("http://")
    )]
    PlainHttp(String),
    #[error("failed to read {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error("failed to connect to {url}: {}{}", describe_io(.error), connect_hint(.error))]
    Connect { url: String, error: std::io::Error },
    #[error("{url} did not answer within {seconds} s ({what})")]
    Timeout {
        url: String,
        what: &'static str,
        seconds: u64,
    },
    #[error("the exchange refused the client certificate (TLS alert: {alert}); {hint}")]
    CertificateRefused { alert: String, hint: String },
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("HTTP failed: {0}")]
    Http(String),
    #[error("the exchange refused: {0}")]
    Refused(HubError),
    #[error("unexpected answer from the exchange (HTTP {status}): {body}")]
    Protocol { status: u16, body: String },
}

/// An I/O error's words without the "(os error N)" suffix the standard library appends.
fn describe_io(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn connect_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            " — nothing listens there (is `cpkit serve` running? is --url right?)"
        }
        _ => "",
    }
}

impl ClientError {
    /// Whether the exchange answered (a refusal or an unexpected answer) rather than the
    /// connection failing.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_))
    }

    /// Whether the exchange could not be reached or the TLS connection failed (including a
    /// client certificate the TLS layer refused).
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::Timeout { .. }
                | Self::CertificateRefused { .. }
                | Self::Tls(_)
                | Self::Http(_)
                | Self::Protocol { .. }
        )
    }

    /// The hub's refusal, if this is one.
    pub fn refusal(&self) -> Option<&HubError> {
        match self {
            Self::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// Who the client is: the office certificate and key, the CA that signed the hub's certificate,
/// and where the keys of this PC's terminals are kept.
#[derive(Debug, Clone)]
pub struct Identity {
    pub ca: PathBuf,
    /// None: connect without a client certificate (the hub refuses that; tests check it does).
    pub client: Option<(PathBuf, PathBuf)>,
    /// Plain-HTTP benchmark mode: the office sent in a header instead of a certificate. The
    /// only way a client accepts an `http://` URL.
    pub insecure_office: Option<String>,
    /// The terminal keys the hub issued to this PC (shared by clones of this identity).
    pub terminal_keys: TerminalKeys,
}

impl Identity {
    pub fn new(ca: impl Into<PathBuf>, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            client: Some((cert.into(), key.into())),
            insecure_office: None,
            terminal_keys: TerminalKeys::default(),
        }
    }

    /// A client without a certificate (the hub refuses it; for tests and scenarios).
    pub fn without_certificate(ca: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            client: None,
            insecure_office: None,
            terminal_keys: TerminalKeys::default(),
        }
    }

    /// Keeps terminal keys in a folder instead of memory.
    pub fn with_terminal_keys(mut self, keys: TerminalKeys) -> Self {
        self.terminal_keys = keys;
        self
    }
}

/// Where a PC keeps the keys the hubs issue to its terminals (D-HUB-TERMINAL), per hub (its
/// `host:port` as the client addresses it: two hubs bind the same terminal name to different
/// keys) and terminal: in memory (tests, the scenario runner) or one file per hub and terminal
/// in a folder (`cpkit`: `<certs>/offices/<office>/terminals/<host%3Aport>/<name>.key`, mode
/// 0600). Clones share the keys.
#[derive(Debug, Clone, Default)]
pub struct TerminalKeys {
    folder: Option<PathBuf>,
    memory: Arc<std::sync::Mutex<std::collections::HashMap<(String, String), String>>>,
}

/// A name with every byte outside `[A-Za-z0-9._-]` percent-encoded (terminal names may be
/// Japanese; a hub's address has a colon), so it is one safe path segment (`.` and `..` too).
fn path_segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && name.len() > 2) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TerminalKeys {
    pub fn in_folder(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: Some(folder.into()),
            memory: Arc::default(),
        }
    }

    /// The file that holds (or would hold) a terminal's key for a hub, when keys are kept in a
    /// folder.
    pub fn key_file(&self, hub: &str, terminal: &str) -> Option<PathBuf> {
        self.folder
            .as_deref()
            .map(|folder| Self::file(folder, hub, terminal))
    }

    fn file(folder: &Path, hub: &str, terminal: &str) -> PathBuf {
        folder.join(path_segment(hub)).join(format!(
            "{}.key",
            path_segment(terminal).replace('.', "%2E")
        ))
    }

    /// Where an earlier version kept a terminal's key, for every hub at once: read when the
    /// hub's own file is missing (the hub refuses it if it bound the name to another key).
    fn legacy_file(folder: &Path, terminal: &str) -> PathBuf {
        folder.join(format!(
            "{}.key",
            path_segment(terminal).replace('.', "%2E")
        ))
    }

    pub fn get(&self, hub: &str, terminal: &str) -> Result<Option<String>, ClientError> {
        if let Some(key) = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(hub.to_owned(), terminal.to_owned()))
        {
            return Ok(Some(key.clone()));
        }
        let Some(folder) = &self.folder else {
            return Ok(None);
        };
        for path in [
            Self::file(folder, hub, terminal),
            Self::legacy_file(folder, terminal),
        ] {
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Some(text.trim().to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ClientError::Credentials {
                        path,
                        reason: describe_io(&e),
                    });
                }
            }
        }
        Ok(None)
    }

    pub fn put(&self, hub: &str, terminal: &str, key: &str) -> Result<(), ClientError> {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((hub.to_owned(), terminal.to_owned()), key.to_owned());
        let Some(folder) = &self.folder else {
            return Ok(());
        };
        let path = Self::file(folder, hub, terminal);
        let fail = |e: std::io::Error| ClientError::Credentials {
            path: path.clone(),
            reason: format!(
                "{} (the hub issued this terminal's key; without it the terminal name is lost to this PC)",
                describe_io(&e)
            ),
        };
        let dir = path.parent().expect("a key file has a folder");
        std::fs::create_dir_all(dir).map_err(fail)?;
        write_private(&path, key.as_bytes()).map_err(fail)
    }
}

/// Writes a file readable by its owner only (0600 on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

fn cred_err(path: &Path) -> impl FnOnce(rustls_pki_types::pem::Error) -> ClientError {
    let path = path.to_path_buf();
    move |e| ClientError::Credentials {
        path,
        reason: e.to_string(),
    }
}

/// Builds the rustls client configuration of an identity.
pub fn tls_config(identity: &Identity) -> Result<Arc<ClientConfig>, ClientError> {
    crate::tls::install_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&identity.ca).map_err(cred_err(&identity.ca))? {
        roots
            .add(cert.map_err(cred_err(&identity.ca))?)
            .map_err(|e| ClientError::Tls(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match &identity.client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(cred_err(cert))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(cred_err(cert))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(cred_err(key))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| ClientError::Tls(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A parsed `https://host:port` or `http://host:port`.
#[derive(Debug, Clone)]
struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    /// The hub as this client addresses it (`host:port`, the host in lower case): what terminal
    /// keys are kept under.
    fn hub(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }
}

/// The hub an exchange URL addresses, as terminal keys are kept under it (`host:port`).
pub fn hub_address(url: &str) -> Result<String, ClientError> {
    parse_url(url, true).map(|e| e.hub())
}

/// Parses an exchange URL; `http://` only when `plain` (the benchmark's plain mode).
fn parse_url(url: &str, plain: bool) -> Result<Endpoint, ClientError> {
    let bad = || ClientError::Url(url.to_owned());
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        if !plain {
            return Err(ClientError::PlainHttp(url.to_owned()));
        }
        (false, r)
    } else {
        return Err(bad());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    Ok(Endpoint {
        tls,
        host: host.to_owned(),
        port,
    })
}

/// A connection to the exchange as one office, on one terminal.
pub struct Client {
    url: String,
    endpoint: Endpoint,
    tls: Option<Arc<ClientConfig>>,
    insecure_office: Option<String>,
    terminal_keys: TerminalKeys,
    sender: Option<Connection>,
    token: Option<String>,
    timeouts: Timeouts,
}

/// How long the client waits: for TCP connect plus the TLS handshake, and for each answer
/// (from the end of the request to the end of the response body).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: std::time::Duration,
    pub answer: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: std::time::Duration::from_secs(15),
            answer: std::time::Duration::from_secs(120),
        }
    }
}

/// An open HTTP/1.1 connection and the task driving it (whose error explains a closed connection).
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    task: tokio::task::JoinHandle<Result<(), hyper::Error>>,
}

impl Connection {
    /// Why the connection ended: the driving task's error, if it has one.
    async fn cause(self) -> Option<ClientError> {
        drop(self.sender);
        match self.task.await {
            Ok(Err(e)) => Some(transport_error(&e)),
            _ => None,
        }
    }
}

/// The client version `cpkit` reports (it knows V4.1 names).
pub const CLIENT_VERSION: &str = "1.2.0";

fn alert_hint(alert: &str) -> &'static str {
    match alert {
        a if a.contains("Expired") => {
            "the certificate is expired or not yet valid: check `cpkit certs show`"
        }
        a if a.contains("Revoked") => "the certificate was revoked: issue a new one",
        a if a.contains("UnknownCA") => "the certificate was not issued by the exchange's CA",
        a if a.contains("CertificateRequired") => {
            "no client certificate was sent: install the office certificate"
        }
        _ => {
            "the certificate is not usable for client authentication: check its kind and key usage"
        }
    }
}

/// Turns transport errors into [`ClientError`], recognising TLS alerts about the certificate.
fn transport_error(e: &(dyn std::error::Error + 'static)) -> ClientError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        // `io::Error::source` skips the wrapped error itself; look inside explicitly.
        let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return match tls {
                rustls::Error::AlertReceived(alert) => {
                    let alert = format!("{alert:?}");
                    ClientError::CertificateRefused {
                        hint: alert_hint(&alert).to_owned(),
                        alert,
                    }
                }
                other => ClientError::Tls(other.to_string()),
            };
        }
        source = err.source();
    }
    ClientError::Http(e.to_string())
}

impl Client {
    /// Prepares a client; the connection is opened on the first request.
    pub fn new(url: &str, identity: &Identity) -> Result<Self, ClientError> {
        let endpoint = parse_url(url, identity.insecure_office.is_some())?;
        let tls = if endpoint.tls {
            Some(tls_config(identity)?)
        } else {
            None
        };
        Ok(Self {
            url: url.to_owned(),
            endpoint,
            tls,
            insecure_office: identity.insecure_office.clone(),
            terminal_keys: identity.terminal_keys.clone(),
            sender: None,
            token: None,
            timeouts: Timeouts::default(),
        })
    }

    /// Changes how long the client waits (connect, answer).
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    fn timed_out(&self, what: &'static str, after: std::time::Duration) -> ClientError {
        ClientError::Timeout {
            url: self.url.clone(),
            what,
            seconds: after.as_secs(),
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    async fn connect(&mut self) -> Result<Connection, ClientError> {
        let limit = self.timeouts.connect;
        match tokio::time::timeout(limit, self.connect_now()).await {
            Ok(connected) => connected,
            Err(_) => Err(self.timed_out("connecting and the TLS handshake", limit)),
        }
    }

    async fn connect_now(&mut self) -> Result<Connection, ClientError> {
        let addr = (self.endpoint.host.as_str(), self.endpoint.port);
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|error| ClientError::Connect {
                url: self.url.clone(),
                error,
            })?;
        let _ = tcp.set_nodelay(true);
        let sender = if let Some(config) = &self.tls {
            let name = ServerName::try_from(self.endpoint.host.clone())
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let tls = TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| transport_error(&e))?;
            let (sender, conn) = http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| transport_error(&e))?;
            Connection {
                sender,
                task: tokio::spawn(conn),
            }
        } else {
            let (sender, conn) = http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| transport_error(&e))?;
            Connection {
                sender,
                task: tokio::spawn(conn),
            }
        };
        Ok(sender)
    }

    /// Sends one request (reconnecting once if the kept-alive connection was closed) and returns
    /// status and body.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let body = Bytes::from(body);
        for attempt in 0..2 {
            let fresh = !matches!(&self.sender, Some(c) if !c.sender.is_closed());
            let mut conn = match self.sender.take() {
                Some(c) if !fresh => c,
                _ => self.connect().await?,
            };
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, &self.endpoint.host);
            if let Some(ct) = content_type {
                req = req.header(hyper::header::CONTENT_TYPE, ct);
            }
            if let Some(token) = &self.token {
                req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
            }
            if let Some(office) = &self.insecure_office {
                req = req.header(crate::api::INSECURE_OFFICE_HEADER, office);
            }
            let req = req
                .body(Full::new(body.clone()))
                .map_err(|e| ClientError::Http(e.to_string()))?;
            let limit = self.timeouts.answer;
            let exchange = async {
                let response = match conn.sender.ready().await {
                    Ok(()) => conn.sender.send_request(req).await,
                    Err(e) => Err(e),
                }?;
                let status = response.status();
                let bytes = response.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, bytes))
            };
            let sent = match tokio::time::timeout(limit, exchange).await {
                Ok(sent) => sent,
                Err(_) => return Err(self.timed_out("waiting for the answer", limit)),
            };
            match sent {
                Ok((status, bytes)) => {
                    self.sender = Some(conn);
                    return Ok((status, bytes));
                }
                Err(e) => {
                    // A kept-alive connection the server closed: reconnect once. On a fresh
                    // connection, the driving task knows the real cause (a TLS alert, typically).
                    let cause = conn.cause().await;
                    match cause {
                        Some(
                            c @ (ClientError::CertificateRefused { .. } | ClientError::Tls(_)),
                        ) => {
                            return Err(c);
                        }
                        _ if !fresh && attempt == 0 => continue,
                        Some(c) => return Err(c),
                        None => return Err(transport_error(&e)),
                    }
                }
            }
        }
        Err(ClientError::Http("the connection closed twice".to_owned()))
    }

    async fn json<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let (status, bytes) = self.request(method, path, content_type, body).await?;
        decode(status, &bytes)
    }

    pub async fn status(&mut self) -> Result<Status, ClientError> {
        self.json(Method::GET, "/v1/status", None, Vec::new()).await
    }

    /// Logs in and keeps the session token for later requests.
    pub async fn login(
        &mut self,
        user_id: &str,
        password: &str,
        terminal: &str,
        client_version: &str,
    ) -> Result<LoginResponse, ClientError> {
        let body = serde_json::to_vec(&LoginRequest {
            user_id: user_id.to_owned(),
            password: password.to_owned(),
            terminal: terminal.to_owned(),
            client_version: client_version.to_owned(),
            terminal_key: self.terminal_keys.get(&self.endpoint.hub(), terminal)?,
        })
        .expect("a login request serialises");
        let response: LoginResponse = self
            .json(Method::POST, "/v1/login", Some("application/json"), body)
            .await?;
        if let Some(key) = &response.terminal_key {
            self.terminal_keys
                .put(&self.endpoint.hub(), terminal, key)?;
        }
        self.token = Some(response.token.clone());
        Ok(response)
    }

    /// Sends files (a bulk send when there are several destinations) or stores a draft.
    pub async fn send(
        &mut self,
        to: &[Destination],
        message: &str,
        files: &[(String, Vec<u8>)],
        draft: bool,
    ) -> Result<SendReceipt, ClientError> {
        let mut form = Multipart::new();
        for d in to {
            let value = match &d.service_type {
                Some(t) => format!("{}:{t}", d.office),
                None => d.office.clone(),
            };
            form.text("to", &value);
        }
        if !message.is_empty() {
            form.text("message", message);
        }
        if draft {
            form.text("draft", "true");
        }
        for (name, content) in files {
            form.file(name, content);
        }
        let path = if to.len() > 1 {
            "/v1/bulk-sends"
        } else {
            "/v1/sends"
        };
        let (content_type, body) = form.finish();
        self.json(Method::POST, path, Some(&content_type), body)
            .await
    }

    pub async fn inbox(&mut self) -> Result<Vec<SendEntry>, ClientError> {
        Ok(self
            .json::<Items>(Method::GET, "/v1/inbox", None, Vec::new())
            .await?
            .items)
    }

    pub async fn sent(&mut self) -> Result<Vec<SendEntry>, ClientError> {
        Ok(self
            .json::<Items>(Method::GET, "/v1/sent", None, Vec::new())
            .await?
            .items)
    }

    pub async fn drafts(&mut self) -> Result<Vec<SendEntry>, ClientError> {
        Ok(self
            .json::<Items>(Method::GET, "/v1/drafts", None, Vec::new())
            .await?
            .items)
    }

    pub async fn send_draft(&mut self, id: i64) -> Result<(), ClientError> {
        self.json::<serde_json::Value>(
            Method::POST,
            &format!("/v1/drafts/{id}/send"),
            None,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    pub async fn delete_draft(&mut self, id: i64) -> Result<(), ClientError> {
        self.json::<serde_json::Value>(
            Method::DELETE,
            &format!("/v1/drafts/{id}"),
            None,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Downloads one received file's bytes.
    pub async fn download(&mut self, send_id: i64, file_id: i64) -> Result<Vec<u8>, ClientError> {
        let path = format!("/v1/inbox/{send_id}/files/{file_id}");
        let (status, bytes) = self.request(Method::GET, &path, None, Vec::new()).await?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(decode::<serde_json::Value>(status, &bytes).err().unwrap_or(
                ClientError::Protocol {
                    status: status.as_u16(),
                    body: String::new(),
                },
            ))
        }
    }
}

#[derive(serde::Deserialize)]
struct Items {
    items: Vec<SendEntry>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: HubError,
}

fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, ClientError> {
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|e| ClientError::Protocol {
            status: status.as_u16(),
            body: format!("{e}: {}", String::from_utf8_lossy(bytes)),
        });
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Err(ClientError::Refused(body.error)),
        Err(_) => Err(ClientError::Protocol {
            status: status.as_u16(),
            body: String::from_utf8_lossy(bytes).chars().take(500).collect(),
        }),
    }
}

/// A `multipart/form-data` body. File names are written as given (UTF-8, quotes escaped), so that
/// the hub sees exactly the name the sender chose — hostile ones included.
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Self {
        let mut raw = [0u8; 12];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("system randomness");
        let boundary = format!(
            "cpkit-{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Self {
            boundary,
            body: Vec::new(),
        }
    }

    pub fn text(&mut self, name: &str, value: &str) {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            )
            .as_bytes(),
        );
    }

    pub fn file(&mut self, file_name: &str, content: &[u8]) {
        let escaped = file_name.replace('"', "%22");
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{escaped}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(content);
        self.body.extend_from_slice(b"\r\n");
    }

    /// The content type and the body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_host_and_port() {
        let e = parse_url("https://localhost:8443", false).unwrap();
        assert!(e.tls && e.host == "localhost" && e.port == 8443);
        let e = parse_url("http://127.0.0.1:9/", true).unwrap();
        assert!(!e.tls && e.port == 9);
        let e = parse_url("http://localhost:8443", false).unwrap_err();
        assert!(e.to_string().contains("use https://localhost:8443"), "{e}");
        for bad in [
            "localhost:8443",
            "https://localhost",
            "https://h:x",
            "https://h:1/path",
        ] {
            assert!(parse_url(bad, true).is_err(), "{bad}");
        }
    }
}
