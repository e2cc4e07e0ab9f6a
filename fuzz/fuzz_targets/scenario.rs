//! Scenario files: parsing and lint never panic, and every error points inside the text.
#![no_main]

use std::path::Path;

use careplan_harness::scenario::{Scenario, lint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let path = Path::new("fuzz.toml");
    match Scenario::parse(path, text.to_owned()) {
        Ok(s) => {
            for e in lint(&s) {
                let _ = e.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
