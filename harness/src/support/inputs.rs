//! What the support tools are given: files and folders read whole into memory (a support case is a
//! folder of a few files, personal data the engineer may not copy elsewhere), each file with the
//! path it was given by, its path relative to the folder it came from (kept by tools that write
//! copies), and the spec core's report on it.

use std::path::{Path, PathBuf};

use careplan_spec::units::{UnitReport, check_units};
use careplan_spec::validate::{FileReport, Options, validate_bytes};

use crate::check::{self, CheckError};

/// One input file.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as shown in messages (`folder/NAME.CSV`).
    pub path: String,
    /// The bare file name.
    pub name: String,
    /// The path relative to the folder it was found in (the bare name for a file given directly).
    pub relative: PathBuf,
    /// Which of the given paths it came from (index).
    pub root: usize,
    pub bytes: Vec<u8>,
}

/// The files given, split into files of the standard (CSV and family JPEG, by extension) and the
/// other files found in the given folders (attachments: PDF, photos, text, archives; notes and
/// tool reports ending in .toml, .json or .md are left out).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub files: Vec<Input>,
    pub attachments: Vec<Input>,
}

/// Why inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is larger than {MAX_INPUT_BYTES} bytes: split the case (the exchange takes far smaller files)"
    )]
    TooLarge { path: PathBuf },
}

/// The largest file the support tools read (they hold a case in memory).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

fn read(path: &Path, given: &Path, root: usize) -> Result<Input, InputError> {
    let size = std::fs::metadata(path)
        .map_err(|source| InputError::Read {
            path: path.to_owned(),
            source,
        })?
        .len();
    if size > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let relative = if given.is_dir() {
        path.strip_prefix(given).unwrap_or(path).to_owned()
    } else {
        PathBuf::from(path.file_name().unwrap_or_default())
    };
    Ok(Input {
        path: path.display().to_string(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        relative,
        root,
        bytes,
    })
}

/// Files beside a case that are notes or reports of tools (`expect.toml`, `anonymize-report.json`,
/// `README.md`), not attachments an office would send.
fn is_note(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["toml", "json", "md"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

impl Inputs {
    /// Reads `paths`: a file is taken whatever its name; a folder is walked in name order, its
    /// `.csv` / `.jpg` files are files of the standard and the rest attachments.
    pub fn read(paths: &[PathBuf]) -> Result<Self, InputError> {
        let mut out = Inputs::default();
        for (root, given) in paths.iter().enumerate() {
            let (files, skipped) = check::expand(std::slice::from_ref(given))?;
            for f in files {
                out.files.push(read(&f, given, root)?);
            }
            for f in skipped.into_iter().filter(|f| !is_note(f)) {
                out.attachments.push(read(&f, given, root)?);
            }
        }
        Ok(out)
    }

    /// Validates every file and checks the send units, as `cpkit validate` does.
    pub fn validate(&self, options: Options) -> Validated {
        validate_files(&self.files, options)
    }
}

/// The spec core's view of a set of files: one report per file (same order) and the units.
#[derive(Debug)]
pub struct Validated {
    pub reports: Vec<FileReport>,
    pub units: Vec<UnitReport>,
}

/// Validates files held in memory under their paths (so that units form per folder).
pub fn validate_files(files: &[Input], options: Options) -> Validated {
    let reports: Vec<FileReport> = files
        .iter()
        .map(|f| validate_bytes(&f.path, &f.name, &f.bytes, options))
        .collect();
    let units = check_units(&reports, options);
    Validated { reports, units }
}

impl Validated {
    /// Every finding with its place: `FILE:LINE:COLUMN`, or `unit SERIAL` for a unit's finding.
    pub fn located(&self) -> Vec<(String, &careplan_spec::Finding)> {
        let mut out = Vec::new();
        for r in &self.reports {
            for f in &r.findings {
                out.push((place(&r.path, f), f));
            }
        }
        for u in &self.units {
            for f in &u.findings {
                let at = match &f.file {
                    Some(file) => place(file, f),
                    None => format!("unit {}", u.serial),
                };
                out.push((at, f));
            }
        }
        out
    }
}

/// `FILE:LINE:COLUMN` of a finding (`FILE` alone when it has no position).
pub fn place(file: &str, f: &careplan_spec::Finding) -> String {
    match f.location {
        Some(l) => format!("{file}:{}:{}", l.line, l.column),
        None => file.to_owned(),
    }
}
