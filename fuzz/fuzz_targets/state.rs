//! The state loader: any bytes decode to a state or an error; a decoded state encodes and decodes again
//! to the same applications.
//!
//! A state carries a SHA-256 checksum that random bytes never match, so each input is decoded twice:
//! as it is, and (when it is a JSON object) with its checksum put right, which lets the fuzzer reach the
//! typed reading behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vapp::state::codec::{decode, encode};

fn check(bytes: &[u8]) {
    let Ok(state) = decode(bytes, None) else { return };
    let encoded = encode(&state).expect("a decoded state encodes");
    let again = decode(&encoded, None).expect("an encoded state decodes");
    assert_eq!(again.applications, state.applications, "the applications survive encode and decode");
    assert_eq!((&again.lineage, again.serial), (&state.lineage, state.serial));
}

fn with_checksum(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object_mut()?;
    object.remove("checksum");
    let sum: String = Sha256::digest(serde_json::to_vec(&value).ok()?).iter().map(|b| format!("{b:02x}")).collect();
    value.as_object_mut()?.insert("checksum".into(), Value::String(sum));
    serde_json::to_vec(&value).ok()
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = with_checksum(data) {
        check(&fixed);
    }
});
