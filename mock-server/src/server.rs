//! Starting and stopping the hub: bind, open the store, serve the router over mutual TLS (or plain
//! HTTP for benchmarks) until a shutdown signal. Tests bind `127.0.0.1:0` and run it in-process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, App};
use crate::config::{ApiShape, Config};
use crate::hub::{Hub, HubOpenError};
use crate::pki::Pki;
use crate::tls::{PlainListener, TlsError, TlsListener};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("failed to create the data folder {}: {error}", path.display())]
    Data {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    Hub(#[from] HubOpenError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// Serves the hub on a bound listener until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = App { hub: hub.clone() };
    let router = match hub.config.api {
        ApiShape::V1 => api::router(app),
        ApiShape::Api2027 => crate::api2027::router(app),
    };
    if hub.config.insecure_plain_http {
        tracing::warn!("serving plain HTTP: the office comes from a header (benchmarks only)");
        crate::conn::serve(PlainListener(listener), router, hub, shutdown).await;
    } else {
        let tls13_only = hub.config.api == ApiShape::Api2027;
        let tls = TlsListener::new(
            listener,
            Pki::new(&hub.config.certs),
            tls13_only,
            crate::tls::sampled_refusals(hub.clone()),
        )?;
        crate::conn::serve(tls, router, hub, shutdown).await;
    }
    Ok(())
}

/// A hub running in the background of this process.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
    /// Held while the server runs: no second hub on the same data folder.
    _lock: crate::lock::DataLock,
}

impl RunningServer {
    /// `https://127.0.0.1:PORT` (or `http://…` in plain mode).
    pub fn url(&self) -> String {
        let scheme = if self.hub.config.insecure_plain_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]), and waits.
    /// Connections still open after the grace period (an idle client that never sent a request
    /// keeps a graceful shutdown waiting) are dropped.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await {
            Ok(joined) => joined.map_err(|e| ServerError::Serve(std::io::Error::other(e)))?,
            Err(_) => {
                tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; dropping them");
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// How long [`RunningServer::stop`] waits for open connections.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the hub and serves it in a background task on `config.listen` (port 0 picks a free one).
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    crate::tls::install_provider();
    crate::memory::tune();
    crate::store::create_private_dir(&config.data).map_err(|error| ServerError::Data {
        path: config.data.clone(),
        error,
    })?;
    let lock = crate::lock::DataLock::acquire(&config.data)?;
    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ServerError::Bind { addr, error })?;
    let addr = listener
        .local_addr()
        .map_err(|error| ServerError::Bind { addr, error })?;
    let hub = Arc::new(Hub::open(config)?);
    if !hub.config.insecure_plain_http {
        // Fail now, not at the first connection, when the PKI is missing.
        crate::tls::server_config(&Pki::new(&hub.config.certs), false)?;
    }
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(run(listener, hub.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(RunningServer {
        addr,
        hub,
        stop: Some(stop),
        task,
        _lock: lock,
    })
}
