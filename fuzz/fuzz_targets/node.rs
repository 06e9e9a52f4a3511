//! Fuzzes `NodeFile::parse`: it must never panic, and whatever it accepts must
//! format to XML that parses again.
#![no_main]

use hangar_core::xml::NodeFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = NodeFile::parse(xml) else {
        return;
    };
    let text = first.to_xml();
    if let Err(e) = NodeFile::parse(&text) {
        panic!("formatted node XML does not parse: {e}\n{text}");
    }
});
