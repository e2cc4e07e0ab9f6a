//! File names: parsing never panics, and a name that parses formats back to itself.
#![no_main]

use careplan_spec::FileName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(name) = FileName::parse(text) {
        let again = name.to_string();
        let back = FileName::parse(&again).expect("a formatted name parses");
        assert_eq!(back, name, "{text:?} → {again:?}");
    }
});
