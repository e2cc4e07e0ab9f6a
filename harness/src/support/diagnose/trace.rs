//! Reading a `cpkit trace export` bundle (mock-server/src/trace.rs, docs/exchange.md): the audit
//! rows with their line in `trace.jsonl`, and the sends with their files' names and SHA-256.

use std::path::{Path, PathBuf};

use careplan_mock_server::store::{AuditEntry, SendEntry};

/// A bundle as read.
#[derive(Debug, Clone)]
pub struct TraceBundle {
    pub dir: PathBuf,
    /// (line in trace.jsonl, row).
    pub audit: Vec<(usize, AuditEntry)>,
    pub sends: Vec<SendEntry>,
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}: not a cpkit-trace/1 bundle (manifest.json schema is {1:?})")]
    Schema(PathBuf, String),
}

fn jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(line).map_err(|e| TraceError::Parse {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push((i + 1, row));
    }
    Ok(out)
}

impl TraceBundle {
    pub fn read(dir: &Path) -> Result<Self, TraceError> {
        let manifest = dir.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).map_err(|source| TraceError::Read {
            path: manifest.clone(),
            source,
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| TraceError::Parse {
            path: manifest.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let schema = v["schema"].as_str().unwrap_or_default();
        if schema != "cpkit-trace/1" {
            return Err(TraceError::Schema(manifest, schema.to_owned()));
        }
        Ok(Self {
            dir: dir.to_owned(),
            audit: jsonl(&dir.join("trace.jsonl"))?,
            sends: jsonl::<SendEntry>(&dir.join("sends.jsonl"))?
                .into_iter()
                .map(|(_, s)| s)
                .collect(),
        })
    }

    /// `BUNDLE/trace.jsonl:LINE`.
    pub fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.dir.join("trace.jsonl").display())
    }
}

/// Whether an audit row is an inbox listing (v1 `GET /v1/inbox`, 2027 `GET …/received`) that
/// answered, and the send ids it returned.
pub fn listed(row: &AuditEntry) -> Option<Vec<i64>> {
    let listing = row.action == "GET /v1/inbox"
        || (row.action.starts_with("GET /api/careplan/") && row.action.ends_with("/received"));
    if !listing || row.status != 200 || row.code.is_some() {
        return None;
    }
    Some(
        row.detail
            .as_ref()?
            .get("items")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_i64())
            .collect(),
    )
}

/// Whether an audit row is a send the exchange refused: its code and English message.
pub fn refused_send(row: &AuditEntry) -> Option<(String, String)> {
    let sending = row.action == "POST /v1/sends"
        || row.action == "POST /v1/bulk-sends"
        || (row.action.starts_with("POST /api/careplan/") && row.action.ends_with("/send"));
    if !sending {
        return None;
    }
    let code = row.code.clone()?;
    let en = row
        .detail
        .as_ref()
        .and_then(|d| d.get("message_en"))
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    Some((code, en))
}
