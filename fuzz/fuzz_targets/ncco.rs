//! The NCCO reader: any bytes are an NCCO or a problem, never a panic; an NCCO read is written and read
//! back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vapp::webhooks::ncco::{read_ncco, MAX_NCCO_BYTES};

fuzz_target!(|data: &[u8]| {
    let ncco = match read_ncco(data) {
        Ok(ncco) => ncco,
        Err(problem) => {
            let _ = problem.to_string();
            return;
        }
    };
    let _ = ncco.notifies().count();
    let bytes = serde_json::to_vec(&ncco.actions).expect("an NCCO serialises");
    // Written compactly an NCCO is rarely longer, but numbers can be (`1e2` is written `100.0`).
    if bytes.len() > MAX_NCCO_BYTES {
        return;
    }
    let back = read_ncco(&bytes).expect("a serialised NCCO reads back");
    assert_eq!(back, ncco, "an NCCO reads back equal");
});
