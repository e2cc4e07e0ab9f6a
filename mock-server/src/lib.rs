//! The mock ケアプランデータ連携 exchange (the national hub run by 国保中央会), simulated for vendors'
//! rehearsals, CI and support engineers.
//!
//! * [`pki`] — the test PKI: CA, server certificate, office client certificates and broken variants.
//! * [`config`] — configuration, switches for field-reported behaviours, the demo registry.
//! * [`store`] — the SQLite store (WAL): registry, sessions, sends, files, mailboxes, audit;
//!   [`lock`] — one hub per data folder.
//! * [`hub`] — the exchange's rules, independent of HTTP; [`names`] — which upload names it accepts.
//! * [`tls`] / [`conn`] / [`api`] / [`server`] — mutual TLS, connections (timeouts, caps, the
//!   upload budget), the `/v1` HTTP interface, start and stop; [`framing`] — JSON answers to
//!   requests HTTP cannot parse; [`memory`] — giving back what large uploads held.
//! * [`api2027`] — the `api = "2027"` shape: the announced 介護保険資格確認等WEBサービス care-plan API
//!   (login with a one-time password, access/refresh tokens, business errors as HTTP 200).
//! * [`client`] — the client used by `cpkit send / inbox / fetch`, the harness and the tests.
//! * [`trace`] — export of the audit trail and the stored files as a replay bundle.
//! * [`console`] — the web console (`cpkit serve --console`): the operator's bench in a browser.
//! * [`zip`] — a minimal stored-zip writer (a whole unit, the trace bundle, the zip persona).
//!
//! The hub checks file names against the spec core's send units and forwards bytes unchanged.

pub mod api;
pub mod api2027;
pub mod client;
pub mod config;
pub mod conn;
pub mod console;
pub mod error;
pub mod framing;
pub mod hub;
pub mod lock;
pub mod memory;
pub mod names;
pub mod pki;
pub mod server;
pub mod store;
pub mod tls;
pub mod trace;
pub mod zip;

pub use config::Config;
pub use error::{Code, HubError};
pub use hub::Hub;
pub use server::{RunningServer, start};
