//! Running the spec core over paths: expands folders, streams every file through the validator,
//! groups the results into send units. I/O errors are typed so the binary can map them to exit
//! code 2.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use careplan_spec::finding::{Finding, Severity};
use careplan_spec::parallel;
use careplan_spec::units::{UnitReport, check_units};
use careplan_spec::validate::{FileReport, Options, validate_bytes, validate_reader};

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("failed to read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("no such file or folder: {0}")]
    Missing(PathBuf),
    #[error("no .csv or .jpg files to validate under {0}")]
    Empty(PathBuf),
}

/// The outcome of validating a set of files.
#[derive(Debug)]
pub struct Run {
    pub profile: &'static str,
    pub files: Vec<FileReport>,
    pub units: Vec<UnitReport>,
    /// Files inside the given folders that were not taken (not .csv or .jpg).
    pub skipped: Vec<PathBuf>,
}

impl Run {
    /// Every finding with where it is (`FILE:LINE:COLUMN` or `unit SERIAL`), files first.
    pub fn located(&self) -> Vec<(String, &Finding)> {
        let at = |f: &Finding| {
            f.location
                .map(|l| format!(":{}:{}", l.line, l.column))
                .unwrap_or_default()
        };
        self.files
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .map(move |f| (format!("{}{}", r.path, at(f)), f))
            })
            .chain(
                self.units
                    .iter()
                    .flat_map(|u| u.findings.iter().map(|f| (format!("unit {}", u.serial), f))),
            )
            .collect()
    }

    /// Every finding: files first, then units.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.files
            .iter()
            .flat_map(|f| &f.findings)
            .chain(self.units.iter().flat_map(|u| &u.findings))
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings().filter(|f| f.severity == severity).count()
    }

    /// Conformant = no error-severity finding (warnings allowed).
    pub fn conformant(&self) -> bool {
        self.count(Severity::Error) == 0
    }

    /// The unit a file belongs to (index into `units`).
    pub fn unit_of(&self, file: usize) -> Option<usize> {
        self.units.iter().position(|u| u.files.contains(&file))
    }
}

/// True for the files a folder walk takes: the standard's CSV files and family images.
fn is_exchange_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["csv", "jpg", "jpeg"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Expands `paths` into files: a file is taken as given (whatever its name); a folder is walked
/// recursively in name order and only its `.csv` / `.jpg` files are taken, the rest returned as
/// skipped.
pub fn expand(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), CheckError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|_| CheckError::Missing(path.clone()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            let (take, skip): (Vec<PathBuf>, Vec<PathBuf>) =
                found.into_iter().partition(|p| is_exchange_file(p));
            if take.is_empty() {
                return Err(CheckError::Empty(path.clone()));
            }
            out.extend(take);
            skipped.extend(skip);
        } else {
            out.push(path.clone());
        }
    }
    Ok((out, skipped))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CheckError> {
    let read = |e| CheckError::Read {
        path: dir.to_owned(),
        error: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(read)?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Validates files held in memory (name, bytes) and checks their send units: what a receiving
/// product, or an assertion on exported files, sees.
pub fn in_memory<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    options: Options,
) -> Run {
    let reports: Vec<FileReport> = files
        .into_iter()
        .map(|(name, bytes)| validate_bytes(name, name, bytes, options))
        .collect();
    let units = check_units(&reports, options);
    Run {
        profile: options.profile.name.as_str(),
        files: reports,
        units,
        skipped: Vec::new(),
    }
}

/// Validates `paths` and checks their send units, on one thread per core.
pub fn run(paths: &[PathBuf], options: Options) -> Result<Run, CheckError> {
    run_with_jobs(paths, options, parallel::default_jobs())
}

/// Validates `paths` on up to `jobs` threads (files in parallel, each streamed), then checks their
/// send units. The reports are in the order of the files whatever `jobs` is; a file that cannot be
/// read fails the run with the first such file in that order.
pub fn run_with_jobs(paths: &[PathBuf], options: Options, jobs: usize) -> Result<Run, CheckError> {
    let (files, skipped) = expand(paths)?;
    let results = parallel::map(&files, jobs, |path| validate_file(path, options));
    let reports = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let units = check_units(&reports, options);
    Ok(Run {
        profile: options.profile.name.as_str(),
        files: reports,
        units,
        skipped,
    })
}

fn validate_file(path: &Path, options: Options) -> Result<FileReport, CheckError> {
    let file = File::open(path).map_err(|e| CheckError::Read {
        path: path.to_owned(),
        error: e,
    })?;
    let shown = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = validate_reader(
        &shown,
        &name,
        BufReader::with_capacity(64 * 1024, file),
        options,
    );
    if let Some(e) = &report.io_error {
        return Err(CheckError::Read {
            path: path.to_owned(),
            error: std::io::Error::other(e.clone()),
        });
    }
    Ok(report)
}
