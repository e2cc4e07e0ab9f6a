//! The harness layer of the conformance kit: everything the `cpkit` binary does, as a library.
//!
//! * [`check`] — run the spec core over files and folders and collect one [`check::Run`].
//! * [`report`] — render a run as human text, as versioned JSON (`cpkit-validate/1`) or as JUnit.
//!
//! The binary (`src/bin/cpkit.rs`) only parses arguments, calls these, and maps outcomes to exit
//! codes.

pub mod check;
pub mod report;
