//! Mutual TLS for the hub: the rustls server configuration (client certificate required, checked
//! against the test CA and its CRL) and a listener that completes each handshake off the accept
//! loop, reads the office identity from the client certificate and hands both to axum as the
//! connection's [`PeerInfo`] (axum does not expose peer certificates itself: engineering.md).
//!
//! A handshake that fails (no certificate, expired, unknown CA, revoked, wrong key usage) never
//! reaches the router; it is reported to the `on_refused` callback so the trace records why. The
//! CRL is re-read when its file changes, so `cpkit certs revoke` takes effect without a restart.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::hub::Caller;
use crate::pki::{self, Pki};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read {path}: {reason} (run `cpkit certs init`?)")]
    Read { path: PathBuf, reason: String },
    #[error("failed to build the TLS configuration: {0}")]
    Config(String),
}

/// What the router learns about a connection.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    /// The office identity from the client certificate; None on plain-HTTP connections.
    pub caller: Option<Caller>,
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Installs the ring provider as the process default (once; later calls are no-ops).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_err(path: &std::path::Path) -> impl FnOnce(rustls_pki_types::pem::Error) -> TlsError {
    let path = path.to_path_buf();
    move |e| TlsError::Read {
        path,
        reason: e.to_string(),
    }
}

/// Builds the server configuration from a PKI directory. `tls13_only` refuses TLS 1.2 (the 2027
/// API is announced as TLS 1.3).
pub fn server_config(pki: &Pki, tls13_only: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca_path = pki.ca_cert();
    for cert in CertificateDer::pem_file_iter(&ca_path).map_err(read_err(&ca_path))? {
        roots
            .add(cert.map_err(read_err(&ca_path))?)
            .map_err(|e| TlsError::Config(e.to_string()))?;
    }
    let crl_path = pki.crl();
    let crls = CertificateRevocationListDer::pem_file_iter(&crl_path)
        .map_err(read_err(&crl_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(&crl_path))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let server = pki.server();
    let chain = CertificateDer::pem_file_iter(&server.cert)
        .map_err(read_err(&server.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(&server.cert))?;
    let key = PrivateKeyDer::from_pem_file(&server.key).map_err(read_err(&server.key))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls13_only {
        &[&rustls::version::TLS13]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reports a refused handshake: peer address and reason.
pub type RefusalSink = Arc<dyn Fn(SocketAddr, String) + Send + Sync>;

/// How long a reason's sample lasts: the first refusal of each reason in a window is audited.
const SAMPLE_WINDOW: Duration = Duration::from_secs(60);
/// Distinct reasons sampled per window; the rest share one sample ("other reasons").
const SAMPLED_REASONS: usize = 32;

/// Refused handshakes cost nothing in the store: every one is counted
/// ([`crate::conn::Traffic::refused_handshakes`]), and only the first of each reason per minute
/// becomes an audit row, saying how many of that reason went unrecorded since its last row
/// (D-HUB-CONNECTIONS). Unauthenticated callers therefore cannot grow the audit log.
pub fn sampled_refusals(hub: Arc<crate::hub::Hub>) -> RefusalSink {
    struct Sampler {
        window_start: std::time::Instant,
        sampled: std::collections::HashSet<String>,
        unrecorded: std::collections::HashMap<String, u64>,
    }
    let sampler = Mutex::new(Sampler {
        window_start: std::time::Instant::now(),
        sampled: Default::default(),
        unrecorded: Default::default(),
    });
    Arc::new(move |remote: SocketAddr, reason: String| {
        let total = hub
            .traffic
            .refused_handshakes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let mut reason: String = reason.chars().take(200).collect();
        let unrecorded = {
            let mut s = sampler.lock().unwrap_or_else(|p| p.into_inner());
            if s.window_start.elapsed() >= SAMPLE_WINDOW {
                s.window_start = std::time::Instant::now();
                s.sampled.clear();
            }
            if !s.sampled.contains(&reason) && s.sampled.len() >= SAMPLED_REASONS {
                reason = "other reasons".to_owned();
            }
            if !s.sampled.insert(reason.clone()) {
                *s.unrecorded.entry(reason).or_insert(0) += 1;
                tracing::debug!("{remote}: handshake refused (not audited: sampled)");
                return;
            }
            s.unrecorded.remove(&reason).unwrap_or(0)
        };
        tracing::info!("{remote}: {reason}");
        let row = crate::store::NewAudit {
            peer: remote.to_string(),
            action: "TLS handshake".to_owned(),
            status: 495,
            code: Some("TLS_REFUSED".to_owned()),
            detail: Some(serde_json::json!({
                "reason": reason,
                "unrecorded_before": unrecorded,
                "refused_since_start": total,
            })),
            ..crate::store::NewAudit::default()
        };
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = hub.store.audit(&[row]) {
                tracing::error!("failed to append to the audit log: {e}");
            }
        });
    })
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener yielding TLS streams whose handshake (with a client certificate) completed.
pub struct TlsListener {
    local: SocketAddr,
    rx: mpsc::Receiver<(TlsStream<TcpStream>, PeerInfo)>,
}

impl TlsListener {
    /// Starts accepting on `tcp`. Handshakes run in their own tasks with a timeout.
    pub fn new(
        tcp: TcpListener,
        pki: Pki,
        tls13_only: bool,
        on_refused: RefusalSink,
    ) -> Result<Self, TlsError> {
        let local = tcp
            .local_addr()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let config = server_config(&pki, tls13_only)?;
        let crl_mtime = mtime(&pki.crl());
        let state = Arc::new(Mutex::new((config, crl_mtime)));
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let (stream, remote) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    break;
                }
                let _ = stream.set_nodelay(true);
                let config = current_config(&state, &pki, tls13_only);
                let tx = tx.clone();
                let on_refused = on_refused.clone();
                tokio::spawn(async move {
                    let acceptor = TlsAcceptor::from(config);
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => return on_refused(remote, describe_handshake_error(&e)),
                        Err(_) => return on_refused(remote, "TLS handshake timed out".to_owned()),
                    };
                    let caller = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                        Some(der) => match pki::cert_info(der) {
                            Ok(info) => Caller {
                                office: info.office,
                                kind: info.kind,
                                cert_not_after: Some(info.not_after),
                                cert_serial: Some(info.serial_hex),
                            },
                            Err(e) => {
                                return on_refused(
                                    remote,
                                    format!("unreadable client certificate: {e}"),
                                );
                            }
                        },
                        None => {
                            return on_refused(remote, "no client certificate".to_owned());
                        }
                    };
                    let _ = tx
                        .send((
                            tls,
                            PeerInfo {
                                remote,
                                caller: Some(caller),
                            },
                        ))
                        .await;
                });
            }
        });
        Ok(Self { local, rx })
    }
}

fn mtime(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The configuration to use for the next handshake: rebuilt when the CRL file changed.
fn current_config(
    state: &Mutex<(Arc<ServerConfig>, Option<SystemTime>)>,
    pki: &Pki,
    tls13_only: bool,
) -> Arc<ServerConfig> {
    let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
    let now = mtime(&pki.crl());
    if now != guard.1 {
        match server_config(pki, tls13_only) {
            Ok(config) => *guard = (config, now),
            Err(e) => tracing::error!("keeping the previous TLS configuration: {e}"),
        }
    }
    guard.0.clone()
}

fn describe_handshake_error(e: &io::Error) -> String {
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .map(|r| r.to_string())
        .unwrap_or_else(|| e.to_string());
    format!("TLS handshake refused: {inner}")
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends when the runtime shuts down.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(PeerInfo {
            remote: self.local,
            caller: None,
        })
    }
}

/// Plain HTTP (benchmarks only): the office comes from a header, see `api`.
pub struct PlainListener(pub TcpListener);

impl Listener for PlainListener {
    type Io = TcpStream;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        stream,
                        PeerInfo {
                            remote,
                            caller: None,
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(PeerInfo {
            remote: self.0.local_addr()?,
            caller: None,
        })
    }
}
