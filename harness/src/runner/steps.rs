//! The steps of a scenario, one method per action: `load`, `export`, `send`, `list`/`fetch`,
//! `import`, `record-actuals`, `edit` and `advance` (asserts are [`super::assertions`]'s). A step
//! asks the office's software or the exchange ([`Exchange`]) to act, moves files between the
//! office's piles ([`OfficeRun`]), and judges what happened into one [`CaseOutcome`].

use std::collections::BTreeMap;

use careplan_mock_server::hub::Destination;
use careplan_spec::{FileName, ServiceTypeCode};

use super::assertions;
use super::clock::Clock;
use super::exchange::{Exchange, Inbox, error_text, kit_side};
use super::judge::{blame_kit, case, expect_count, judge_error, software_result, with};
use super::office::{OfficeRun, index_of};
use crate::outcome::{CaseOutcome, Verdict};
use crate::plural::plural;
use crate::scenario::{Action, Scenario, Step, parse_month};
use crate::software::state::Edit;
use crate::software::{ExportRequest, SoftwareError, StoredFile};

/// What the steps of one scenario share: the scenario, its exchange and its clock.
pub(super) struct Steps<'a> {
    pub scenario: &'a Scenario,
    pub exchange: Exchange<'a>,
    pub clock: Clock,
}

impl Steps<'_> {
    pub async fn step(&mut self, offices: &mut [OfficeRun], st: &Step) -> Vec<CaseOutcome> {
        let office = st.office.as_deref().and_then(|id| index_of(offices, id));
        let to = st.to.as_deref().and_then(|id| index_of(offices, id));
        let needs_office = st.action != Action::Advance;
        if needs_office && office.is_none() {
            return vec![case(
                Verdict::Error,
                "the step names no declared office (run cpkit scenarios lint)",
            )];
        }
        match st.action {
            Action::Advance => vec![self.advance(st)],
            Action::Load => vec![self.load(&mut offices[office.expect("checked")], st)],
            Action::Export => match to {
                Some(t) => vec![self.export(offices, office.expect("checked"), t, st)],
                None => vec![case(Verdict::Error, "export: no destination office")],
            },
            Action::Send => match to {
                Some(t) => vec![self.send(offices, office.expect("checked"), t, st).await],
                None => vec![case(Verdict::Error, "send: no destination office")],
            },
            Action::List | Action::Fetch => {
                vec![
                    self.receive(&mut offices[office.expect("checked")], st)
                        .await,
                ]
            }
            Action::Import => vec![self.import(&mut offices[office.expect("checked")], st)],
            Action::RecordActuals => vec![self.record(&mut offices[office.expect("checked")], st)],
            Action::Assert => assertions::assert(offices, office.expect("checked"), st),
            Action::Edit => vec![self.edit(&mut offices[office.expect("checked")], st)],
        }
    }

    fn advance(&mut self, st: &Step) -> CaseOutcome {
        let days = st.days.unwrap_or(0);
        self.clock.advance(days);
        match self.exchange.set_clock_offset(self.clock.hub_offset) {
            Ok(()) => case(
                Verdict::Pass,
                format!(
                    "the exchange's clock moved {days} days; scenario date {}",
                    self.clock.today
                ),
            ),
            Err(e) => case(
                Verdict::Error,
                format!("failed to move the exchange's clock: {e}"),
            ),
        }
    }

    fn load(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let Some(fixture) = &st.fixture else {
            return case(Verdict::Error, "load: no fixture");
        };
        let files = match self.scenario.resolve(fixture).read_fixture() {
            Ok(f) => f,
            Err(e) => return case(Verdict::Error, e),
        };
        let result = tokio::task::block_in_place(|| o.software.load(&files));
        match software_result(result) {
            Err(kit) => case(Verdict::Error, kit),
            Ok(r) => judge_error(st, r.clone()).unwrap_or_else(|| {
                let mut c = case(Verdict::Pass, r.unwrap_or_default());
                c.log = files.iter().map(|f| f.name.clone()).collect();
                c
            }),
        }
    }

    fn export(
        &mut self,
        offices: &mut [OfficeRun],
        from: usize,
        to: usize,
        st: &Step,
    ) -> CaseOutcome {
        let dest_number = offices[to].number.clone();
        let to_type = st
            .to_type
            .as_deref()
            .and_then(ServiceTypeCode::parse)
            .or_else(|| offices[to].first_type());
        let o = &mut offices[from];
        let as_type = st
            .as_type
            .as_deref()
            .and_then(ServiceTypeCode::parse)
            .or_else(|| o.first_type());
        let request = ExportRequest {
            unit: st.unit.clone().unwrap_or_default(),
            to: dest_number,
            to_type,
            as_type,
            month: st.month.as_deref().and_then(parse_month),
            serial: self.clock.next_serial(),
            today: self.clock.today_text(),
        };
        let result = tokio::task::block_in_place(|| o.software.export(&request));
        let r = match software_result(result) {
            Err(kit) => return case(Verdict::Error, kit),
            Ok(r) => r,
        };
        if o.software.sends_itself() {
            // The product's export is its own send: the exchange's answer is the next send step's.
            let names: Vec<String> = r
                .as_ref()
                .map(|f| f.iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default();
            o.self_sent = Some(r.as_ref().map(|_| names.join(", ")).map_err(Clone::clone));
            o.pending.clear();
            let Ok(files) = r else {
                // Not judged here: the refusal is the next send step's to judge.
                return case(
                    Verdict::NotApplicable,
                    "the product's export or send was refused: the next send step judges it",
                );
            };
            let mut c = case(
                Verdict::Pass,
                format!(
                    "the product exported and sent {} itself",
                    plural(files.len(), "file", "files")
                ),
            );
            c.log = names;
            if let Some(want) = st.expect.as_ref().and_then(|e| e.files) {
                c = expect_count(c, want, files.len(), "files exported");
            }
            o.last_export = files;
            return c;
        }
        let names = r
            .as_ref()
            .map(|files| files.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
            .map_err(Clone::clone);
        if let Some(c) = judge_error(st, names.clone().map(|n| n.join(", "))) {
            return c;
        }
        let files = r.unwrap_or_default();
        let count = files.len();
        o.pending.extend(files.iter().cloned());
        o.last_export = files;
        let mut c = case(
            Verdict::Pass,
            format!("{} written", plural(count, "file", "files")),
        );
        c.log = names.unwrap_or_default();
        if let Some(want) = st.expect.as_ref().and_then(|e| e.files)
            && want != count
        {
            c = with(
                case(
                    Verdict::Fail,
                    format!(
                        "{} written, {want} expected",
                        plural(count, "file", "files")
                    ),
                ),
                Some(want.to_string()),
                Some(count.to_string()),
            );
        }
        c
    }

    async fn send(
        &mut self,
        offices: &mut [OfficeRun],
        from: usize,
        to: usize,
        st: &Step,
    ) -> CaseOutcome {
        if offices[from].software.sends_itself() {
            let Some(result) = offices[from].self_sent.take() else {
                return case(
                    Verdict::Error,
                    "the product sends by itself, and no export step before this one finished",
                );
            };
            if result.is_ok() {
                let files = offices[from].last_export.clone();
                for f in files {
                    offices[to].sent_to_me.insert(f.name, f.bytes);
                }
            }
            return judge_error(st, result.clone()).unwrap_or_else(|| {
                case(
                    Verdict::Pass,
                    format!(
                        "the product's send was accepted: {}",
                        result.unwrap_or_default()
                    ),
                )
            });
        }
        let destination = Destination {
            office: offices[to].number.as_str().to_owned(),
            service_type: st
                .to_type
                .clone()
                .or_else(|| offices[to].spec.service_types.first().cloned()),
        };
        // One send per send unit, as an operator attaches them; attachments and the message go
        // with the first. After a refusal the operator clears the form: what was not sent is
        // dropped (export again to send it again).
        let mut groups: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for f in &offices[from].pending {
            let key = FileName::parse(&f.name)
                .map(|n| format!("{} {} {}", n.serial, n.sender.office, n.receiver.office))
                .unwrap_or_default();
            groups
                .entry(key)
                .or_default()
                .push((f.name.clone(), f.bytes.clone()));
        }
        let mut extra = Vec::new();
        for a in &st.attach {
            match self.scenario.resolve(a).read_fixture() {
                Ok(files) => extra.extend(files.into_iter().map(|f| (f.name, f.bytes))),
                Err(e) => return case(Verdict::Error, e),
            }
        }
        let mut units: Vec<Vec<(String, Vec<u8>)>> = groups.into_values().collect();
        match units.first_mut() {
            Some(first) => first.extend(extra),
            None => units.push(extra),
        }
        offices[from].pending.clear();
        let message = st.message.clone().unwrap_or_default();
        let terminal = offices[from].terminal(st);
        let mut log = Vec::new();
        let mut sent = 0;
        let mut outcome: Result<String, String> = Ok(String::new());
        let mut kit = false;
        for (i, files) in units.iter().enumerate() {
            let text = if i == 0 { message.as_str() } else { "" };
            let result = self
                .exchange
                .send(&offices[from], &terminal, &destination, text, files)
                .await;
            log.extend(files.iter().map(|f| f.0.clone()));
            match result {
                Ok(receipt) => {
                    sent += files.len();
                    for d in &receipt.deliveries {
                        log.push(format!(
                            "send {} → {}: {}",
                            d.id,
                            d.to_office,
                            d.files.join(", ")
                        ));
                    }
                    for (name, bytes) in files {
                        offices[to].sent_to_me.insert(name.clone(), bytes.clone());
                    }
                }
                Err(e) => {
                    kit = kit_side(&e);
                    outcome = Err(error_text(&e));
                    break;
                }
            }
        }
        let outcome = outcome.map(|_| {
            format!(
                "{} in {}",
                plural(sent, "file", "files"),
                plural(units.len(), "send", "sends")
            )
        });
        let c = judge_error(st, outcome.clone()).unwrap_or_else(|| {
            case(
                Verdict::Pass,
                match units.len() {
                    1 => format!("{} accepted by the exchange", plural(sent, "file", "files")),
                    n => format!(
                        "{} accepted by the exchange in {n} sends (one per send unit)",
                        plural(sent, "file", "files")
                    ),
                },
            )
        });
        let mut c = blame_kit(c, kit, st);
        c.log = log;
        c
    }

    async fn receive(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let fetch = st.action == Action::Fetch;
        let terminal = o.terminal(st);
        // The new items, or the refusal's text and whether the kit is to blame.
        let got: Result<Inbox, (String, bool)> = if o.software.sends_itself() {
            if !fetch {
                return case(
                    Verdict::NotApplicable,
                    "the product lists its inbox itself; the kit sees its downloads only",
                );
            }
            match tokio::task::block_in_place(|| o.software.receive()) {
                None => {
                    return case(
                        Verdict::NotApplicable,
                        "the product did not say what it received; nothing to judge",
                    );
                }
                Some(Ok(r)) => Ok(Inbox {
                    items: r.messages.len(),
                    files: r.files,
                    messages: r.messages,
                }),
                Some(Err(SoftwareError::Refused(m))) => Err((m, false)),
                Some(Err(SoftwareError::Failed(m))) => return case(Verdict::Error, m),
            }
        } else {
            self.exchange
                .inbox(o, &terminal, fetch)
                .await
                .map_err(|e| (error_text(&e), kit_side(&e)))
        };
        let kit = got.as_ref().err().is_some_and(|(_, kit)| *kit);
        let judged = got
            .as_ref()
            .map(|i| plural(i.items, "item", "items"))
            .map_err(|(text, _)| text.clone());
        if let Some(c) = judge_error(st, judged) {
            return blame_kit(c, kit, st);
        }
        let Inbox {
            items,
            files,
            messages,
        } = got.unwrap_or_default();
        let messages: Vec<String> = messages.into_iter().filter(|m| !m.is_empty()).collect();
        let mut c = case(
            Verdict::Pass,
            if fetch {
                format!(
                    "{}, {} fetched on {terminal}",
                    plural(items, "new item", "new items"),
                    plural(files.len(), "file", "files")
                )
            } else {
                format!(
                    "{} listed on {terminal}",
                    plural(items, "new item", "new items")
                )
            },
        );
        c.log = files.iter().map(|f| f.name.clone()).collect();
        let expect = st.expect.clone().unwrap_or_default();
        if let Some(want) = expect.items {
            c = expect_count(c, want, items, "new items");
        }
        if c.verdict == Verdict::Pass
            && let Some(want) = expect.files
        {
            c = expect_count(c, want, files.len(), "files fetched");
        }
        if let Some(want) = &expect.message
            && !messages.iter().any(|m| m.contains(want.as_str()))
        {
            c = with(
                case(
                    Verdict::Fail,
                    format!("no item carries a message with «{want}»"),
                ),
                Some(format!("a message containing «{want}»")),
                Some(format!("{messages:?}")),
            );
        }
        c.log
            .extend(messages.iter().map(|m| format!("message: {m}")));
        if fetch {
            o.unimported.extend(files.iter().cloned());
            o.last_received = files;
        }
        c
    }

    fn import(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let files: Vec<StoredFile> = o.unimported.drain(..).collect();
        if files.is_empty() {
            return case(Verdict::Fail, "nothing was fetched to import");
        }
        let result = tokio::task::block_in_place(|| o.software.import(&files));
        let report = match software_result(result) {
            Err(kit) => return case(Verdict::Error, kit),
            Ok(Err(refused)) => {
                return judge_error(st, Err(refused))
                    .unwrap_or_else(|| case(Verdict::Fail, "refused"));
            }
            Ok(Ok(r)) => r,
        };
        o.last_imported = files
            .iter()
            .filter(|f| report.imported.contains(&f.name))
            .cloned()
            .collect();
        let mut log = report.journal.clone();
        log.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
        let refused_text: Vec<String> = report
            .refused
            .iter()
            .map(|r| format!("refused {}: {}", r.files.join(", "), r.reason))
            .collect();
        for r in &refused_text {
            if !log.contains(r) {
                log.push(r.clone());
            }
        }
        let expect = st.expect.clone().unwrap_or_default();
        let mut c = match (&expect.refused, report.refused.is_empty()) {
            (Some(want), false) => {
                let named: Vec<&String> = report.refused.iter().flat_map(|r| &r.rules).collect();
                let missing: Vec<&String> = want.iter().filter(|w| !named.contains(w)).collect();
                // A product under test reports refusals in its own words, without the kit's rule IDs.
                let sut = o.software.state().is_none();
                if missing.is_empty() || (sut && named.is_empty()) {
                    case(
                        Verdict::Pass,
                        format!("refused as expected: {}", refused_text.join("; ")),
                    )
                } else {
                    with(
                        case(Verdict::Fail, format!("refused, but without {missing:?}")),
                        Some(format!("refusal naming {want:?}")),
                        Some(refused_text.join("; ")),
                    )
                }
            }
            (Some(want), true) => with(
                case(Verdict::Fail, "imported, but a refusal was expected"),
                Some(format!("refusal naming {want:?}")),
                Some(format!(
                    "{} imported",
                    plural(report.imported.len(), "file", "files")
                )),
            ),
            (None, false) => match &expect.error {
                Some(w) if refused_text.iter().any(|r| r.contains(w.as_str())) => case(
                    Verdict::Pass,
                    format!("refused as expected: {}", refused_text.join("; ")),
                ),
                _ => with(
                    case(
                        Verdict::Fail,
                        refused_text.first().cloned().unwrap_or_default(),
                    ),
                    Some("every unit imported".to_owned()),
                    Some(refused_text.join("; ")),
                ),
            },
            (None, true) if expect.error.is_some() => with(
                case(Verdict::Fail, "imported, but an error was expected"),
                expect
                    .error
                    .as_ref()
                    .map(|w| format!("a refusal containing «{w}»")),
                Some(format!(
                    "{} imported",
                    plural(report.imported.len(), "file", "files")
                )),
            ),
            (None, true) if !report.warnings.is_empty() => case(
                Verdict::Warn,
                format!(
                    "{} imported with {}: {}",
                    plural(report.imported.len(), "file", "files"),
                    plural(report.warnings.len(), "warning", "warnings"),
                    report.warnings[0]
                ),
            ),
            (None, true) => case(
                Verdict::Pass,
                format!(
                    "{} imported",
                    plural(report.imported.len(), "file", "files")
                ),
            ),
        };
        c.log = log;
        c
    }

    fn edit(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let Some(kind) = st.kind else {
            return case(Verdict::Error, "edit: no kind");
        };
        let edit = Edit {
            kind,
            user: st.user.clone(),
            matching: st.matching.clone(),
            set: st.set.clone(),
            remove: st.remove,
        };
        match o.software.edit(&edit) {
            None => case(
                Verdict::NotApplicable,
                "the kit cannot change this product's data through command lines: give it the changed data with a load step, or drive it with the folder adapter",
            ),
            Some(r) => match software_result(r) {
                Err(kit) => case(Verdict::Error, kit),
                Ok(r) => judge_error(st, r.clone())
                    .unwrap_or_else(|| case(Verdict::Pass, r.unwrap_or_default())),
            },
        }
    }

    fn record(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let month = st.month.as_deref().and_then(parse_month);
        let result = tokio::task::block_in_place(|| o.software.record_actuals(month));
        match software_result(result) {
            Err(kit) => case(Verdict::Error, kit),
            Ok(r) => judge_error(st, r.clone())
                .unwrap_or_else(|| case(Verdict::Pass, r.unwrap_or_default())),
        }
    }
}
