//! The web console (`cpkit serve --console`): the operator's bench of the mock exchange, served on a
//! second, loopback-only port as server-rendered HTML (Japanese first, English on request).
//!
//! It holds the dev PKI, so it can act as any office and terminal: it logs in through the hub's
//! real `/v1` interface over mutual TLS with the office's certificate ([`bench`]), so every rule,
//! refusal and audit row is the hub's own. What a client cannot see — the registry, every mailbox
//! claim, any stored file, the audit log — it reads from the store through the few functions of
//! [`bridge`]. Files are checked with the spec core exactly as `cpkit validate` checks them
//! ([`checks`]) and shown record by record with the layout's column names ([`fileview`]).
//!
//! * [`security`] — the start-up token, the browser session cookie, CSRF and Host checks, headers.
//! * [`pages`] — one module per page, each a [`pages::Page`] registered in [`pages::PAGES`].
//! * [`render`] / [`i18n`] — templates (minijinja, auto-escaped) and the ja/en texts.
//!
//! Security model and pages: `docs/console.md`.

pub mod bench;
pub mod bridge;
pub mod checks;
pub mod fileview;
pub mod i18n;
pub mod pages;
pub mod render;
pub mod security;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::hub::Hub;
use crate::pki::Pki;

/// Where and how the console listens.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Loopback by default (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Allow a non-loopback address (anyone who reaches it with the token acts as every office).
    pub allow_remote: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_remote: false,
        }
    }
}

/// Why the console could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(
        "the console address {0} is not a loopback address; the console acts as every office, so it listens on 127.0.0.1 or ::1 unless forced (--console-allow-remote)"
    )]
    NotLoopback(SocketAddr),
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("failed to prepare the console templates: {0}")]
    Templates(String),
    #[error("the console failed: {0}")]
    Serve(std::io::Error),
}

/// Shared state of the console's router.
#[derive(Clone)]
pub struct Console(pub(crate) Arc<Inner>);

/// What the console holds (opaque outside the crate).
pub struct Inner {
    pub(crate) hub: Arc<Hub>,
    /// How the console reaches the hub as a client (`https://127.0.0.1:PORT`).
    pub(crate) hub_url: String,
    pub(crate) pki: Pki,
    pub(crate) security: security::Security,
    pub(crate) bench: bench::Bench,
    pub(crate) templates: render::Templates,
    /// Flips to true when the console stops (ends the live audit polls).
    pub(crate) stopping: watch::Receiver<bool>,
}

impl std::ops::Deref for Console {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The console running in the background of this process.
pub struct RunningConsole {
    pub addr: SocketAddr,
    /// The console's connection counters (its own upload budget, not the hub's).
    pub traffic: Arc<crate::conn::Traffic>,
    token: String,
    stop: Option<(oneshot::Sender<()>, watch::Sender<bool>)>,
    task: JoinHandle<Result<(), ConsoleError>>,
}

impl RunningConsole {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL to open: it carries the start-up token and sets the session cookie.
    pub fn login_url(&self) -> String {
        format!("{}/login?token={}", self.url(), self.token)
    }

    /// Stops accepting and waits (at most [`crate::server::SHUTDOWN_GRACE`]) for open requests.
    pub async fn stop(mut self) -> Result<(), ConsoleError> {
        if let Some((stop, stopping)) = self.stop.take() {
            let _ = stopping.send(true);
            let _ = stop.send(());
        }
        match tokio::time::timeout(crate::server::SHUTDOWN_GRACE, &mut self.task).await {
            Ok(joined) => joined.map_err(|e| ConsoleError::Serve(std::io::Error::other(e)))?,
            Err(_) => {
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// Whether an address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The URL a client in this process uses to reach the hub bound at `addr`.
pub fn hub_url(hub: &Hub, addr: SocketAddr) -> String {
    let scheme = if hub.config.insecure_plain_http {
        "http"
    } else {
        "https"
    };
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

/// The most the console holds for one send: the hub's file count + 1 and its send size + one
/// file, enough to go past the hub's limits (so the hub's own refusal can be seen), bounded all
/// the same.
pub fn upload_bounds(config: &Config) -> (usize, u64) {
    let l = &config.limits;
    (l.max_files + 1, l.max_send_bytes + l.max_file_bytes)
}

/// The console's connections: the hub's timeouts and upload budget, its largest body one
/// [`upload_bounds`] upload plus room for the form.
pub fn policy(config: &Config) -> crate::conn::Policy {
    let (_, bytes) = upload_bounds(config);
    crate::conn::Policy {
        body_limit: usize::try_from(bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(1024 * 1024),
        framing_error: crate::api::error_body,
        ..crate::conn::Policy::of(config)
    }
}

/// Builds the console's router (every page of [`pages::PAGES`] behind the security layer).
pub fn router(console: Console) -> Router {
    let mut router = Router::new();
    for page in pages::PAGES {
        router = (page.routes)(router);
    }
    security::wrap(router, console.clone()).with_state(console)
}

/// Starts the console for a hub reachable at `hub_addr`; refuses a non-loopback address unless
/// `config.allow_remote`.
pub async fn start(
    config: ConsoleConfig,
    hub: Arc<Hub>,
    hub_addr: SocketAddr,
) -> Result<RunningConsole, ConsoleError> {
    if !is_loopback(config.listen.ip()) && !config.allow_remote {
        return Err(ConsoleError::NotLoopback(config.listen));
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ConsoleError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ConsoleError::Bind {
        addr: config.listen,
        source,
    })?;
    let security = security::Security::new(addr, config.allow_remote);
    let token = security.token().to_owned();
    let (stopping_tx, stopping) = watch::channel(false);
    let console = Console(Arc::new(Inner {
        hub_url: hub_url(&hub, hub_addr),
        pki: Pki::new(&hub.config.certs),
        hub,
        security,
        bench: bench::Bench::default(),
        templates: render::Templates::new().map_err(ConsoleError::Templates)?,
        stopping,
    }));
    let policy = policy(&console.hub.config);
    let app = router(console);
    let traffic = Arc::<crate::conn::Traffic>::default();
    let counters = traffic.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // The hub's own connection layer: header, idle and body-stall timeouts, a bounded
        // number of upload bytes in flight, graceful shutdown (its own budget and counters).
        crate::conn::serve_with(
            crate::tls::PlainListener(listener),
            app,
            policy,
            counters,
            async move {
                let _ = stopped.await;
            },
        )
        .await;
        Ok(())
    });
    Ok(RunningConsole {
        addr,
        traffic,
        token,
        stop: Some((stop, stopping_tx)),
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_recognised() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "192.168.1.10",
            "::",
            "10.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }
}
