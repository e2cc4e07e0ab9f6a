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

/// What went wrong talking to the exchange.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad exchange URL {0:?}: expected https://HOST:PORT or http://HOST:PORT")]
    Url(String),
    #[error("failed to read {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error("failed to connect to {url}: {source}")]
    Connect { url: String, source: std::io::Error },
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

impl ClientError {
    /// The hub's refusal, if this is one.
    pub fn refusal(&self) -> Option<&HubError> {
        match self {
            Self::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// Who the client is: the office certificate and key, and the CA that signed the hub's certificate.
#[derive(Debug, Clone)]
pub struct Identity {
    pub ca: PathBuf,
    /// None: connect without a client certificate (the hub refuses that; tests check it does).
    pub client: Option<(PathBuf, PathBuf)>,
    /// Plain-HTTP benchmark mode: the office sent in a header instead of a certificate.
    pub insecure_office: Option<String>,
}

impl Identity {
    pub fn new(ca: impl Into<PathBuf>, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            client: Some((cert.into(), key.into())),
            insecure_office: None,
        }
    }
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

fn parse_url(url: &str) -> Result<Endpoint, ClientError> {
    let bad = || ClientError::Url(url.to_owned());
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
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
    sender: Option<Connection>,
    token: Option<String>,
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
        let endpoint = parse_url(url)?;
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
            sender: None,
            token: None,
        })
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    async fn connect(&mut self) -> Result<Connection, ClientError> {
        let addr = (self.endpoint.host.as_str(), self.endpoint.port);
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                url: self.url.clone(),
                source,
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
            let sent = match conn.sender.ready().await {
                Ok(()) => conn.sender.send_request(req).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(response) => {
                    let status = response.status();
                    let bytes = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| transport_error(&e))?
                        .to_bytes();
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
        })
        .expect("a login request serialises");
        let response: LoginResponse = self
            .json(Method::POST, "/v1/login", Some("application/json"), body)
            .await?;
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
        let e = parse_url("https://localhost:8443").unwrap();
        assert!(e.tls && e.host == "localhost" && e.port == 8443);
        let e = parse_url("http://127.0.0.1:9/").unwrap();
        assert!(!e.tls && e.port == 9);
        for bad in [
            "localhost:8443",
            "https://localhost",
            "https://h:x",
            "https://h:1/path",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
