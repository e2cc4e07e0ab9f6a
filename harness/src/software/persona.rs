//! Personas: simulated vendor products, each a small policy over the spec core and the shared
//! care-software state ([`super::state`]). Their behaviour is documented in `docs/personas.md`;
//! each one reproduces a product family or a field report.

use careplan_spec::table::Quoting;
use careplan_spec::version::SpecVersion;
use serde::{Deserialize, Serialize};

/// How a product identifies the data an import replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keying {
    /// By user, month, partner office and the service office's service type (correct for V4 and,
    /// from the records' service codes, for V3).
    OfficeAndServiceType,
    /// By user, month and partner office only: a second service's file of the same office number
    /// replaces the first's (seed 000 §e, the デイ/ヘルプ case).
    OfficeOnly,
}

/// A deliberate defect, to build a broken product for testing the kit itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// Exported actuals start one hour later than the imported plan on their first record.
    ShiftStartTime,
    /// Exported actuals lose their last record.
    DropLastRecord,
}

impl Defect {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "shift-start-time" => Some(Self::ShiftStartTime),
            "drop-last-record" => Some(Self::DropLastRecord),
            _ => None,
        }
    }
}

/// One persona's policy.
#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    pub name: &'static str,
    /// What it simulates, in one sentence.
    pub summary: &'static str,
    /// Where the behaviour comes from.
    pub source: &'static str,
    /// Name shapes (and so layouts) it can import.
    pub reads: &'static [SpecVersion],
    /// The shape and layout it writes.
    pub writes: SpecVersion,
    pub keying: Keying,
    pub quoting: Quoting,
    /// A CSVバージョン written instead of the layout's own value.
    pub csv_version: Option<&'static str>,
    /// Makes 実績 CSV only for user-months whose 予定 arrived by CSV (ほのぼの-style).
    pub actuals_need_csv_plan: bool,
    /// Hands the exchange one zip archive instead of the CSV files.
    pub zips_exports: bool,
    /// The version of the exchange client the office runs.
    pub client_version: &'static str,
    pub defect: Option<Defect>,
}

const ALL_SHAPES: &[SpecVersion] = &[SpecVersion::V3, SpecVersion::V40, SpecVersion::V41];
const V3_ONLY: &[SpecVersion] = &[SpecVersion::V3];

const REFERENCE_V4: Persona = Persona {
    name: "reference-v4",
    summary: "correct V4.1 software: reads V3, V4.0 and V4.1, writes V4.1, keys by office and service type, refuses units with errors",
    source: "S4 (the V4.1 standard)",
    reads: ALL_SHAPES,
    writes: SpecVersion::V41,
    keying: Keying::OfficeAndServiceType,
    quoting: Quoting::FreeText,
    csv_version: None,
    actuals_need_csv_plan: false,
    zips_exports: false,
    client_version: "1.2.0",
    defect: None,
};

/// Every persona, by name.
pub const PERSONAS: &[Persona] = &[
    REFERENCE_V4,
    Persona {
        name: "reference-v3",
        summary: "correct 202208 (V3) software: reads and writes V3 only, keys by office and the records' service types",
        source: "V3 (vol.1156)",
        reads: V3_ONLY,
        writes: SpecVersion::V3,
        client_version: "1.1.2",
        ..REFERENCE_V4
    },
    Persona {
        name: "names-v40",
        summary: "V4.0 software: writes the withdrawn V4.0 name shape (3-character codes after the office numbers)",
        source: "S4 history table (4.0 → 4.1 name change); decision D-NAME-40",
        writes: SpecVersion::V40,
        ..REFERENCE_V4
    },
    Persona {
        name: "number-keyed-v3",
        summary: "V3 software that keys imports by office number only, so a second service's file of the same number overwrites the first",
        source: "seed 000 §e (デイ/ヘルプ under one office number); exchange.md §3.1",
        reads: V3_ONLY,
        writes: SpecVersion::V3,
        keying: Keying::OfficeOnly,
        client_version: "1.1.2",
        ..REFERENCE_V4
    },
    Persona {
        name: "honobono",
        summary: "provider software that creates 実績 CSV only for user-months whose 予定 arrived by CSV, and says so otherwise",
        source: "seed 000 §3 (ほのぼの); exchange.md §3.13",
        actuals_need_csv_plan: true,
        ..REFERENCE_V4
    },
    Persona {
        name: "zip-exporter",
        summary: "software that exports its CSV files as one zip archive and hands that to the exchange",
        source: "seed 000 §1 (カイポケ zip); exchange.md §3.14",
        zips_exports: true,
        ..REFERENCE_V4
    },
    Persona {
        name: "legacy-client",
        summary: "correct V4.1 files, but an exchange client older than the version that knows V4.1 names (1.1.2)",
        source: "seed 000 §g (client Ver1.2.0 needed)",
        client_version: "1.1.2",
        ..REFERENCE_V4
    },
    Persona {
        name: "version-202410",
        summary: "V4.1 software that writes the wrong CSVバージョン 202410 in column No.1",
        source: "S4 errata (202407 is the V4.1 value); rule VER002",
        csv_version: Some("202410"),
        ..REFERENCE_V4
    },
    Persona {
        name: "quote-when-needed",
        summary: "V4.1 software that quotes free text only when it contains a comma, a quote or a line break",
        source: "L4 L128-129 (free text always in \"\"); rule FLD005",
        quoting: Quoting::WhenNeeded,
        ..REFERENCE_V4
    },
];

/// A persona by name.
pub fn persona(name: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.name == name)
}

/// The names, for error messages.
pub fn names() -> String {
    PERSONAS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_persona_reads_what_it_writes() {
        let mut seen = std::collections::BTreeSet::new();
        for p in PERSONAS {
            assert!(seen.insert(p.name), "{}", p.name);
            assert!(p.reads.contains(&p.writes), "{}", p.name);
        }
        for name in [
            "reference-v4",
            "reference-v3",
            "names-v40",
            "number-keyed-v3",
            "honobono",
            "zip-exporter",
            "legacy-client",
            "version-202410",
            "quote-when-needed",
        ] {
            assert!(persona(name).is_some(), "{name}");
        }
    }
}
