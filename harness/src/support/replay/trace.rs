//! Replaying a `cpkit trace export` bundle (mock-server `trace.rs`): a fresh hub on 127.0.0.1:0
//! with a fresh test PKI, the exported registry (every user gets a replay password), the exported
//! settings (API shape, limits, switches such as the receive mode), and for every request the
//! recorded hub time (the audit's system time plus the exported clock offset). The recorded
//! requests are made again in order — logins (a recorded `LOGIN_FAILED` with a wrong password),
//! sends and drafts with the stored files, inbox listings, downloads, sent and draft lists, draft
//! actions, status — each from its office and terminal, and the new hub's audit row for it is
//! compared with the recorded one (status, code, office, terminal, user, detail); a download's bytes
//! also with the stored file's SHA-256.
//!
//! Not replayed, and said so: refused sends (the hub stores nothing of them, so there are no bytes
//! to send again), refused TLS handshakes (the certificate is not in the trace), rows of the 2027
//! API shape, and requests the kit's client does not make.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use careplan_mock_server::client::{CLIENT_VERSION, Client, ClientError, Identity};
use careplan_mock_server::config::{Config, OfficeConfig, UserConfig};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::server::RunningServer;
use careplan_mock_server::store::{AuditEntry, SendEntry};
use careplan_mock_server::trace::ExchangeState;
use careplan_spec::OfficeNumber;

use super::{Difference, Replay, ReplayError, Skipped, differ, sha256_hex};
use crate::support::diagnose::trace::TraceBundle;

/// The password every user of the replayed registry gets (the trace holds none).
const REPLAY_PASSWORD: &str = "replay-pass-1";

/// What a recorded request was, as far as the replay can make it again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Login,
    Send { ids: Vec<i64> },
    Inbox,
    Download { send: i64, file: i64 },
    Sent,
    Drafts,
    DraftSend(i64),
    DraftDelete(i64),
    Status,
}

/// The request of an audit row, or why it is not replayed.
fn request_of(row: &AuditEntry) -> Result<Request, String> {
    let (method, path) = row
        .action
        .split_once(' ')
        .unwrap_or((row.action.as_str(), ""));
    let ids = |prefix: &str, suffix: &str| -> Option<i64> {
        path.strip_prefix(prefix)?
            .strip_suffix(suffix)?
            .parse()
            .ok()
    };
    if row.action == "TLS handshake" {
        return Err(
            "a refused TLS handshake: the trace does not hold the certificate presented".to_owned(),
        );
    }
    if path.starts_with("/api/") {
        return Err("the 2027 API shape is not replayed".to_owned());
    }
    Ok(match (method, path) {
        ("POST", "/v1/login") => Request::Login,
        ("POST", "/v1/sends" | "/v1/bulk-sends") => {
            if row.status != 200 {
                return Err(
                    "a refused send: the exchange stores nothing of it, so there are no bytes to send again"
                        .to_owned(),
                );
            }
            let ids = row
                .detail
                .as_ref()
                .and_then(|d| d.get("ids"))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_i64()).collect::<Vec<_>>())
                .unwrap_or_default();
            if ids.is_empty() {
                return Err("the send's row names no stored send".to_owned());
            }
            Request::Send { ids }
        }
        ("GET", "/v1/inbox") => Request::Inbox,
        ("GET", "/v1/sent") => Request::Sent,
        ("GET", "/v1/drafts") => Request::Drafts,
        ("GET", "/v1/status") => Request::Status,
        ("GET", p) if p.starts_with("/v1/inbox/") => {
            let mut parts = p.trim_start_matches("/v1/inbox/").split("/files/");
            match (
                parts.next().and_then(|s| s.parse().ok()),
                parts.next().and_then(|s| s.parse().ok()),
            ) {
                (Some(send), Some(file)) => Request::Download { send, file },
                _ => return Err("a download path without numeric ids".to_owned()),
            }
        }
        ("POST", _) if ids("/v1/drafts/", "/send").is_some() => {
            Request::DraftSend(ids("/v1/drafts/", "/send").unwrap_or_default())
        }
        ("DELETE", _) if ids("/v1/drafts/", "").is_some() => {
            Request::DraftDelete(ids("/v1/drafts/", "").unwrap_or_default())
        }
        _ => return Err("not a request the kit's exchange client makes".to_owned()),
    })
}

/// The hub of the replay and its clients.
struct Fresh {
    server: RunningServer,
    pki: Pki,
    clock_offset: i64,
    identities: BTreeMap<String, Identity>,
    sessions: BTreeMap<(String, String), Client>,
    last_seq: i64,
}

impl Fresh {
    fn identity(&mut self, office: &str) -> Result<Identity, String> {
        if let Some(i) = self.identities.get(office) {
            return Ok(i.clone());
        }
        let number = OfficeNumber::parse(office)
            .ok_or_else(|| format!("{office} is not an office number"))?;
        let files = self
            .pki
            .issue(
                &number,
                CertKind::KaigoHoken,
                Variant::Valid,
                Some("replay"),
            )
            .map_err(|e| e.to_string())?;
        let identity = Identity::new(self.pki.ca_cert(), files.cert, files.key);
        self.identities.insert(office.to_owned(), identity.clone());
        Ok(identity)
    }

    /// A new client of the office (a new connection, no session).
    fn client(&mut self, office: &str) -> Result<Client, String> {
        let identity = self.identity(office)?;
        Client::new(&self.server.url(), &identity).map_err(|e| e.to_string())
    }

    /// The hub's clock at the recorded request: its system time plus the exported offset.
    fn set_clock(&self, row: &AuditEntry) -> Result<(), String> {
        let at = row.at_ms.div_euclid(1000) + self.clock_offset;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.server
            .hub
            .set_clock_offset(at - now)
            .map_err(|e| e.to_string())
    }
}

/// What the replayed request gave back besides its audit row.
enum Answer {
    None,
    Bytes(Vec<u8>),
}

fn refusal_or<T>(
    r: Result<T, ClientError>,
    ok: impl FnOnce(T) -> Answer,
) -> Result<Answer, String> {
    match r {
        Ok(v) => Ok(ok(v)),
        // A refusal is an answer; its audit row is compared.
        Err(e) if e.refusal().is_some() => Ok(Answer::None),
        Err(ClientError::Protocol { .. }) => Ok(Answer::None),
        Err(e) => Err(e.to_string()),
    }
}

async fn make(
    fresh: &mut Fresh,
    dir: &Path,
    sends: &[SendEntry],
    row: &AuditEntry,
    request: &Request,
) -> Result<Answer, String> {
    let office = row.office.clone().unwrap_or_default();
    let terminal = row.terminal.clone();
    if let Request::Login = request {
        let mut client = fresh.client(&office)?;
        let password = if row.code.as_deref() == Some("LOGIN_FAILED") {
            "not-the-password"
        } else {
            REPLAY_PASSWORD
        };
        let version = row
            .detail
            .as_ref()
            .and_then(|d| d.get("client_version"))
            .and_then(|v| v.as_str())
            .unwrap_or(CLIENT_VERSION)
            .to_owned();
        let terminal = terminal.unwrap_or_else(|| "replay".to_owned());
        let user = row.user_id.clone().unwrap_or_default();
        let result = client.login(&user, password, &terminal, &version).await;
        let ok = result.is_ok();
        let answer = refusal_or(result, |_| Answer::None)?;
        if ok {
            fresh.sessions.insert((office, terminal), client);
        }
        return Ok(answer);
    }
    if let Request::Status = request {
        let mut client = fresh.client(&office)?;
        return refusal_or(client.status().await, |_| Answer::None);
    }
    // The session of the row's terminal, or (a refused session: the row names no terminal) a
    // client without one.
    let key = (office.clone(), terminal.clone().unwrap_or_default());
    let mut own;
    let client = match fresh.sessions.get_mut(&key) {
        Some(c) => c,
        None => {
            own = fresh.client(&office)?;
            &mut own
        }
    };
    match request {
        Request::Send { ids } => {
            let entries: Vec<&SendEntry> = ids
                .iter()
                .filter_map(|id| sends.iter().find(|s| s.id == *id))
                .collect();
            let Some(first) = entries.first() else {
                return Err(format!("sends {ids:?} are not in sends.jsonl"));
            };
            let mut files = Vec::new();
            for f in &first.files {
                let path = dir.join("files").join(first.id.to_string()).join(&f.name);
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
                files.push((f.name.clone(), bytes));
            }
            let to: Vec<Destination> = entries
                .iter()
                .map(|e| Destination {
                    office: e.to_office.clone(),
                    service_type: e.to_type.clone(),
                })
                .collect();
            let draft = first.state == "draft";
            refusal_or(
                client.send(&to, &first.message, &files, draft).await,
                |_| Answer::None,
            )
        }
        Request::Inbox => refusal_or(client.inbox().await, |_| Answer::None),
        Request::Download { send, file } => {
            refusal_or(client.download(*send, *file).await, Answer::Bytes)
        }
        Request::Sent => refusal_or(client.sent().await, |_| Answer::None),
        Request::Drafts => refusal_or(client.drafts().await, |_| Answer::None),
        Request::DraftSend(id) => refusal_or(client.send_draft(*id).await, |_| Answer::None),
        Request::DraftDelete(id) => refusal_or(client.delete_draft(*id).await, |_| Answer::None),
        Request::Login | Request::Status => unreachable!("answered above"),
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// The recorded row against the replayed one.
fn compare_rows(out: &mut Vec<Difference>, at: &str, a: &AuditEntry, b: &AuditEntry) {
    differ(
        out,
        at,
        "status",
        &a.status.to_string(),
        &b.status.to_string(),
    );
    differ(out, at, "code", opt(&a.code), opt(&b.code));
    differ(out, at, "office", opt(&a.office), opt(&b.office));
    differ(out, at, "terminal", opt(&a.terminal), opt(&b.terminal));
    differ(out, at, "user", opt(&a.user_id), opt(&b.user_id));
    let detail =
        |d: &Option<serde_json::Value>| d.as_ref().map(|v| v.to_string()).unwrap_or_default();
    differ(out, at, "detail", &detail(&a.detail), &detail(&b.detail));
}

async fn start(
    dir: &Path,
    state: &ExchangeState,
    work: &Path,
    notes: &mut Vec<String>,
) -> Result<Fresh, ReplayError> {
    let pki = Pki::new(work.join("pki"));
    pki.init(true)
        .map_err(|e| ReplayError::Exchange(format!("failed to create the test PKI: {e}")))?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        data: work.join("exchange"),
        certs: work.join("pki"),
        ..Config::default()
    };
    let path = dir.join("exchange.json");
    match &state.settings {
        Some(s) => {
            let field = |name: &str| s.get(name).cloned().unwrap_or_default();
            config.api = serde_json::from_value(field("api"))
                .map_err(|e| ReplayError::invalid(&path, format!("settings.api: {e}")))?;
            config.limits = serde_json::from_value(field("limits"))
                .map_err(|e| ReplayError::invalid(&path, format!("settings.limits: {e}")))?;
            config.switches = serde_json::from_value(field("switches"))
                .map_err(|e| ReplayError::invalid(&path, format!("settings.switches: {e}")))?;
        }
        None => notes.push(
            "the trace holds no settings (its hub ran before they were kept): the replay uses the defaults"
                .to_owned(),
        ),
    }
    for o in &state.offices {
        let number = OfficeNumber::parse(&o.number).ok_or_else(|| {
            ReplayError::invalid(
                &path,
                format!("office {:?}: not an office number", o.number),
            )
        })?;
        config.offices.push(OfficeConfig {
            number,
            name: o.name.clone(),
            service_types: o.service_types.clone(),
            licence: o.licence,
            licence_until: o.licence_until.clone(),
        });
    }
    for u in &state.users {
        let office = OfficeNumber::parse(&u.office).ok_or_else(|| {
            ReplayError::invalid(&path, format!("user {}: office {:?}", u.id, u.office))
        })?;
        config.users.push(UserConfig {
            id: u.id.clone(),
            office,
            password: REPLAY_PASSWORD.to_owned(),
            state: u.state,
            agent: u.agent,
        });
    }
    notes.push(format!(
        "a fresh hub with the exported registry ({} offices, {} users; passwords are the replay's), settings and clock; a fresh test PKI",
        state.offices.len(),
        state.users.len()
    ));
    let server = careplan_mock_server::start(config)
        .await
        .map_err(|e| ReplayError::Exchange(e.to_string()))?;
    let last_seq = server
        .hub
        .store
        .audit_rows(0, i64::MAX)
        .map_err(|e| ReplayError::Exchange(e.to_string()))?
        .last()
        .map_or(0, |r| r.seq);
    Ok(Fresh {
        server,
        pki,
        clock_offset: state.clock_offset_seconds,
        identities: BTreeMap::new(),
        sessions: BTreeMap::new(),
        last_seq,
    })
}

/// Replays the trace bundle in `dir`.
pub fn replay(dir: &Path) -> Result<Replay, ReplayError> {
    let bundle = TraceBundle::read(dir).map_err(|e| ReplayError::invalid(dir, e.to_string()))?;
    let path = dir.join("exchange.json");
    if !path.is_file() {
        return Err(ReplayError::invalid(
            dir,
            "no exchange.json (registry, settings, clock): the trace was exported by an older cpkit; export it again with `cpkit trace export`",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(ReplayError::read(&path))?;
    let state: ExchangeState = serde_json::from_str(&text)
        .map_err(|e| ReplayError::invalid(&path, format!("line {}: {e}", e.line())))?;
    careplan_mock_server::tls::install_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ReplayError::Exchange(format!("failed to start the async runtime: {e}")))?;
    static N: AtomicU32 = AtomicU32::new(0);
    let work = std::env::temp_dir().join(format!(
        "cpkit-replay-trace-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&work);
    let result = runtime.block_on(replay_rows(dir, &bundle, &state, &work));
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn replay_rows(
    dir: &Path,
    bundle: &TraceBundle,
    state: &ExchangeState,
    work: &Path,
) -> Result<Replay, ReplayError> {
    let mut notes = Vec::new();
    let mut fresh = start(dir, state, work, &mut notes).await?;
    let mut differences = Vec::new();
    let mut skipped = Vec::new();
    let mut compared = 0;
    for (line, row) in &bundle.audit {
        let at = format!("trace.jsonl:{line} ({})", row.action);
        let request = match request_of(row) {
            Ok(r) => r,
            Err(why) => {
                skipped.push(Skipped { at, why });
                continue;
            }
        };
        if row.office.is_none() {
            skipped.push(Skipped {
                at,
                why: "the row names no office (no usable certificate)".to_owned(),
            });
            continue;
        }
        fresh
            .set_clock(row)
            .map_err(|e| ReplayError::Exchange(format!("failed to set the clock: {e}")))?;
        compared += 1;
        let answer = make(&mut fresh, dir, &bundle.sends, row, &request).await;
        let rows = fresh
            .server
            .hub
            .store
            .audit_rows(fresh.last_seq, 100)
            .map_err(|e| ReplayError::Exchange(e.to_string()))?;
        if let Some(last) = rows.last() {
            fresh.last_seq = last.seq;
        }
        let replayed = rows.iter().find(|r| r.action == row.action);
        match (replayed, &answer) {
            (Some(b), _) => compare_rows(&mut differences, &at, row, b),
            (None, Err(e)) => differences.push(Difference {
                at: at.clone(),
                what: "no answer from the exchange".to_owned(),
                recorded: format!("{} {}", row.status, opt(&row.code)),
                replayed: e.clone(),
            }),
            (None, Ok(_)) => differences.push(Difference {
                at: at.clone(),
                what: "no audit row for the request".to_owned(),
                recorded: format!("{} {}", row.status, opt(&row.code)),
                replayed: String::new(),
            }),
        }
        if let (Request::Download { send, file }, Ok(Answer::Bytes(bytes))) = (&request, &answer) {
            let stored = bundle
                .sends
                .iter()
                .find(|s| s.id == *send)
                .and_then(|s| s.files.iter().find(|f| f.id == *file))
                .map(|f| f.sha256.clone())
                .unwrap_or_default();
            differ(
                &mut differences,
                &at,
                "downloaded bytes (SHA-256)",
                &stored,
                &sha256_hex(bytes),
            );
        }
    }
    let _ = fresh.server.stop().await;
    Ok(Replay {
        kind: "trace",
        bundle: dir.display().to_string(),
        subject: format!(
            "{} audit rows, {} {}",
            bundle.audit.len(),
            bundle.sends.len(),
            if bundle.sends.len() == 1 {
                "send"
            } else {
                "sends"
            }
        ),
        compared,
        differences,
        skipped,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: &str, status: u16, detail: Option<serde_json::Value>) -> AuditEntry {
        AuditEntry {
            seq: 1,
            at_ms: 0,
            peer: String::new(),
            office: Some("0310000100".to_owned()),
            terminal: None,
            user_id: None,
            action: action.to_owned(),
            status,
            code: None,
            detail,
        }
    }

    #[test]
    fn rows_map_to_the_requests_the_client_makes() {
        assert_eq!(
            request_of(&row("POST /v1/login", 200, None)),
            Ok(Request::Login)
        );
        assert_eq!(
            request_of(&row(
                "POST /v1/sends",
                200,
                Some(serde_json::json!({"ids": [3]}))
            )),
            Ok(Request::Send { ids: vec![3] })
        );
        assert!(request_of(&row("POST /v1/sends", 400, None)).is_err());
        assert_eq!(
            request_of(&row("GET /v1/inbox/7/files/12", 200, None)),
            Ok(Request::Download { send: 7, file: 12 })
        );
        assert_eq!(
            request_of(&row("POST /v1/drafts/4/send", 200, None)),
            Ok(Request::DraftSend(4))
        );
        assert_eq!(
            request_of(&row("DELETE /v1/drafts/4", 200, None)),
            Ok(Request::DraftDelete(4))
        );
        assert!(request_of(&row("TLS handshake", 495, None)).is_err());
        assert!(request_of(&row("GET /api/careplan/v1/received", 200, None)).is_err());
        assert!(request_of(&row("GET /nowhere", 404, None)).is_err());
    }
}
