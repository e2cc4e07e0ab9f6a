//! The サービス種類別限度額 枠 of 利用者補足情報 (`data/hosoku_frames.toml`): frames are filled from
//! 枠1 in order without gaps; a frame with units names its service type; 短期入所療養介護 is written as
//! 22 (and, by analogy, 介護予防短期入所療養介護 as 25).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "frames",
    summary: "補足 サービス種類別限度額 枠: filled from 枠1 in order, typed, 短期入所療養介護 as 22",
    rules: &[
        RuleId::HskFrameGap,
        RuleId::HskFrameWithoutType,
        RuleId::HskShortStayType,
        RuleId::HskShortStayTypeYobo,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| ctx.kind == data().kind,
        new: |ctx| Box::new(Frames::new(ctx)),
    }],
    covers,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameData {
    pub kind: FileKind,
    pub src: String,
    pub labels: Vec<String>,
    pub type_column: String,
    pub value_columns: Vec<String>,
    pub replace: Vec<Replace>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    pub types: Vec<String>,
    pub with: String,
    pub stated: bool,
}

/// The data of `data/hosoku_frames.toml`.
pub fn data() -> &'static FrameData {
    static DATA: OnceLock<FrameData> = OnceLock::new();
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../../data/hosoku_frames.toml")).unwrap_or_else(|e| {
            panic!("spec/data/hosoku_frames.toml is invalid (a build-time data error): {e}")
        })
    })
}

/// One frame's columns.
struct Frame {
    label: &'static str,
    service_type: Col,
    values: Vec<Col>,
}

struct Frames {
    frames: Vec<Frame>,
}

impl Frames {
    fn new(ctx: &FileContext) -> Self {
        let d = data();
        Self {
            frames: d
                .labels
                .iter()
                .map(|n| Frame {
                    label: n,
                    service_type: ctx.col(&d.type_column.replace("{n}", n)),
                    values: d
                        .value_columns
                        .iter()
                        .map(|c| ctx.col(&c.replace("{n}", n)))
                        .collect(),
                })
                .collect(),
        }
    }
}

impl Check for Frames {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let mut first_gap: Option<&str> = None;
        for frame in &self.frames {
            let stype = rec.text(frame.service_type);
            let has_values = frame.values.iter().any(|&c| !rec.text(c).is_empty());
            if stype.is_empty() && !has_values {
                first_gap.get_or_insert(frame.label);
                continue;
            }
            if let Some(gap) = first_gap {
                let at = if stype.is_empty() {
                    frame
                        .values
                        .iter()
                        .copied()
                        .find(|&c| !rec.text(c).is_empty())
                        .unwrap_or(frame.service_type)
                } else {
                    frame.service_type
                };
                out.sink.push(
                    rec.finding(RuleId::HskFrameGap, at)
                        .arg("frame", frame.label)
                        .arg("gap", gap),
                );
                // One finding per gap: the frames after it are shifted as a whole.
                first_gap = None;
            }
            if stype.is_empty() {
                out.sink.push(
                    rec.finding(RuleId::HskFrameWithoutType, frame.service_type)
                        .arg("frame", frame.label),
                );
                continue;
            }
            if let Some(r) = data()
                .replace
                .iter()
                .find(|r| r.types.iter().any(|t| t == stype))
            {
                let rule = if r.stated {
                    RuleId::HskShortStayType
                } else {
                    RuleId::HskShortStayTypeYobo
                };
                out.sink
                    .push(rec.finding(rule, frame.service_type).value(stype));
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    let d = data();
    let mut out = Vec::new();
    for n in &d.labels {
        let stype = d.type_column.replace("{n}", n);
        out.extend(super::cover(&[d.kind], &[&stype], FAMILY.rules));
        for c in &d.value_columns {
            let c = c.replace("{n}", n);
            out.extend(super::cover(
                &[d.kind],
                &[&c],
                &[RuleId::HskFrameGap, RuleId::HskFrameWithoutType],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout;
    use crate::version::SpecVersion;

    #[test]
    fn the_frames_name_columns_of_the_layout() {
        let d = data();
        for version in [SpecVersion::V3, SpecVersion::V41] {
            let view = layout::view(d.kind, version).unwrap();
            for n in &d.labels {
                assert!(view.col(&d.type_column.replace("{n}", n)).is_some(), "{n}");
                for c in &d.value_columns {
                    assert!(view.col(&c.replace("{n}", n)).is_some(), "{n} {c}");
                }
            }
        }
        assert_eq!(d.labels.len(), 9);
    }
}
