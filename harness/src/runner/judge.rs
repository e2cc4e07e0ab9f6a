//! Judging one step: building a [`CaseOutcome`], matching what happened against the step's
//! `expect` (an expected error, counts), blaming the kit rather than the product for the kit's own
//! failures, and sorting a software's answer into refused (the product's verdict) and failed (the
//! kit's).

use std::time::Duration;

use crate::outcome::{CaseOutcome, Verdict};
use crate::scenario::Step;
use crate::software::SoftwareError;

/// A case with a verdict and its one-line message; the runner fills in name, step and line.
pub(super) fn case(verdict: Verdict, message: impl Into<String>) -> CaseOutcome {
    CaseOutcome {
        name: String::new(),
        step: 0,
        line: None,
        action: String::new(),
        verdict,
        message: message.into(),
        expected: None,
        actual: None,
        diff: None,
        refs: Vec::new(),
        log: Vec::new(),
        duration: Duration::ZERO,
    }
}

/// The case with what was expected and what happened.
pub(super) fn with(
    mut c: CaseOutcome,
    expected: Option<String>,
    actual: Option<String>,
) -> CaseOutcome {
    c.expected = expected;
    c.actual = actual;
    c
}

/// An unexpected failure that was the kit's own becomes `error`, not `fail`.
pub(super) fn blame_kit(mut c: CaseOutcome, kit: bool, st: &Step) -> CaseOutcome {
    let expected = st.expect.as_ref().is_some_and(|e| e.error.is_some());
    if kit && !expected && c.verdict == Verdict::Fail {
        c.verdict = Verdict::Error;
    }
    c
}

/// Judges an outcome against `expect.error`: an expected error that happened passes, one that did
/// not fails, an unexpected error fails.
pub(super) fn judge_error(step: &Step, result: Result<String, String>) -> Option<CaseOutcome> {
    let want = step.expect.as_ref().and_then(|e| e.error.clone());
    match (want, result) {
        (Some(w), Err(text)) if text.contains(&w) => Some(with(
            case(
                Verdict::Pass,
                format!("refused as expected: {}", first_line(&text)),
            ),
            Some(format!("an error containing «{w}»")),
            Some(text),
        )),
        (Some(w), Err(text)) => Some(with(
            case(
                Verdict::Fail,
                format!("refused, but not as expected: {}", first_line(&text)),
            ),
            Some(format!("an error containing «{w}»")),
            Some(text),
        )),
        (Some(w), Ok(detail)) => Some(with(
            case(Verdict::Fail, "succeeded, but an error was expected"),
            Some(format!("an error containing «{w}»")),
            Some(detail),
        )),
        (None, Err(text)) => Some(with(
            case(Verdict::Fail, first_line(&text).to_owned()),
            Some("success".to_owned()),
            Some(text),
        )),
        (None, Ok(_)) => None,
    }
}

/// A count against `expect`: the case unchanged when it matches, a failure saying both otherwise.
pub(super) fn expect_count(c: CaseOutcome, want: usize, got: usize, what: &str) -> CaseOutcome {
    if want == got {
        return c;
    }
    let mut failed = with(
        case(Verdict::Fail, format!("{got} {what}, {want} expected")),
        Some(format!("{want} {what}")),
        Some(format!("{got} {what}")),
    );
    failed.log = c.log;
    failed
}

/// The first non-blank line of a message.
pub(super) fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text)
}

/// A software's answer: `Ok(Ok)` done, `Ok(Err)` refused by the product (judged), `Err` the kit
/// or adapter failed (an error).
pub(super) fn software_result<T>(r: Result<T, SoftwareError>) -> Result<Result<T, String>, String> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(SoftwareError::Refused(m)) => Ok(Err(m)),
        Err(SoftwareError::Failed(m)) => Err(m),
    }
}
