//! V3 ↔ V4.1 conversion of send units.
//!
//! Columns are mapped **by layout name** between the two versions' layouts, so the inserted V4
//! columns (TAISコード, 福祉用具届出コード, 用具名称) appear empty in V4 and are checked for loss going back.
//!
//! V3 → V4.1: CSVバージョン becomes 202407; names gain service types. The care-manager side's type is
//! given (default 43); the service office's type is derived from the unit's records — the first two
//! characters of the サービスコード of rows whose provider is the service office (6表, 7表, 実績), or the
//! サービス種類コード of DLTJSK. When one office number serves several types (the same-number
//! multi-service case), the unit is split into one unit per type, each with its own 連番 (the
//! original, then one second later for each further type), and the outcome says so. Files without
//! service codes (plan units, DLTPLAN) need the receiver's type from the caller.
//!
//! V4 → V3: the inserted columns are dropped; 第3表 and the 介護予防 files do not exist in V3. Where
//! information would be lost the conversion is refused unless `lossy` is set, in which case the
//! outcome lists what was dropped.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes::is_summary_code;
use crate::domain::{Month, Serial, ServiceTypeCode};
use crate::filename::{FileName, NameError, Party};
use crate::kind::{FileKind, Sender};
use crate::layout::{self, LayoutView};
use crate::table::{self, Table, TableError, WriteOptions, value};
use crate::version::SpecVersion;

/// What to convert to and how.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// `SpecVersion::V41` or `SpecVersion::V3`.
    pub to: SpecVersion,
    /// Convert even when information is lost, listing what was dropped.
    pub lossy: bool,
    /// The care-manager side's service type in V4 names (43 居宅介護支援, 46 介護予防支援, AF …).
    pub care_manager_type: ServiceTypeCode,
    /// The service office's type where the records do not tell (plan units, DLTPLAN).
    pub receiver_type: Option<ServiceTypeCode>,
}

/// One input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub name: String,
    pub bytes: Vec<u8>,
    /// The input it was made from.
    pub from: String,
}

/// The result of converting a set of files.
#[derive(Debug, Default)]
pub struct ConvertOutcome {
    pub files: Vec<OutputFile>,
    /// Splits, dropped files and dropped values, for the user.
    pub notes: Vec<String>,
}

/// Why a conversion was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Name(#[from] NameError),
    #[error("cannot be converted: {0}")]
    Table(#[from] TableError),
    #[error("{file}: the target version must be v3 or v4.1, not {to}")]
    Target { file: String, to: SpecVersion },
    #[error("{file}: information would be lost in {to}: {}; convert with --lossy to drop it", what.join("; "))]
    WouldLose {
        file: String,
        to: SpecVersion,
        what: Vec<String>,
    },
    #[error(
        "{file}: cannot tell the service office's service type (no サービスコード in the unit); give it with --receiver-type"
    )]
    NoServiceType { file: String },
    #[error("{file}: converting would write {name} twice (from {other} as well)")]
    Collision {
        file: String,
        name: String,
        other: String,
    },
}

/// A parsed input: name, layout and decoded records.
struct Parsed {
    input: String,
    name: FileName,
    view: Option<&'static LayoutView>,
    records: Vec<Vec<String>>,
    bytes: Vec<u8>,
}

fn parse_input(file: &InputFile) -> Result<Parsed, ConvertError> {
    let name = FileName::parse(&file.name)?;
    if name.kind.is_image() {
        return Ok(Parsed {
            input: file.name.clone(),
            name,
            view: None,
            records: Vec::new(),
            bytes: file.bytes.clone(),
        });
    }
    let table = Table::read(&file.name, &file.bytes)?;
    Ok(Parsed {
        input: file.name.clone(),
        name: table.name,
        view: Some(table.view),
        records: table.records,
        bytes: file.bytes.clone(),
    })
}

/// Serializes records in `to`'s layout: free text quoted, CRLF, MS932.
fn write_records(
    file: &str,
    from: &LayoutView,
    to: &LayoutView,
    records: &[Vec<String>],
) -> Result<Vec<u8>, ConvertError> {
    Ok(table::write(
        file,
        from,
        to,
        records,
        &WriteOptions::default(),
    )?)
}

/// What V3 cannot hold of a V4 file: values in columns V3 lacks, and values too long for V3.
fn losses(p: &Parsed, to: &LayoutView) -> Vec<String> {
    p.view
        .map(|from| table::losses(from, to, &p.records))
        .unwrap_or_default()
}

/// The service office's types found in a unit's records, with the users (key text) of each type.
fn office_types(unit: &[Parsed], office: &str) -> BTreeMap<ServiceTypeCode, BTreeSet<String>> {
    let mut out: BTreeMap<ServiceTypeCode, BTreeSet<String>> = BTreeMap::new();
    for p in unit {
        let Some(view) = p.view else { continue };
        for record in &p.records {
            let user = format!(
                "{}/{}",
                value(view, record, "保険者番号").unwrap_or(""),
                value(view, record, "被保険者番号").unwrap_or("")
            );
            let stype = match p.name.kind {
                FileKind::UpPlan | FileKind::UpJsk | FileKind::UpSikyu => {
                    let provider = value(view, record, "サービス事業者コード")
                        .or_else(|| value(view, record, "サービス事業所コード"));
                    let code = value(view, record, "サービスコード").unwrap_or("");
                    if provider != Some(office) || code.len() < 2 || is_summary_code(code) {
                        continue;
                    }
                    ServiceTypeCode::of_service_code(code)
                }
                FileKind::DltJsk => {
                    value(view, record, "サービス種類コード").and_then(ServiceTypeCode::parse)
                }
                _ => None,
            };
            if let Some(t) = stype {
                out.entry(t).or_default().insert(user);
            }
        }
    }
    out
}

/// What V4.1 will ask of converted V3 data that V3 could not carry: the version's start month, and
/// TAIS / 届出 codes on 福祉用具貸与 rows (L4 L428-440).
fn note_v4_gaps(unit: &[Parsed], outcome: &mut ConvertOutcome) {
    let v41_from =
        crate::version::CsvVersion::lookup(SpecVersion::V41.csv_version()).map(|v| v.applies_from);
    for p in unit {
        if let (Some(m), Some(from)) = (p.name.service_month(), v41_from)
            && m < from
        {
            outcome.notes.push(format!(
                "{}: service month {m} is before {from}, from which V4.1 applies; receivers may refuse V4.1 files for it (VER006)",
                p.input
            ));
        }
        let Some(view) = p.view else { continue };
        if !matches!(
            p.name.kind,
            FileKind::UpPlan | FileKind::UpJsk | FileKind::UpSikyu
        ) {
            continue;
        }
        let rows = p
            .records
            .iter()
            .filter(|r| {
                value(view, r, "サービスコード").is_some_and(|c| {
                    !is_summary_code(c)
                        && crate::codes::is_equipment_rental(c.get(..2).unwrap_or(""))
                })
            })
            .count();
        if rows > 0 {
            outcome.notes.push(format!(
                "{}: {rows} 福祉用具貸与 rows have no TAISコード or 福祉用具届出コード (V3 has no such column); V4.1 requires one (EQP001): add them",
                p.input
            ));
        }
    }
}

/// Adds `seconds` to a serial, carrying into minutes, hours, days and months.
pub fn serial_plus_seconds(serial: &Serial, seconds: u32) -> Serial {
    let s = serial.as_str();
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (mut year, mut month, mut day) = (num(0..4), num(4..6), num(6..8));
    let mut total = num(8..10) * 3600 + num(10..12) * 60 + num(12..14) + seconds;
    while total >= 86_400 {
        total -= 86_400;
        day += 1;
        let days = Month::new(year as u16, month as u8)
            .map(|m| u32::from(m.days()))
            .unwrap_or(31);
        if day > days {
            day = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
            }
        }
    }
    let text = format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        total / 3600,
        total / 60 % 60,
        total % 60
    );
    Serial::parse(&text).unwrap_or_else(|| serial.clone())
}

/// Converts a set of files (one or more send units) to `options.to`.
pub fn convert(
    inputs: &[InputFile],
    options: &ConvertOptions,
) -> Result<ConvertOutcome, ConvertError> {
    if !matches!(options.to, SpecVersion::V3 | SpecVersion::V41) {
        let file = inputs.first().map(|i| i.name.clone()).unwrap_or_default();
        return Err(ConvertError::Target {
            file,
            to: options.to,
        });
    }
    let mut units: BTreeMap<(String, String, String), Vec<Parsed>> = BTreeMap::new();
    for input in inputs {
        let p = parse_input(input)?;
        let key = (
            p.name.serial.to_string(),
            p.name.sender.office.to_string(),
            p.name.receiver.office.to_string(),
        );
        units.entry(key).or_default().push(p);
    }
    let mut outcome = ConvertOutcome::default();
    for (_, unit) in units {
        match options.to {
            SpecVersion::V3 => to_v3(unit, options, &mut outcome)?,
            _ => to_v41(unit, options, &mut outcome)?,
        }
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for f in &outcome.files {
        if let Some(other) = seen.insert(f.name.clone(), f.from.clone()) {
            return Err(ConvertError::Collision {
                file: f.from.clone(),
                name: f.name.clone(),
                other,
            });
        }
    }
    Ok(outcome)
}

fn to_v3(
    unit: Vec<Parsed>,
    options: &ConvertOptions,
    outcome: &mut ConvertOutcome,
) -> Result<(), ConvertError> {
    for p in unit {
        let mut name = p.name.with_shape(SpecVersion::V3);
        name.extension = "CSV".to_owned();
        if p.name.shape == SpecVersion::V3 {
            outcome
                .notes
                .push(format!("{}: already V3, copied unchanged", p.input));
            outcome.files.push(OutputFile {
                name: p.input.clone(),
                bytes: p.bytes,
                from: p.input,
            });
            continue;
        }
        if !p.name.kind.exists_in(SpecVersion::V3) {
            if !options.lossy {
                return Err(ConvertError::WouldLose {
                    file: p.input,
                    to: SpecVersion::V3,
                    what: vec![format!(
                        "V3 has no {} ({})",
                        p.name.kind,
                        p.name.kind.info().title_ja
                    )],
                });
            }
            outcome.notes.push(format!(
                "{}: dropped — V3 has no {} ({})",
                p.input,
                p.name.kind,
                p.name.kind.info().title_ja
            ));
            continue;
        }
        let (Some(from), Some(to)) = (p.view, layout::view(p.name.kind, SpecVersion::V3)) else {
            continue;
        };
        let lost = losses(&p, to);
        if !lost.is_empty() {
            if !options.lossy {
                return Err(ConvertError::WouldLose {
                    file: p.input,
                    to: SpecVersion::V3,
                    what: lost,
                });
            }
            for l in &lost {
                outcome.notes.push(format!("{}: dropped {l}", p.input));
            }
        }
        let bytes = write_records(&p.input, from, to, &p.records)?;
        outcome.files.push(OutputFile {
            name: name.to_string(),
            bytes,
            from: p.input,
        });
    }
    Ok(())
}

fn to_v41(
    unit: Vec<Parsed>,
    options: &ConvertOptions,
    outcome: &mut ConvertOutcome,
) -> Result<(), ConvertError> {
    let Some(first) = unit.first() else {
        return Ok(());
    };
    if unit.iter().all(|p| p.name.shape.is_v4()) {
        for p in unit {
            let mut name = p.name.clone();
            if name.shape == SpecVersion::V40 {
                name.shape = SpecVersion::V41;
                for party in [&mut name.sender, &mut name.receiver] {
                    *party = Party::new(party.office.clone(), party.service_type());
                }
            }
            let bytes = match (p.view, p.name.kind.is_image()) {
                (Some(view), false) => write_records(&p.input, view, view, &p.records)?,
                _ => p.bytes.clone(),
            };
            outcome.notes.push(format!(
                "{}: already V4, CSVバージョン set to 202407",
                p.input
            ));
            outcome.files.push(OutputFile {
                name: name.to_string(),
                bytes,
                from: p.input,
            });
        }
        return Ok(());
    }
    // The service office is the receiver of care-manager files and the sender of 実績 files.
    let office_is_sender = first.name.kind.info().sender == Sender::ServiceOffice;
    let office = if office_is_sender {
        &first.name.sender.office
    } else {
        &first.name.receiver.office
    };
    let mut types = office_types(&unit, office.as_str());
    if types.is_empty() {
        let Some(t) = options.receiver_type else {
            return Err(ConvertError::NoServiceType {
                file: first.input.clone(),
            });
        };
        types.insert(t, BTreeSet::new());
    }
    note_v4_gaps(&unit, outcome);
    let split = types.len() > 1;
    if split {
        let list: Vec<String> = types
            .iter()
            .map(|(t, users)| format!("{t} ({} users)", users.len()))
            .collect();
        outcome.notes.push(format!(
            "{}: office {office} has several service types in one V3 unit; split into one V4.1 unit per type: {}",
            first.input,
            list.join(", ")
        ));
    }
    for (k, (stype, users)) in types.iter().enumerate() {
        let serial = serial_plus_seconds(&first.name.serial, k as u32);
        for p in &unit {
            let mut name = p.name.clone();
            name.shape = SpecVersion::V41;
            name.serial = serial.clone();
            let (cm, so) = (Some(options.care_manager_type), Some(*stype));
            let (s, r) = if office_is_sender { (so, cm) } else { (cm, so) };
            name.sender = Party::new(name.sender.office.clone(), s);
            name.receiver = Party::new(name.receiver.office.clone(), r);
            name.extension = "CSV".to_owned();
            let Some(from) = p.view else {
                outcome.files.push(OutputFile {
                    name: name.to_string(),
                    bytes: p.bytes.clone(),
                    from: p.input.clone(),
                });
                continue;
            };
            let to =
                layout::view(p.name.kind, SpecVersion::V41).expect("every V3 kind exists in V4.1");
            let records: Vec<Vec<String>> = if split {
                p.records
                    .iter()
                    .filter(|r| {
                        let user = format!(
                            "{}/{}",
                            value(from, r, "保険者番号").unwrap_or(""),
                            value(from, r, "被保険者番号").unwrap_or("")
                        );
                        match p.name.kind {
                            // 実績 carries only its own type's rows.
                            FileKind::UpJsk => value(from, r, "サービスコード")
                                .is_some_and(|c| c.starts_with(stype.as_str())),
                            FileKind::DltJsk => {
                                value(from, r, "サービス種類コード") == Some(stype.as_str())
                            }
                            // 6表/7表/補足 carry the whole 利用票 of the users who use this type.
                            _ => users.contains(&user),
                        }
                    })
                    .cloned()
                    .collect()
            } else {
                p.records.clone()
            };
            if records.is_empty() {
                continue;
            }
            let bytes = write_records(&p.input, from, to, &records)?;
            outcome.files.push(OutputFile {
                name: name.to_string(),
                bytes,
                from: p.input.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ms932;

    fn opts(to: SpecVersion) -> ConvertOptions {
        ConvertOptions {
            to,
            lossy: false,
            care_manager_type: ServiceTypeCode::parse("43").unwrap(),
            receiver_type: None,
        }
    }

    fn plan_row(version: &str, insured: &str, office: &str, code: &str, v4: bool) -> String {
        // 6表 in V3 (22) or V4 (25) columns.
        let mut cols = vec![
            version,
            "131016",
            insured,
            "20250420",
            "202412",
            "0310000100",
            "\"山田　花子\"",
            "250",
            "",
            "20241202",
            "",
            "0900",
            "1000",
            "1",
            code,
        ];
        if v4 {
            cols.extend(["", "", ""]);
        }
        cols.extend([
            "",
            office,
            "\"ケア、ステーション\"",
            "",
            "0",
            "0310000100",
            "",
        ]);
        cols.join(",") + "\r\n"
    }

    #[test]
    fn v3_to_v41_names_and_columns() {
        let text = plan_row("202208", "1234500001", "0320000201", "111111", false);
        let input = InputFile {
            name: "DLTPLAN_202412_0310000100_0320000201_20241125090000.CSV".into(),
            bytes: b"202208,131016,1234500001,202412\r\n".to_vec(),
        };
        let mut o = opts(SpecVersion::V41);
        let e = convert(std::slice::from_ref(&input), &o).unwrap_err();
        assert!(matches!(e, ConvertError::NoServiceType { .. }), "{e}");
        o.receiver_type = ServiceTypeCode::parse("11");
        let out = convert(&[input], &o).unwrap();
        assert_eq!(
            out.files[0].name,
            "DLTPLAN_202412_0310000100_43_0320000201_11_20241125090000.CSV"
        );
        assert_eq!(out.files[0].bytes, b"202407,131016,1234500001,202412\r\n");

        let input = InputFile {
            name: "UPJSK_202412_0320000201_0310000100_20250103090000.CSV".into(),
            bytes: ms932::encode(&text, false).0,
        };
        let out = convert(&[input], &opts(SpecVersion::V41)).unwrap();
        assert_eq!(
            out.files[0].name,
            "UPJSK_202412_0320000201_11_0310000100_43_20250103090000.CSV"
        );
        let expected = plan_row("202407", "1234500001", "0320000201", "111111", true);
        assert_eq!(ms932::decode(&out.files[0].bytes).0, expected);
    }

    #[test]
    fn same_number_multi_service_is_split() {
        let text = plan_row("202208", "1234500001", "0320000201", "111111", false)
            + &plan_row("202208", "1234500001", "0320000201", "151111", false)
            + &plan_row("202208", "1234500002", "0320000201", "151111", false);
        let input = InputFile {
            name: "UPJSK_202412_0320000201_0310000100_20250103090000.CSV".into(),
            bytes: ms932::encode(&text, false).0,
        };
        let out = convert(&[input], &opts(SpecVersion::V41)).unwrap();
        let names: Vec<&str> = out.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "UPJSK_202412_0320000201_11_0310000100_43_20250103090000.CSV",
                "UPJSK_202412_0320000201_15_0310000100_43_20250103090001.CSV",
            ]
        );
        assert_eq!(ms932::decode(&out.files[1].bytes).0.lines().count(), 2);
        assert!(
            out.notes.iter().any(|n| n.contains("split")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn v4_to_v3_refuses_loss_unless_lossy() {
        let mut row = plan_row("202407", "1234500001", "0320000300", "171001", true);
        row = row.replacen(",171001,,,,", ",171001,00001-000010,,\"歩行器\",", 1);
        let input = InputFile {
            name: "UPJSK_202505_0320000300_17_0310000100_43_20250603090000.CSV".into(),
            bytes: ms932::encode(&row, false).0,
        };
        let e = convert(std::slice::from_ref(&input), &opts(SpecVersion::V3)).unwrap_err();
        assert!(e.to_string().contains("TAISコード"), "{e}");
        let mut o = opts(SpecVersion::V3);
        o.lossy = true;
        let out = convert(&[input], &o).unwrap();
        assert_eq!(
            out.files[0].name,
            "UPJSK_202505_0320000300_0310000100_20250603090000.CSV"
        );
        assert!(
            out.notes.iter().any(|n| n.contains("用具名称")),
            "{:?}",
            out.notes
        );

        let up3 = InputFile {
            name: "UP3KYO_0310000100_43_0320000201_11_20250425120000.CSV".into(),
            bytes: b"202407,131016,1234500001,20250420,20250420,,,,,,,,\r\n".to_vec(),
        };
        assert!(matches!(
            convert(std::slice::from_ref(&up3), &opts(SpecVersion::V3)),
            Err(ConvertError::WouldLose { .. })
        ));
        assert!(convert(&[up3], &o).unwrap().files.is_empty());
    }

    #[test]
    fn serials_carry() {
        let s = Serial::parse("20241231235959").unwrap();
        assert_eq!(serial_plus_seconds(&s, 1).as_str(), "20250101000000");
        assert_eq!(serial_plus_seconds(&s, 0), s);
        let s = Serial::parse("20240228235959").unwrap();
        assert_eq!(serial_plus_seconds(&s, 1).as_str(), "20240229000000");
    }
}
