//! `cpkit shrink`: delta debugging of a failing folder down to what the failure needs.
//!
//! The goal is either a rule of the spec core that must still be reported ([`Goal::Rule`]) or the
//! failure of a system under test in a scenario ([`Goal::Sut`]: the same steps must fail with the
//! same verdicts when the scenario runs on the reduced files). In both cases no rule may appear that
//! the input did not have: the rest stays as valid as it was. Reduction runs in phases, each a
//! ddmin (Zeller's delta debugging) over one kind of part: whole files, users (保険者番号 +
//! 被保険者番号, all their records in every file), single records, and the values of optional
//! columns (emptied). Files are cut in place byte for byte (see [`super::raw`]): what is kept keeps
//! its bytes, quotes and line endings. The order of parts and of tests is fixed, so the result is
//! deterministic. The output is the minimal files and a scenario that reproduces the failure,
//! ready for a regression suite.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use careplan_mock_server::hub::Destination;
use careplan_spec::layout::{self, Format};
use careplan_spec::rules::RuleId;
use careplan_spec::{FileName, Severity, ms932};

use super::hub_check::{HubCheck, destination, offices_of};
use super::inputs::{Input, validate_files};
use super::raw::{self, RawFile};
use super::scenario_text::quote;
use crate::outcome::Verdict;
use crate::runner::{self, RunOptions, SutConfig};
use crate::scenario::Scenario;
use crate::suite::Origin;

/// What must still happen on the reduced files.
pub enum Goal<'a> {
    /// The spec core still reports this rule.
    Rule(RuleId),
    /// The scenario still fails at the same steps with the same verdicts when the SUT runs it with
    /// the reduced files in place of `paths` (fixtures or attachments of the scenario).
    Sut {
        config: &'a SutConfig,
        scenario: &'a Scenario,
        /// The paths given, as the scenario names them (resolved).
        paths: &'a [PathBuf],
        work: &'a Path,
    },
}

/// Progress, for a terminal.
pub trait Progress {
    fn phase(&mut self, _name: &str, _parts: usize) {}
    fn test(&mut self, _n: usize, _kept: usize, _holds: bool) {}
}

pub struct Quiet;
impl Progress for Quiet {}

/// Why shrinking could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("the input does not show the failure: {0}")]
    NotFailing(String),
    #[error("{0}")]
    Scenario(String),
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Counts of what a set of files holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub files: usize,
    pub users: usize,
    pub records: usize,
    pub values: usize,
}

/// The result.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// Minimal files: (root index, path relative to the root, bytes).
    pub files: Vec<(usize, PathBuf, Vec<u8>)>,
    pub before: Size,
    pub after: Size,
    pub tests: usize,
    /// Rules the reduced files still show (besides the goal's).
    pub rules: Vec<String>,
}

struct Model {
    inputs: Vec<Input>,
    splits: Vec<RawFile>,
    /// Per file: the user key of each record (None when the record has none).
    users: Vec<Vec<Option<String>>>,
    /// Per file: the optional, non-key columns of each record that have a value.
    optional: Vec<Vec<Vec<usize>>>,
    image: Vec<bool>,
    /// The files of each send unit, and each file outside any unit alone (removed together).
    groups: Vec<Vec<usize>>,
    /// Files given directly (never removed whole).
    pinned: Vec<bool>,
}

/// A candidate: what is left out of the model.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct Cut {
    files: BTreeSet<usize>,
    records: BTreeSet<(usize, usize)>,
    values: BTreeSet<(usize, usize, usize)>,
}

impl Model {
    fn new(inputs: &[Input], roots_are_files: &[bool]) -> Self {
        let validated = validate_files(inputs, careplan_spec::Options::default());
        let mut m = Model {
            inputs: inputs.to_vec(),
            splits: inputs.iter().map(|f| raw::split(&f.bytes)).collect(),
            users: Vec::new(),
            optional: Vec::new(),
            image: Vec::new(),
            groups: {
                let mut g: Vec<Vec<usize>> =
                    validated.units.iter().map(|u| u.files.clone()).collect();
                let grouped: BTreeSet<usize> = g.iter().flatten().copied().collect();
                g.extend(
                    (0..inputs.len())
                        .filter(|i| !grouped.contains(i))
                        .map(|i| vec![i]),
                );
                g
            },
            pinned: inputs
                .iter()
                .map(|f| roots_are_files.get(f.root).copied().unwrap_or(false))
                .collect(),
        };
        for (f, report) in inputs.iter().zip(&validated.reports) {
            let split = &m.splits[m.users.len()];
            let image = report.kind.is_some_and(|k| k.is_image());
            let view = match (report.kind, report.version) {
                (Some(k), Some(v)) if !image => layout::view(k, v),
                _ => None,
            };
            let keys: BTreeSet<&str> = report
                .kind
                .map(|k| {
                    ["", "_PLAN", "_MONTH"]
                        .iter()
                        .flat_map(|s| {
                            careplan_spec::units::key_columns(&format!("{}{s}", k.prefix()))
                        })
                        .map(String::as_str)
                        .collect()
                })
                .unwrap_or_default();
            let find =
                |fmt: Format| view.and_then(|v| v.columns.iter().position(|c| *c.format() == fmt));
            let (insurer, insured) = (find(Format::Insurer), find(Format::Insured));
            let mut users = Vec::new();
            let mut optional = Vec::new();
            for r in &split.records {
                let fits = view.is_some_and(|v| v.len() == r.fields.len());
                let text = |i: Option<usize>| {
                    i.and_then(|i| r.fields.get(i))
                        .map(|x| ms932::decode(&x.bytes(&f.bytes)).0)
                };
                users.push(match (fits, text(insurer), text(insured)) {
                    (true, Some(a), Some(b)) => Some(format!("{a}/{b}")),
                    _ => None,
                });
                optional.push(match view {
                    Some(v) if fits => v
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(i, c)| {
                            *i > 0
                                && !c.column.req
                                && !c.column.needed
                                && !keys.contains(c.name())
                                && !r.fields[*i].content.is_empty()
                        })
                        .map(|(i, _)| i)
                        .collect(),
                    _ => Vec::new(),
                });
            }
            m.users.push(users);
            m.optional.push(optional);
            m.image.push(image);
        }
        m
    }

    /// The files a cut leaves (files without records dropped).
    fn materialize(&self, cut: &Cut) -> Vec<Input> {
        let mut out = Vec::new();
        for (i, f) in self.inputs.iter().enumerate() {
            if cut.files.contains(&i) {
                continue;
            }
            if self.image[i] {
                out.push(f.clone());
                continue;
            }
            let split = &self.splits[i];
            let mut bytes = f.bytes[split.prefix.clone()].to_vec();
            let mut kept = 0;
            for (ri, r) in split.records.iter().enumerate() {
                if cut.records.contains(&(i, ri)) {
                    continue;
                }
                kept += 1;
                let mut at = r.span.start;
                for (fi, field) in r.fields.iter().enumerate() {
                    if cut.values.contains(&(i, ri, fi)) {
                        bytes.extend_from_slice(&f.bytes[at..field.span.start]);
                        at = field.span.end;
                    }
                }
                bytes.extend_from_slice(&f.bytes[at..r.span.end]);
            }
            if kept == 0 && !split.records.is_empty() && !self.pinned[i] {
                continue;
            }
            out.push(Input { bytes, ..f.clone() });
        }
        out
    }

    fn size(&self, cut: &Cut) -> Size {
        let mut s = Size::default();
        let mut users = BTreeSet::new();
        for (i, _) in self.inputs.iter().enumerate() {
            if cut.files.contains(&i) {
                continue;
            }
            let mut records = 0;
            for (ri, u) in self.users[i].iter().enumerate() {
                if cut.records.contains(&(i, ri)) {
                    continue;
                }
                records += 1;
                if let Some(u) = u {
                    users.insert(u.clone());
                }
                s.values += self.optional[i][ri]
                    .iter()
                    .filter(|&&c| !cut.values.contains(&(i, ri, c)))
                    .count();
            }
            if records > 0 || self.image[i] || self.pinned[i] {
                s.files += 1;
            }
            s.records += records;
        }
        s.users = users.len();
        s
    }
}

/// Zeller's ddmin over `items`: a smallest subset (1-minimal) for which `test` holds, given that it
/// holds for all of them.
fn ddmin<T: Clone>(items: Vec<T>, test: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut c = items;
    let mut n = 2usize;
    while c.len() >= 2 {
        let chunk = c.len().div_ceil(n);
        let parts: Vec<Vec<T>> = c.chunks(chunk).map(<[T]>::to_vec).collect();
        let mut reduced = false;
        for p in &parts {
            if test(p) {
                c = p.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && parts.len() > 2 {
            for i in 0..parts.len() {
                let complement: Vec<T> = parts
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, p)| p.clone())
                    .collect();
                if test(&complement) {
                    c = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= c.len() {
                break;
            }
            n = (n * 2).min(c.len());
        }
    }
    if c.len() == 1 && test(&[]) {
        c.clear();
    }
    c
}

/// Rules reported on a set of files (warnings and errors; infos do not count against the rest
/// staying valid, but do count as a goal).
fn rules_of(files: &[Input]) -> (BTreeSet<String>, BTreeSet<String>) {
    let v = validate_files(files, careplan_spec::Options::default());
    let tolerated = tolerated();
    let mut all = BTreeSet::new();
    let mut counted = BTreeSet::new();
    for (_, f) in v.located() {
        let id = f.rule.id();
        all.insert(id.to_owned());
        let derived = f.severity == Severity::Warning && tolerated.contains(id);
        if f.severity >= Severity::Warning && !derived {
            counted.insert(id.to_owned());
        }
    }
    (all, counted)
}

/// The warnings a cut may introduce (`data/shrink_tolerated.toml`): figures derived from rows.
fn tolerated() -> &'static BTreeSet<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        rule: String,
    }
    #[derive(serde::Deserialize)]
    struct File {
        tolerated: Vec<Entry>,
    }
    static TABLE: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        toml::from_str::<File>(include_str!("../../data/shrink_tolerated.toml"))
            .expect("data/shrink_tolerated.toml parses")
            .tolerated
            .into_iter()
            .map(|e| e.rule)
            .collect()
    })
}

/// The failing steps of a run: (step, verdict).
fn failing(outcome: &crate::outcome::RunOutcome) -> BTreeSet<(usize, String)> {
    outcome
        .scenarios
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .map(|c| (c.step, c.verdict.label().to_owned()))
        .collect()
}

/// Writes files under `dir`, each root in its own folder `dir/<k>`, and returns the path that
/// stands for each root (its folder, or the file for a root that was a file).
fn write_roots(
    dir: &Path,
    files: &[Input],
    roots: &[(PathBuf, bool)],
) -> Result<Vec<PathBuf>, std::io::Error> {
    let _ = std::fs::remove_dir_all(dir);
    let mut out = Vec::new();
    for (k, (given, is_file)) in roots.iter().enumerate() {
        let base = dir.join(k.to_string());
        std::fs::create_dir_all(&base)?;
        out.push(if *is_file {
            base.join(given.file_name().unwrap_or_default())
        } else {
            base
        });
    }
    for f in files {
        let target = dir.join(f.root.to_string()).join(&f.relative);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&target, &f.bytes)?;
    }
    Ok(out)
}

/// Where a fixture of a scenario read from disk lies (`cpkit shrink --scenario` reads a file on
/// disk, so its fixtures resolve on disk too; a built-in path is kept as written).
fn on_disk(s: &Scenario, fixture: &str) -> PathBuf {
    match s.resolve(fixture) {
        Origin::Disk(p) => p,
        Origin::Builtin(p) => PathBuf::from(p),
    }
}

/// The scenario with every fixture or attachment naming one of `roots` replaced by its stand-in.
fn substituted(s: &Scenario, roots: &[PathBuf], stand_ins: &[PathBuf]) -> (Scenario, usize) {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let roots: Vec<PathBuf> = roots.iter().map(|r| canon(r)).collect();
    let mut out = s.clone();
    let mut n = 0;
    for step in &mut out.file.steps {
        let step = step.get_mut();
        let swap = |p: &str| -> Option<String> {
            let c = canon(&on_disk(s, p));
            roots
                .iter()
                .position(|r| *r == c)
                .map(|k| stand_ins[k].display().to_string())
        };
        if let Some(f) = step.fixture.as_deref().and_then(swap) {
            step.fixture = Some(f);
            n += 1;
        }
        for a in &mut step.attach {
            if let Some(x) = swap(a) {
                *a = x;
                n += 1;
            }
        }
    }
    (out, n)
}

/// Shrinks `inputs` (read from `roots`: each path given and whether it was a file).
pub fn shrink(
    inputs: &[Input],
    roots: &[(PathBuf, bool)],
    goal: &Goal<'_>,
    progress: &mut dyn Progress,
) -> Result<Shrunk, ShrinkError> {
    let model = Model::new(inputs, &roots.iter().map(|(_, f)| *f).collect::<Vec<_>>());
    let (_, baseline) = rules_of(inputs);
    let baseline_fail = match goal {
        Goal::Rule(rule) => {
            let (all, _) = rules_of(inputs);
            if !all.contains(rule.id()) {
                return Err(ShrinkError::NotFailing(format!(
                    "the spec core does not report {} on these files",
                    rule.id()
                )));
            }
            BTreeSet::new()
        }
        Goal::Sut {
            config,
            scenario,
            paths,
            work,
        } => {
            let (_, n) = substituted(scenario, paths, paths);
            if n == 0 {
                return Err(ShrinkError::Scenario(format!(
                    "{}: none of the paths given is a fixture or attachment of the scenario",
                    scenario.name
                )));
            }
            let outcome = run_sut(config, scenario, work, 0, inputs, roots)?;
            let f = failing(&outcome);
            if f.is_empty() {
                return Err(ShrinkError::NotFailing(
                    "the scenario passes with the SUT on these files".to_owned(),
                ));
            }
            f
        }
    };
    let mut tests = 0usize;
    let mut cache: HashMap<Vec<u8>, bool> = HashMap::new();
    let mut holds = |cut: &Cut, progress: &mut dyn Progress| -> bool {
        let files = model.materialize(cut);
        if files.is_empty() {
            return false;
        }
        let key: Vec<u8> = files
            .iter()
            .flat_map(|f| [f.path.as_bytes(), &[0], &f.bytes, &[0]].concat())
            .collect();
        let key = ring::digest::digest(&ring::digest::SHA256, &key)
            .as_ref()
            .to_vec();
        if let Some(&h) = cache.get(&key) {
            return h;
        }
        tests += 1;
        let (all, counted) = rules_of(&files);
        let valid_rest = counted.is_subset(&baseline);
        let h = valid_rest
            && match goal {
                Goal::Rule(rule) => all.contains(rule.id()),
                Goal::Sut {
                    config,
                    scenario,
                    work,
                    ..
                } => run_sut(config, scenario, work, tests, &files, roots)
                    .map(|o| failing(&o) == baseline_fail)
                    .unwrap_or(false),
            };
        progress.test(tests, model.size(cut).records, h);
        cache.insert(key, h);
        h
    };

    let mut cut = Cut::default();
    // Phase 1 (and again after the users): whole send units, and files outside any unit.
    let unit_phase = |cut: &mut Cut,
                      holds: &mut dyn FnMut(&Cut, &mut dyn Progress) -> bool,
                      progress: &mut dyn Progress| {
        let groups: Vec<Vec<usize>> = model
            .groups
            .iter()
            .map(|g| {
                g.iter()
                    .copied()
                    .filter(|i| !model.pinned[*i] && !cut.files.contains(i))
                    .collect::<Vec<usize>>()
            })
            .filter(|g| !g.is_empty())
            .collect();
        progress.phase("units", groups.len());
        let all: Vec<usize> = (0..groups.len()).collect();
        let base = cut.files.clone();
        let keep = ddmin(all.clone(), &mut |subset: &[usize]| {
            let mut c = cut.clone();
            c.files = base.clone();
            for g in all.iter().filter(|g| !subset.contains(g)) {
                c.files.extend(groups[*g].iter().copied());
            }
            holds(&c, progress)
        });
        for g in all.iter().filter(|g| !keep.contains(g)) {
            cut.files.extend(groups[*g].iter().copied());
        }
    };
    unit_phase(&mut cut, &mut holds, progress);

    // Phase 2: users.
    let users: Vec<String> = {
        let mut set = BTreeSet::new();
        for (i, us) in model.users.iter().enumerate() {
            if !cut.files.contains(&i) {
                set.extend(us.iter().flatten().cloned());
            }
        }
        set.into_iter().collect()
    };
    progress.phase("users", users.len());
    let records_of_users = |keep: &[String]| -> BTreeSet<(usize, usize)> {
        let mut out = BTreeSet::new();
        for (i, us) in model.users.iter().enumerate() {
            for (ri, u) in us.iter().enumerate() {
                if u.as_ref().is_some_and(|u| !keep.contains(u)) {
                    out.insert((i, ri));
                }
            }
        }
        out
    };
    let keep_users = ddmin(users.clone(), &mut |subset: &[String]| {
        let mut c = cut.clone();
        c.records = records_of_users(subset);
        holds(&c, progress)
    });
    cut.records = records_of_users(&keep_users);
    // Files left without records are gone: try whole units again.
    for (i, us) in model.users.iter().enumerate() {
        if !model.image[i]
            && !model.pinned[i]
            && !us.is_empty()
            && (0..us.len()).all(|r| cut.records.contains(&(i, r)))
        {
            cut.files.insert(i);
        }
    }
    unit_phase(&mut cut, &mut holds, progress);

    // Phase 3: records.
    let records: Vec<(usize, usize)> = model
        .users
        .iter()
        .enumerate()
        .filter(|(i, _)| !cut.files.contains(i))
        .flat_map(|(i, us)| (0..us.len()).map(move |ri| (i, ri)))
        .filter(|r| !cut.records.contains(r))
        .collect();
    progress.phase("records", records.len());
    let base = cut.records.clone();
    let keep_records = ddmin(records.clone(), &mut |subset: &[(usize, usize)]| {
        let mut c = cut.clone();
        c.records = base.clone();
        c.records
            .extend(records.iter().filter(|r| !subset.contains(r)));
        holds(&c, progress)
    });
    cut.records
        .extend(records.iter().filter(|r| !keep_records.contains(r)));

    // Phase 4: optional values.
    let values: Vec<(usize, usize, usize)> = model
        .optional
        .iter()
        .enumerate()
        .filter(|(i, _)| !cut.files.contains(i))
        .flat_map(|(i, rs)| {
            rs.iter()
                .enumerate()
                .flat_map(move |(ri, cols)| cols.iter().map(move |&c| (i, ri, c)))
        })
        .filter(|(i, ri, _)| !cut.records.contains(&(*i, *ri)))
        .collect();
    progress.phase("values", values.len());
    let keep_values = ddmin(values.clone(), &mut |subset: &[(usize, usize, usize)]| {
        let mut c = cut.clone();
        c.values = values
            .iter()
            .copied()
            .filter(|v| !subset.contains(v))
            .collect();
        holds(&c, progress)
    });
    cut.values = values
        .iter()
        .copied()
        .filter(|v| !keep_values.contains(v))
        .collect();

    let files = model.materialize(&cut);
    let (all, _) = rules_of(&files);
    Ok(Shrunk {
        files: files
            .iter()
            .map(|f| (f.root, f.relative.clone(), f.bytes.clone()))
            .collect(),
        before: model.size(&Cut::default()),
        after: model.size(&cut),
        tests,
        rules: all
            .into_iter()
            .filter(|r| !matches!(goal, Goal::Rule(g) if g.id() == r))
            .collect(),
    })
}

fn run_sut(
    config: &SutConfig,
    scenario: &Scenario,
    work: &Path,
    n: usize,
    files: &[Input],
    roots: &[(PathBuf, bool)],
) -> Result<crate::outcome::RunOutcome, ShrinkError> {
    let dir = work.join(format!("candidate-{n:04}"));
    let stand_ins =
        write_roots(&dir.join("files"), files, roots).map_err(|source| ShrinkError::Write {
            path: dir.clone(),
            source,
        })?;
    let paths: Vec<PathBuf> = roots.iter().map(|(p, _)| p.clone()).collect();
    let (s, _) = substituted(scenario, &paths, &stand_ins);
    let options = RunOptions {
        sut: Some(config.clone()),
        work_dir: dir.join("run"),
        keep: false,
    };
    let outcome = runner::run(&[s], &options, &mut runner::Quiet);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome)
}

/// A path from folder `from` to `to`, relative when they share a root.
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let canon = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| std::path::absolute(p).unwrap_or(p.to_owned()))
    };
    let (a, b) = (canon(from), canon(to));
    let ac: Vec<_> = a.components().collect();
    let bc: Vec<_> = b.components().collect();
    let common = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return b;
    }
    let mut out = PathBuf::new();
    for _ in common..ac.len() {
        out.push("..");
    }
    for c in &bc[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The scenario of a rule goal: every unit of the minimal files sent as attachments from its
/// sender to its receiver (a `sut` with `reference-v4` as stand-in), fetched, checked for the rule
/// and imported — the receiver must refuse the unit when the rule is an error. A send the exchange
/// refuses expects the exchange's code instead.
pub fn rule_scenario(rule: RuleId, files: &[(PathBuf, Vec<u8>)], folder: &str) -> String {
    let inputs: Vec<Input> = files
        .iter()
        .map(|(rel, bytes)| Input {
            path: format!("{folder}/{}", rel.display()),
            name: rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            relative: rel.clone(),
            root: 0,
            bytes: bytes.clone(),
        })
        .collect();
    let validated = validate_files(&inputs, careplan_spec::Options::default());
    let cols = super::diagnose::matrix::columns(&inputs, &validated);
    let in_unit: BTreeSet<usize> = cols.iter().flat_map(|c| c.inputs.clone()).collect();
    let leftovers: Vec<usize> = (0..inputs.len()).filter(|i| !in_unit.contains(i)).collect();

    let mut offices = offices_of(inputs.iter().map(|f| f.name.as_str()));
    for o in super::diagnose::exchange::PLACEHOLDERS {
        if let Some(n) = careplan_spec::OfficeNumber::parse(o) {
            offices.entry(n).or_default();
        }
    }
    // Each office's service types: from V4 names, else the type its software runs as.
    let mut types: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (o, t) in &offices {
        let mut t = t.clone();
        if t.is_empty() {
            t.insert(super::diagnose::matrix::own_type(o.as_str(), &cols, &inputs).to_string());
        }
        types.insert(o.to_string(), t);
    }
    let hub = HubCheck::open(&offices).ok();
    let current = hub
        .as_ref()
        .map(|h| h.config().switches.v41_names_min_client.clone())
        .unwrap_or_else(|| "1.2.0".to_owned());
    let severity = rule.rule().severity;

    // Sends: one per unit, then the files outside any unit.
    struct Send {
        from: String,
        to: Destination,
        files: Vec<usize>,
    }
    let mut sends: Vec<Send> = cols
        .iter()
        .filter_map(|c| {
            let name = FileName::parse(&c.files[0]).ok()?;
            Some(Send {
                from: c.sender.clone(),
                to: destination(&name),
                files: c.inputs.clone(),
            })
        })
        .collect();
    if !leftovers.is_empty() {
        let (from, to) = sends
            .first()
            .map(|s| (s.from.clone(), s.to.clone()))
            .unwrap_or_else(|| {
                let [a, b] = super::diagnose::exchange::PLACEHOLDERS;
                (
                    a.to_owned(),
                    Destination {
                        office: b.to_owned(),
                        service_type: None,
                    },
                )
            });
        sends.push(Send {
            from,
            to,
            files: leftovers,
        });
    }
    let receivers: BTreeSet<String> = sends.iter().map(|s| s.to.office.clone()).collect();
    let senders: BTreeSet<String> = sends.iter().map(|s| s.from.clone()).collect();
    let today = cols
        .first()
        .map(|c| format!("{}-{}-{}", &c.serial[..4], &c.serial[4..6], &c.serial[6..8]))
        .unwrap_or_else(|| "2025-05-26".to_owned());
    let mut t = format!(
        "# Written by cpkit shrink: the minimal files on which the spec core reports {id}.\n\
         # Run it with the product under test as the receiver:\n\
         #   cpkit run scenario.toml --sut PRODUCT.toml\n\n\
         [scenario]\nname = {name}\ndescription = {desc}\ntags = [\"regression\", \"shrink\", {idq}]\nrefs = [{idq}]\ntoday = \"{today}\"\n",
        id = rule.id(),
        idq = quote(rule.id()),
        name = quote(&format!("shrunk: {} on {} files", rule.id(), inputs.len())),
        desc = quote(&format!(
            "The receiver gets the files on which the spec core reports {} ({}); it must {} them.",
            rule.id(),
            rule.rule().title_en,
            if severity == Severity::Error {
                "refuse"
            } else {
                "import (with a warning)"
            }
        )),
    );
    let id_of = |o: &str| format!("o{o}");
    for o in types.keys() {
        let (software, role) = if receivers.contains(o) {
            ("sut", true)
        } else if senders.contains(o) {
            ("reference-v4", false)
        } else {
            continue;
        };
        t.push_str(&format!(
            "\n[[office]]\nid = \"{}\"\nnumber = \"{o}\"\nservice_types = [{}]\nsoftware = \"{software}\"\n{}",
            id_of(o),
            types[o].iter().map(|x| quote(x)).collect::<Vec<_>>().join(", "),
            if role { "stand_in = \"reference-v4\"\n" } else { "" }
        ));
    }
    let mut delivered: BTreeSet<String> = BTreeSet::new();
    for s in &sends {
        let files: Vec<(&str, &[u8])> = s
            .files
            .iter()
            .map(|&i| (inputs[i].name.as_str(), inputs[i].bytes.as_slice()))
            .collect();
        let refused = hub
            .as_ref()
            .and_then(|h| h.check(&s.from, s.to.clone(), &current, &files).err());
        t.push_str(&format!(
            "\n[[step]]\naction = \"send\"\noffice = \"{}\"\nto = \"{}\"\n{}attach = [{}]\n",
            id_of(&s.from),
            id_of(&s.to.office),
            s.to.service_type
                .as_ref()
                .map(|x| format!("to_type = {}\n", quote(x)))
                .unwrap_or_default(),
            s.files
                .iter()
                .map(|&i| quote(&inputs[i].path))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        match refused {
            Some(e) => t.push_str(&format!("expect.error = {}\n", quote(e.code.as_str()))),
            None => {
                delivered.insert(s.to.office.clone());
            }
        }
    }
    for r in &delivered {
        t.push_str(&format!(
            "\n[[step]]\naction = \"fetch\"\noffice = \"{}\"\n\n[[step]]\naction = \"assert\"\noffice = \"{}\"\nof = \"received\"\nrules = [{}]\n\n[[step]]\naction = \"import\"\noffice = \"{}\"\n{}",
            id_of(r),
            id_of(r),
            quote(rule.id()),
            id_of(r),
            if severity == Severity::Error {
                format!("expect.refused = [{}]\n", quote(rule.id()))
            } else {
                String::new()
            }
        ));
    }
    t
}

/// The scenario of a SUT goal: the original text with the fixtures and attachments that named the
/// paths given pointing at the minimal files, and every other relative path rewritten for the
/// scenario's new folder.
pub fn sut_scenario(
    s: &Scenario,
    roots: &[PathBuf],
    stand_ins: &[PathBuf],
    out_dir: &Path,
) -> String {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let roots: Vec<PathBuf> = roots.iter().map(|r| canon(r)).collect();
    let text = super::scenario_text::rewrite_paths(s, |p| {
        let resolved = canon(&on_disk(s, p));
        let new = match roots.iter().position(|r| *r == resolved) {
            Some(k) => relative(out_dir, &stand_ins[k]),
            None => relative(out_dir, &resolved),
        };
        new.display().to_string()
    });
    format!(
        "# Written by cpkit shrink from {}: the scenario on the minimal files (files/).\n{text}",
        s.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerated_rules_are_warnings_of_the_catalogue() {
        for id in tolerated() {
            let rule = RuleId::from_id(id).unwrap_or_else(|| panic!("unknown rule {id}"));
            assert_eq!(rule.rule().severity, Severity::Warning, "{id}");
        }
        assert!(tolerated().contains("TOT010"));
    }

    #[test]
    fn ddmin_finds_the_one_item_that_matters_deterministically() {
        let items: Vec<u32> = (0..50).collect();
        let mut tests = 0;
        let out = ddmin(items.clone(), &mut |s: &[u32]| {
            tests += 1;
            s.contains(&17)
        });
        assert_eq!(out, vec![17]);
        assert!(tests < 40, "{tests} tests");
        let again = ddmin(items, &mut |s: &[u32]| s.contains(&17));
        assert_eq!(again, vec![17]);
    }

    #[test]
    fn ddmin_keeps_pairs_and_can_remove_everything() {
        let out = ddmin((0..20).collect(), &mut |s: &[u32]| {
            s.contains(&3) && s.contains(&15)
        });
        assert_eq!(out, vec![3, 15]);
        let out = ddmin((0..5).collect(), &mut |_: &[u32]| true);
        assert!(out.is_empty());
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        let base = std::env::temp_dir().join(format!("cpkit-rel-{}", std::process::id()));
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::fs::create_dir_all(base.join("c")).unwrap();
        assert_eq!(
            relative(&base.join("a/b"), &base.join("c")),
            PathBuf::from("../../c")
        );
        assert_eq!(
            relative(&base.join("a"), &base.join("a/b")),
            PathBuf::from("b")
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
