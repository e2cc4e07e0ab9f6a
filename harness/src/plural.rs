//! Counts in English messages: "1 file", "2 files" (reports, JUnit text, the binary's output).

/// `n` with the singular or plural noun: `plural(1, "file", "files")` is "1 file".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(plural(0, "file", "files"), "0 files");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(2, "new item", "new items"), "2 new items");
    }
}
