//! The scenario reader (`vapp simulate run`): any bytes are scenarios or diagnostics at a place in the
//! file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match vapp::webhooks::scenario::read(std::path::Path::new("fuzz.yaml"), text) {
        Ok(scenarios) => assert!(scenarios.len() <= vapp::webhooks::scenario::MAX_SCENARIOS),
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a refusal says why");
            for d in diagnostics {
                let _ = d.to_string();
            }
        }
    }
});
