//! Users unrelated to the receiver (S4 L465-478, L597-608): a 第6表 予定 file goes to a service
//! office with the users that office serves — each user has at least one row whose
//! サービス事業者コード is the receiving office ("送信先事業所に関係ない利用者は送信しない制御が行われる想定").
//! The text states an expectation, so this is a warning.

use std::collections::BTreeMap;

use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::unitdef::key_columns;

use super::{Check, Col, Family, FileContext, Hook, KeyBuf, Out, Record, key_cols, upsert};

pub static FAMILY: Family = Family {
    id: "relevance",
    summary: "every user of a 予定 file has a service of the receiving office",
    rules: &[RuleId::RelUnrelatedUser],
    hooks: &[Hook::Records {
        applies: |ctx| ctx.kind == FileKind::UpPlan && ctx.name.is_some(),
        new: |ctx| Box::new(Relevance::new(ctx)),
    }],
    covers,
};

struct Relevance {
    receiver: String,
    user: Vec<Col>,
    office: Col,
    /// User → (start of the first record, record number, served by the receiver).
    users: BTreeMap<String, (Location, u32, bool)>,
    key: KeyBuf,
    /// Whether the user of the previous record is served already.
    last_served: bool,
}

impl Relevance {
    fn new(ctx: &FileContext) -> Self {
        Self {
            receiver: ctx
                .name
                .map(|n| n.receiver.office.to_string())
                .unwrap_or_default(),
            user: key_cols(ctx, key_columns(ctx.kind.prefix())),
            office: ctx.col("サービス事業者コード"),
            users: BTreeMap::new(),
            key: KeyBuf::default(),
            last_served: false,
        }
    }
}

impl Check for Relevance {
    fn record(&mut self, rec: &Record, _out: &mut Out) {
        if self
            .key
            .of(rec, &self.user[..2.min(self.user.len())])
            .is_none()
        {
            return;
        }
        let served = super::same(rec.text(self.office), &self.receiver);
        // The previous record's user is in the map already, and served when `last_served`.
        if self.key.repeats() && (!served || self.last_served) {
            return;
        }
        let mut now_served = false;
        upsert(
            &mut self.users,
            self.key.get(),
            || (rec.raw.start.into(), rec.raw.number, false),
            |entry| {
                entry.2 |= served;
                now_served = entry.2;
            },
        );
        self.last_served = now_served;
    }

    fn finish(&mut self, _file: &FileContext, out: &mut Out) {
        for (user, (at, record, served)) in std::mem::take(&mut self.users) {
            if !served {
                out.sink.push(
                    Finding::new(RuleId::RelUnrelatedUser)
                        .at(at)
                        .record(record)
                        .arg("user", user)
                        .arg("receiver", &self.receiver),
                );
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    super::cover(&[FileKind::UpPlan], &["サービス事業者コード"], FAMILY.rules)
}
