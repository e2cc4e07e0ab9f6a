//! The operator's view of the store, for the web console: the whole registry (offices, users with
//! their lock state, terminals), an office's mailbox with who claimed what and when (without
//! claiming anything), any stored send and file regardless of mailbox, and the audit log filtered
//! by office, action and result.
//!
//! Reads never change what a client sees; the two edits ([`Store::set_licence`] and
//! [`Store::set_user_locked`]) are the registry changes an operator makes at the real exchange's
//! 利用状況Webサイト or help desk.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{AuditEntry, Ctx, Office, Result, SendEntry, Store, audit_entry, entries, ids};
use crate::config::{Licence, PasswordState};

/// A user as the operator sees it (no password material).
#[derive(Debug, Clone, Serialize)]
pub struct UserState {
    pub id: String,
    pub office: String,
    pub state: PasswordState,
    pub agent: bool,
    pub failures: u32,
    pub locked: bool,
}

/// A terminal the hub has seen log in.
#[derive(Debug, Clone, Serialize)]
pub struct Terminal {
    pub office: String,
    pub name: String,
    pub client_version: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The SHA-256 of the key the terminal is bound to (D-HUB-TERMINAL); None for one recorded
    /// before terminal keys existed. Never shown.
    #[serde(skip)]
    pub key_hash: Option<Vec<u8>>,
}

/// One item of an office's mailbox: which terminal took it (first-lister-wins) and when.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxItem {
    pub send: SendEntry,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<i64>,
}

/// Which audit rows to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub office: Option<String>,
    /// An SQL `LIKE` pattern on the action (`POST /v1/%sends`).
    pub action_like: Option<String>,
    pub result: AuditResult,
    /// Rows with a larger sequence number, oldest first (the live view's poll).
    pub after: Option<i64>,
    /// Rows with a smaller sequence number, newest first (paging back).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Filter on the outcome of an audited request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditResult {
    #[default]
    Any,
    /// Answered with a status below 400.
    Ok,
    /// Refused (status 400 or above, including refused TLS handshakes).
    Refused,
}

impl Store {
    /// Every office, by number.
    pub fn offices(&self) -> Result<Vec<Office>> {
        let numbers = self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT number FROM offices ORDER BY number")
                .ctx("prepare the office list")?;
            stmt.query_map([], |r| r.get::<_, String>(0))
                .ctx("list offices")?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx("list offices")
        })?;
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            if let Some(o) = self.office(&n)? {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Changes an office's licence (the hub reads it on every check, so it applies at once).
    /// Returns false when there is no such office.
    pub fn set_licence(&self, office: &str, licence: Licence, until: Option<&str>) -> Result<bool> {
        self.write(|c| {
            c.execute(
                "UPDATE offices SET licence = ?2, licence_until = ?3 WHERE number = ?1",
                params![office, licence.tag(), until],
            )
            .ctx("change a licence")
            .map(|n| n > 0)
        })
    }

    /// Every user, by office and ID.
    pub fn users(&self) -> Result<Vec<UserState>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, office, state, agent, failures, locked FROM users ORDER BY office, id",
                )
                .ctx("prepare the user list")?;
            stmt.query_map([], |r| {
                Ok(UserState {
                    id: r.get(0)?,
                    office: r.get(1)?,
                    state: PasswordState::from_tag(&r.get::<_, String>(2)?)
                        .unwrap_or(PasswordState::Expired),
                    agent: r.get(3)?,
                    failures: r.get(4)?,
                    locked: r.get(5)?,
                })
            })
            .ctx("list users")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("list users")
        })
    }

    /// Locks or unlocks a user; unlocking also resets the failure count. Returns false when there
    /// is no such user.
    pub fn set_user_locked(&self, id: &str, locked: bool) -> Result<bool> {
        self.write(|c| {
            c.execute(
                "UPDATE users SET locked = ?2, failures = CASE WHEN ?2 THEN failures ELSE 0 END
                 WHERE id = ?1",
                params![id, locked],
            )
            .ctx("change a lock")
            .map(|n| n > 0)
        })
    }

    /// Every terminal seen, by office and name.
    pub fn terminals(&self) -> Result<Vec<Terminal>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT office, name, client_version, first_seen, last_seen, key_hash
                     FROM terminals ORDER BY office, name",
                )
                .ctx("prepare the terminal list")?;
            stmt.query_map([], |r| {
                Ok(Terminal {
                    office: r.get(0)?,
                    name: r.get(1)?,
                    client_version: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                    key_hash: r.get(5)?,
                })
            })
            .ctx("list terminals")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("list terminals")
        })
    }

    /// Everything delivered to an office, newest first, with its claim; claims nothing.
    pub fn mailbox(&self, office: &str, limit: i64) -> Result<Vec<MailboxItem>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT send_id, claimed_by, claimed_at FROM mailbox WHERE to_office = ?1
                     ORDER BY send_id DESC LIMIT ?2",
                )
                .ctx("prepare the mailbox read")?;
            let rows = stmt
                .query_map(params![office, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .ctx("read the mailbox")?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx("read the mailbox")?;
            let sends = entries(c, &rows.iter().map(|r| r.0).collect::<Vec<_>>())?;
            Ok(sends
                .into_iter()
                .zip(rows)
                .map(|(send, (_, claimed_by, claimed_at))| MailboxItem {
                    send,
                    claimed_by,
                    claimed_at,
                })
                .collect())
        })
    }

    /// Any stored send or draft, with its mailbox claim if it was delivered.
    pub fn send_by_id(&self, id: i64) -> Result<Option<MailboxItem>> {
        self.read(|c| {
            let found = ids(c, "SELECT id FROM sends WHERE id = ?1", [id])?;
            let Some(send) = entries(c, &found)?.pop() else {
                return Ok(None);
            };
            let claim: Option<(Option<String>, Option<i64>)> = c
                .query_row(
                    "SELECT claimed_by, claimed_at FROM mailbox WHERE send_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .ctx("read a claim")?;
            let (claimed_by, claimed_at) = claim.unwrap_or_default();
            Ok(Some(MailboxItem {
                send,
                claimed_by,
                claimed_at,
            }))
        })
    }

    /// The name and bytes of any stored file (drafts included).
    pub fn stored_file(&self, send_id: i64, file_id: i64) -> Result<Option<(String, Vec<u8>)>> {
        self.read(|c| {
            c.query_row(
                "SELECT f.name, b.content FROM files f JOIN blobs b ON b.sha256 = f.sha256
                 WHERE f.id = ?1 AND f.send_id = ?2",
                params![file_id, send_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx("read a stored file")
        })
    }

    /// Audit rows matching a query: oldest first after `after`, else newest first.
    pub fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let (order, bound, bound_value) = match (q.after, q.before) {
            (Some(after), _) => ("ASC", "seq > ?1", after),
            (None, Some(before)) => ("DESC", "seq < ?1", before),
            (None, None) => ("DESC", "?1 = ?1", 0),
        };
        let result = match q.result {
            AuditResult::Any => "",
            AuditResult::Ok => " AND status < 400",
            AuditResult::Refused => " AND status >= 400",
        };
        let sql = format!(
            "SELECT seq, at_ms, peer, office, terminal, user_id, action, status, code, detail
             FROM audit WHERE {bound} AND (?2 IS NULL OR office = ?2)
               AND (?3 IS NULL OR action LIKE ?3){result}
             ORDER BY seq {order} LIMIT ?4"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql).ctx("prepare the audit query")?;
            stmt.query_map(
                params![bound_value, q.office, q.action_like, q.limit.clamp(1, 1000)],
                audit_entry,
            )
            .ctx("query the audit")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("query the audit")
        })
    }

    /// Notified with the last sequence number whenever audit rows are appended.
    pub fn watch_audit(&self) -> tokio::sync::watch::Receiver<i64> {
        self.audit_seq.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewAudit;

    fn store(tag: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "cpkit-operator-{tag}-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        (Store::open(&dir).unwrap(), dir)
    }

    fn row(office: &str, action: &str, status: u16) -> NewAudit {
        NewAudit {
            peer: "127.0.0.1:1".into(),
            office: Some(office.into()),
            action: action.into(),
            status,
            ..NewAudit::default()
        }
    }

    #[test]
    fn the_audit_filters_by_office_action_and_result_and_notifies_watchers() {
        let (s, dir) = store("audit");
        let mut watch = s.watch_audit();
        assert_eq!(*watch.borrow_and_update(), 0);
        s.audit(&[
            row("0310000100", "POST /v1/login", 200),
            row("0310000100", "POST /v1/sends", 400),
            row("0320000202", "POST /v1/bulk-sends", 200),
            row("0320000202", "GET /v1/inbox", 200),
        ])
        .unwrap();
        assert!(watch.has_changed().unwrap());
        assert_eq!(*watch.borrow_and_update(), 4);

        let q = |office: Option<&str>, action: Option<&str>, result| AuditQuery {
            office: office.map(str::to_owned),
            action_like: action.map(str::to_owned),
            result,
            limit: 100,
            ..AuditQuery::default()
        };
        let seqs = |rows: Vec<AuditEntry>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(
            seqs(s.audit_query(&q(None, None, AuditResult::Any)).unwrap()),
            [4, 3, 2, 1]
        );
        assert_eq!(
            seqs(
                s.audit_query(&q(Some("0310000100"), None, AuditResult::Any))
                    .unwrap()
            ),
            [2, 1]
        );
        assert_eq!(
            seqs(
                s.audit_query(&q(None, Some("POST /v1/%sends"), AuditResult::Any))
                    .unwrap()
            ),
            [3, 2]
        );
        assert_eq!(
            seqs(s.audit_query(&q(None, None, AuditResult::Refused)).unwrap()),
            [2]
        );
        let mut after = q(None, None, AuditResult::Ok);
        after.after = Some(1);
        assert_eq!(seqs(s.audit_query(&after).unwrap()), [3, 4]);
        let mut before = q(None, None, AuditResult::Any);
        before.before = Some(3);
        before.limit = 1;
        assert_eq!(seqs(s.audit_query(&before).unwrap()), [2]);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unlocking_resets_failures_and_licences_change_in_place() {
        let (s, dir) = store("registry");
        s.upsert_office(&Office {
            number: "0310000100".into(),
            name: "x".into(),
            licence: Licence::Active,
            licence_until: None,
            service_types: vec!["43".into()],
        })
        .unwrap();
        s.upsert_user(&crate::store::User {
            id: "KJ031000010001".into(),
            office: "0310000100".into(),
            salt: vec![0],
            hash: vec![0],
            state: PasswordState::Active,
            agent: false,
            failures: 0,
            locked: false,
        })
        .unwrap();
        s.login_failed("KJ031000010001", 2).unwrap();
        let (_, locked) = s.login_failed("KJ031000010001", 2).unwrap();
        assert!(locked);
        assert!(s.users().unwrap()[0].locked);
        assert!(s.set_user_locked("KJ031000010001", false).unwrap());
        let u = &s.users().unwrap()[0];
        assert!(!u.locked && u.failures == 0);
        assert!(!s.set_user_locked("KJ000000000000", false).unwrap());

        assert!(
            s.set_licence("0310000100", Licence::Expired, Some("2025-03-31"))
                .unwrap()
        );
        let o = &s.offices().unwrap()[0];
        assert_eq!(o.licence, Licence::Expired);
        assert_eq!(o.licence_until.as_deref(), Some("2025-03-31"));
        assert_eq!(o.service_types, ["43"]);
        assert!(!s.set_licence("0399999999", Licence::Active, None).unwrap());
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
