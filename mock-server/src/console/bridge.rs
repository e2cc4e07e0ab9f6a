//! The console's only ways into the hub, kept to a few functions so the pages never depend on its
//! internals: the registry and its edits (store, switches, test PKI), logging a terminal in through
//! the hub's real `/v1` interface, a dry run of the hub's send checks, and the operator's reads of
//! mailboxes, stored sends and files, the audit log and the trace bundle.

use std::path::{Path, PathBuf};

use careplan_spec::OfficeNumber;
use serde::Serialize;

use super::Console;
use super::bench::{Actor, ActorKey, Flash, PreviewDelivery};
use crate::client::{Client, ClientError, Identity, TerminalKeys};
use crate::config::{Config, Licence, Switches};
use crate::error::{Code, HubError};
use crate::hub::{Caller, SendRequest};
use crate::pki::{CertFiles, CertKind, PkiError, Variant, read_cert_info};
use crate::store::operator::{AuditQuery, MailboxItem, Terminal, UserState};
use crate::store::{AuditEntry, Office};

/// One certificate file of an office.
#[derive(Debug, Clone, Serialize)]
pub struct CertRow {
    /// File stem under `certs/offices/<office>/`.
    pub name: String,
    pub kind: Option<String>,
    pub kind_ja: Option<String>,
    pub not_after: i64,
    pub days_left: i64,
    /// `valid`, `expired`, `not-yet-valid`, `revoked` or `other-ca`.
    pub state: &'static str,
    pub serial: String,
}

/// A terminal the hub has seen, and whether this PC (the console and `cpkit` on this certificate
/// folder) holds its key.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalRow {
    #[serde(flatten)]
    pub terminal: Terminal,
    /// `this-pc` (the key in `<certs>/offices/<office>/terminals/` is the one the hub bound),
    /// `other-pc` (bound to a key this PC does not hold) or `unbound` (recorded before terminal
    /// keys existed: bound at its next login).
    pub key: &'static str,
}

/// An office with everything the registry page shows about it.
#[derive(Debug, Clone, Serialize)]
pub struct OfficeRow {
    pub office: Office,
    /// The licence as the hub judges it today (`active` until the date passes).
    pub licence_now: Licence,
    pub certs: Vec<CertRow>,
    pub terminals: Vec<TerminalRow>,
    pub users: Vec<UserState>,
}

/// The whole registry.
#[derive(Debug, Clone, Serialize)]
pub struct Registry {
    pub offices: Vec<OfficeRow>,
    pub switches: Switches,
    pub now: i64,
}

fn today(now: i64) -> Option<time::Date> {
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .map(|t| t.date())
}

/// The licence as the hub judges it at `now` (an active licence past its date has expired).
fn licence_now(office: &Office, now: i64) -> Licence {
    let past = office
        .licence_until
        .as_deref()
        .and_then(crate::config::parse_date)
        .zip(today(now))
        .is_some_and(|(until, today)| today > until);
    if office.licence == Licence::Active && past {
        Licence::Expired
    } else {
        office.licence
    }
}

/// The certificates under `certs/offices/<office>/`, by name.
fn certificates(c: &Console, office: &str, now: i64) -> Vec<CertRow> {
    let Some(number) = OfficeNumber::parse(office) else {
        return Vec::new();
    };
    let dir = c
        .pki
        .office(&number, "client")
        .cert
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let revoked = std::fs::read_to_string(c.pki.root().join("ca/revoked.txt")).unwrap_or_default();
    let trusted_issuer = read_cert_info(&c.pki.ca_cert()).ok().map(|i| i.issuer);
    let mut rows = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return rows;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pem") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Ok(info) = read_cert_info(&path) else {
            continue;
        };
        let state = if revoked
            .lines()
            .any(|l| l.split_whitespace().next() == Some(info.serial_hex.as_str()))
        {
            "revoked"
        } else if trusted_issuer.as_ref().is_some_and(|i| *i != info.issuer) {
            "other-ca"
        } else if info.not_after < now {
            "expired"
        } else if info.not_before > now {
            "not-yet-valid"
        } else {
            "valid"
        };
        rows.push(CertRow {
            name: name.to_owned(),
            kind: info.kind.map(|k| k.tag().to_owned()),
            kind_ja: info.kind.map(|k| k.label_ja().to_owned()),
            not_after: info.not_after,
            days_left: (info.not_after - now).div_euclid(86_400),
            state,
            serial: info.serial_hex,
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Whether this PC holds the key the hub bound a terminal to (see [`TerminalRow::key`]).
fn terminal_key_state(c: &Console, t: &Terminal) -> &'static str {
    let Some(bound) = &t.key_hash else {
        return "unbound";
    };
    let hub = crate::client::hub_address(&c.hub_url).ok();
    let held = OfficeNumber::parse(&t.office)
        .zip(hub)
        .and_then(|(office, hub)| {
            TerminalKeys::in_folder(c.pki.terminal_keys(&office))
                .get(&hub, &t.name)
                .ok()
                .flatten()
        })
        .is_some_and(|key| crate::hub::token_hash(&key) == *bound);
    if held { "this-pc" } else { "other-pc" }
}

/// The registry as the store holds it now, with the PKI's certificates and the switches in force.
pub fn registry(c: &Console) -> Result<Registry, HubError> {
    let now = c.hub.now();
    let users = c.hub.store.users()?;
    let terminals = c.hub.store.terminals()?;
    let offices = c
        .hub
        .store
        .offices()?
        .into_iter()
        .map(|office| OfficeRow {
            licence_now: licence_now(&office, now),
            certs: certificates(c, &office.number, now),
            terminals: terminals
                .iter()
                .filter(|t| t.office == office.number)
                .map(|t| TerminalRow {
                    key: terminal_key_state(c, t),
                    terminal: t.clone(),
                })
                .collect(),
            users: users
                .iter()
                .filter(|u| u.office == office.number)
                .cloned()
                .collect(),
            office,
        })
        .collect();
    Ok(Registry {
        offices,
        switches: c.hub.switches(),
        now,
    })
}

pub fn set_licence(
    c: &Console,
    office: &str,
    licence: Licence,
    until: Option<&str>,
) -> Result<bool, HubError> {
    Ok(c.hub.store.set_licence(office, licence, until)?)
}

pub fn set_lock(c: &Console, user: &str, locked: bool) -> Result<bool, HubError> {
    Ok(c.hub.store.set_user_locked(user, locked)?)
}

pub fn set_switches(c: &Console, switches: Switches) -> Result<(), String> {
    c.hub.set_switches(switches)
}

pub fn issue_certificate(
    c: &Console,
    office: &OfficeNumber,
    kind: CertKind,
    variant: Variant,
) -> Result<CertFiles, PkiError> {
    c.pki.issue(office, kind, variant, None)
}

/// The password the configuration (or the demo registry) gives a user.
pub fn password_for(c: &Console, user: &str) -> Option<String> {
    let configured = if c.hub.config.offices.is_empty() {
        Config::demo_registry().1
    } else {
        c.hub.config.users.clone()
    };
    configured
        .into_iter()
        .find(|u| u.id == user)
        .map(|u| u.password)
}

/// The user the console logs in as by default: `KJ<office>01` if it exists, else the office's first.
pub fn default_user(c: &Console, office: &str) -> Option<String> {
    let users = c.hub.store.users().ok()?;
    let mine: Vec<&UserState> = users.iter().filter(|u| u.office == office).collect();
    let demo = format!("KJ{office}01");
    mine.iter()
        .find(|u| u.id == demo)
        .or_else(|| mine.first())
        .map(|u| u.id.clone())
}

/// Logs a terminal in through the hub's `/v1/login` over mutual TLS with the office's certificate
/// (issuing the default `client` certificate first if the office has none). A refusal is the
/// hub's own.
pub async fn log_in(c: &Console, key: ActorKey, password: Option<String>) -> Result<Actor, Flash> {
    let bad = |ja: String, en: String| Flash::error(ja, en);
    let office = OfficeNumber::parse(&key.office).ok_or_else(|| {
        bad(
            format!("{} は10桁の事業所番号ではありません。", key.office),
            format!("{} is not a 10-digit office number", key.office),
        )
    })?;
    let hub = &c.hub;
    let plain = hub.config.insecure_plain_http;
    let files = c.pki.office(&office, &key.cert);
    if !plain && !files.cert.exists() {
        if key.cert != "client" {
            return Err(bad(
                format!("証明書 {} がありません。", files.cert.display()),
                format!("no certificate {}", files.cert.display()),
            ));
        }
        issue_certificate(c, &office, CertKind::KaigoHoken, Variant::Valid).map_err(|e| {
            bad(
                format!("証明書を発行できませんでした: {e}"),
                format!("failed to issue a certificate: {e}"),
            )
        })?;
    }
    let (identity, caller) = if plain {
        (
            Identity {
                insecure_office: Some(key.office.clone()),
                ..Identity::without_certificate(c.pki.ca_cert())
            },
            Caller {
                office: key.office.clone(),
                kind: Some(CertKind::KaigoHoken),
                cert_not_after: None,
                cert_serial: None,
            },
        )
    } else {
        let info = read_cert_info(&files.cert).map_err(|e| bad(e.to_string(), e.to_string()))?;
        (
            Identity::new(c.pki.ca_cert(), files.cert.clone(), files.key.clone()),
            Caller {
                office: info.office,
                kind: info.kind,
                cert_not_after: Some(info.not_after),
                cert_serial: Some(info.serial_hex),
            },
        )
    };
    let password = password
        .filter(|p| !p.is_empty())
        .or_else(|| password_for(c, &key.user))
        .ok_or_else(|| {
            bad(
                format!(
                    "{} のパスワードが設定ファイルにありません。パスワードを入力してください。",
                    key.user
                ),
                format!(
                    "the configuration has no password for {}; type it in",
                    key.user
                ),
            )
        })?;
    // The terminal keys of this PC, where `cpkit` keeps them: the console and the client
    // commands on this certificate folder are one PC (D-CONSOLE-ACT).
    let keys_folder = c.pki.terminal_keys(&office);
    let identity = identity.with_terminal_keys(TerminalKeys::in_folder(&keys_folder));
    let mut client = Client::new(&c.hub_url, &identity).map_err(|e| client_flash(&e))?;
    client
        .login(&key.user, &password, &key.terminal, &key.client_version)
        .await
        .map_err(|e| match &e {
            ClientError::Refused(h) if h.code == Code::TerminalRefused => {
                terminal_refused(h, &keys_folder)
            }
            _ => client_flash(&e),
        })?;
    let office_name = hub
        .store
        .office(&key.office)
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(Actor {
        key,
        client,
        caller,
        office_name,
    })
}

/// The hub's refusal of a terminal name this PC holds no key for, with where the console looked.
fn terminal_refused(e: &HubError, folder: &Path) -> Flash {
    let mut flash = Flash::refusal(e);
    flash.ja.push_str(&format!(
        "（コンソールはこのPCの端末キーを {} に保存しています。この端末名は別のPC（テスト対象の製品や別の証明書フォルダ）が登録したものです。）",
        folder.display()
    ));
    flash.en.push_str(&format!(
        " (the console keeps this PC's terminal keys in {}: the name was registered by another PC — a product under test, or another certificate folder)",
        folder.display()
    ));
    flash
}

/// A client failure as a message: the hub's refusal in its own words, or what went wrong.
pub fn client_flash(e: &ClientError) -> Flash {
    match e {
        ClientError::Refused(h) => Flash::refusal(h),
        ClientError::CertificateRefused { alert, hint } => Flash {
            code: Some("TLS_REFUSED".to_owned()),
            ..Flash::error(
                format!("ハブがクライアント証明書を拒否しました（TLS alert: {alert}）。"),
                format!("the hub refused the client certificate (TLS alert: {alert}); {hint}"),
            )
        },
        other => Flash::error(
            format!("ハブと通信できませんでした: {other}"),
            format!("failed to talk to the hub: {other}"),
        ),
    }
}

/// Runs every check the hub makes on a send, as this terminal, without storing anything.
pub async fn dry_run(
    c: &Console,
    actor: &Actor,
    req: SendRequest,
) -> Result<Vec<PreviewDelivery>, HubError> {
    let hub = c.hub.clone();
    let caller = actor.caller.clone();
    let token = actor.client.token().map(str::to_owned);
    crate::api::blocking(move || {
        let session = hub.session(&caller, token.as_deref())?;
        let prepared = hub.prepare_send(&session, &req)?;
        Ok(prepared
            .into_iter()
            .map(|(s, files)| PreviewDelivery {
                to_office: s.to_office,
                to_type: s.to_type,
                unit: s.unit,
                serial: s.serial,
                files,
            })
            .collect())
    })
    .await
}

pub fn office(c: &Console, number: &str) -> Result<Option<Office>, HubError> {
    Ok(c.hub.store.office(number)?)
}

pub fn offices(c: &Console) -> Result<Vec<Office>, HubError> {
    Ok(c.hub.store.offices()?)
}

/// Everything delivered to an office, with who claimed it (claims nothing).
pub fn mailbox(c: &Console, office: &str) -> Result<Vec<MailboxItem>, HubError> {
    Ok(c.hub.store.mailbox(office, 200)?)
}

pub fn stored_send(c: &Console, id: i64) -> Result<Option<MailboxItem>, HubError> {
    Ok(c.hub.store.send_by_id(id)?)
}

pub fn stored_file(
    c: &Console,
    send: i64,
    file: i64,
) -> Result<Option<(String, Vec<u8>)>, HubError> {
    Ok(c.hub.store.stored_file(send, file)?)
}

pub fn audit(c: &Console, q: &AuditQuery) -> Result<Vec<AuditEntry>, HubError> {
    Ok(c.hub.store.audit_query(q)?)
}

pub fn watch_audit(c: &Console) -> tokio::sync::watch::Receiver<i64> {
    c.hub.store.watch_audit()
}

/// The largest trace bundle offered as one download (the folder is always written).
pub const MAX_EXPORT_ZIP: u64 = 256 * 1024 * 1024;

/// A trace bundle written for the console.
pub struct Export {
    pub folder: PathBuf,
    pub summary: crate::trace::ExportSummary,
    /// The bundle as a zip, unless it is larger than [`MAX_EXPORT_ZIP`].
    pub zip: Option<Vec<u8>>,
}

/// Writes the trace bundle into `<data>/console-exports/trace-<time>/` and zips it.
pub fn export_trace(c: &Console) -> Result<Export, String> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let base = c.hub.config.data.join("console-exports");
    let mut folder = base.join(format!("trace-{stamp}"));
    let mut n = 1;
    while folder.exists() {
        n += 1;
        folder = base.join(format!("trace-{stamp}-{n}"));
    }
    let summary = crate::trace::export(&c.hub.store, &folder).map_err(|e| e.to_string())?;
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    collect(&folder, "", &mut entries).map_err(|e| e.to_string())?;
    entries.sort();
    let mut total = 0u64;
    for (_, p) in &entries {
        total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    }
    let zip = if total <= MAX_EXPORT_ZIP {
        let mut contents = Vec::with_capacity(entries.len());
        for (name, p) in &entries {
            contents.push((name.clone(), std::fs::read(p).map_err(|e| e.to_string())?));
        }
        Some(crate::zip::store(
            contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
        ))
    } else {
        None
    };
    Ok(Export {
        folder,
        summary,
        zip,
    })
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let inner = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            collect(&path, &inner, out)?;
        } else {
            out.push((inner, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_licence_past_its_date_is_expired_today() {
        let office = |licence, until: Option<&str>| Office {
            number: "0310000100".into(),
            name: String::new(),
            licence,
            licence_until: until.map(str::to_owned),
            service_types: Vec::new(),
        };
        // 2025-04-01 00:00 UTC.
        let now = 1_743_465_600;
        assert_eq!(
            licence_now(&office(Licence::Active, Some("2025-03-31")), now),
            Licence::Expired
        );
        assert_eq!(
            licence_now(&office(Licence::Active, Some("2025-04-01")), now),
            Licence::Active
        );
        assert_eq!(
            licence_now(&office(Licence::Active, None), now),
            Licence::Active
        );
        assert_eq!(
            licence_now(&office(Licence::Applied, Some("2020-01-01")), now),
            Licence::Applied
        );
    }
}
