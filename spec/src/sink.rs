//! Where findings go while a file or a send unit is checked: the [`Sink`] applies the profile's
//! severity, attaches the file, and caps each rule at [`crate::Options::max_findings_per_rule`]
//! findings, counting the rest, so that a report stays bounded whatever the input.

use std::collections::{BTreeMap, HashMap};

use crate::finding::Finding;
use crate::rules::RuleId;
use crate::validate::Options;

/// Collects findings: applies the profile, attaches the file and caps each rule.
pub struct Sink {
    path: String,
    options: Options,
    counts: HashMap<RuleId, u32>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) suppressed: BTreeMap<RuleId, u32>,
}

impl Sink {
    /// A sink for the file `path` (empty for findings about a send unit as a whole).
    pub(crate) fn new(path: &str, options: Options) -> Self {
        Self {
            path: path.to_owned(),
            options,
            counts: HashMap::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
        }
    }

    /// Counts one finding of `rule`; true when it is still under the per-rule cap and should be
    /// built and [`Sink::store`]d. Hot paths ask before building a finding.
    pub fn admit(&mut self, rule: RuleId) -> bool {
        let n = self.counts.entry(rule).or_insert(0);
        *n += 1;
        if *n > self.options.max_findings_per_rule {
            *self.suppressed.entry(rule).or_insert(0) += 1;
            return false;
        }
        true
    }

    /// Counts `n` findings of `rule` that were not built: those under the cap are lost to the
    /// list, so all of them are counted as suppressed.
    pub fn count_unlisted(&mut self, rule: RuleId, n: u64) {
        if n == 0 {
            return;
        }
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let seen = self.counts.entry(rule).or_insert(0);
        *seen = seen.saturating_add(n);
        let suppressed = self.suppressed.entry(rule).or_insert(0);
        *suppressed = suppressed.saturating_add(n);
    }

    /// Keeps an admitted finding: applies the profile's severity and attaches the file.
    pub fn store(&mut self, mut f: Finding) {
        f.severity = self.options.profile.severity(f.rule);
        if f.file.is_none() && !self.path.is_empty() {
            f.file = Some(self.path.clone());
        }
        self.findings.push(f);
    }

    /// Counts and, under the cap, keeps a finding.
    pub fn push(&mut self, f: Finding) {
        if self.admit(f.rule) {
            self.store(f);
        }
    }
}
