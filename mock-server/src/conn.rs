//! The hub's connections. Each accepted connection (mutual TLS, or plain HTTP for benchmarks) is
//! served by hyper's HTTP/1.1 server directly rather than through `axum::serve`, which cannot be
//! told any of what this module enforces (decision D-HUB-CONNECTIONS):
//!
//! * **Header timeout.** A request's headers must be complete within
//!   `limits.header_timeout_seconds` of the connection becoming ready for them. The clock also
//!   runs while a kept-alive connection waits for its next request, so an idle connection is
//!   closed after the same time.
//! * **Body stall.** A request body that delivers nothing for `limits.body_stall_seconds` fails;
//!   the interfaces answer `TIMEOUT`.
//! * **Connections per certificate.** At most `limits.max_connections_per_certificate` open at
//!   once per client certificate; the requests of one more are answered `TOO_MANY_CONNECTIONS`
//!   and the connection is closed.
//! * **Bytes in flight.** Before the router reads a request body, the request takes its size
//!   (its `Content-Length`, or the body limit when it has none) from one budget of
//!   `limits.max_bytes_in_flight` shared by all connections, and gives it back when answered.
//!   Requests queue for the budget in arrival order; one that waits longer than
//!   `limits.busy_wait_seconds` is answered `BUSY`. Uploads therefore hold a bounded amount of
//!   memory however many arrive at once.
//! * **Graceful shutdown.** On shutdown the listener closes, open connections finish the request
//!   they are serving and close.
//!
//! A refusal decided here reaches the interface's audit middleware as an [`EarlyRefusal`]
//! request extension, so it is answered in that interface's own error format and audited.
//!
//! [`serve`] holds the hub's interfaces to the hub's [`Policy`]; [`serve_with`] serves any
//! router under a policy of its own (the web console, on its loopback port, with its own budget).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::serve::Listener;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

use crate::config::{ApiShape, Config};
use crate::error::{Code, HubError};
use crate::hub::Hub;
use crate::tls::PeerInfo;

/// A refusal decided before the router ran (connection cap, upload budget): the interface's
/// middleware answers it in its own format.
#[derive(Debug, Clone)]
pub struct EarlyRefusal(pub HubError);

/// Counters of the connection layer (for tests, the benchmark and the trace).
#[derive(Debug, Default)]
pub struct Traffic {
    in_flight_bytes: AtomicU64,
    peak_in_flight_bytes: AtomicU64,
    /// Handshakes refused by the TLS layer (sampled into the audit, counted here).
    pub refused_handshakes: AtomicU64,
}

impl Traffic {
    /// The most request-body bytes the budget ever held at once.
    pub fn peak_in_flight_bytes(&self) -> u64 {
        self.peak_in_flight_bytes.load(Ordering::Relaxed)
    }

    /// The request-body bytes the budget holds now.
    pub fn in_flight_bytes(&self) -> u64 {
        self.in_flight_bytes.load(Ordering::Relaxed)
    }

    pub fn refused_handshakes(&self) -> u64 {
        self.refused_handshakes.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: u64) {
        let now = self.in_flight_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak_in_flight_bytes.fetch_max(now, Ordering::Relaxed);
    }

    fn give_back(&self, bytes: u64) {
        self.in_flight_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// The largest request body an interface reads: a whole send, plus room for the form (v1); the
/// same as base64 inside JSON (2027).
pub fn request_body_limit(config: &Config) -> usize {
    let send = config.limits.max_send_bytes as usize;
    let wire = match config.api {
        ApiShape::V1 => send,
        ApiShape::Api2027 => send.saturating_mul(4).div_ceil(3),
    };
    wire.saturating_add(1024 * 1024)
}

/// The request body's error when it delivered nothing for too long, or too little over its time.
#[derive(Debug, thiserror::Error)]
pub enum BodyStalled {
    #[error("the request body stalled: no bytes for {0} s")]
    Silent(u64),
    #[error(
        "the request body stalled: {received} bytes in {seconds} s, below the minimum of {min_rate} bytes/s"
    )]
    TooSlow {
        received: u64,
        seconds: u64,
        min_rate: u64,
    },
}

/// The refusal of a body that stalled, when `error` (or an error it wraps) comes from one: the
/// interfaces answer it `TIMEOUT`.
pub fn stall_refusal(error: &(dyn std::error::Error + 'static)) -> Option<HubError> {
    let mut next = Some(error);
    while let Some(e) = next {
        // Extractors may keep only the text of the body's error; the text names the stall.
        let text = e.to_string();
        if e.downcast_ref::<BodyStalled>().is_some() || text.contains("body stalled") {
            let en = text
                .find("the request body stalled")
                .map_or(text.as_str(), |at| &text[at..]);
            return Some(HubError::new(
                Code::Timeout,
                "送信データが途中で止まったか遅すぎるため、受け付けを中止しました。",
                en.to_owned(),
            ));
        }
        next = e.source();
    }
    None
}

/// A request body that fails when it delivers nothing for `stall`, or when, after its first
/// `stall`, it has averaged fewer than `min_rate` bytes per second (a trickle of one byte now
/// and then never stalls but would hold the connection and its budget for ever). Its clock
/// starts when the router first reads it (not while the request waits for the upload budget).
struct StallBody {
    inner: Incoming,
    stall: Duration,
    min_rate: u64,
    started: Option<tokio::time::Instant>,
    received: u64,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallBody {
    fn new(inner: Incoming, stall: Duration, min_rate: u64) -> Self {
        Self {
            inner,
            stall,
            min_rate,
            started: None,
            received: 0,
            timer: None,
        }
    }

    /// When the body, having received what it has, falls below the minimum rate.
    fn rate_deadline(&self, started: tokio::time::Instant) -> Option<tokio::time::Instant> {
        (self.min_rate > 0).then(|| {
            let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
            started + self.stall + earned
        })
    }

    fn failure(&self, started: tokio::time::Instant, now: tokio::time::Instant) -> BodyStalled {
        match self.rate_deadline(started) {
            Some(deadline) if deadline <= now => BodyStalled::TooSlow {
                received: self.received,
                seconds: now.duration_since(started).as_secs(),
                min_rate: self.min_rate,
            },
            _ => BodyStalled::Silent(self.stall.as_secs()),
        }
    }
}

impl hyper::body::Body for StallBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let started = *this.started.get_or_insert_with(tokio::time::Instant::now);
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.timer = None;
                if let Some(Ok(data)) = &frame {
                    this.received += data.data_ref().map_or(0, |d| d.len() as u64);
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.timer.is_none() {
                    let silent = tokio::time::Instant::now() + this.stall;
                    let deadline = this
                        .rate_deadline(started)
                        .map_or(silent, |d| d.min(silent));
                    this.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                }
                let timer = this.timer.as_mut().expect("set above");
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let failure = this.failure(started, tokio::time::Instant::now());
                        Poll::Ready(Some(Err(Box::new(failure))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How long a connection over its certificate's cap may take to send its request.
const OVER_CAP_GRACE: Duration = Duration::from_secs(2);

/// Open connections per certificate serial.
type Slots = Arc<Mutex<HashMap<String, usize>>>;

/// One open connection's place in its certificate's count (given back on drop).
struct Slot {
    slots: Slots,
    serial: Option<String>,
}

impl Slot {
    /// Takes a place; `Err` when the certificate already has `cap` connections.
    fn take(slots: &Slots, serial: Option<&str>, cap: usize) -> Result<Self, Self> {
        let Some(serial) = serial else {
            return Ok(Self {
                slots: slots.clone(),
                serial: None,
            });
        };
        let mut map = slots.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(serial.to_owned()).or_insert(0);
        if *n >= cap {
            return Err(Self {
                slots: slots.clone(),
                serial: None,
            });
        }
        *n += 1;
        Ok(Self {
            slots: slots.clone(),
            serial: Some(serial.to_owned()),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(serial) = &self.serial else { return };
        let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(serial) {
            *n -= 1;
            if *n == 0 {
                map.remove(serial);
            }
        }
    }
}

/// The budget a request takes: its declared body size (the body limit when it declares none
/// but has a body), in KiB permits.
fn body_kib(req: &Request<Incoming>, body_limit: usize, budget_kib: u32) -> u32 {
    let headers = req.headers();
    let bytes = if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        len.min(body_limit as u64)
    } else if headers.contains_key(header::TRANSFER_ENCODING) {
        body_limit as u64
    } else {
        0
    };
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(budget_kib)
}

/// What a listener's connections are held to (the hub's `[limits]`, see the module comment).
#[derive(Debug, Clone)]
pub struct Policy {
    pub header_timeout: Duration,
    pub body_stall: Duration,
    /// After its first `body_stall`, a body must have averaged this many bytes per second.
    pub min_body_rate: u64,
    pub max_connections_per_certificate: usize,
    pub max_bytes_in_flight: u64,
    pub busy_wait: Duration,
    /// The largest request body: what a request without a `Content-Length` takes from the budget.
    pub body_limit: usize,
    /// The body of the answer to a request HTTP cannot parse, in the interface's error format.
    pub framing_error: crate::framing::RenderError,
}

impl Policy {
    /// The hub's interfaces: every value from `config.limits`.
    pub fn of(config: &Config) -> Self {
        let limits = &config.limits;
        Self {
            header_timeout: Duration::from_secs(limits.header_timeout_seconds.max(1)),
            body_stall: Duration::from_secs(limits.body_stall_seconds.max(1)),
            min_body_rate: limits.min_body_bytes_per_second,
            max_connections_per_certificate: limits.max_connections_per_certificate.max(1),
            max_bytes_in_flight: limits.max_bytes_in_flight,
            busy_wait: Duration::from_secs(limits.busy_wait_seconds),
            body_limit: request_body_limit(config),
            framing_error: match config.api {
                ApiShape::V1 => crate::api::error_body,
                ApiShape::Api2027 => crate::api2027::error_body,
            },
        }
    }
}

/// Serves the hub's `router` on every connection `listener` yields until `shutdown` completes,
/// under the hub's [`Policy`], counting into [`Hub::traffic`].
pub async fn serve<L>(
    listener: L,
    router: Router,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: Listener<Addr = PeerInfo>,
{
    let policy = Policy::of(&hub.config);
    serve_with(listener, router, policy, hub.traffic.clone(), shutdown).await;
}

/// Serves `router` under `policy` (its own budget and connection counts), counting into
/// `traffic`: the hub's interfaces, and the web console on its own port.
pub async fn serve_with<L>(
    mut listener: L,
    router: Router,
    policy: Policy,
    traffic: Arc<Traffic>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: Listener<Addr = PeerInfo>,
{
    let body_limit = policy.body_limit;
    let cap = policy.max_connections_per_certificate.max(1);
    let budget_kib = u32::try_from(policy.max_bytes_in_flight.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .max(1);
    let budget = Arc::new(Semaphore::new(budget_kib as usize));
    let slots: Slots = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (alive_tx, alive_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let slot = Slot::take(
            &slots,
            peer.caller.as_ref().and_then(|c| c.cert_serial.as_deref()),
            cap,
        );
        let over_cap = slot.is_err().then(|| {
            EarlyRefusal(
                HubError::new(
                    Code::TooManyConnections,
                    format!("この証明書の同時接続数が上限（{cap}）を超えています。"),
                    format!(
                        "this client certificate already has {cap} open connections (the limit): close one and retry"
                    ),
                )
                .detail(serde_json::json!({ "limit": cap })),
            )
        });
        let router = router.clone();
        let budget = budget.clone();
        let traffic = traffic.clone();
        let stall = policy.body_stall;
        let min_rate = policy.min_body_rate;
        let busy_wait = policy.busy_wait;
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut router = router.clone();
            let budget = budget.clone();
            let traffic = traffic.clone();
            let peer = peer.clone();
            let over_cap = over_cap.clone();
            async move {
                let kib = body_kib(&req, body_limit, budget_kib);
                let mut req = req.map(|inner| Body::new(StallBody::new(inner, stall, min_rate)));
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut permit = None;
                if let Some(refusal) = over_cap {
                    req.extensions_mut().insert(refusal);
                } else if kib > 0 {
                    match tokio::time::timeout(busy_wait, budget.acquire_many_owned(kib)).await {
                        Ok(Ok(p)) => {
                            traffic.take(u64::from(kib) * 1024);
                            permit = Some(p);
                        }
                        _ => {
                            req.extensions_mut().insert(EarlyRefusal(HubError::new(
                                Code::Busy,
                                "模擬連携基盤が混み合っています。しばらくしてから再度送信してください。",
                                format!(
                                    "the exchange is receiving as many uploads as it buffers at once (waited {} s): retry",
                                    busy_wait.as_secs()
                                ),
                            )));
                        }
                    }
                }
                let response = tower_service::Service::call(&mut router, req).await;
                if permit.take().is_some() {
                    traffic.give_back(u64::from(kib) * 1024);
                    crate::memory::after_large_request(u64::from(kib) * 1024);
                }
                response
            }
        });
        let mut stop = stop_rx.clone();
        let alive = alive_rx.clone();
        // A connection over its certificate's cap gets a short grace to ask (and be told why it
        // is refused), then is closed: it must not hold a socket for the whole header timeout.
        let (header_timeout, keep_alive) = if slot.is_err() {
            (policy.header_timeout.min(OVER_CAP_GRACE), false)
        } else {
            (policy.header_timeout, true)
        };
        let framing_error = policy.framing_error;
        tokio::spawn(async move {
            let _slot = slot;
            let _alive = alive;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(keep_alive);
            let io = crate::framing::JsonFramingErrors::new(io, framing_error);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                _ = stop.wait_for(|stop| *stop) => conn.as_mut().graceful_shutdown(),
            }
            if let Err(e) = conn.await {
                tracing::debug!("connection ended during shutdown: {e}");
            }
        });
    }
    drop(listener);
    drop(alive_rx);
    let _ = stop_tx.send(true);
    alive_tx.closed().await;
}

/// Adds `Connection: close` to a refusal that ends its connection (revoked certificate, too many
/// connections, stalled body).
pub fn close_if_needed(code: Code, response: &mut axum::response::Response) {
    if matches!(
        code,
        Code::CertRevoked | Code::TooManyConnections | Code::Timeout
    ) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}
