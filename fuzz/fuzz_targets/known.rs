//! Failures already found and reported, tolerated only when `VAPP_FUZZ_KNOWN` names them (a comma-
//! separated list), so that a run can reach its count of inputs while the bug is open. Without the
//! variable every target is strict. The inputs that show each one are in `fuzz/regressions/`.
//!
//! - `float-roundtrip`: serde_json (without its `float_roundtrip` feature) does not always read a
//!   number back as the f64 it wrote, so a float (or an integer beyond 64 bits) in a document may come
//!   back one unit in the last place away: a saved plan reads back unequal, and a state written with
//!   such a number fails its own checksum when read again.
//! - `encrypted-open-key`: an encrypted state holding a plain `private_key` decodes without a
//!   passphrase but cannot be encoded again (`EncodeError::NoSealer`).
#![allow(dead_code)]

use std::sync::OnceLock;

use serde_json::Value;

pub fn tolerated(name: &str) -> bool {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("VAPP_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|k| k == name)
}

/// Whether `value` holds a number that is neither an i64 nor a u64.
pub fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

/// Equal, but for floats that differ by a few units in the last place.
pub fn nearly_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| nearly_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len() && xs.iter().all(|(k, x)| ys.get(k).is_some_and(|y| nearly_equal(x, y)))
        }
        _ => a == b,
    }
}
