//! The state loader: any bytes decode to a state or an error; a decoded state encodes, and decodes
//! again to the same applications.
//!
//! A state carries a SHA-256 checksum that random bytes never match, so each input is decoded three
//! times: as it is; re-serialised with its checksum put right; and as it is with the right checksum
//! spliced in before its closing brace (the input's own number literals, escapes and spacing kept),
//! which lets the fuzzer reach the typed reading behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vapp::state::codec::{decode, encode};

fn check(bytes: &[u8]) {
    let Ok(state) = decode(bytes, None) else { return };
    let encoded = encode(&state).unwrap_or_else(|e| panic!("a decoded state encodes: {e:?}"));
    let again = decode(&encoded, None).unwrap_or_else(|e| panic!("an encoded state decodes: {e:?}"));
    assert_eq!(again.applications, state.applications, "the applications survive encode and decode");
    assert_eq!((&again.lineage, again.serial), (&state.lineage, state.serial));
}

/// The checksum `decode` expects of a document: over the compact JSON of the parsed document without
/// its `checksum`, as `decode` computes it.
fn checksum_of(bytes: &[u8]) -> Option<String> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    value.as_object_mut()?.remove("checksum");
    Some(Sha256::digest(serde_json::to_vec(&value).ok()?).iter().map(|b| format!("{b:02x}")).collect())
}

/// The document re-serialised with the right checksum.
fn reserialised(bytes: &[u8]) -> Option<Vec<u8>> {
    let sum = checksum_of(bytes)?;
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    value.as_object_mut()?.insert("checksum".into(), Value::String(sum));
    serde_json::to_vec(&value).ok()
}

/// The input itself with `,"checksum":"…"` before its last `}` (a later duplicate key wins).
fn spliced(bytes: &[u8]) -> Option<Vec<u8>> {
    const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let end = bytes.iter().rposition(|&b| b == b'}')?;
    let before = &bytes[..end];
    let empty = before.iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut out = before.to_vec();
    let at = out.len() + if empty { 0 } else { 1 } + "\"checksum\":\"".len();
    out.extend_from_slice(if empty { b"\"checksum\":\"" } else { b",\"checksum\":\"" });
    out.extend_from_slice(PLACEHOLDER.as_bytes());
    out.extend_from_slice(b"\"");
    out.extend_from_slice(&bytes[end..]);
    let sum = checksum_of(&out)?;
    out[at..at + PLACEHOLDER.len()].copy_from_slice(sum.as_bytes());
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reserialised(data) {
        check(&fixed);
    }
    if let Some(fixed) = spliced(data) {
        check(&fixed);
    }
});
