//! Rewriting the fixture and attachment paths of a scenario file in its text, leaving every other
//! byte (comments, order, formatting) as written: for `cpkit shrink` (the scenario on the minimal
//! files) and replay bundles (the scenario on the bundle's own copies of its inputs).

use crate::scenario::{Scenario, Step};

/// The paths a step reads: its `fixture`, then its `attach` list.
pub fn step_paths(step: &Step) -> Vec<&String> {
    let mut paths: Vec<&String> = step.fixture.iter().collect();
    paths.extend(&step.attach);
    paths
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The scenario's text with each step's `fixture` and `attach` paths replaced by `new_path(path)`.
/// A step's span is its `[[step]]` header: its body runs to the next table header.
pub fn rewrite_paths(s: &Scenario, mut new_path: impl FnMut(&str) -> String) -> String {
    let mut text = s.text.clone();
    let mut starts: Vec<usize> = s
        .file
        .steps
        .iter()
        .map(|st| st.span().start)
        .chain(s.file.offices.iter().map(|o| o.span().start))
        .collect();
    starts.sort_unstable();
    let end_of = |start: usize| {
        starts
            .iter()
            .copied()
            .find(|&x| x > start)
            .unwrap_or(s.text.len())
    };
    // Edit from the last step backwards so that offsets stay valid.
    let mut steps: Vec<_> = s.file.steps.iter().collect();
    steps.sort_by_key(|st| std::cmp::Reverse(st.span().start));
    for st in steps {
        let span = st.span().start..end_of(st.span().start);
        let mut body = text[span.clone()].to_owned();
        for p in step_paths(st.get_ref()) {
            body = body.replacen(&quote(p), &quote(&new_path(p)), 1);
        }
        text.replace_range(span, &body);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_paths_of_steps_change() {
        let text = r#"# a comment naming "../golden/a"
[scenario]
name = "x"

[[office]]
id = "cm"
number = "0310000100"
service_types = ["43"]
software = "reference-v4"

[[step]]
action = "load"
office = "cm"
fixture = "../golden/a"

[[step]]
action = "send"
office = "cm"
to = "cm"
attach = ["fixtures/note.pdf", "../golden/a"]
"#;
        let s = Scenario::parse(std::path::Path::new("x.toml"), text.to_owned()).unwrap();
        let out = rewrite_paths(&s, |p| format!("inputs/{}", p.replace('/', "_")));
        assert!(
            out.starts_with("# a comment naming \"../golden/a\"\n"),
            "{out}"
        );
        assert!(out.contains("fixture = \"inputs/.._golden_a\""), "{out}");
        assert!(
            out.contains(r#"attach = ["inputs/fixtures_note.pdf", "inputs/.._golden_a"]"#),
            "{out}"
        );
    }
}
