//! The blocked verdict. When the kit itself fails a step (one of its cases is `error`), what the
//! offices of that step hold is unknown, so the later steps that involve any of them are not run
//! and are reported `blocked`, naming the step that blocked them — not as MUST failures of the
//! product. A blocked step passes the block on to all of its offices (a blocked export to `day`
//! leaves `day` without the files it would have received). A failed step without offices
//! (`advance`) or a failed set-up blocks every later step.

use std::collections::BTreeMap;

use crate::outcome::{CaseOutcome, Verdict};
use crate::scenario::Step;

/// The offices whose state the kit could not establish, with the cause.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    by_office: BTreeMap<String, String>,
    everything: Option<String>,
}

/// The offices a step reads or changes: its office, its destination, a `holds.partner`.
fn involved(st: &Step) -> Vec<&str> {
    let mut v: Vec<&str> = [st.office.as_deref(), st.to.as_deref()]
        .into_iter()
        .flatten()
        .chain(st.holds.as_ref().and_then(|h| h.partner.as_deref()))
        .collect();
    v.dedup();
    v
}

impl Blocks {
    /// Every later step is blocked by this cause.
    pub fn everything(cause: impl Into<String>) -> Self {
        Self {
            by_office: BTreeMap::new(),
            everything: Some(cause.into()),
        }
    }

    /// Why the step cannot run, if it cannot; its offices are then blocked by the same cause.
    pub fn blocking(&mut self, st: &Step) -> Option<String> {
        let offices = involved(st);
        let cause = self
            .everything
            .clone()
            .or_else(|| offices.iter().find_map(|o| self.by_office.get(*o).cloned()))?;
        for o in offices {
            self.by_office
                .entry(o.to_owned())
                .or_insert_with(|| cause.clone());
        }
        Some(cause)
    }

    /// After a step ran: when the kit failed it, its offices (all, for a step without any) are
    /// blocked from here on.
    pub fn ran(&mut self, st: &Step, label: &str, cases: &[CaseOutcome]) {
        if !cases.iter().any(|c| c.verdict == Verdict::Error) {
            return;
        }
        let cause = format!("step {label} failed in the kit");
        let offices = involved(st);
        if offices.is_empty() {
            self.everything.get_or_insert(cause);
            return;
        }
        for o in offices {
            self.by_office
                .entry(o.to_owned())
                .or_insert_with(|| cause.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::judge::case;
    use crate::scenario::Action;

    fn step(action: Action, office: Option<&str>, to: Option<&str>) -> Step {
        let mut text = format!("action = \"{}\"\n", action.label());
        if let Some(o) = office {
            text.push_str(&format!("office = \"{o}\"\n"));
        }
        if let Some(t) = to {
            text.push_str(&format!("to = \"{t}\"\n"));
        }
        toml::from_str(&text).expect("a step")
    }

    #[test]
    fn a_kit_failure_blocks_the_steps_of_its_offices_and_passes_on() {
        let mut b = Blocks::default();
        let load = step(Action::Load, Some("cm"), None);
        let export = step(Action::Export, Some("cm"), Some("day"));
        let fetch_day = step(Action::Fetch, Some("day"), None);
        let other = step(Action::Load, Some("other"), None);
        let advance = step(Action::Advance, None, None);
        assert_eq!(b.blocking(&load), None);
        b.ran(
            &load,
            "01 load cm",
            &[case(Verdict::Fail, "a product's failure")],
        );
        assert_eq!(b.blocking(&export), None, "a fail blocks nothing");
        b.ran(
            &load,
            "01 load cm",
            &[case(Verdict::Error, "fixture missing")],
        );
        let cause = b.blocking(&export).expect("blocked");
        assert_eq!(cause, "step 01 load cm failed in the kit");
        assert_eq!(
            b.blocking(&fetch_day),
            Some(cause),
            "passed on through the export"
        );
        assert_eq!(b.blocking(&other), None);
        assert_eq!(b.blocking(&advance), None);
        b.ran(&advance, "05 advance", &[case(Verdict::Error, "clock")]);
        assert!(
            b.blocking(&other).is_some(),
            "a failed step without offices blocks all"
        );
        assert!(
            Blocks::everything("the set-up failed")
                .blocking(&advance)
                .is_some()
        );
    }
}
