//! The manifest loader: any text is either a set of applications or diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vapp::manifest::{load_sources, yaml_document, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sources = [Source { path: "fuzz.yaml".into(), text: text.to_string() }];
    let lookup = |name: &str| (name == "SET").then(|| "value".to_string());
    let _ = load_sources(&sources, &lookup);
    let _ = yaml_document(text);
});
