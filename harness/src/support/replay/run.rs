//! Replaying a run bundle ([`super::bundle`]): the bundled scenario runs again through the runner —
//! a fresh test PKI, store and hub on 127.0.0.1:0, the same clock, the bundled inputs and SUT
//! configuration — and the new run is compared with the recorded one: every exchange call
//! (request, success, answer), every case's verdict, the clock, the software and certificate of
//! each office, and the bundled inputs against their recorded SHA-256.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use super::bundle::{CaseRecord, RunBundle, SUT, cases_of};
use super::{Difference, Replay, ReplayError, Skipped, compare_lists, differ, sha256_hex};
use crate::outcome::ExchangeCall;
use crate::runner::{self, Quiet, RunOptions, SutConfig};

fn call_label(i: usize, c: &ExchangeCall) -> String {
    format!(
        "transcript.jsonl:{} (step {}, {} on {}: {})",
        i + 1,
        c.step,
        c.office,
        c.terminal,
        c.call
    )
}

fn call_text(c: &ExchangeCall) -> String {
    format!(
        "{} {} → {} {}",
        c.call,
        c.request,
        if c.ok { "ok" } else { "refused" },
        c.answer
    )
}

fn case_text(c: &CaseRecord) -> String {
    format!("{}: {}", c.verdict, c.message)
}

/// Replays the run bundle in `dir`.
pub fn replay(dir: &Path) -> Result<Replay, ReplayError> {
    let bundle = RunBundle::read(dir)?;
    let m = &bundle.manifest;
    let sut = match &m.sut {
        Some(_) => Some(
            SutConfig::load(&dir.join(SUT))
                .map_err(|e| ReplayError::invalid(&dir.join(SUT), e.to_string()))?,
        ),
        None => None,
    };
    let mut differences = Vec::new();
    let mut skipped = Vec::new();
    let mut notes = vec![format!(
        "recorded by cpkit {} on {}; replayed by cpkit {}",
        m.tool.version,
        m.recorded,
        env!("CARGO_PKG_VERSION")
    )];
    if let Some(s) = &m.sut {
        notes.push(format!(
            "SUT {} ({} adapter, from {}): its commands run as the configuration says; the product must be installed here",
            s.name, s.adapter, s.given
        ));
    }
    // The inputs are the recorded ones, unless the bundle was edited.
    for input in &m.inputs {
        for f in &input.files {
            let path = dir.join(&f.path);
            match std::fs::read(&path) {
                Ok(bytes) => differ(
                    &mut differences,
                    &f.path,
                    "input bytes (SHA-256)",
                    &f.sha256,
                    &sha256_hex(&bytes),
                ),
                Err(e) => differences.push(Difference {
                    at: f.path.clone(),
                    what: "input missing from the bundle".to_owned(),
                    recorded: format!("{} bytes", f.bytes),
                    replayed: e.to_string(),
                }),
            }
        }
    }

    static N: AtomicU32 = AtomicU32::new(0);
    let work = std::env::temp_dir().join(format!(
        "cpkit-replay-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let run = runner::run(
        std::slice::from_ref(&bundle.scenario),
        &RunOptions {
            sut,
            work_dir: work.clone(),
            keep: false,
        },
        &mut Quiet,
    );
    let _ = std::fs::remove_dir_all(&work);
    let Some(now) = run.scenarios.first() else {
        return Err(ReplayError::invalid(dir, "the scenario did not run"));
    };

    match (&m.clock, &now.clock) {
        (Some(a), Some(b)) => {
            differ(&mut differences, "clock", "first day", &a.today, &b.today);
            differ(
                &mut differences,
                "clock",
                "exchange start",
                &a.exchange_start,
                &b.exchange_start,
            );
            differ(
                &mut differences,
                "clock",
                "first ファイル連番",
                &a.first_serial,
                &b.first_serial,
            );
        }
        (None, None) => {}
        (a, b) => differ(
            &mut differences,
            "clock",
            "set",
            &format!("{a:?}"),
            &format!("{b:?}"),
        ),
    }
    compare_lists(
        &m.certificates,
        &now.certificates,
        |_, c| format!("certificate of {}", c.office),
        |c| format!("{} {} {} {}", c.office, c.number, c.variant, c.kind),
        |at, a, b, out| {
            differ(out, at, "office", &a.office, &b.office);
            differ(out, at, "number", &a.number, &b.number);
            differ(out, at, "variant", &a.variant, &b.variant);
            differ(out, at, "kind", &a.kind, &b.kind);
        },
        &mut differences,
    );
    if !m.certificates.is_empty() {
        notes.push(
            "certificates: a fresh test PKI, so fingerprints and serials are new by design; office, variant and kind compared"
                .to_owned(),
        );
    }
    let software: Vec<(String, String)> = m
        .software
        .iter()
        .map(|s| (s.office.clone(), s.software.clone()))
        .collect();
    compare_lists(
        &software,
        &now.software,
        |_, s| format!("software of {}", s.0),
        |s| format!("{} = {}", s.0, s.1),
        |at, a, b, out| differ(out, at, "software", &a.1, &b.1),
        &mut differences,
    );
    compare_lists(
        &bundle.transcript,
        &now.transcript,
        call_label,
        call_text,
        |at, a, b, out| {
            differ(
                out,
                at,
                "call",
                &format!("step {} {} {} {}", a.step, a.office, a.terminal, a.call),
                &format!("step {} {} {} {}", b.step, b.office, b.terminal, b.call),
            );
            differ(out, at, "request", &a.request, &b.request);
            differ(
                out,
                at,
                "result",
                if a.ok { "ok" } else { "refused" },
                if b.ok { "ok" } else { "refused" },
            );
            differ(out, at, "answer", &a.answer, &b.answer);
        },
        &mut differences,
    );
    let cases = cases_of(now);
    compare_lists(
        &m.cases,
        &cases,
        |_, c| format!("case {}", c.name),
        case_text,
        |at, a, b, out| {
            differ(out, at, "name", &a.name, &b.name);
            if a.verdict != b.verdict {
                out.push(Difference {
                    at: at.to_owned(),
                    what: "verdict".to_owned(),
                    recorded: case_text(a),
                    replayed: case_text(b),
                });
            }
        },
        &mut differences,
    );
    if bundle.transcript.is_empty() {
        skipped.push(Skipped {
            at: "transcript.jsonl".to_owned(),
            why: "no exchange call was recorded (the scenario failed before reaching the exchange)"
                .to_owned(),
        });
    }
    notes.push(format!(
        "verdict: recorded {}, replayed {}",
        m.scenario.verdict,
        now.verdict().label()
    ));
    Ok(Replay {
        kind: "run",
        bundle: dir.display().to_string(),
        subject: format!("{} ({})", m.scenario.name, m.scenario.file),
        compared: bundle.transcript.len() + m.cases.len(),
        differences,
        skipped,
        notes,
    })
}
