//! The known causes (`harness/data/support_causes.toml`): what each is, who fixes it and how, which
//! rules and exchange codes are its evidence, and the error texts that point to it; and matching a
//! pasted error text against those texts.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Who should make the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Sender,
    Receiver,
    Setup,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sender => "sender / 送信側",
            Self::Receiver => "receiver / 受信側",
            Self::Setup => "the office's set-up / 事業所の環境",
        }
    }
}

/// One known cause.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
    pub side: Side,
    pub fix_ja: String,
    pub fix_en: String,
    pub weight: u32,
    pub rules: Vec<String>,
    pub hub_codes: Vec<String>,
    pub texts: Vec<String>,
    pub refs: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    cause: Vec<Cause>,
}

/// Every cause, in table order (the order breaks ties in the ranking).
pub fn causes() -> &'static [Cause] {
    static C: OnceLock<Vec<Cause>> = OnceLock::new();
    C.get_or_init(|| {
        toml::from_str::<File>(include_str!("../../../data/support_causes.toml"))
            .unwrap_or_else(|e| panic!("harness/data/support_causes.toml is invalid: {e}"))
            .cause
    })
}

/// A cause by id. Detectors name causes by id; a test checks that every id they use exists.
pub fn cause(id: &str) -> Option<&'static Cause> {
    causes().iter().find(|c| c.id == id)
}

/// The cause whose evidence a rule is.
pub fn cause_of_rule(rule: &str) -> Option<&'static Cause> {
    causes().iter().find(|c| c.rules.iter().any(|r| r == rule))
}

/// The cause whose evidence an exchange refusal code is.
pub fn cause_of_code(code: &str) -> Option<&'static Cause> {
    causes()
        .iter()
        .find(|c| c.hub_codes.iter().any(|r| r == code))
}

/// Text as compared: without whitespace, brackets and punctuation, full-width ASCII folded to
/// half-width, lower-case.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c as u32 {
                0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            let drop =
                c.is_whitespace() || "「」『』“”\"'。、．，.,!！?？・：:（）()【】[]".contains(c);
            (!drop).then(|| c.to_ascii_lowercase())
        })
        .collect()
}

/// The causes a pasted text points to, with the known text it matched.
pub fn match_text(pasted: &str) -> Vec<(&'static Cause, &'static str)> {
    let p = normalize(pasted);
    if p.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in causes() {
        let hit = c.texts.iter().find(|t| {
            let k = normalize(t);
            !k.is_empty() && (p.contains(&k) || (p.chars().count() >= 6 && k.contains(&p)))
        });
        if let Some(t) = hit {
            out.push((c, t.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_table_is_consistent_with_the_rules_and_the_exchange() {
        let mut ids = BTreeSet::new();
        let mut rules = BTreeSet::new();
        let mut codes = BTreeSet::new();
        for c in causes() {
            assert!(ids.insert(c.id.as_str()), "{} twice", c.id);
            assert!(c.weight <= 100, "{}", c.id);
            for r in &c.rules {
                assert!(
                    careplan_spec::RuleId::from_id(r).is_some(),
                    "{}: unknown rule {r}",
                    c.id
                );
                assert!(rules.insert(r.as_str()), "{r} belongs to two causes");
            }
            for code in &c.hub_codes {
                let parsed: Result<careplan_mock_server::error::Code, _> =
                    serde_json::from_value(serde_json::Value::String(code.clone()));
                assert!(parsed.is_ok(), "{}: unknown exchange code {code}", c.id);
                assert!(codes.insert(code.as_str()), "{code} belongs to two causes");
            }
        }
    }

    #[test]
    fn field_texts_find_their_causes() {
        let ids = |t: &str| -> Vec<&str> {
            match_text(t)
                .into_iter()
                .map(|(c, _)| c.id.as_str())
                .collect()
        };
        let name_error = careplan_mock_server::error::MSG_FILE_NAME_FORMAT;
        let found = ids(name_error);
        assert!(found.contains(&"v41-names-old-client"), "{found:?}");
        assert!(found.contains(&"v41-names-v3-reader"), "{found:?}");
        // A fragment, with other spacing and brackets, still matches.
        assert!(ids("「添付ファイル名の形式に 誤りがあります」").contains(&"v41-names-old-client"));
        assert_eq!(
            ids(careplan_mock_server::error::MSG_DESTINATION),
            vec!["destination-not-registered"]
        );
        assert!(ids("ヘルプの実績が消えた").contains(&"same-office-multi-service"));
        assert!(
            ids("予定をCSVで取り込んでいない利用者の実績は作成できません")
                .contains(&"actuals-without-plan")
        );
        assert!(ids("").is_empty());
        assert!(ids("こんにちは").is_empty());
    }
}
