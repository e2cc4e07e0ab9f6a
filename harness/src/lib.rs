//! The harness layer of the conformance kit: everything the `cpkit` binary does, as a library.
//!
//! * [`check`] — run the spec core over files and folders and collect one [`check::Run`].
//! * [`report`] — render a run as human text, as versioned JSON (`cpkit-validate/1`) or as JUnit.
//! * [`outcome`] — what a scenario run found: verdicts per scenario and step.
//! * [`run_report`] — render a scenario run as JUnit, JSON (`cpkit-run/1`) and HTML.
//! * [`scenario`] — scenario files: format, parsing with lines, lint.
//! * [`software`] — what an office runs: personas over a care-software state, or a SUT adapter.
//! * [`suite`] — the built-in suite embedded in the binary, scenario files on disk, report names.
//! * [`runner`] — runs scenarios against a fresh mock exchange and judges every step.
//! * [`support`] — for support engineers: diagnose, diff, anonymize, shrink.
//!
//! The binary (`src/bin/cpkit/main.rs`) only parses arguments, calls these, and maps outcomes to
//! exit codes.

pub mod check;
pub mod outcome;
pub mod plural;
mod relpath;
pub mod report;
pub mod run_report;
pub mod runner;
pub mod scenario;
pub mod software;
pub mod suite;
pub mod support;
