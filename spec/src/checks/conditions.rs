//! Conditional requirements between the fields of one record (`[[required_when]]` in
//! `data/conditions.toml`): a field that must be filled when another holds a given value — stated by
//! the layout (CND001, e.g. 相談方法 03 → 相談方法(その他の内容)) or implied by the form (CND002, e.g.
//! a 第3表 weekly service without its day).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "conditions",
    summary: "fields required when another field holds a value (stated: error; implied: warning)",
    rules: &[RuleId::CndRequired, RuleId::CndExpected],
    hooks: &[Hook::Records {
        applies: |ctx| {
            data()
                .required_when
                .iter()
                .any(|c| c.kinds.contains(&ctx.kind))
        },
        new: |ctx| Box::new(Conditions::new(ctx)),
    }],
    covers,
};

/// One conditional requirement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredWhen {
    pub kinds: Vec<FileKind>,
    pub field: String,
    pub if_field: String,
    /// Values of `if_field` that require `field`.
    #[serde(default)]
    pub is: Vec<String>,
    /// Any value of `if_field` requires `field`.
    #[serde(default)]
    pub filled: bool,
    pub stated: bool,
    /// The layout's sentence (stated rules).
    pub quote: Option<String>,
    /// Why the form implies it (implied rules).
    pub why: Option<String>,
    pub why_ja: Option<String>,
    pub src: String,
}

/// Dates of one record that are a period: `from` is not after `to`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub kinds: Vec<FileKind>,
    pub from: String,
    pub to: String,
    pub src: String,
}

#[derive(Debug, Deserialize)]
pub struct ConditionFile {
    pub required_when: Vec<RequiredWhen>,
    pub order: Vec<Order>,
}

/// The data of `data/conditions.toml`.
pub fn data() -> &'static ConditionFile {
    static DATA: OnceLock<ConditionFile> = OnceLock::new();
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../../data/conditions.toml")).unwrap_or_else(|e| {
            panic!("spec/data/conditions.toml is invalid (a build-time data error): {e}")
        })
    })
}

/// A layout column by the name the data uses: `name`, or `name#n` for the n-th of a repeated name.
pub fn column(ctx: &FileContext, name: &str) -> Col {
    match name.rsplit_once('#') {
        Some((base, n)) if n.parse::<usize>().is_ok() => ctx.nth_col(base, n.parse().unwrap_or(1)),
        _ => ctx.col(name),
    }
}

struct Conditions {
    rules: Vec<(&'static RequiredWhen, Col, Col)>,
}

impl Conditions {
    fn new(ctx: &FileContext) -> Self {
        Self {
            rules: data()
                .required_when
                .iter()
                .filter(|c| c.kinds.contains(&ctx.kind))
                .map(|c| (c, column(ctx, &c.field), column(ctx, &c.if_field)))
                .filter(|(_, f, i)| f.is_present() && i.is_present())
                .collect(),
        }
    }
}

impl Check for Conditions {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        for &(c, field, if_field) in &self.rules {
            let trigger = rec.text(if_field);
            let applies = if c.filled {
                !trigger.is_empty()
            } else {
                c.is.iter().any(|v| v == trigger)
            };
            if !applies || !rec.text(field).is_empty() {
                continue;
            }
            let if_name = c.if_field.split('#').next().unwrap_or(&c.if_field);
            let f = if c.stated {
                rec.finding(RuleId::CndRequired, field)
                    .arg("quote", c.quote.as_deref().unwrap_or(""))
            } else {
                rec.finding(RuleId::CndExpected, field)
                    .arg("why", c.why.as_deref().unwrap_or(""))
                    .arg("why_ja", c.why_ja.as_deref().unwrap_or(""))
            };
            out.sink
                .push(f.arg("if_field", if_name).arg("if_value", trigger));
        }
    }
}

fn covers() -> Vec<super::Cover> {
    data()
        .required_when
        .iter()
        .flat_map(|c| {
            let rule = if c.stated {
                RuleId::CndRequired
            } else {
                RuleId::CndExpected
            };
            super::cover(&c.kinds, &[&c.field, &c.if_field], &[rule])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout;
    use crate::version::SpecVersion;

    #[test]
    fn every_condition_names_columns_of_its_kinds() {
        for c in &data().required_when {
            assert!(
                c.filled == c.is.is_empty(),
                "{}: either is or filled",
                c.field
            );
            assert!(
                c.stated == c.quote.is_some(),
                "{}: stated rules quote",
                c.field
            );
            assert!(
                c.stated != c.why.is_some(),
                "{}: implied rules say why",
                c.field
            );
            for &kind in &c.kinds {
                let view = layout::view(kind, SpecVersion::V41).expect("a layout");
                let ctx = FileContext {
                    name: None,
                    kind,
                    view,
                };
                assert!(column(&ctx, &c.field).is_present(), "{kind}: {}", c.field);
                assert!(
                    column(&ctx, &c.if_field).is_present(),
                    "{kind}: {}",
                    c.if_field
                );
            }
        }
        for o in &data().order {
            for &kind in &o.kinds {
                let view = layout::view(kind, SpecVersion::V41).expect("a layout");
                assert!(
                    view.col(&o.from).is_some() && view.col(&o.to).is_some(),
                    "{kind}"
                );
            }
        }
    }
}
