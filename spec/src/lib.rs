//! The spec core of the care-plan conformance kit: the ケアプランデータ連携標準仕様 written down as data
//! and rules.
//!
//! Bytes go in, findings come out; this crate does no I/O of its own beyond reading from a
//! caller-supplied [`std::io::Read`]. Layers above it (the mock exchange, the harness and the `cpkit`
//! binary) build on these entry points:
//!
//! * [`FileName`] — parse and format the 18 file kinds' names in the V3, V4.0 and V4.1 shapes.
//! * [`layout`] — every kind × version layout, loaded from the TOML tables in `spec/data/`.
//! * [`ms932`] — strict MS932 decoding and encoding with positions and suggestions.
//! * [`tokenizer`] — a strict, streaming CSV tokenizer over bytes.
//! * [`rules`] — the rule catalogue: stable IDs, severities, bilingual messages, spec references.
//! * [`validate`] — file, send-unit and cross-file validation producing [`Finding`]s.
//! * [`table`] — a standard file as decoded records, read strictly and written in any layout.
//! * [`convert`] — V3 ↔ V4.1 conversion of send units.

pub mod checks;
pub mod codes;
pub mod convert;
pub mod coverage;
pub mod domain;
pub mod filename;
pub mod finding;
pub mod format;
pub mod identify;
pub mod kind;
pub mod layout;
pub mod ms932;
pub mod parallel;
pub mod profile;
pub mod report;
pub mod rules;
pub mod severity;
pub mod sink;
pub mod sources;
pub mod table;
pub mod tokenizer;
pub mod unitdef;
pub mod units;
pub mod validate;
pub mod version;

pub use domain::{Month, OfficeNumber, Serial, ServiceTypeCode};
pub use filename::{FileName, MonthSegment, NameError, NameShape, Party};
pub use finding::{FieldRef, Finding, Location, Severity};
pub use kind::FileKind;
pub use profile::Profile;
pub use report::FileReport;
pub use rules::{Rule, RuleId};
pub use units::{UnitReport, check_units};
pub use validate::{Options, validate_bytes, validate_reader};
pub use version::{CsvVersion, SpecVersion};
