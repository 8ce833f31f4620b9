//! The researcher's password: their user name, as they are told today, in
//! /etc/shadow as SHA-512 crypt (`$6$`), which every PAM and `su` accepts.
//!
//! The hash uses the fewest rounds the scheme allows (1000, written into the
//! hash as `rounds=1000`). Key stretching makes a leaked hash slow to
//! crack, but this password is the user name, which is public: the extra
//! rounds would protect nothing and cost a millisecond at every pod start,
//! when the existing hash is verified.
//!
//! A hash that already verifies is kept: a fresh hash has a fresh salt, and
//! rewriting /etc/shadow on every restart would break the byte-identical
//! restart and wear the backup file for nothing.

use sha_crypt::{Algorithm, Params, PasswordHasher, PasswordVerifier, ShaCrypt};

use crate::sys;

/// Whether `hash` is a SHA-crypt hash of `password` (other schemes, `!`,
/// `*` or an empty field: no, and the hash is replaced).
pub fn verifies(password: &str, hash: &str) -> bool {
    (hash.starts_with("$6$") || hash.starts_with("$5$"))
        && ShaCrypt::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A new `$6$` hash of `password` with a random 12-byte salt, or `None` if
/// the kernel would give no randomness (the caller then leaves the entry).
pub fn hash(password: &str) -> Option<String> {
    let mut salt = [0u8; 12];
    sys::random_bytes(&mut salt).ok()?;
    let params = Params::new(Params::ROUNDS_MIN).ok()?;
    let hashed =
        ShaCrypt::new(Algorithm::Sha512Crypt, params).hash_password_with_salt(password.as_bytes(), &salt).ok()?;
    Some(hashed.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_salts_differ() {
        let h = hash("ada").unwrap();
        assert!(h.starts_with("$6$rounds=1000$"), "{h}");
        assert!(verifies("ada", &h));
        assert!(!verifies("bob", &h));
        assert_ne!(h, hash("ada").unwrap());
    }

    #[test]
    fn known_glibc_hash_verifies() {
        // `openssl passwd -6 -salt saltsalt ada` (the glibc algorithm, default
        // 5000 rounds, which glibc leaves out of the string).
        let h = "$6$saltsalt$e/gAygZzYGPz97aJ4XssY5NXxSAiTFrhqAuTaaptvMhpGGYNPIRsiZ4.i7.PX6gQttKogBFlvogGt5by6zcsQ0";
        assert!(verifies("ada", h));
        assert!(!verifies("adb", h));
    }

    #[test]
    fn locked_and_foreign_hashes_do_not_verify() {
        for h in ["", "!", "*", "!$6$x$y", "$y$j9T$abc$def", "$1$abc$def"] {
            assert!(!verifies("ada", h), "{h}");
        }
    }
}
