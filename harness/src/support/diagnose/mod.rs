//! `cpkit diagnose`: why an exchange of these files broke and whose side must change.
//!
//! The files are validated and formed into send units by the spec core, played into every
//! simulated product and the exchange's rules ([`matrix`]), and then each **detector** — one file
//! per family of causes, registered in [`DETECTORS`] — looks at that evidence and reports hits on
//! the known causes of `harness/data/support_causes.toml` ([`causes`]): what each is, who fixes it
//! (sender, receiver, the office's set-up) and how. A pasted error text is matched against the
//! causes' known texts. Causes are ranked by a score (see [`rank`]); each comes with its evidence:
//! `file:line:column` and rule, the exchange's answer, a product's refusal, a trace row.

pub mod actuals;
pub mod causes;
pub mod collision;
pub mod exchange;
pub mod findings;
pub mod matrix;
pub mod names;
pub mod order;
pub mod terminals;
pub mod trace;

use std::collections::BTreeMap;

use careplan_spec::tokenizer::{RawRecord, Tokenizer};
use careplan_spec::{FileName, Severity, ms932};
use serde::Serialize;

use super::hub_check::HubCheck;
use super::inputs::{Input, Validated};
use causes::Side;
use matrix::{Matrix, Product, UnitColumn};
use trace::TraceBundle;

/// One piece of evidence.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    /// `FILE:LINE:COLUMN`, `unit SERIAL`, `BUNDLE/trace.jsonl:LINE`, or none.
    pub at: Option<String>,
    /// The spec core's rule ID or the exchange's code.
    pub rule: Option<String>,
    pub text: String,
}

/// A detector's finding: evidence for one cause.
#[derive(Debug, Clone)]
pub struct Hit {
    pub cause: &'static str,
    pub evidence: Evidence,
    /// How strongly this piece points to the cause (summed per cause, at most 40).
    pub strength: u32,
    /// The receiver or SUT the engineer named shows the problem itself.
    pub confirmed: bool,
    /// Only a possibility (what another product might do, what the folder lacks): listed, but a
    /// cause with nothing else counts as pointed to by a text at most.
    pub speculative: bool,
}

impl Hit {
    pub fn new(
        cause: &'static str,
        at: Option<String>,
        rule: Option<String>,
        text: String,
    ) -> Self {
        Self {
            cause,
            evidence: Evidence { at, rule, text },
            strength: 10,
            confirmed: false,
            speculative: false,
        }
    }
    pub fn speculative(mut self, s: bool) -> Self {
        self.speculative = s;
        self
    }
    pub fn strength(mut self, s: u32) -> Self {
        self.strength = s;
        self
    }
    pub fn confirmed(mut self, c: bool) -> Self {
        self.confirmed = c;
        self
    }
}

/// What detectors see.
pub struct Context<'a> {
    pub inputs: &'a [Input],
    pub attachments: &'a [Input],
    pub validated: &'a Validated,
    pub matrix: &'a Matrix,
    pub products: &'a [(Product, bool)],
    pub hub: Option<&'a HubCheck>,
    pub trace: Option<&'a TraceBundle>,
    /// The causes the pasted error text points to.
    pub text_causes: Vec<&'static str>,
}

impl Context<'_> {
    pub fn text_points_to(&self, id: &str) -> bool {
        self.text_causes.contains(&id)
    }

    /// The unit columns with the parsed name of their first file.
    pub fn units(&self) -> impl Iterator<Item = (usize, &UnitColumn, Option<FileName>)> {
        self.matrix
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| (i, u, u.files.first().and_then(|n| FileName::parse(n).ok())))
    }
}

/// One family of causes.
pub type Detector = fn(&Context<'_>) -> Vec<Hit>;

/// Every detector, in the order their hits are listed.
pub const DETECTORS: &[(&str, Detector)] = &[
    ("findings", findings::detect),
    ("names", names::detect),
    ("exchange", exchange::detect),
    ("collision", collision::detect),
    ("actuals", actuals::detect),
    ("order", order::detect),
    ("terminals", terminals::detect),
];

/// A cause found, ranked.
#[derive(Debug, Clone, Serialize)]
pub struct FoundCause {
    pub id: String,
    pub score: u32,
    pub title_ja: String,
    pub title_en: String,
    pub side: Side,
    pub fix_ja: String,
    pub fix_en: String,
    pub refs: Vec<String>,
    /// The known text the pasted error text matched.
    pub text_match: Option<String>,
    pub confirmed: bool,
    pub evidence: Vec<Evidence>,
    /// Evidence beyond the first [`MAX_EVIDENCE`], counted.
    pub more_evidence: usize,
}

/// Evidence listed per cause.
pub const MAX_EVIDENCE: usize = 12;

/// The whole diagnosis (`cpkit-diagnose/1`).
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub schema: &'static str,
    pub files: Vec<String>,
    pub attachments: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    pub error_text: Option<String>,
    pub receiver: Option<String>,
    pub trace: Option<String>,
    pub causes: Vec<FoundCause>,
    pub matrix: Matrix,
}

/// What to diagnose with.
pub struct Request<'a> {
    pub inputs: &'a [Input],
    pub attachments: &'a [Input],
    pub error_text: Option<&'a str>,
    /// The products to play, with the one the engineer named marked.
    pub products: Vec<(Product, bool)>,
    pub trace: Option<&'a TraceBundle>,
}

/// The score of a cause: its table weight (half when only a pasted text points to it), plus the
/// summed strength of its evidence (at most 40), plus 40 when the pasted text matches it, plus 30
/// when the named receiver shows it.
pub fn rank(weight: u32, strengths: u32, has_hits: bool, text: bool, confirmed: bool) -> u32 {
    (if has_hits { weight } else { weight / 2 })
        + strengths.min(40)
        + if text { 40 } else { 0 }
        + if confirmed { 30 } else { 0 }
}

/// Diagnoses files.
pub fn diagnose(req: Request<'_>, validated: &Validated, work: &std::path::Path) -> Diagnosis {
    let cols = matrix::columns(req.inputs, validated);
    let mut offices =
        super::hub_check::offices_of(req.inputs.iter().map(|f| f.name.as_str()).chain(
            req.trace.iter().flat_map(|t| {
                t.sends
                    .iter()
                    .flat_map(|s| s.files.iter().map(|f| f.name.as_str()))
            }),
        ));
    for o in exchange::PLACEHOLDERS {
        if let Some(n) = careplan_spec::OfficeNumber::parse(o) {
            offices.entry(n).or_default();
        }
    }
    let hub = HubCheck::open(&offices).ok();
    let m = matrix::build(req.inputs, cols, &req.products, hub.as_ref(), work);
    let text_matches = req.error_text.map(causes::match_text).unwrap_or_default();
    let ctx = Context {
        inputs: req.inputs,
        attachments: req.attachments,
        validated,
        matrix: &m,
        products: &req.products,
        hub: hub.as_ref(),
        trace: req.trace,
        text_causes: text_matches.iter().map(|(c, _)| c.id.as_str()).collect(),
    };
    let mut hits: BTreeMap<&'static str, Vec<Hit>> = BTreeMap::new();
    for (_, detect) in DETECTORS {
        for h in detect(&ctx) {
            hits.entry(h.cause).or_default().push(h);
        }
    }
    let mut found = Vec::new();
    for c in causes::causes() {
        let text = text_matches
            .iter()
            .find(|(t, _)| t.id == c.id)
            .map(|(_, k)| (*k).to_owned());
        let list = hits.remove(c.id.as_str()).unwrap_or_default();
        let has_hits = list.iter().any(|h| !h.speculative);
        if !has_hits && text.is_none() {
            continue;
        }
        let confirmed = list.iter().any(|h| h.confirmed);
        let strengths: u32 = list.iter().map(|h| h.strength).sum();
        let mut evidence: Vec<Evidence> = Vec::new();
        if let Some(t) = &text {
            evidence.push(Evidence {
                at: None,
                rule: None,
                text: format!("the error text matches the known text 「{t}」"),
            });
        }
        for h in &list {
            if !evidence.contains(&h.evidence) {
                evidence.push(h.evidence.clone());
            }
        }
        let more = evidence.len().saturating_sub(MAX_EVIDENCE);
        evidence.truncate(MAX_EVIDENCE);
        found.push(FoundCause {
            id: c.id.clone(),
            score: rank(
                c.weight,
                strengths,
                !list.is_empty(),
                text.is_some(),
                confirmed,
            ),
            title_ja: c.title_ja.clone(),
            title_en: c.title_en.clone(),
            side: c.side,
            fix_ja: c.fix_ja.clone(),
            fix_en: c.fix_en.clone(),
            refs: c.refs.clone(),
            text_match: text,
            confirmed,
            evidence,
            more_evidence: more,
        });
    }
    // Highest score first; the table order breaks ties (the sort is stable).
    found.sort_by_key(|c| std::cmp::Reverse(c.score));
    let count = |s: Severity| {
        validated
            .located()
            .iter()
            .filter(|(_, f)| f.severity == s)
            .count()
    };
    Diagnosis {
        schema: "cpkit-diagnose/1",
        files: req.inputs.iter().map(|f| f.path.clone()).collect(),
        attachments: req.attachments.iter().map(|f| f.path.clone()).collect(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        error_text: req.error_text.map(str::to_owned),
        receiver: m.chosen().map(|r| r.software.clone()),
        trace: req.trace.map(|t| t.dir.display().to_string()),
        causes: found,
        matrix: m,
    }
}

/// One record decoded leniently.
pub struct Row {
    pub line: u32,
    pub values: Vec<String>,
    /// Where each field starts: (line, column).
    pub at: Vec<(u32, u32)>,
}

/// A file's records decoded leniently (MS932, or UTF-8 where the bytes are).
pub fn records(input: &Input) -> Vec<Row> {
    let mut t = Tokenizer::new(&input.bytes[..]);
    let mut rec = RawRecord::default();
    let mut out = Vec::new();
    while t.next_record(&mut rec).unwrap_or(false) {
        t.take_issues();
        out.push(Row {
            line: rec.start.line,
            values: rec
                .fields()
                .iter()
                .map(|f| match std::str::from_utf8(&f.bytes) {
                    Ok(s) if !f.bytes.is_ascii() && !ms932::decode(&f.bytes).1.is_empty() => {
                        s.to_owned()
                    }
                    _ => ms932::decode(&f.bytes).0,
                })
                .collect(),
            at: rec
                .fields()
                .iter()
                .map(|f| (f.start.line, f.start.column))
                .collect(),
        });
    }
    out
}

/// The human report.
pub fn to_human(d: &Diagnosis) -> String {
    let mut out = format!(
        "cpkit diagnose — {} files, {} send units; the spec core: {} errors, {} warnings\n",
        d.files.len(),
        d.matrix.units.len(),
        d.errors,
        d.warnings
    );
    if let Some(t) = &d.error_text {
        out.push_str(&format!("error text: 「{}」\n", t.trim()));
    }
    if let Some(r) = &d.receiver {
        out.push_str(&format!("receiver: {r}\n"));
    }
    if let Some(t) = &d.trace {
        out.push_str(&format!("trace: {t}\n"));
    }
    if !d.matrix.units.is_empty() {
        out.push_str("\nsend units (import order per receiver):\n");
    }
    for (i, u) in d.matrix.units.iter().enumerate() {
        out.push_str(&format!(
            "  [{}] {} — {}\n",
            i + 1,
            u.label(),
            u.files.join(", ")
        ));
    }
    if d.causes.is_empty() {
        out.push_str("\nno known cause found: the files conform, every product takes them, and nothing else points to a problem.\n");
    } else {
        out.push_str("\nlikely causes, most likely first:\n");
    }
    for (n, c) in d.causes.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {} / {}  [{}, score {}{}]\n   fix by: {}\n",
            n + 1,
            c.title_ja,
            c.title_en,
            c.id,
            c.score,
            if c.confirmed {
                ", shown by the named receiver"
            } else {
                ""
            },
            c.side.label()
        ));
        out.push_str("   evidence:\n");
        for e in &c.evidence {
            let mut line = String::from("     - ");
            if let Some(at) = &e.at {
                line.push_str(at);
                line.push_str(": ");
            }
            if let Some(r) = &e.rule {
                line.push_str(&format!("[{r}] "));
            }
            line.push_str(&e.text);
            out.push_str(&line);
            out.push('\n');
        }
        if c.more_evidence > 0 {
            out.push_str(&format!("     … and {} more\n", c.more_evidence));
        }
        out.push_str(&format!("   fix: {}\n        {}\n", c.fix_ja, c.fix_en));
        out.push_str(&format!("   refs: {}\n", c.refs.join("; ")));
    }
    if !d.matrix.units.is_empty() {
        out.push_str("\ninterop matrix — what each product would do with each unit (* = the receiver named):\n");
        for (i, u) in d.matrix.units.iter().enumerate() {
            out.push_str(&format!("  [{}] {}\n", i + 1, u.label()));
            for r in &d.matrix.rows {
                let cell = &r.cells[i];
                let mut line = format!(
                    "    {}{:<28} send {} · import {}",
                    if r.chosen { "*" } else { " " },
                    r.software,
                    short(&cell.send),
                    short(&cell.import)
                );
                for f in &cell.follow {
                    line.push_str(&format!(" · {} {}", f.what, short(&f.outcome)));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

fn short(o: &matrix::Outcome) -> String {
    match o.verdict {
        matrix::Verdict::Ok => "ok".to_owned(),
        matrix::Verdict::NotApplicable => "-".to_owned(),
        v => {
            let mut text = o.text.clone();
            if text.chars().count() > 90 {
                text = text.chars().take(88).collect::<String>() + "…";
            }
            if o.rules.is_empty() {
                format!("{} ({text})", v.label())
            } else {
                format!("{} [{}] ({text})", v.label(), o.rules.join(","))
            }
        }
    }
}

/// The cause ids detectors use, for the consistency test.
#[cfg(test)]
pub(crate) const USED_IDS: &[&str] = &[
    "v41-names-old-client",
    "v41-names-v3-reader",
    "same-office-multi-service",
    "actuals-without-plan",
    "import-order",
    "delete-before-upload",
    "item-taken-by-terminal",
    "unit-combination",
    "name-malformed",
    "other-errors",
];

#[cfg(test)]
mod tests {
    use super::causes::cause;
    use super::*;

    #[test]
    fn every_cause_a_detector_names_exists() {
        for id in USED_IDS {
            assert!(cause(id).is_some(), "{id}");
        }
    }

    /// Every invalid golden case: the cause its rule belongs to is found, with that rule among its
    /// evidence (other causes may come with it: the cases carry incidental findings).
    #[test]
    fn each_invalid_golden_case_names_the_cause_of_its_rule() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../golden/invalid"));
        let mut checked = 0;
        for e in std::fs::read_dir(root).unwrap() {
            let dir = e.unwrap().path();
            let expect: toml::Value =
                toml::from_str(&std::fs::read_to_string(dir.join("expect.toml")).unwrap()).unwrap();
            let inputs = crate::support::inputs::Inputs::read(std::slice::from_ref(&dir)).unwrap();
            let validated = inputs.validate(careplan_spec::Options::default());
            let d = diagnose(
                Request {
                    inputs: &inputs.files,
                    attachments: &inputs.attachments,
                    error_text: None,
                    products: Vec::new(),
                    trace: None,
                },
                &validated,
                &std::env::temp_dir(),
            );
            for rule in expect["rules"].as_array().unwrap() {
                let rule = rule.as_str().unwrap();
                let id = careplan_spec::RuleId::from_id(rule).unwrap();
                if id.rule().severity == Severity::Info {
                    continue;
                }
                let want = causes::cause_of_rule(rule).map_or("other-errors", |c| c.id.as_str());
                let found = d.causes.iter().find(|c| c.id == want).unwrap_or_else(|| {
                    panic!(
                        "{}: no cause {want}; found {:?}",
                        dir.display(),
                        d.causes.iter().map(|c| &c.id).collect::<Vec<_>>()
                    )
                });
                assert!(
                    found
                        .evidence
                        .iter()
                        .any(|e| e.rule.as_deref() == Some(rule))
                        || found.more_evidence > 0,
                    "{}: {want} without {rule} evidence",
                    dir.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 60, "{checked}");
    }

    #[test]
    fn the_score_orders_named_evidence_over_table_weight() {
        assert!(rank(40, 10, true, true, false) > rank(60, 10, true, false, false));
        assert!(rank(50, 0, true, false, true) > rank(60, 10, true, false, false));
        assert!(rank(60, 0, false, true, false) < rank(60, 10, true, true, false));
        assert_eq!(rank(50, 100, true, false, false), 90);
    }
}
