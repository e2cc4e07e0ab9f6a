//! Runs scenarios: for each scenario a fresh mock exchange (real mutual TLS on 127.0.0.1:0, its own
//! test PKI and SQLite store in a work folder), one software per office (a persona, or the system
//! under test through its adapter), then the steps in order, each judged into a [`CaseOutcome`].
//!
//! Nothing here knows the standard: file names, layouts and findings come from the spec core,
//! exchange behaviour from the hub, import behaviour from the software. The parts:
//!
//! * this module — the run: scenarios in order, each step's cases named, numbered and timed;
//! * [`setup`] — PKI, registry, certificates, the exchange, and [`sut`] — the software per office;
//! * [`steps`] — one method per action; [`assertions`] — the checks of `assert`;
//! * [`exchange`] — the kit's exchange client for the offices, with the scenario's transcript;
//! * [`office`] — what an office holds during a run; [`clock`] — the scenario's day and serials;
//! * [`judge`] — cases and their verdicts against a step's `expect`; [`blocking`] — the steps
//!   the kit's own failures leave unrun (`blocked`).

mod assertions;
mod blocking;
mod clock;
mod exchange;
mod judge;
mod office;
mod setup;
mod steps;
mod sut;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::outcome::{CaseOutcome, RunOutcome, ScenarioOutcome, Verdict};
use crate::scenario::{Scenario, Step, parse_day};

pub use sut::{SutConfig, SutConfigError};

/// How to run.
pub struct RunOptions {
    pub sut: Option<SutConfig>,
    /// Where each scenario's exchange, PKI and SUT folders go (a folder per scenario).
    pub work_dir: PathBuf,
    /// Keep the work folders (default: removed after a scenario passes).
    pub keep: bool,
}

/// Progress callbacks, for a terminal.
pub trait Progress {
    fn scenario_started(&mut self, _index: usize, _total: usize, _name: &str) {}
    fn scenario_finished(&mut self, _index: usize, _total: usize, _outcome: &ScenarioOutcome) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

/// Runs scenarios in order and collects their outcomes.
pub fn run(
    scenarios: &[Scenario],
    options: &RunOptions,
    progress: &mut dyn Progress,
) -> RunOutcome {
    careplan_mock_server::tls::install_provider();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let clock = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let mut outcomes = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        progress.scenario_started(i, scenarios.len(), &s.file.scenario.name);
        let outcome = match &runtime {
            Ok(rt) => rt.block_on(run_scenario(s, i, options)),
            Err(e) => kit_failure(s, format!("failed to start the async runtime: {e}")),
        };
        progress.scenario_finished(i, scenarios.len(), &outcome);
        outcomes.push(outcome);
    }
    RunOutcome {
        fail_on: Verdict::Fail,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        started,
        scenarios: outcomes,
        duration: clock.elapsed(),
    }
}

fn header(s: &Scenario) -> ScenarioOutcome {
    ScenarioOutcome {
        name: s.file.scenario.name.clone(),
        file: s.name.clone(),
        description: s.file.scenario.description.trim().to_owned(),
        tags: s.file.scenario.tags.clone(),
        refs: public_refs(&s.file.scenario.refs),
        software: Vec::new(),
        cases: Vec::new(),
        duration: Duration::ZERO,
        transcript: Vec::new(),
        certificates: Vec::new(),
        clock: None,
        bundle: None,
    }
}

/// A scenario whose set-up failed: the set-up case, and every step blocked.
fn kit_failure(s: &Scenario, message: String) -> ScenarioOutcome {
    let mut out = header(s);
    let mut set_up = judge::case(Verdict::Error, message);
    set_up.name = "set-up".to_owned();
    set_up.action = "set-up".to_owned();
    out.cases.push(set_up);
    let mut blocks = blocking::Blocks::everything("the set-up failed");
    for (i, step) in s.file.steps.iter().enumerate() {
        let st = step.get_ref();
        let cause = blocks.blocking(st).unwrap_or_default();
        let mut c = judge::case(Verdict::Blocked, format!("not run: {cause}"));
        name_case(&mut c, s, i, step);
        out.cases.push(c);
    }
    out
}

/// A scenario's references as reports show them: `S4 §…`, `L4 …` keys become the public
/// coordinates of the MHLW documents (document, edition, page, section or table and item), the
/// kit's own notes stay as written (careplan_spec::sources).
pub(crate) fn public_refs(refs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in refs {
        for p in careplan_spec::sources::public(r) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Numbers, names and locates a case of step `i`, and applies the step's refs and severity.
fn name_case(c: &mut CaseOutcome, s: &Scenario, i: usize, step: &toml::Spanned<Step>) {
    let st = step.get_ref();
    c.step = i + 1;
    c.line = Some(s.line_of(step));
    c.action = st.action.label().to_owned();
    let name = step_label(i, st);
    c.name = if c.name.is_empty() {
        name
    } else {
        format!("{name}: {}", c.name)
    };
    c.refs.extend(public_refs(&st.refs));
    if st.severity.as_deref() == Some("should") && c.verdict == Verdict::Fail {
        c.verdict = Verdict::Warn;
    }
}

/// `03 send cm → day`: the step number and its name (or one made from its action and offices).
fn step_label(i: usize, st: &Step) -> String {
    let name = st.name.clone().unwrap_or_else(|| default_name(st));
    format!("{:02} {name}", i + 1)
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

async fn run_scenario(s: &Scenario, index: usize, options: &RunOptions) -> ScenarioOutcome {
    let clock = Instant::now();
    let stem = s
        .name
        .rsplit('/')
        .next()
        .map(|f| f.rsplit_once('.').map_or(f, |(stem, _)| stem))
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| slug(&s.file.scenario.name));
    let work = options
        .work_dir
        .join(format!("{:03}-{}", index + 1, slug(&stem)));
    let _ = std::fs::remove_dir_all(&work);
    if let Err(e) = std::fs::create_dir_all(&work) {
        return kit_failure(s, format!("failed to create {}: {e}", work.display()));
    }
    let today = s
        .file
        .scenario
        .today
        .as_deref()
        .and_then(parse_day)
        .unwrap_or(time::macros::date!(2025 - 05 - 26));
    let (server, mut offices, hub_offset) = match setup::set_up(s, &work, options, today).await {
        Ok(v) => v,
        Err(e) => return kit_failure(s, e),
    };
    let mut out = header(s);
    out.certificates = offices.iter().map(setup::certificate_use).collect();
    out.software = offices
        .iter()
        .map(|o| (o.spec.id.clone(), o.software.label()))
        .collect();
    let mut steps = steps::Steps {
        scenario: s,
        exchange: exchange::Exchange::new(&server),
        clock: clock::Clock::new(today, hub_offset),
    };
    out.clock = Some(steps.clock.record());
    let mut blocks = blocking::Blocks::default();
    for (i, step) in s.file.steps.iter().enumerate() {
        let started = Instant::now();
        let st = step.get_ref();
        let mut cases = match blocks.blocking(st) {
            Some(cause) => vec![judge::case(Verdict::Blocked, format!("not run: {cause}"))],
            None => {
                steps.exchange.step = i + 1;
                steps.step(&mut offices, st).await
            }
        };
        blocks.ran(st, &step_label(i, st), &cases);
        for c in &mut cases {
            name_case(c, s, i, step);
            c.duration = started.elapsed();
        }
        out.cases.extend(cases);
    }
    out.transcript = std::mem::take(&mut steps.exchange.transcript);
    drop(steps);
    let _ = server.stop().await;
    out.duration = clock.elapsed();
    let clean = matches!(
        out.verdict(),
        Verdict::Pass | Verdict::Warn | Verdict::NotApplicable
    );
    if clean && !options.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    out
}

fn default_name(st: &Step) -> String {
    let mut n = st.action.label().to_owned();
    if let Some(o) = &st.office {
        n.push(' ');
        n.push_str(o);
    }
    if let Some(t) = &st.to {
        n.push_str(" → ");
        n.push_str(t);
    }
    if let Some(u) = &st.unit {
        n.push_str(&format!(" ({u})"));
    }
    if let Some(t) = &st.terminal {
        n.push_str(&format!(" on {t}"));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Origin, Source};

    fn builtin(name: &str) -> Scenario {
        Scenario::load(&Source {
            origin: Origin::Builtin(name.to_owned()),
            name: name.to_owned(),
        })
        .expect("a built-in scenario")
    }

    #[test]
    fn the_exchange_transcript_records_every_client_call_by_step() {
        let s = builtin("scenarios/roundtrip-v41-riyohyo.toml");
        let work = std::env::temp_dir().join(format!("cpkit-transcript-{}", std::process::id()));
        let options = RunOptions {
            sut: None,
            work_dir: work.clone(),
            keep: false,
        };
        let run = run(std::slice::from_ref(&s), &options, &mut Quiet);
        let _ = std::fs::remove_dir_all(&work);
        let outcome = &run.scenarios[0];
        assert_eq!(outcome.verdict(), Verdict::Pass, "{:#?}", outcome.cases);
        let calls: Vec<(usize, &str, &str)> = outcome
            .transcript
            .iter()
            .map(|c| (c.step, c.office.as_str(), c.call.as_str()))
            .collect();
        // Step 4 sends from cm (logging in first), step 5 fetches at day: an inbox call, then one
        // download per file of the unit.
        assert!(
            calls.starts_with(&[(4, "cm", "login"), (4, "cm", "send")]),
            "{calls:?}"
        );
        let at_day: Vec<&str> = calls.iter().filter(|c| c.0 == 5).map(|c| c.2).collect();
        assert_eq!(
            at_day,
            ["login", "inbox", "download", "download", "download"]
        );
        assert!(
            outcome.transcript.iter().all(|c| c.ok),
            "{:#?}",
            outcome.transcript
        );
        let send = &outcome.transcript[1];
        assert!(
            send.request.starts_with("to 0320000202: UPPLAN_"),
            "{send:?}"
        );
        assert!(send.answer.starts_with("send "), "{send:?}");
    }

    #[test]
    fn a_failed_set_up_blocks_every_step() {
        let s = builtin("scenarios/roundtrip-v41-riyohyo.toml");
        let out = kit_failure(&s, "failed to start the mock exchange".to_owned());
        assert_eq!(out.cases[0].name, "set-up");
        assert_eq!(out.cases[0].verdict, Verdict::Error);
        assert_eq!(out.cases.len(), s.file.steps.len() + 1);
        assert!(out.cases[1..].iter().all(|c| c.verdict == Verdict::Blocked
            && c.message == "not run: the set-up failed"));
        assert_eq!(out.cases[1].name, "01 load cm");
        assert_eq!(out.verdict(), Verdict::Error);
    }
}
