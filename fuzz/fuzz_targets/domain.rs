//! Fuzzes `Domain::parse`: it must never panic, and whatever it accepts must
//! format to XML that parses back to an equal model and formats identically.
#![no_main]

use hangar_core::xml::Domain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = Domain::parse(xml) else {
        return;
    };
    let text = first.to_xml();
    let second = match Domain::parse(&text) {
        Ok(d) => d,
        Err(e) => panic!("formatted domain does not parse: {e}\n{text}"),
    };
    assert_eq!(first, second, "model changed through format:\n{text}");
    assert_eq!(text, second.to_xml(), "formatting is not a fixed point");
});
