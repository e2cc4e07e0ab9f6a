//! Lexical paths inside the embedded tree, shared by `harness/build.rs` (which includes this file)
//! and `suite`: `/`-separated, relative, with `.` and `..` applied and no file system access.

/// `scenarios/../golden/./x` → `golden/x`; None when the path climbs above its start.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}
