//! The Kubernetes Secret that carries the `.env` into the cluster.
//!
//! The manifest is a JSON value (kubectl reads JSON as YAML) with every
//! value base64 in `data`, so no value needs escaping and none can change on
//! the way. It only ever travels to kubectl's stdin: [`Manifest`] has no
//! `Display`, and its `Debug` shows key names only.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The most a Secret may hold: Kubernetes refuses a Secret whose values add
/// up to more than 1 MiB.
pub const MAX_SECRET_BYTES: usize = 1024 * 1024;

/// The longest key Kubernetes accepts in a Secret or ConfigMap.
pub const MAX_KEY_LEN: usize = 253;

/// Whether Kubernetes accepts `key` as a Secret key: `[-._a-zA-Z0-9]+`, at
/// most 253 characters, and not `.`, `..` or starting with `..`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && key != "."
        && !key.starts_with("..")
}

/// Why no manifest could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("{key:?} cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'")]
    BadKey { key: String },
    #[error(
        "the Secret would hold {bytes} bytes, over the {MAX_SECRET_BYTES} bytes (1 MiB) Kubernetes allows; largest value: {largest}"
    )]
    TooLarge { bytes: usize, largest: String },
    #[error("the Secret would be empty: the configuration has no value to sync")]
    Empty,
}

/// A Secret manifest, ready for kubectl's stdin.
pub struct Manifest {
    name: String,
    namespace: String,
    keys: Vec<String>,
    json: Vec<u8>,
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manifest")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Manifest {
    /// Builds the Secret `name` in `namespace` holding `entries`.
    pub fn build<'a>(
        name: &str,
        namespace: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SecretError> {
        let mut data = serde_json::Map::new();
        let mut total = 0usize;
        let mut largest: (usize, &str) = (0, "");
        for (key, value) in entries {
            if !is_valid_key(key) {
                return Err(SecretError::BadKey { key: key.to_owned() });
            }
            total += value.len();
            if value.len() > largest.0 {
                largest = (value.len(), key);
            }
            data.insert(key.to_owned(), serde_json::Value::String(BASE64.encode(value)));
        }
        if data.is_empty() {
            return Err(SecretError::Empty);
        }
        if total > MAX_SECRET_BYTES {
            return Err(SecretError::TooLarge { bytes: total, largest: largest.1.to_owned() });
        }
        let keys = data.keys().cloned().collect();
        let manifest = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": { "name": name, "namespace": namespace },
            "data": data,
        });
        Ok(Manifest {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            keys,
            json: manifest.to_string().into_bytes(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The keys it holds, sorted.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The serialized manifest, for kubectl's stdin only.
    pub fn into_bytes(self) -> Vec<u8> {
        self.json
    }
}

/// Replaces every occurrence of a secret value (and of its base64 form) in
/// `text` with `<redacted>`, for output of another program that we show to
/// the user. Values shorter than 4 bytes are left alone: they would match
/// everywhere and reveal nothing.
pub fn redact<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut needles: Vec<String> = Vec::new();
    for value in secrets {
        if value.len() >= 4 {
            needles.push(value.to_owned());
            needles.push(BASE64.encode(value));
        }
    }
    // Longest first, so that a value containing another is removed whole.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_owned();
    for needle in &needles {
        out = out.replace(needle.as_str(), "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_an_opaque_secret_with_base64_data() {
        let m = Manifest::build("s", "ns", [("B", "two"), ("A", "1")]).unwrap();
        assert_eq!(m.keys(), ["A", "B"]);
        let json: serde_json::Value = serde_json::from_slice(&m.into_bytes()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "s", "namespace": "ns"},
                "data": {"A": "MQ==", "B": "dHdv"},
            })
        );
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let m = Manifest::build("s", "ns", [("TOKEN", "hunter2-secret")]).unwrap();
        let debug = format!("{m:?}");
        assert!(debug.contains("TOKEN"));
        assert!(!debug.contains("hunter2") && !debug.contains(&BASE64.encode("hunter2-secret")));
    }

    #[test]
    fn keys_follow_kubernetes() {
        for ok in ["A", "a.b", "x-y_z", "_", ".a", &"k".repeat(253)] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in ["", ".", "..", "..a", "a b", "a/b", "ä", "a=b", &"k".repeat(254)] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        assert_eq!(Manifest::build("s", "ns", [("a b", "1")]).unwrap_err(), SecretError::BadKey { key: "a b".into() });
    }

    #[test]
    fn size_limit_is_one_mebibyte_of_values() {
        let at_limit = "x".repeat(MAX_SECRET_BYTES - 1);
        assert!(Manifest::build("s", "ns", [("A", at_limit.as_str()), ("B", "y")]).is_ok());
        let err = Manifest::build("s", "ns", [("A", at_limit.as_str()), ("B", "yz")]).unwrap_err();
        assert_eq!(err, SecretError::TooLarge { bytes: MAX_SECRET_BYTES + 1, largest: "A".into() });
    }

    #[test]
    fn redaction_removes_plain_and_base64_forms() {
        let text = "error: value hunter2-secret and aHVudGVyMi1zZWNyZXQ= and abc";
        assert_eq!(redact(text, ["hunter2-secret", "abc"]), "error: value <redacted> and <redacted> and abc");
    }

    proptest::proptest! {
        #[test]
        fn values_round_trip_through_base64(value in "\\PC{0,64}", nl in proptest::bool::ANY) {
            let value = if nl { format!("{value}\n{value}") } else { value };
            let m = Manifest::build("s", "ns", [("K", value.as_str())]).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&m.into_bytes()).unwrap();
            let b64 = json["data"]["K"].as_str().unwrap();
            proptest::prop_assert_eq!(BASE64.decode(b64).unwrap(), value.as_bytes());
        }
    }
}
