//! Body fingerprints: a 64-bit hash of a body's bytes, or of its JSON value
//! whatever the key order and spacing, so that the cassette's replay index
//! and the router's index can look a request up by body instead of checking
//! it against every recorded request or route that shares its method and
//! URI (GraphQL, JSON-RPC).
//!
//! Equal bodies (by the matchers' own equality) always get equal
//! fingerprints; different ones almost never do, and the callers still run
//! the full comparison on what the fingerprint finds, so a collision costs a
//! check, never a wrong answer.

use std::hash::{BuildHasher, Hash, Hasher};

use serde_json::Value;

/// A fixed seed: fingerprints are only compared within one process, but a
/// fixed one keeps them reproducible when debugging.
fn hasher() -> impl Hasher {
    foldhash::quality::FixedState::with_seed(0x7769_7265_7461_7065).build_hasher()
}

/// The fingerprint of `bytes`, for byte-exact matchers.
pub(crate) fn of_bytes(bytes: &[u8]) -> u64 {
    let mut state = hasher();
    bytes.hash(&mut state);
    state.finish()
}

/// The fingerprint of a JSON value: equal for values that `==` calls equal
/// (object keys in any order, `-0.0` and `0.0`), so never for `1` and `1.0`.
pub(crate) fn of_json(value: &Value) -> u64 {
    let mut state = hasher();
    hash_json(value, &mut state);
    state.finish()
}

/// The fingerprint of `bytes` parsed as JSON, or `None` when they are not.
pub(crate) fn of_json_bytes(bytes: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .map(|value| of_json(&value))
}

fn hash_json(value: &Value, state: &mut impl Hasher) {
    match value {
        Value::Null => state.write_u8(0),
        Value::Bool(b) => {
            state.write_u8(1);
            b.hash(state);
        }
        // serde_json compares numbers by kind (unsigned, negative, float),
        // then by value; the hash follows the same split.
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                state.write_u8(2);
                u.hash(state);
            } else if let Some(i) = n.as_i64() {
                state.write_u8(3);
                i.hash(state);
            } else {
                let f = n.as_f64().unwrap_or_default();
                state.write_u8(4);
                // `-0.0 == 0.0`, so both hash as `0.0`.
                (if f == 0.0 { 0.0f64 } else { f }).to_bits().hash(state);
            }
        }
        Value::String(s) => {
            state.write_u8(5);
            s.hash(state);
        }
        Value::Array(items) => {
            state.write_u8(6);
            state.write_usize(items.len());
            items.iter().for_each(|item| hash_json(item, state));
        }
        Value::Object(map) => {
            state.write_u8(7);
            state.write_usize(map.len());
            // Sorted here rather than trusting the map's order: another crate
            // may turn on serde_json's `preserve_order`.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            for (key, value) in entries {
                key.hash(state);
                hash_json(value, state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> u64 {
        of_json_bytes(text.as_bytes()).expect("valid JSON")
    }

    #[test]
    fn equal_json_values_share_a_fingerprint() {
        assert_eq!(
            json(r#"{"a":1,"b":[true,null,"x"],"c":{"d":-2,"e":0.5}}"#),
            json(r#"{ "c": {"e": 0.5, "d": -2}, "b": [true, null, "x"], "a": 1 }"#)
        );
        assert_eq!(json("-0.0"), json("0.0"));
    }

    #[test]
    fn different_json_values_do_not() {
        assert_ne!(json(r#"{"a":1}"#), json(r#"{"a":1.0}"#));
        assert_ne!(json(r#"{"a":1}"#), json(r#"{"a":2}"#));
        assert_ne!(json(r#"[1,2]"#), json(r#"[2,1]"#));
        assert_ne!(json(r#"{"a":[1],"b":[]}"#), json(r#"{"a":[],"b":[1]}"#));
        assert_ne!(json(r#""1""#), json("1"));
    }

    #[test]
    fn bytes_are_fingerprinted_exactly() {
        assert_eq!(of_bytes(b"abc"), of_bytes(b"abc"));
        assert_ne!(of_bytes(b"abc"), of_bytes(b"abd"));
        assert_eq!(of_json_bytes(b"not json"), None);
    }
}
