//! The spec core's verdict on a set of files, the way `cpkit validate` gives it for a folder: every
//! `.csv` / `.jpg` file through [`careplan_spec::validate_bytes`] with the standard profile, then
//! [`careplan_spec::check_units`] over them; the same rule IDs, positions and Japanese and English
//! messages ([`careplan_spec::Finding::message_ja`] / `message_en`). Other files are attachments
//! and are not validated (as `cpkit validate` skips them in a folder).

use careplan_spec::finding::JsonFinding;
use careplan_spec::units::UnitReport;
use careplan_spec::validate::FileReport;
use careplan_spec::{Finding, Options, check_units, validate_bytes};
use serde::Serialize;

/// One finding as the console shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingView {
    pub rule: String,
    pub severity: String,
    /// `FILE:LINE:COLUMN`, `FILE`, or `unit SERIAL` (as in `cpkit validate`).
    pub at: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub offset: Option<u64>,
    pub record: Option<u32>,
    pub field_no: Option<u16>,
    pub field: Option<String>,
    /// The offending value with invisible characters shown.
    pub value: Option<String>,
    pub message_ja: String,
    pub message_en: String,
    pub reference: String,
}

impl FindingView {
    /// A finding of the spec core (through its JSON form, the one `cpkit validate --format json`
    /// writes and the hub puts into refusals).
    pub fn of(f: &Finding, unit: Option<&str>) -> Self {
        Self::from(f.to_json(unit))
    }

    /// A finding as the hub put it into a refusal's or an annotation's detail.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        serde_json::from_value::<JsonFinding>(v.clone())
            .ok()
            .map(Self::from)
    }

    /// The findings listed in a refusal's or an annotation's `findings` array.
    pub fn list_in(detail: Option<&serde_json::Value>) -> Vec<Self> {
        detail
            .and_then(|d| d.get("findings"))
            .and_then(|f| f.as_array())
            .map(|a| a.iter().filter_map(Self::from_json).collect())
            .unwrap_or_default()
    }
}

impl From<JsonFinding> for FindingView {
    fn from(j: JsonFinding) -> Self {
        let at = match (&j.file, j.line, j.column, &j.unit) {
            (Some(f), Some(l), Some(c), _) => format!("{f}:{l}:{c}"),
            (Some(f), _, _, _) => f.clone(),
            (None, _, _, Some(u)) => format!("unit {u}"),
            _ => String::new(),
        };
        let (field_no, field) = j.field.map(|x| (x.no, x.name)).unzip();
        Self {
            rule: j.rule,
            severity: j.severity.label().to_owned(),
            at,
            file: j.file,
            line: j.line,
            column: j.column,
            offset: j.offset,
            record: j.record,
            field_no,
            field,
            value: j.value,
            message_ja: j.message.ja,
            message_en: j.message.en,
            reference: j.reference,
        }
    }
}

/// The verdict on one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    pub index: usize,
    pub name: String,
    pub bytes: usize,
    /// False for attachments (not a file of the standard; not validated).
    pub standard: bool,
    /// The kind's prefix (`UPPLAN`) and title, when known.
    pub kind: Option<String>,
    pub title_ja: Option<String>,
    pub title_en: Option<String>,
    pub version: Option<String>,
    pub records: u32,
    pub identified_from_content: bool,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<FindingView>,
    /// Findings past the per-rule cap: rule and count.
    pub suppressed: Vec<(String, u32)>,
}

/// One send unit as the spec core groups the files.
#[derive(Debug, Clone, Serialize)]
pub struct UnitCheck {
    pub serial: String,
    pub sender: String,
    pub receiver: String,
    /// `No.6 利用票…` style: the unit number and its id, if the files form a known unit.
    pub unit: Option<String>,
    pub import_order: usize,
    pub files: Vec<String>,
    pub findings: Vec<FindingView>,
}

/// The verdict on a set of files.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Checks {
    pub files: Vec<FileCheck>,
    pub units: Vec<UnitCheck>,
    /// Every finding: files first, then units.
    pub findings: Vec<FindingView>,
    pub errors: usize,
    pub warnings: usize,
}

/// Whether `cpkit validate` takes a file of this name from a folder.
pub fn is_standard_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && ["csv", "jpg", "jpeg"]
                .iter()
                .any(|x| ext.eq_ignore_ascii_case(x))
    })
}

fn count(findings: &[FindingView], severity: &str) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

/// The spec core's report on one file (`None` for an attachment).
pub fn report(name: &str, bytes: &[u8]) -> Option<FileReport> {
    is_standard_name(name).then(|| validate_bytes(name, name, bytes, Options::default()))
}

/// Checks a set of files (name, bytes) as `cpkit validate` checks a folder holding them.
pub fn check(files: &[(&str, &[u8])]) -> Checks {
    let options = Options::default();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut of_report = Vec::new();
    let mut out = Checks::default();
    for (index, (name, bytes)) in files.iter().enumerate() {
        let mut file = FileCheck {
            index,
            name: (*name).to_owned(),
            bytes: bytes.len(),
            standard: false,
            kind: None,
            title_ja: None,
            title_en: None,
            version: None,
            records: 0,
            identified_from_content: false,
            errors: 0,
            warnings: 0,
            findings: Vec::new(),
            suppressed: Vec::new(),
        };
        if let Some(r) = report(name, bytes) {
            file.standard = true;
            if let Some(kind) = r.kind {
                let info = kind.info();
                file.kind = Some(info.prefix.to_owned());
                file.title_ja = Some(info.title_ja.to_owned());
                file.title_en = Some(info.title_en.to_owned());
            }
            file.version = r.version.map(|v| v.label().to_owned());
            file.records = r.records;
            file.identified_from_content = r.identified_from_content;
            file.findings = r
                .findings
                .iter()
                .map(|f| FindingView::of(f, None))
                .collect();
            file.suppressed = r
                .suppressed
                .iter()
                .map(|(rule, n)| (rule.id().to_owned(), *n))
                .collect();
            file.errors = count(&file.findings, "error");
            file.warnings = count(&file.findings, "warning");
            of_report.push(index);
            reports.push(r);
        }
        out.files.push(file);
    }
    let units: Vec<UnitReport> = check_units(&reports, options);
    for u in units {
        let findings: Vec<FindingView> = u
            .findings
            .iter()
            .map(|f| FindingView::of(f, Some(u.serial.as_str())))
            .collect();
        out.units.push(UnitCheck {
            serial: u.serial.to_string(),
            sender: u.sender.to_string(),
            receiver: u.receiver.to_string(),
            unit: u.unit_no.map(|n| format!("{n} {}", u.unit.unwrap_or(""))),
            import_order: u.import_order,
            files: u
                .files
                .iter()
                .map(|&i| out.files[of_report[i]].name.clone())
                .collect(),
            findings,
        });
    }
    out.findings = out
        .files
        .iter()
        .flat_map(|f| f.findings.iter().cloned())
        .chain(out.units.iter().flat_map(|u| u.findings.iter().cloned()))
        .collect();
    out.errors = count(&out.findings, "error");
    out.warnings = count(&out.findings, "warning");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(dir: &str) -> Vec<(String, Vec<u8>)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../golden")
            .join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_str().unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    }

    fn borrow(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
        files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect()
    }

    #[test]
    fn a_valid_unit_has_no_errors_and_one_unit() {
        let files = golden("valid/v4.1/riyohyo-minimal");
        let c = check(&borrow(&files));
        assert_eq!(c.errors, 0, "{:#?}", c.findings);
        assert_eq!(c.units.len(), 1);
        assert_eq!(c.units[0].files.len(), 3);
        assert!(c.units[0].unit.is_some());
        assert_eq!(c.files[0].version.as_deref(), Some("v4.1"));
    }

    #[test]
    fn findings_carry_the_same_rule_messages_and_positions_as_the_validator() {
        let files = golden("invalid/FLD005-unquoted-text");
        let c = check(&borrow(&files));
        let f = c
            .findings
            .iter()
            .find(|f| f.rule == "FLD005")
            .expect("FLD005 is found");
        assert!(
            f.line.is_some() && f.record.is_some() && f.field_no.is_some(),
            "{f:?}"
        );
        assert!(f.at.contains(':'), "{}", f.at);
        let (name, bytes) = &files.iter().find(|(n, _)| n.ends_with(".CSV")).unwrap();
        let direct = validate_bytes(name, name, bytes, Options::default());
        let rule = direct
            .findings
            .iter()
            .find(|x| x.rule.id() == "FLD005")
            .unwrap();
        assert_eq!(f.message_ja, rule.message_ja());
        assert_eq!(f.message_en, rule.message_en());
        // The JSON shape the hub puts into refusals reads back the same.
        let json = serde_json::to_value(rule.to_json(None)).unwrap();
        let back = FindingView::from_json(&json).unwrap();
        assert_eq!(back.rule, "FLD005");
        assert_eq!(back.message_ja, f.message_ja);
        assert_eq!((back.line, back.field_no), (f.line, f.field_no));
    }

    #[test]
    fn attachments_are_not_validated() {
        let c = check(&[
            ("説明.pdf", b"%PDF-1.4".as_slice()),
            ("x.txt", b"hi".as_slice()),
        ]);
        assert!(c.files.iter().all(|f| !f.standard && f.findings.is_empty()));
        assert!(c.units.is_empty());
        assert!(
            is_standard_name("A.CSV") && is_standard_name("b.Jpg") && !is_standard_name(".csv")
        );
    }
}
