//! Fuzzes `Network::parse`: it must never panic, and whatever it accepts must
//! format to XML that parses again.
#![no_main]

use hangar_core::xml::Network;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = Network::parse(xml) else {
        return;
    };
    let text = first.to_xml();
    if let Err(e) = Network::parse(&text) {
        panic!("formatted network XML does not parse: {e}\n{text}");
    }
});
