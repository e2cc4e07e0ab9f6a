//! The hub's state in one SQLite database (WAL): offices and their service types, users, terminals,
//! sessions, sends (drafts and sent), their files, the per-office mailboxes and the audit log.
//!
//! Durability: a send is one transaction (send row, file rows, blobs, mailbox row); the hub answers
//! only after it commits, so a killed process loses no acknowledged send and shows no partial one.
//! WAL with `synchronous = NORMAL` keeps committed transactions across a process kill (an OS crash
//! may lose the last ones; the mock does not promise more). File contents are stored once per
//! SHA-256 (a bulk send to several offices stores its attachments once).
//!
//! Writes go through one connection behind a mutex; reads use a small pool, so lists and downloads
//! never wait for a send to commit.
//!
//! The operator's reads and edits (the web console's registry, mailbox claims, any stored send,
//! filtered audit) live in [`operator`].

pub mod operator;

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::config::{Licence, PasswordState, ReceiveMode};

/// A database failure, with what the hub was doing.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action}: {error}")]
pub struct StoreError {
    pub action: &'static str,
    pub error: rusqlite::Error,
}

type Result<T> = std::result::Result<T, StoreError>;

trait Ctx<T> {
    fn ctx(self, action: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, action: &'static str) -> Result<T> {
        self.map_err(|error| StoreError { action, error })
    }
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS offices (
    number        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    licence       TEXT NOT NULL,
    licence_until TEXT
);
CREATE TABLE IF NOT EXISTS office_services (
    office       TEXT NOT NULL REFERENCES offices(number),
    service_type TEXT NOT NULL,
    PRIMARY KEY (office, service_type)
);
CREATE TABLE IF NOT EXISTS users (
    id        TEXT PRIMARY KEY,
    office    TEXT NOT NULL REFERENCES offices(number),
    salt      BLOB NOT NULL,
    hash      BLOB NOT NULL,
    state     TEXT NOT NULL,
    agent     INTEGER NOT NULL,
    failures  INTEGER NOT NULL DEFAULT 0,
    locked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS terminals (
    office         TEXT NOT NULL,
    name           TEXT NOT NULL,
    client_version TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    PRIMARY KEY (office, name)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash     BLOB PRIMARY KEY,
    user_id        TEXT NOT NULL,
    office         TEXT NOT NULL,
    terminal       TEXT NOT NULL,
    client_version TEXT NOT NULL,
    created        INTEGER NOT NULL,
    expires        INTEGER NOT NULL
);
-- Contents are appended in rowid order (a random SHA-256 primary key would scatter 100 MB of
-- contents across the B-tree); the unique index finds a content by its digest.
CREATE TABLE IF NOT EXISTS blobs (
    id      INTEGER PRIMARY KEY,
    sha256  TEXT NOT NULL UNIQUE,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
    id          INTEGER PRIMARY KEY,
    state       TEXT NOT NULL,            -- draft | sent
    from_office TEXT NOT NULL,
    from_type   TEXT,
    to_office   TEXT NOT NULL,
    to_type     TEXT,
    terminal    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    message     TEXT NOT NULL,
    bulk_id     INTEGER,
    unit        TEXT,
    serial      TEXT,
    annotations TEXT,
    created     INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX IF NOT EXISTS sends_by_sender ON sends(from_office, terminal, state);
CREATE TABLE IF NOT EXISTS files (
    id      INTEGER PRIMARY KEY,
    send_id INTEGER NOT NULL REFERENCES sends(id),
    name    TEXT NOT NULL,
    size    INTEGER NOT NULL,
    sha256  TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX IF NOT EXISTS files_by_send ON files(send_id);
CREATE TABLE IF NOT EXISTS mailbox (
    send_id    INTEGER PRIMARY KEY REFERENCES sends(id),
    to_office  TEXT NOT NULL,
    claimed_by TEXT,
    claimed_at INTEGER
);
CREATE INDEX IF NOT EXISTS mailbox_by_office ON mailbox(to_office, claimed_by);
CREATE TABLE IF NOT EXISTS audit (
    seq      INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    peer     TEXT NOT NULL,
    office   TEXT,
    terminal TEXT,
    user_id  TEXT,
    action   TEXT NOT NULL,
    status   INTEGER NOT NULL,
    code     TEXT,
    detail   TEXT
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// An office as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Office {
    pub number: String,
    pub name: String,
    pub licence: Licence,
    pub licence_until: Option<String>,
    pub service_types: Vec<String>,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub office: String,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
    pub state: PasswordState,
    pub agent: bool,
    pub failures: u32,
    pub locked: bool,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub office: String,
    pub terminal: String,
    pub client_version: String,
    pub expires: i64,
    /// The serial of the certificate the session was opened with: it only works on that
    /// certificate (None on plain-HTTP benchmark connections).
    pub cert_serial: Option<String>,
}

/// What the login did with the terminal name (D-HUB-TERMINAL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalBinding {
    /// A new terminal (or one registered before terminal keys existed): bound to this key now.
    Issued,
    /// The key presented is the terminal's.
    Matched,
    /// The terminal is bound to another key: no session was opened.
    Refused,
}

/// A file to store with a send.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    pub sha256: String,
    pub content: std::sync::Arc<Vec<u8>>,
}

/// A send (or draft) to store.
#[derive(Debug, Clone)]
pub struct NewSend {
    pub draft: bool,
    pub from_office: String,
    pub from_type: Option<String>,
    pub to_office: String,
    pub to_type: Option<String>,
    pub terminal: String,
    pub user_id: String,
    pub message: String,
    pub unit: Option<String>,
    pub serial: Option<String>,
    pub annotations: Option<String>,
    pub files: Vec<NewFile>,
}

/// A file as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub id: i64,
    pub name: String,
    pub size: i64,
    pub sha256: String,
}

/// A send as listed (inbox, sent, drafts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEntry {
    pub id: i64,
    pub state: String,
    pub from_office: String,
    pub from_type: Option<String>,
    pub to_office: String,
    pub to_type: Option<String>,
    pub terminal: String,
    pub message: String,
    pub bulk_id: Option<i64>,
    pub unit: Option<String>,
    pub serial: Option<String>,
    pub annotations: Option<serde_json::Value>,
    pub created: i64,
    pub sent_at: Option<i64>,
    pub files: Vec<FileEntry>,
}

/// One audit row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub peer: String,
    pub office: Option<String>,
    pub terminal: Option<String>,
    pub user_id: Option<String>,
    pub action: String,
    pub status: u16,
    pub code: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// An audit row to append.
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    pub peer: String,
    pub office: Option<String>,
    pub terminal: Option<String>,
    pub user_id: Option<String>,
    pub action: String,
    pub status: u16,
    pub code: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// The database.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_ready: Condvar,
    /// The last audit sequence number written (watched by the console's live audit view).
    audit_seq: tokio::sync::watch::Sender<i64>,
}

const READERS: usize = 4;

fn open(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).ctx("open the database")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx("set the busy timeout")?;
    if !read_only {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .ctx("configure the database")?;
    }
    conn.execute_batch("PRAGMA cache_size = -8000;")
        .ctx("configure the cache")?;
    Ok(conn)
}

/// The lower-case hex SHA-256 of some bytes (how files are identified and listed).
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Store {
    /// Opens (creating if needed) `dir/exchange.sqlite3`.
    /// The folder and the database files are private to the user (0700 / 0600 on Unix): they
    /// hold care data and password hashes. SQLite gives its WAL and shared-memory files the
    /// database file's mode.
    pub fn open(dir: &Path) -> std::result::Result<Self, StoreOpenError> {
        create_private_dir(dir).map_err(|error| StoreOpenError::Dir {
            path: dir.to_path_buf(),
            error,
        })?;
        let path = dir.join("exchange.sqlite3");
        for file in [
            "exchange.sqlite3",
            "exchange.sqlite3-wal",
            "exchange.sqlite3-shm",
        ] {
            let p = dir.join(file);
            make_private_file(&p, file == "exchange.sqlite3").map_err(|error| {
                StoreOpenError::Dir {
                    path: p.clone(),
                    error,
                }
            })?;
        }
        let writer = open(&path, false)?;
        writer.execute_batch(SCHEMA).ctx("create the schema")?;
        // Columns added after the first release: databases of older versions get them here.
        ensure_column(&writer, "terminals", "key_hash", "BLOB")?;
        ensure_column(&writer, "sessions", "cert_serial", "TEXT")?;
        let readers = (0..READERS)
            .map(|_| open(&path, true))
            .collect::<Result<Vec<_>>>()?;
        let last_audit: i64 = writer
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))
            .ctx("read the audit position")?;
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(readers),
            reader_ready: Condvar::new(),
            audit_seq: tokio::sync::watch::Sender::new(last_audit),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(c) = pool.pop() {
                    break c;
                }
                pool = self
                    .reader_ready
                    .wait(pool)
                    .unwrap_or_else(|p| p.into_inner());
            }
        };
        let out = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
        self.reader_ready.notify_one();
        out
    }

    // ----- settings ---------------------------------------------------------------------------

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ctx("read a setting")
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .ctx("write a setting")
            .map(drop)
        })
    }

    // ----- registry ---------------------------------------------------------------------------

    pub fn is_empty_registry(&self) -> Result<bool> {
        self.read(|c| {
            c.query_row("SELECT COUNT(*) FROM offices", [], |r| r.get::<_, i64>(0))
                .ctx("count offices")
                .map(|n| n == 0)
        })
    }

    /// Inserts or replaces an office and its service types.
    pub fn upsert_office(&self, office: &Office) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            tx.execute(
                "INSERT INTO offices(number, name, licence, licence_until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(number) DO UPDATE SET name = excluded.name,
                     licence = excluded.licence, licence_until = excluded.licence_until",
                params![
                    office.number,
                    office.name,
                    office.licence.tag(),
                    office.licence_until
                ],
            )
            .ctx("store an office")?;
            tx.execute(
                "DELETE FROM office_services WHERE office = ?1",
                [&office.number],
            )
            .ctx("replace service types")?;
            for t in &office.service_types {
                tx.execute(
                    "INSERT INTO office_services(office, service_type) VALUES (?1, ?2)",
                    params![office.number, t],
                )
                .ctx("store a service type")?;
            }
            tx.commit().ctx("commit an office")
        })
    }

    pub fn office(&self, number: &str) -> Result<Option<Office>> {
        self.read(|c| {
            let row = c
                .query_row(
                    "SELECT number, name, licence, licence_until FROM offices WHERE number = ?1",
                    [number],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                        ))
                    },
                )
                .optional()
                .ctx("read an office")?;
            let Some((number, name, licence, licence_until)) = row else {
                return Ok(None);
            };
            let mut stmt = c
                .prepare_cached(
                    "SELECT service_type FROM office_services WHERE office = ?1 ORDER BY 1",
                )
                .ctx("prepare service types")?;
            let service_types = stmt
                .query_map([&number], |r| r.get(0))
                .ctx("read service types")?
                .collect::<rusqlite::Result<Vec<String>>>()
                .ctx("read service types")?;
            Ok(Some(Office {
                number,
                name,
                licence: Licence::from_tag(&licence).unwrap_or(Licence::None),
                licence_until,
                service_types,
            }))
        })
    }

    /// Inserts or replaces a user (resetting failures and lock).
    pub fn upsert_user(&self, user: &User) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO users(id, office, salt, hash, state, agent, failures, locked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET office = excluded.office, salt = excluded.salt,
                     hash = excluded.hash, state = excluded.state, agent = excluded.agent,
                     failures = excluded.failures, locked = excluded.locked",
                params![
                    user.id,
                    user.office,
                    user.salt,
                    user.hash,
                    user.state.tag(),
                    user.agent,
                    user.failures,
                    user.locked
                ],
            )
            .ctx("store a user")
            .map(drop)
        })
    }

    pub fn user(&self, id: &str) -> Result<Option<User>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, office, salt, hash, state, agent, failures, locked FROM users WHERE id = ?1",
                [id],
                |r| {
                    Ok(User {
                        id: r.get(0)?,
                        office: r.get(1)?,
                        salt: r.get(2)?,
                        hash: r.get(3)?,
                        state: PasswordState::from_tag(&r.get::<_, String>(4)?)
                            .unwrap_or(PasswordState::Expired),
                        agent: r.get(5)?,
                        failures: r.get(6)?,
                        locked: r.get(7)?,
                    })
                },
            )
            .optional()
            .ctx("read a user")
        })
    }

    /// Counts a failed login; locks the user at `limit`. Returns the new count and lock state.
    /// Locking ends the user's sessions in the same transaction.
    pub fn login_failed(&self, id: &str, limit: u32) -> Result<(u32, bool)> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            let (failures, locked): (u32, bool) = tx
                .query_row(
                    "UPDATE users SET failures = failures + 1,
                         locked = CASE WHEN failures + 1 >= ?2 THEN 1 ELSE locked END
                     WHERE id = ?1 RETURNING failures, locked",
                    params![id, limit],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx("count a failed login")?;
            if locked {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
                    .ctx("end a locked user's sessions")?;
            }
            tx.commit().ctx("commit a failed login")?;
            Ok((failures, locked))
        })
    }

    /// Locks a user (e.g. after too many wrong one-time passwords) and ends their sessions.
    pub fn lock_user(&self, id: &str) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            tx.execute("UPDATE users SET locked = 1 WHERE id = ?1", [id])
                .ctx("lock a user")?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
                .ctx("end a locked user's sessions")?;
            tx.commit().ctx("commit a lock")
        })
    }

    /// A right password: the failure count starts again.
    pub fn password_succeeded(&self, id: &str) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE users SET failures = 0 WHERE id = ?1 AND failures <> 0",
                [id],
            )
            .ctx("reset failures")
            .map(drop)
        })
    }

    /// The key hash a terminal is bound to: None for an unknown terminal, `Some(None)` for one
    /// registered before terminal keys existed.
    pub fn terminal_key(&self, office: &str, name: &str) -> Result<Option<Option<Vec<u8>>>> {
        self.read(|c| {
            c.query_row(
                "SELECT key_hash FROM terminals WHERE office = ?1 AND name = ?2",
                params![office, name],
                |r| r.get(0),
            )
            .optional()
            .ctx("read a terminal")
        })
    }

    /// Opens a session after a successful login: binds the terminal to `new_key_hash` when it
    /// has no key yet, or checks `presented` against its key, and stores the session, in one
    /// transaction. A refused terminal stores nothing.
    pub fn login_succeeded(
        &self,
        token_hash: &[u8],
        session: &Session,
        now: i64,
        presented: Option<&[u8]>,
        new_key_hash: &[u8],
    ) -> Result<TerminalBinding> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            let bound: Option<Option<Vec<u8>>> = tx
                .query_row(
                    "SELECT key_hash FROM terminals WHERE office = ?1 AND name = ?2",
                    params![session.office, session.terminal],
                    |r| r.get(0),
                )
                .optional()
                .ctx("read a terminal")?;
            let binding = match bound {
                Some(Some(key)) if presented.is_some_and(|p| constant_time_eq(p, &key)) => {
                    TerminalBinding::Matched
                }
                Some(Some(_)) => return Ok(TerminalBinding::Refused),
                _ => TerminalBinding::Issued,
            };
            tx.execute(
                "INSERT INTO terminals(office, name, client_version, first_seen, last_seen, key_hash)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                 ON CONFLICT(office, name) DO UPDATE SET client_version = excluded.client_version,
                     last_seen = excluded.last_seen,
                     key_hash = COALESCE(terminals.key_hash, excluded.key_hash)",
                params![
                    session.office,
                    session.terminal,
                    session.client_version,
                    now,
                    new_key_hash
                ],
            )
            .ctx("remember the terminal")?;
            tx.execute(
                "INSERT INTO sessions(token_hash, user_id, office, terminal, client_version, created, expires, cert_serial)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    token_hash,
                    session.user_id,
                    session.office,
                    session.terminal,
                    session.client_version,
                    now,
                    session.expires,
                    session.cert_serial
                ],
            )
            .ctx("store the session")?;
            tx.commit().ctx("commit a login")?;
            Ok(binding)
        })
    }

    pub fn session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT user_id, office, terminal, client_version, expires, cert_serial
                 FROM sessions WHERE token_hash = ?1",
            )
            .ctx("prepare a session lookup")?
            .query_row([token_hash], |r| {
                Ok(Session {
                    user_id: r.get(0)?,
                    office: r.get(1)?,
                    terminal: r.get(2)?,
                    client_version: r.get(3)?,
                    expires: r.get(4)?,
                    cert_serial: r.get(5)?,
                })
            })
            .optional()
            .ctx("read a session")
        })
    }

    /// Ends every session opened with a certificate (after its revocation).
    pub fn end_certificate_sessions(&self, cert_serial: &str) -> Result<usize> {
        self.write(|c| {
            c.execute("DELETE FROM sessions WHERE cert_serial = ?1", [cert_serial])
                .ctx("end a revoked certificate's sessions")
        })
    }

    // ----- sends ------------------------------------------------------------------------------

    /// Stores sends (several for a bulk send) atomically and returns their IDs. Non-draft sends
    /// are put into the destination's mailbox in the same transaction.
    pub fn insert_sends(&self, sends: &[NewSend], now: i64) -> Result<Vec<i64>> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin a send")?;
            let mut ids = Vec::with_capacity(sends.len());
            let mut bulk_id: Option<i64> = None;
            for send in sends {
                let id = insert_send(&tx, send, bulk_id, now)?;
                if sends.len() > 1 && bulk_id.is_none() {
                    bulk_id = Some(id);
                    tx.execute("UPDATE sends SET bulk_id = ?1 WHERE id = ?1", [id])
                        .ctx("mark a bulk send")?;
                }
                ids.push(id);
            }
            tx.commit().ctx("commit a send")?;
            Ok(ids)
        })
    }

    /// Turns a draft of this terminal into a sent item. Returns false when there is no such draft.
    pub fn send_draft(&self, id: i64, office: &str, terminal: &str, now: i64) -> Result<bool> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            let to: Option<String> = tx
                .query_row(
                    "UPDATE sends SET state = 'sent', sent_at = ?4
                     WHERE id = ?1 AND from_office = ?2 AND terminal = ?3 AND state = 'draft'
                     RETURNING to_office",
                    params![id, office, terminal, now],
                    |r| r.get(0),
                )
                .optional()
                .ctx("send a draft")?;
            let Some(to) = to else { return Ok(false) };
            tx.execute(
                "INSERT INTO mailbox(send_id, to_office) VALUES (?1, ?2)",
                params![id, to],
            )
            .ctx("deliver a draft")?;
            tx.commit().ctx("commit a draft")?;
            Ok(true)
        })
    }

    /// Deletes a draft of this terminal. Returns false when there is no such draft.
    pub fn delete_draft(&self, id: i64, office: &str, terminal: &str) -> Result<bool> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin")?;
            let n = tx
                .execute(
                    "DELETE FROM files WHERE send_id = (SELECT id FROM sends
                     WHERE id = ?1 AND from_office = ?2 AND terminal = ?3 AND state = 'draft')",
                    params![id, office, terminal],
                )
                .ctx("delete draft files")?;
            let m = tx
                .execute(
                    "DELETE FROM sends WHERE id = ?1 AND from_office = ?2 AND terminal = ?3 AND state = 'draft'",
                    params![id, office, terminal],
                )
                .ctx("delete a draft")?;
            tx.commit().ctx("commit a draft deletion")?;
            Ok(n + m > 0 && m > 0)
        })
    }

    /// Lists this terminal's sent items or drafts.
    pub fn list_outgoing(
        &self,
        office: &str,
        terminal: &str,
        draft: bool,
    ) -> Result<Vec<SendEntry>> {
        self.read(|c| {
            let ids = ids(
                c,
                "SELECT id FROM sends WHERE from_office = ?1 AND terminal = ?2 AND state = ?3 ORDER BY id",
                params![office, terminal, if draft { "draft" } else { "sent" }],
            )?;
            entries(c, &ids)
        })
    }

    /// Lists an office's inbox for a terminal. In first-lister-wins mode the unclaimed items are
    /// claimed for this terminal first (atomically), and only this terminal's items are returned.
    pub fn inbox(
        &self,
        office: &str,
        terminal: &str,
        mode: ReceiveMode,
        now: i64,
    ) -> Result<Vec<SendEntry>> {
        let ids = match mode {
            ReceiveMode::FirstListerWins => self.write(|c| {
                let tx = c.transaction().ctx("begin a claim")?;
                tx.execute(
                    "UPDATE mailbox SET claimed_by = ?2, claimed_at = ?3
                     WHERE to_office = ?1 AND claimed_by IS NULL",
                    params![office, terminal, now],
                )
                .ctx("claim inbox items")?;
                let ids = ids(
                    &tx,
                    "SELECT send_id FROM mailbox WHERE to_office = ?1 AND claimed_by = ?2 ORDER BY send_id",
                    params![office, terminal],
                )?;
                tx.commit().ctx("commit a claim")?;
                Ok(ids)
            })?,
            ReceiveMode::Shared => self.read(|c| {
                ids(
                    c,
                    "SELECT send_id FROM mailbox WHERE to_office = ?1 ORDER BY send_id",
                    params![office],
                )
            })?,
        };
        self.read(|c| entries(c, &ids))
    }

    /// The content of a received file, if this office (and, in first-lister-wins mode, this
    /// terminal) may read it. Unknown and foreign IDs look the same: `None`.
    pub fn received_file(
        &self,
        office: &str,
        terminal: &str,
        mode: ReceiveMode,
        send_id: i64,
        file_id: i64,
    ) -> Result<Option<(String, Vec<u8>)>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT f.name, b.content FROM files f
                 JOIN mailbox m ON m.send_id = f.send_id
                 JOIN blobs b ON b.sha256 = f.sha256
                 WHERE f.id = ?1 AND f.send_id = ?2 AND m.to_office = ?3
                   AND (?5 = 'shared' OR m.claimed_by = ?4)",
            )
            .ctx("prepare a download")?
            .query_row(
                params![
                    file_id,
                    send_id,
                    office,
                    terminal,
                    match mode {
                        ReceiveMode::Shared => "shared",
                        ReceiveMode::FirstListerWins => "first",
                    }
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx("read a received file")
        })
    }

    /// Every send with its files' contents, in ID order (for the trace export).
    pub fn for_each_send(
        &self,
        mut f: impl FnMut(&SendEntry, &[(String, Vec<u8>)]) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        self.read(|c| {
            let all = ids(c, "SELECT id FROM sends ORDER BY id", [])?;
            for chunk in all.chunks(256) {
                for entry in entries(c, chunk)? {
                    let mut contents = Vec::new();
                    for file in &entry.files {
                        let content: Vec<u8> = c
                            .query_row(
                                "SELECT content FROM blobs WHERE sha256 = ?1",
                                [&file.sha256],
                                |r| r.get(0),
                            )
                            .ctx("read a blob")?;
                        contents.push((file.name.clone(), content));
                    }
                    if let Err(e) = f(&entry, &contents) {
                        return Ok(Err(e));
                    }
                }
            }
            Ok(Ok(()))
        })
    }

    /// Counts rows of the main tables (for status and tests).
    pub fn counts(&self) -> Result<Counts> {
        self.read(|c| {
            let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok(Counts {
                sends: n("SELECT COUNT(*) FROM sends WHERE state = 'sent'").ctx("count sends")?,
                drafts: n("SELECT COUNT(*) FROM sends WHERE state = 'draft'")
                    .ctx("count drafts")?,
                files: n("SELECT COUNT(*) FROM files").ctx("count files")?,
                blobs: n("SELECT COUNT(*) FROM blobs").ctx("count blobs")?,
                mailbox: n("SELECT COUNT(*) FROM mailbox").ctx("count mailbox")?,
                audit: n("SELECT COUNT(*) FROM audit").ctx("count audit")?,
            })
        })
    }

    // ----- audit ------------------------------------------------------------------------------

    pub fn audit(&self, entries: &[NewAudit]) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction().ctx("begin an audit batch")?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO audit(at_ms, peer, office, terminal, user_id, action, status, code, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .ctx("prepare an audit row")?;
                let at = now_ms();
                for e in entries {
                    stmt.execute(params![
                        at,
                        e.peer,
                        e.office,
                        e.terminal,
                        e.user_id,
                        e.action,
                        e.status,
                        e.code,
                        e.detail.as_ref().map(|d| d.to_string()),
                    ])
                    .ctx("append an audit row")?;
                }
            }
            let last = tx.last_insert_rowid();
            tx.commit().ctx("commit an audit batch")?;
            if !entries.is_empty() {
                self.audit_seq.send_replace(last);
            }
            Ok(())
        })
    }

    /// Audit rows with `seq > after`, oldest first, at most `limit`.
    pub fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, at_ms, peer, office, terminal, user_id, action, status, code, detail
                     FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .ctx("prepare the audit read")?;
            stmt.query_map(params![after, limit], audit_entry)
            .ctx("read the audit")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read the audit")
        })
    }
}

/// Row counts of the main tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub sends: i64,
    pub drafts: i64,
    pub files: i64,
    pub blobs: i64,
    pub mailbox: i64,
    pub audit: i64,
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    #[error("failed to prepare {}: {error}", path.display())]
    Dir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] StoreError),
}

fn insert_send(
    tx: &rusqlite::Transaction<'_>,
    send: &NewSend,
    bulk_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO sends(state, from_office, from_type, to_office, to_type, terminal, user_id,
                 message, bulk_id, unit, serial, annotations, created, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
        )
        .ctx("prepare a send")?
        .query_row(
            params![
                if send.draft { "draft" } else { "sent" },
                send.from_office,
                send.from_type,
                send.to_office,
                send.to_type,
                send.terminal,
                send.user_id,
                send.message,
                bulk_id,
                send.unit,
                send.serial,
                send.annotations,
                now,
                if send.draft { None } else { Some(now) },
            ],
            |r| r.get(0),
        )
        .ctx("store a send")?;
    for file in &send.files {
        // The content is written into a zeroblob of its size through SQLite's incremental blob
        // I/O, so SQLite neither copies it to bind it nor builds a record holding it: a large
        // upload is held once in memory, not three times (issue 9 point 7).
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO blobs(sha256, content) VALUES (?1, zeroblob(?2))",
            )
            .ctx("prepare a blob")?
            .execute(params![file.sha256, file.content.len() as i64])
            .ctx("store a blob")?;
        if inserted == 1 && !file.content.is_empty() {
            let rowid = tx.last_insert_rowid();
            let mut blob = tx
                .blob_open(rusqlite::MAIN_DB, "blobs", "content", rowid, false)
                .ctx("open a blob")?;
            blob.write_all_at(&file.content, 0).ctx("write a blob")?;
        }
        tx.prepare_cached("INSERT INTO files(send_id, name, size, sha256) VALUES (?1, ?2, ?3, ?4)")
            .ctx("prepare a file")?
            .execute(params![
                id,
                file.name,
                file.content.len() as i64,
                file.sha256
            ])
            .ctx("store a file")?;
    }
    if !send.draft {
        tx.prepare_cached("INSERT INTO mailbox(send_id, to_office) VALUES (?1, ?2)")
            .ctx("prepare a delivery")?
            .execute(params![id, send.to_office])
            .ctx("deliver a send")?;
    }
    Ok(id)
}

/// An audit row read by `SELECT seq, at_ms, peer, office, terminal, user_id, action, status,
/// code, detail`.
fn audit_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at_ms: r.get(1)?,
        peer: r.get(2)?,
        office: r.get(3)?,
        terminal: r.get(4)?,
        user_id: r.get(5)?,
        action: r.get(6)?,
        status: r.get(7)?,
        code: r.get(8)?,
        detail: r
            .get::<_, Option<String>>(9)?
            .and_then(|d| serde_json::from_str(&d).ok()),
    })
}

fn ids(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<i64>> {
    let mut stmt = c.prepare_cached(sql).ctx("prepare a list")?;
    stmt.query_map(p, |r| r.get(0))
        .ctx("list")?
        .collect::<rusqlite::Result<Vec<i64>>>()
        .ctx("list")
}

fn entries(c: &Connection, ids: &[i64]) -> Result<Vec<SendEntry>> {
    let mut send_stmt = c
        .prepare_cached(
            "SELECT id, state, from_office, from_type, to_office, to_type, terminal, message, bulk_id,
                 unit, serial, annotations, created, sent_at FROM sends WHERE id = ?1",
        )
        .ctx("prepare a send read")?;
    let mut file_stmt = c
        .prepare_cached("SELECT id, name, size, sha256 FROM files WHERE send_id = ?1 ORDER BY id")
        .ctx("prepare a file list")?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let files = file_stmt
            .query_map([id], |r| {
                Ok(FileEntry {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    size: r.get(2)?,
                    sha256: r.get(3)?,
                })
            })
            .ctx("list files")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("list files")?;
        let entry = send_stmt
            .query_row([id], |r| {
                Ok(SendEntry {
                    id: r.get(0)?,
                    state: r.get(1)?,
                    from_office: r.get(2)?,
                    from_type: r.get(3)?,
                    to_office: r.get(4)?,
                    to_type: r.get(5)?,
                    terminal: r.get(6)?,
                    message: r.get(7)?,
                    bulk_id: r.get(8)?,
                    unit: r.get(9)?,
                    serial: r.get(10)?,
                    annotations: r
                        .get::<_, Option<String>>(11)?
                        .and_then(|a| serde_json::from_str(&a).ok()),
                    created: r.get(12)?,
                    sent_at: r.get(13)?,
                    files,
                })
            })
            .ctx("read a send")?;
        out.push(entry);
    }
    Ok(out)
}

/// Adds a column to a table of an older database (a no-op when it exists).
fn ensure_column(c: &Connection, table: &str, column: &str, decl: &str) -> Result<()> {
    let exists = c
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
        ))
        .ctx("prepare a schema check")?
        .exists([column])
        .ctx("check the schema")?;
    if !exists {
        c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
            .ctx("upgrade the schema")?;
    }
    Ok(())
}

/// Compares two secrets' hashes in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates a folder (and its parents) readable by its owner only; an existing one is made so.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes a file readable by its owner only, creating it (empty) when `create`.
fn make_private_file(path: &Path, create: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if create {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)?;
        }
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, create);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_an_older_version_gets_the_new_columns() {
        let dir = std::env::temp_dir().join(format!("cpkit-store-upgrade-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let old = Connection::open(dir.join("exchange.sqlite3")).unwrap();
        old.execute_batch(
            "CREATE TABLE terminals (office TEXT NOT NULL, name TEXT NOT NULL,
                 client_version TEXT NOT NULL, first_seen INTEGER NOT NULL,
                 last_seen INTEGER NOT NULL, PRIMARY KEY (office, name));
             CREATE TABLE sessions (token_hash BLOB PRIMARY KEY, user_id TEXT NOT NULL,
                 office TEXT NOT NULL, terminal TEXT NOT NULL, client_version TEXT NOT NULL,
                 created INTEGER NOT NULL, expires INTEGER NOT NULL);
             INSERT INTO terminals VALUES ('0310000100', 'pc', '1.2.0', 0, 0);",
        )
        .unwrap();
        drop(old);
        let store = Store::open(&dir).unwrap();
        // A terminal from before terminal keys has none, and is bound at its next login.
        assert_eq!(store.terminal_key("0310000100", "pc").unwrap(), Some(None));
        let session = Session {
            user_id: "KJ031000010001".into(),
            office: "0310000100".into(),
            terminal: "pc".into(),
            client_version: "1.2.0".into(),
            expires: 10,
            cert_serial: Some("ab".into()),
        };
        let bound = store
            .login_succeeded(b"t", &session, 1, None, b"k")
            .unwrap();
        assert_eq!(bound, TerminalBinding::Issued);
        assert_eq!(
            store.session(b"t").unwrap().unwrap().cert_serial.as_deref(),
            Some("ab")
        );
        let refused = store
            .login_succeeded(b"u", &session, 1, Some(b"x"), b"k2")
            .unwrap();
        assert_eq!(refused, TerminalBinding::Refused);
        assert!(
            store.session(b"u").unwrap().is_none(),
            "a refused terminal opens no session"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
