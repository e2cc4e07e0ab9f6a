//! Where scenarios and their fixtures come from, and the names reports give them.
//!
//! * **Built in**: the suite (`scenarios/*.toml`), its fixtures (the golden files it names, and
//!   `scenarios/fixtures/`) and the SUT examples (`scenarios/sut/*.toml`) are embedded in the
//!   binary byte for byte by `harness/build.rs`, under their paths in the repository. `cpkit run`
//!   without paths runs them from any folder; [`export`] writes them out for editing.
//! * **On disk**: the files and folders given on the command line. A relative path that does not
//!   exist but names a built-in file or folder (`scenarios/roundtrip-v41-riyohyo.toml`,
//!   `scenarios/sut/persona-reference-v4.toml`) is the built-in one.
//!
//! Reports name a scenario by a stable relative, `/`-separated path whatever the working folder
//! ([`report_name`]): built-in ones by their repository path (`scenarios/x.toml`), files on disk
//! relative to the working folder, or, outside it, from the folder they were given in.

use std::path::{Component, Path, PathBuf};

use careplan_spec::FileName;

use crate::relpath::normalize;
use crate::software::StoredFile;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// Every embedded file (path relative to the repository, bytes), sorted by path.
pub fn builtin_files() -> &'static [(&'static str, &'static [u8])] {
    BUILTIN
}

/// The bytes of an embedded file.
pub fn builtin(path: &str) -> Option<&'static [u8]> {
    BUILTIN
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| BUILTIN[i].1)
}

fn builtin_is_dir(path: &str) -> bool {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    BUILTIN.iter().any(|(p, _)| p.starts_with(&prefix))
}

/// The embedded files directly in a folder, sorted.
fn builtin_dir(path: &str) -> Vec<(&'static str, &'static [u8])> {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    BUILTIN
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .copied()
        .collect()
}

/// The folder of the built-in suite.
pub const BUILTIN_SUITE: &str = "scenarios";

/// A file or folder, on disk or embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Disk(PathBuf),
    /// A `/`-separated path in the embedded tree.
    Builtin(String),
}

/// A scenario file to read, with the name reports give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub origin: Origin,
    pub name: String,
}

/// Why scenario files could not be found or written.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{0} does not exist (and is not a built-in file; `cpkit run --list` lists those)")]
    Missing(String),
    #[error("no scenario files (*.toml) found in {0}")]
    Empty(String),
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists; nothing was written (choose an empty or new folder)")]
    Exists(PathBuf),
}

impl Origin {
    /// A path relative to this file's folder (a fixture named in a scenario file).
    pub fn sibling(&self, relative: &str) -> Origin {
        match self {
            Origin::Disk(p) => Origin::Disk(p.parent().unwrap_or(Path::new(".")).join(relative)),
            Origin::Builtin(p) => {
                let folder = p.rsplit_once('/').map_or("", |(d, _)| d);
                // A path leaving the embedded tree names nothing in it.
                Origin::Builtin(
                    normalize(&format!("{folder}/{relative}")).unwrap_or_else(|| "..".to_owned()),
                )
            }
        }
    }

    pub fn exists(&self) -> bool {
        match self {
            Origin::Disk(p) => p.exists(),
            Origin::Builtin(p) => builtin(p).is_some() || builtin_is_dir(p),
        }
    }

    pub fn display(&self) -> String {
        match self {
            Origin::Disk(p) => p.display().to_string(),
            Origin::Builtin(p) => format!("{p} (built in)"),
        }
    }

    /// The text of a file.
    pub fn read_text(&self) -> Result<String, String> {
        match self {
            Origin::Disk(p) => std::fs::read_to_string(p).map_err(|e| e.to_string()),
            Origin::Builtin(p) => builtin(p)
                .ok_or_else(|| "not a built-in file".to_owned())
                .and_then(|b| String::from_utf8(b.to_vec()).map_err(|e| e.to_string())),
        }
    }

    /// The files of a fixture: the file itself, or a folder's files of the standard (others, such
    /// as `expect.toml` and notes, are skipped), sorted by name.
    pub fn read_fixture(&self) -> Result<Vec<StoredFile>, String> {
        let standard = |name: &str| FileName::parse(name).is_ok();
        match self {
            Origin::Builtin(p) => {
                if let Some(bytes) = builtin(p) {
                    let name = p.rsplit('/').next().unwrap_or(p).to_owned();
                    return Ok(vec![StoredFile {
                        name,
                        bytes: bytes.to_vec(),
                    }]);
                }
                if !builtin_is_dir(p) {
                    return Err(format!("failed to read {p}: not a built-in file or folder"));
                }
                Ok(builtin_dir(p)
                    .into_iter()
                    .map(|(path, bytes)| StoredFile {
                        name: path.rsplit('/').next().unwrap_or(path).to_owned(),
                        bytes: bytes.to_vec(),
                    })
                    .filter(|f| standard(&f.name))
                    .collect())
            }
            Origin::Disk(path) => {
                let mut paths = Vec::new();
                if path.is_dir() {
                    let entries = std::fs::read_dir(path)
                        .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
                    for e in entries {
                        let e = e.map_err(|e| format!("failed to read {}: {e}", path.display()))?;
                        paths.push(e.path());
                    }
                } else {
                    paths.push(path.to_path_buf());
                }
                paths.sort();
                let mut out = Vec::new();
                for p in paths {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if path.is_dir() && !standard(&name) {
                        continue;
                    }
                    let bytes = std::fs::read(&p)
                        .map_err(|e| format!("failed to read {}: {e}", p.display()))?;
                    out.push(StoredFile { name, bytes });
                }
                Ok(out)
            }
        }
    }
}

/// A path without `.` and with `..` applied, lexically (no file system access).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn slashes(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The name reports give a scenario file on disk: relative to `cwd` when it is inside it;
/// otherwise its path from the folder it was `given` in (a folder argument keeps its own name:
/// `/ci/suite` → `suite/x.toml`; a file keeps its parent's: `/ci/suite/x.toml` → `suite/x.toml`).
pub fn report_name(file: &Path, given: &Path, cwd: &Path) -> String {
    let absolute = |p: &Path| {
        lexical(&if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        })
    };
    let (file_abs, cwd_abs) = (absolute(file), lexical(cwd));
    if let Ok(rel) = file_abs.strip_prefix(&cwd_abs)
        && !rel.as_os_str().is_empty()
    {
        return slashes(rel);
    }
    let given_abs = absolute(given);
    let base = if given_abs == file_abs {
        given_abs.parent().and_then(Path::parent)
    } else {
        given_abs.parent()
    };
    match base.and_then(|b| file_abs.strip_prefix(b).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => slashes(rel),
        _ => slashes(&file_abs),
    }
}

/// A path given on the command line: on disk when it exists there; else the built-in file or
/// folder of that relative name; else None.
pub fn locate(path: &Path) -> Option<Origin> {
    if path.exists() {
        return Some(Origin::Disk(path.to_path_buf()));
    }
    if path.is_absolute() {
        return None;
    }
    let name = normalize(&path.to_string_lossy())?;
    let origin = Origin::Builtin(name);
    origin.exists().then_some(origin)
}

fn builtin_scenarios(folder: &str) -> Vec<Source> {
    builtin_dir(folder)
        .into_iter()
        .filter(|(p, _)| p.ends_with(".toml"))
        .map(|(p, _)| Source {
            origin: Origin::Builtin(p.to_owned()),
            name: p.to_owned(),
        })
        .collect()
}

/// The scenario files of the given paths (a folder: its `*.toml`, sorted, not recursive); none
/// given: the built-in suite.
pub fn scenario_sources(paths: &[PathBuf]) -> Result<Vec<Source>, SuiteError> {
    if paths.is_empty() {
        return Ok(builtin_scenarios(BUILTIN_SUITE));
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut out = Vec::new();
    for given in paths {
        let shown = given.display().to_string();
        let found = match locate(given) {
            None => return Err(SuiteError::Missing(shown)),
            Some(Origin::Builtin(p)) if builtin(&p).is_some() => vec![Source {
                name: p.clone(),
                origin: Origin::Builtin(p),
            }],
            Some(Origin::Builtin(p)) => builtin_scenarios(&p),
            Some(Origin::Disk(p)) if p.is_dir() => {
                let mut here: Vec<PathBuf> = std::fs::read_dir(&p)
                    .map_err(|source| SuiteError::Read {
                        path: shown.clone(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                here.sort();
                here.into_iter()
                    .map(|f| Source {
                        name: report_name(&f, given, &cwd),
                        origin: Origin::Disk(f),
                    })
                    .collect()
            }
            Some(Origin::Disk(p)) => vec![Source {
                name: report_name(&p, given, &cwd),
                origin: Origin::Disk(p),
            }],
        };
        if found.is_empty() {
            return Err(SuiteError::Empty(shown));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Writes every embedded file under `dir`, keeping its path (`scenarios/…`, `golden/…`), so the
/// scenarios' relative fixture paths hold. Writes nothing when any target exists. Returns the
/// files written.
pub fn export(dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
    let targets: Vec<(PathBuf, &[u8])> = BUILTIN.iter().map(|(p, b)| (dir.join(p), *b)).collect();
    if let Some((p, _)) = targets.iter().find(|(p, _)| p.exists()) {
        return Err(SuiteError::Exists(p.clone()));
    }
    for (p, bytes) in &targets {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SuiteError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(p, bytes).map_err(|source| SuiteError::Write {
            path: p.clone(),
            source,
        })?;
    }
    Ok(targets.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Scenario, lint};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn builtin_suite_lints_clean() {
        let sources = scenario_sources(&[]).expect("the built-in suite");
        assert!(sources.len() >= 20, "{sources:?}");
        for s in &sources {
            assert!(s.name.starts_with("scenarios/") && s.name.ends_with(".toml"));
            let scenario = Scenario::load(s).unwrap_or_else(|e| panic!("{e}"));
            // Lint checks that every fixture and attachment exists in the embedded tree.
            assert_eq!(lint(&scenario), vec![], "{}", s.name);
        }
    }

    #[test]
    fn embedded_bytes_are_the_checkout_s() {
        for (path, bytes) in builtin_files() {
            let on_disk =
                std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(on_disk == *bytes, "{path} differs from the checkout");
        }
        // Every scenario and SUT example is embedded, and golden files only where used.
        for dir in ["scenarios", "scenarios/sut"] {
            for e in std::fs::read_dir(repo().join(dir)).unwrap().flatten() {
                let name = format!("{dir}/{}", e.file_name().to_string_lossy());
                if name.ends_with(".toml") {
                    assert!(builtin(&name).is_some(), "{name} is not embedded");
                }
            }
        }
        assert!(builtin("golden/generate.py").is_none());
        let golden = builtin_files()
            .iter()
            .filter(|(p, _)| p.starts_with("golden/"))
            .count();
        assert!(golden > 10, "{golden}");
    }

    #[test]
    fn fixtures_resolve_inside_the_embedded_tree() {
        let s = Origin::Builtin("scenarios/roundtrip-v41-riyohyo.toml".to_owned());
        let f = s.sibling("../golden/valid/v4.1/riyohyo-minimal");
        assert_eq!(
            f,
            Origin::Builtin("golden/valid/v4.1/riyohyo-minimal".to_owned())
        );
        let files = f.read_fixture().expect("a built-in fixture folder");
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(files.iter().all(|f| FileName::parse(&f.name).is_ok()));
        assert!(!s.sibling("../../etc/passwd").exists());
        assert!(!s.sibling("../golden/generate.py").exists());
    }

    #[test]
    fn relative_paths_fall_back_to_builtin_files() {
        // Unit tests run in harness/, which has no scenarios/ of its own.
        assert!(!Path::new("scenarios").exists());
        assert_eq!(
            locate(Path::new("./scenarios/sut/persona-reference-v4.toml")),
            Some(Origin::Builtin(
                "scenarios/sut/persona-reference-v4.toml".to_owned()
            ))
        );
        assert_eq!(
            locate(Path::new("scenarios")),
            Some(Origin::Builtin("scenarios".to_owned()))
        );
        assert_eq!(
            locate(Path::new("src/lib.rs")),
            Some(Origin::Disk(PathBuf::from("src/lib.rs")))
        );
        assert_eq!(locate(Path::new("no/such/file.toml")), None);
        assert_eq!(locate(Path::new("/no/such/scenarios/x.toml")), None);
    }

    #[test]
    fn report_names_are_relative_and_stable() {
        let cwd = Path::new("/work/ci");
        // Inside the working folder: relative to it, without `.` or `..`.
        let f = Path::new("/work/ci/./scenarios/../scenarios/a.toml");
        assert_eq!(report_name(f, f, cwd), "scenarios/a.toml");
        assert_eq!(
            report_name(Path::new("scenarios/a.toml"), Path::new("scenarios"), cwd),
            "scenarios/a.toml"
        );
        // Outside: from the folder given, or the file's own folder.
        let dir = Path::new("/opt/kit/suite");
        assert_eq!(report_name(&dir.join("a.toml"), dir, cwd), "suite/a.toml");
        let file = Path::new("/opt/kit/suite/a.toml");
        assert_eq!(report_name(file, file, cwd), "suite/a.toml");
        assert_eq!(
            report_name(
                Path::new("../other/x.toml"),
                Path::new("../other/x.toml"),
                cwd
            ),
            "other/x.toml"
        );
    }

    #[test]
    fn export_writes_the_tree_once() {
        let dir = std::env::temp_dir().join(format!("cpkit-export-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let written = export(&dir).expect("export");
        assert_eq!(written.len(), builtin_files().len());
        assert!(dir.join("scenarios/roundtrip-v41-riyohyo.toml").is_file());
        assert!(dir.join("golden/valid/v4.1/riyohyo-minimal").is_dir());
        assert!(matches!(export(&dir), Err(SuiteError::Exists(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
