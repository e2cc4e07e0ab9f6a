//! `cpkit replay BUNDLE`: rerun what a bundle recorded against a fresh exchange and report every
//! answer that differs from the recorded one (docs/support.md, D-SUPPORT-REPLAY).
//!
//! Two kinds of bundle replay the same way:
//!
//! * a **run bundle** ([`bundle`]), written by `cpkit run` for each failing scenario: the scenario,
//!   its inputs, the SUT configuration, certificate fingerprints, the exchange transcript and the
//!   clock. [`run`] runs the bundled scenario again (fresh PKI, store and hub, the same clock) and
//!   compares the new transcript call by call, the cases' verdicts, the clock and the offices'
//!   certificates;
//! * a **trace bundle** of `cpkit trace export` (mock-server `trace.rs`): [`trace`] replays its
//!   logins, sends, listings and downloads in order against a fresh hub with the exported registry,
//!   settings and clock, and compares each of the new hub's audit rows with the recorded one.
//!
//! Both produce a [`Replay`]: what was compared, what could not be replayed and why, and the
//! differences. Rendering is [`Replay::text`] and [`Replay::json`].

pub mod bundle;
pub mod run;
pub mod trace;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why a bundle could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "{0} is not a replay bundle: no bundle.json (cpkit run) or manifest.json (cpkit trace export) in it"
    )]
    NotABundle(PathBuf),
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("failed to start the exchange for the replay: {0}")]
    Exchange(String),
}

impl ReplayError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn read(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One answer (or recorded fact) that the replay did not reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Where: `transcript.jsonl:3 (step 4, cm on default: send)`, `trace.jsonl:12 (GET /v1/inbox)`,
    /// `case 11 assert day: round trip`, `clock`, `certificate of cm`, `inputs/01/x.CSV`.
    pub at: String,
    /// Which part differs: `answer`, `request`, `ok`, `status`, `code`, `detail`, `verdict` …
    pub what: String,
    pub recorded: String,
    pub replayed: String,
}

/// Something recorded that the replay leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub at: String,
    pub why: String,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// `run` or `trace`.
    pub kind: &'static str,
    pub bundle: String,
    /// What was replayed: the scenario's name and file, or the trace's rows.
    pub subject: String,
    /// Recorded answers compared (exchange calls, audit rows, cases).
    pub compared: usize,
    pub differences: Vec<Difference>,
    pub skipped: Vec<Skipped>,
    /// Context: what the replay ran with, what is new by design (certificate fingerprints).
    pub notes: Vec<String>,
}

impl Replay {
    pub fn same(&self) -> bool {
        self.differences.is_empty()
    }

    /// The terminal report.
    pub fn text(&self) -> String {
        let mut out = format!(
            "cpkit replay {} — {} bundle: {}\n",
            self.bundle, self.kind, self.subject
        );
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        for s in &self.skipped {
            out.push_str(&format!("  not replayed: {}: {}\n", s.at, s.why));
        }
        if !self.differences.is_empty() {
            out.push_str("\ndifferences from the recorded answers:\n");
            for d in &self.differences {
                out.push_str(&format!(
                    "  {}: {}\n    recorded: {}\n    replayed: {}\n",
                    d.at,
                    d.what,
                    shown(&d.recorded),
                    shown(&d.replayed)
                ));
            }
        }
        let skipped = if self.skipped.is_empty() {
            String::new()
        } else {
            format!(", {} not replayed", self.skipped.len())
        };
        if self.same() {
            out.push_str(&format!(
                "\nsame — {} recorded answers compared, all reproduced{skipped}\n",
                self.compared
            ));
        } else {
            out.push_str(&format!(
                "\ndifferent — {} recorded answers compared, {} {}{skipped}\n",
                self.compared,
                self.differences.len(),
                if self.differences.len() == 1 {
                    "difference"
                } else {
                    "differences"
                }
            ));
        }
        out
    }

    /// The JSON document `cpkit-replay-result/1`.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            schema: &'static str,
            same: bool,
            #[serde(flatten)]
            replay: &'a Replay,
        }
        serde_json::to_string_pretty(&Doc {
            schema: "cpkit-replay-result/1",
            same: self.same(),
            replay: self,
        })
        .expect("a replay serialises")
    }
}

fn shown(v: &str) -> &str {
    if v.is_empty() { "(nothing)" } else { v }
}

/// Replays the bundle in `dir`, whichever kind it is.
pub fn replay(dir: &Path) -> Result<Replay, ReplayError> {
    if dir.join(bundle::MANIFEST).is_file() {
        run::replay(dir)
    } else if dir.join("manifest.json").is_file() {
        trace::replay(dir)
    } else {
        Err(ReplayError::NotABundle(dir.to_path_buf()))
    }
}

/// Lower-case hex of a SHA-256 digest.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two lists element by element: differing pairs via `each`, and the ones only one side
/// has as `missing` / `extra` differences at `label(i)`.
pub(crate) fn compare_lists<T>(
    recorded: &[T],
    replayed: &[T],
    label: impl Fn(usize, &T) -> String,
    show: impl Fn(&T) -> String,
    mut each: impl FnMut(&str, &T, &T, &mut Vec<Difference>),
    out: &mut Vec<Difference>,
) {
    for (i, r) in recorded.iter().enumerate() {
        match replayed.get(i) {
            Some(n) => each(&label(i, r), r, n, out),
            None => out.push(Difference {
                at: label(i, r),
                what: "not made in the replay".to_owned(),
                recorded: show(r),
                replayed: String::new(),
            }),
        }
    }
    for (i, n) in replayed.iter().enumerate().skip(recorded.len()) {
        out.push(Difference {
            at: label(i, n),
            what: "made only in the replay".to_owned(),
            recorded: String::new(),
            replayed: show(n),
        });
    }
}

/// A difference when two values are not equal.
pub(crate) fn differ(
    out: &mut Vec<Difference>,
    at: &str,
    what: &str,
    recorded: &str,
    replayed: &str,
) {
    if recorded != replayed {
        out.push(Difference {
            at: at.to_owned(),
            what: what.to_owned(),
            recorded: recorded.to_owned(),
            replayed: replayed.to_owned(),
        });
    }
}
