//! What validation learned about one file: its [`FileReport`] (identity, findings, the months and
//! CSVバージョン it holds) and the [`FileKeys`] that the send-unit checks join across files. Built by
//! [`crate::validate`] record by record; read by [`crate::units`] and by the layers above.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::Month;
use crate::filename::FileName;
use crate::finding::{Finding, Severity};
use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::version::SpecVersion;

/// Key values of a file, for the cross-file rules: key text → line of its first record.
#[derive(Debug, Default, Clone)]
pub struct FileKeys {
    /// The kind's own key (SUMMARY §6.1).
    pub main: BTreeMap<String, u32>,
    /// 補足 records tied to 1表 (No.63 = 000000): 保険者番号/被保険者番号/No.4.
    pub hosoku_plan: BTreeMap<String, u32>,
    /// 補足 records tied to 6表 (No.4 = 00000000): 保険者番号/被保険者番号/No.63.
    pub hosoku_month: BTreeMap<String, u32>,
    /// Image file names named by UPKIHON No.62.
    pub images: BTreeMap<String, u32>,
    /// 6表/7表: times per service, keyed `保険者番号/被保険者番号|事業所|サービスコード` (for the
    /// 6表 ↔ 7表 consistency checks of the send unit).
    pub services: BTreeMap<String, ServiceTally>,
}

/// How often one service of one user appears in a 6表 or 7表 file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServiceTally {
    /// 6表: the sum of サービス回数 over rows with units; 7表: the sum of 回数／日数.
    pub times: u64,
    /// Line of the first record.
    pub line: u32,
}

/// Everything validation learned about one file.
#[derive(Debug)]
pub struct FileReport {
    /// The path as given by the caller.
    pub path: String,
    pub name: Option<FileName>,
    pub kind: Option<FileKind>,
    /// The layout family the file was read with.
    pub version: Option<SpecVersion>,
    pub identified_from_content: bool,
    pub records: u32,
    pub bytes: u64,
    /// The CSVバージョン of the first record.
    pub csv_version: Option<String>,
    /// Service months found in the records (monthly kinds).
    pub months: BTreeSet<Month>,
    pub findings: Vec<Finding>,
    /// Findings past the per-rule cap, by rule.
    pub suppressed: BTreeMap<RuleId, u32>,
    pub keys: FileKeys,
    /// An I/O error that stopped reading.
    pub io_error: Option<String>,
}

impl FileReport {
    /// An empty report of the file `path`.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            name: None,
            kind: None,
            version: None,
            identified_from_content: false,
            records: 0,
            bytes: 0,
            csv_version: None,
            months: BTreeSet::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
            keys: FileKeys::default(),
            io_error: None,
        }
    }

    /// A report that knows only a file's name: enough for [`crate::check_units`] to judge a set of
    /// names as a send unit without reading contents (what the exchange checks, exchange.md §1.6).
    pub fn from_name(path: &str, name: FileName) -> Self {
        Self {
            kind: Some(name.kind),
            version: Some(name.shape),
            name: Some(name),
            ..Self::new(path)
        }
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}
