//! Validation profiles (`data/profiles.toml`): named severity overrides over the rule catalogue.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::rules::RuleId;
use crate::severity::Severity;

/// A named set of severity overrides.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    overrides: Vec<(RuleId, Severity)>,
}

#[derive(Deserialize)]
struct ProfileEntry {
    description: String,
    overrides: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ProfileFile {
    profiles: BTreeMap<String, ProfileEntry>,
}

fn profiles() -> &'static [Profile] {
    static PROFILES: OnceLock<Vec<Profile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        let file: ProfileFile = toml::from_str(include_str!("../data/profiles.toml"))
            .unwrap_or_else(|e| {
                panic!("spec/data/profiles.toml is invalid (a build-time data error): {e}")
            });
        file.profiles
            .into_iter()
            .map(|(name, entry)| {
                let overrides = entry
                    .overrides
                    .iter()
                    .map(|(id, sev)| {
                        let rule = RuleId::from_id(id)
                            .unwrap_or_else(|| panic!("profile {name}: unknown rule {id}"));
                        let sev = Severity::parse(sev)
                            .unwrap_or_else(|| panic!("profile {name}: bad severity {sev}"));
                        (rule, sev)
                    })
                    .collect();
                Profile {
                    name,
                    description: entry.description,
                    overrides,
                }
            })
            .collect()
    })
}

impl Profile {
    pub fn named(name: &str) -> Option<&'static Profile> {
        profiles().iter().find(|p| p.name == name)
    }

    pub fn standard() -> &'static Profile {
        Self::named("standard").expect("profiles.toml defines `standard`")
    }

    pub fn all() -> &'static [Profile] {
        profiles()
    }

    /// The severity of `rule` under this profile.
    pub fn severity(&self, rule: RuleId) -> Severity {
        self.overrides
            .iter()
            .find(|(r, _)| *r == rule)
            .map(|(_, s)| *s)
            .unwrap_or(rule.rule().severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_load_and_override() {
        assert_eq!(
            Profile::standard().severity(RuleId::EncNecSpecial),
            Severity::Warning
        );
        assert_eq!(
            Profile::named("strict")
                .unwrap()
                .severity(RuleId::EncNecSpecial),
            Severity::Error
        );
        assert_eq!(
            Profile::named("lenient")
                .unwrap()
                .severity(RuleId::FldTextUnquoted),
            Severity::Warning
        );
        assert!(Profile::named("nope").is_none());
    }
}
