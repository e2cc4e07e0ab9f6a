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
//! ```

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
