//! The replay bundle (`cpkit trace export`): the audit trail as JSON lines, every send's metadata,
//! and every stored file's bytes, so a support engineer can see what the hub did and with which
//! files. Passwords, password hashes and session tokens are never exported (the audit never holds
//! them; any `password` / `token` key in a detail is replaced as a second line of defence).
//!
//! ```text
//! manifest.json   schema cpkit-trace/1, counts, export time
//! trace.jsonl     one audit row per line (seq, time, peer, office, terminal, user, action, status, code, detail)
//! sends.jsonl     one send (or draft) per line, with its files' names, sizes and SHA-256
//! files/<send id>/<file name>   the bytes as stored
//! exchange.json   what a replay needs besides: the clock offset, the settings of the last start
//!                 (API shape, limits, switches) and the registry (offices with licences and
//!                 service types; users with password state and agent flag — no password, no hash)
//! ```
//!
//! `cpkit replay` replays such a bundle against a fresh hub (harness `support::replay`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hub::check_upload_name;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0} exists and is not empty; export into a new folder")]
    NotEmpty(PathBuf),
    #[error("failed to write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The store setting where [`crate::hub::Hub::open`] records the settings it runs with (JSON:
/// `api`, `limits`, `switches`), exported for replays.
pub const SETTINGS_KEY: &str = "replay_settings";

/// `exchange.json`: the registry, clock and settings of the exported hub.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ExchangeState {
    /// Seconds the hub's clock ran ahead of the system clock at the export (audit times are the
    /// system clock's).
    pub clock_offset_seconds: i64,
    /// The settings of the hub's last start (None for a database written before they were kept).
    pub settings: Option<serde_json::Value>,
    pub offices: Vec<RegistryOffice>,
    pub users: Vec<RegistryUser>,
}

/// An office as exported.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RegistryOffice {
    pub number: String,
    pub name: String,
    pub licence: crate::config::Licence,
    pub licence_until: Option<String>,
    pub service_types: Vec<String>,
}

/// A user as exported: never the password or its hash.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RegistryUser {
    pub id: String,
    pub office: String,
    pub state: crate::config::PasswordState,
    pub agent: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub schema: &'static str,
    pub exported_at: String,
    pub audit_rows: usize,
    pub sends: usize,
    pub files: usize,
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.to_ascii_lowercase();
                if key.contains("password") || key.contains("token") || key == "otp" {
                    *v = serde_json::Value::String("[redacted]".to_owned());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Writes the bundle into `out` (created; must be empty if it exists).
pub fn export(store: &Store, out: &Path) -> Result<ExportSummary, TraceError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |error| TraceError::Write { path, error }
    };
    if out.exists() && fs::read_dir(out).map_err(werr(out))?.next().is_some() {
        return Err(TraceError::NotEmpty(out.to_path_buf()));
    }
    fs::create_dir_all(out.join("files")).map_err(werr(out))?;

    let trace_path = out.join("trace.jsonl");
    let mut trace =
        std::io::BufWriter::new(fs::File::create(&trace_path).map_err(werr(&trace_path))?);
    let mut audit_rows = 0;
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 1000)?;
        if rows.is_empty() {
            break;
        }
        for mut row in rows {
            after = row.seq;
            if let Some(d) = row.detail.as_mut() {
                redact(d);
            }
            serde_json::to_writer(&mut trace, &row).map_err(|e| werr(&trace_path)(e.into()))?;
            trace.write_all(b"\n").map_err(werr(&trace_path))?;
            audit_rows += 1;
        }
    }
    trace.flush().map_err(werr(&trace_path))?;

    let sends_path = out.join("sends.jsonl");
    let mut sends =
        std::io::BufWriter::new(fs::File::create(&sends_path).map_err(werr(&sends_path))?);
    let (mut n_sends, mut n_files) = (0, 0);
    let result = store.for_each_send(|entry, contents| {
        serde_json::to_writer(&mut sends, entry)?;
        sends.write_all(b"\n")?;
        n_sends += 1;
        let dir = out.join("files").join(entry.id.to_string());
        fs::create_dir_all(&dir)?;
        for (name, bytes) in contents {
            // Names were checked on upload; check again before touching the file system.
            if check_upload_name(name).is_err() {
                return Err(std::io::Error::other(format!(
                    "refusing stored name {name:?}"
                )));
            }
            fs::write(dir.join(name), bytes)?;
            n_files += 1;
        }
        Ok(())
    })?;
    result.map_err(werr(&sends_path))?;
    sends.flush().map_err(werr(&sends_path))?;

    let state = ExchangeState {
        clock_offset_seconds: store
            .setting("clock_offset_seconds")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        settings: store
            .setting(SETTINGS_KEY)?
            .and_then(|v| serde_json::from_str(&v).ok()),
        offices: store
            .offices()?
            .into_iter()
            .map(|o| RegistryOffice {
                number: o.number,
                name: o.name,
                licence: o.licence,
                licence_until: o.licence_until,
                service_types: o.service_types,
            })
            .collect(),
        users: store
            .users()?
            .into_iter()
            .map(|u| RegistryUser {
                id: u.id,
                office: u.office,
                state: u.state,
                agent: u.agent,
            })
            .collect(),
    };
    let state_path = out.join("exchange.json");
    fs::write(
        &state_path,
        serde_json::to_vec_pretty(&state).expect("the exchange state serialises"),
    )
    .map_err(werr(&state_path))?;

    let summary = ExportSummary {
        schema: "cpkit-trace/1",
        exported_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        audit_rows,
        sends: n_sends,
        files: n_files,
    };
    let manifest = out.join("manifest.json");
    fs::write(
        &manifest,
        serde_json::to_vec_pretty(&summary).expect("the summary serialises"),
    )
    .map_err(werr(&manifest))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_details_are_redacted_at_any_depth() {
        let mut v =
            serde_json::json!({"a": {"Password": "x", "list": [{"token": "t"}]}, "user": "KJ1"});
        redact(&mut v);
        assert_eq!(v["a"]["Password"], "[redacted]");
        assert_eq!(v["a"]["list"][0]["token"], "[redacted]");
        assert_eq!(v["user"], "KJ1");
    }
}
