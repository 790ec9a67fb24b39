//! What protects the station's data at rest, and the rule on it
//! (`require_encrypted_disk`): pure; [`crate::store::at_rest`] finds the
//! facts on the machine.

use serde::Serialize;

/// What protects the data folder at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AtRest {
    /// On an encrypted layer: `device` (its name) by `how` (e.g. "dm-crypt
    /// LUKS2", "eCryptfs").
    Encrypted { device: String, how: String },
    /// On a block device with no encryption layer under it.
    Plain { device: String, fs: String },
    /// In memory (tmpfs): nothing is written to a disk, but swap may be.
    Memory { fs: String },
    /// Folio cannot tell (a network or overlay file system), and why.
    Unknown { why: String },
}

impl AtRest {
    pub fn encrypted(&self) -> bool {
        matches!(self, AtRest::Encrypted { .. })
    }

    /// In words, for Settings and `folio status`.
    pub fn words(&self) -> String {
        let p = |s: &str| crate::batch::printable(s, 120);
        match self {
            AtRest::Encrypted { device, how } => {
                format!("encrypted at rest ({}, device {})", p(how), p(device))
            }
            AtRest::Plain { device, fs } => format!(
                "NOT encrypted at rest: it is on {} ({}) with no encryption layer",
                p(device),
                p(fs)
            ),
            AtRest::Memory { fs } => format!(
                "in memory ({}): nothing is written to disk, but swap may be, and it is gone at power-off",
                p(fs)
            ),
            AtRest::Unknown { why } => format!("cannot tell whether it is encrypted: {}", p(why)),
        }
    }
}

/// May scans be stored in the data folder? With `required`
/// (`require_encrypted_disk`), only on an encrypted disk or when Folio
/// encrypts the station's data itself (`sealed`); the refusal says what IT
/// must do.
pub fn may_store_scans(
    required: bool,
    sealed: bool,
    at_rest: &AtRest,
    folder: &str,
) -> Result<(), String> {
    if !required || sealed || at_rest.encrypted() {
        return Ok(());
    }
    Err(format!(
        "this station must keep patients' scans on an encrypted disk (require_encrypted_disk in config.toml), but its data folder {} is {}. Nothing was scanned. IT must move the data folder to a disk encrypted with LUKS (full-disk encryption), or turn on Folio's own encryption (`folio encrypt`), or turn require_encrypted_disk off for this station under the trust's policy",
        crate::batch::printable(folder, 200),
        at_rest.words()
    ))
}

/// Why a secret may not wrap an encrypted station's key (`None` when it
/// may). With the TPM's half in the copy, the TPM's lockout limits guesses
/// and a PIN of [`MIN_TPM_PIN_CHARS`] will do; without one, only Argon2id's
/// cost slows a thief who guesses a stolen keyring offline, so it must be a
/// passphrase, not a PIN.
pub fn passphrase_problem(secret: &str, tpm: bool) -> Option<String> {
    let chars = secret.chars().count();
    if tpm {
        return (chars < MIN_TPM_PIN_CHARS).then(|| {
            format!(
                "a PIN that unlocks this station's data has at least {MIN_TPM_PIN_CHARS} characters"
            )
        });
    }
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let digits = secret.chars().all(|c| c.is_ascii_digit());
    (chars < MIN_PASSPHRASE_CHARS || digits || distinct < 6).then(|| {
        format!(
            "this station's data is encrypted with Folio's own keys, and without a TPM to limit guesses a PIN is not enough: use a passphrase of at least {MIN_PASSPHRASE_CHARS} characters, not only digits (several words are easiest to remember)"
        )
    })
}

/// The shortest PIN that may wrap the key with the TPM's half.
pub const MIN_TPM_PIN_CHARS: usize = 6;

/// The shortest passphrase that may wrap an encrypted station's key.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_encrypted_disk_passes_when_one_is_required() {
        let plain = AtRest::Plain {
            device: "/dev/vda".into(),
            fs: "ext4".into(),
        };
        let luks = AtRest::Encrypted {
            device: "/dev/mapper/luks-1".into(),
            how: "dm-crypt LUKS2".into(),
        };
        let unknown = AtRest::Unknown {
            why: "overlay".into(),
        };
        let memory = AtRest::Memory { fs: "tmpfs".into() };
        assert!(may_store_scans(false, false, &plain, "/d").is_ok());
        assert!(may_store_scans(true, false, &luks, "/d").is_ok());
        assert!(may_store_scans(true, true, &plain, "/d").is_ok());
        for bad in [&plain, &unknown, &memory] {
            let e = may_store_scans(true, false, bad, "/srv/folio\u{1b}[2J").unwrap_err();
            assert!(e.contains("IT must move the data folder"), "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        assert!(
            may_store_scans(true, false, &plain, "/d")
                .unwrap_err()
                .contains("is NOT encrypted at rest: it is on /dev/vda (ext4)")
        );
    }

    #[test]
    fn a_pin_cannot_wrap_the_station_key_but_a_passphrase_can() {
        for weak in [
            "123456",
            "123456789012345",
            "aaaaaaaaaaaaaaaa",
            "short pass",
        ] {
            assert!(passphrase_problem(weak, false).is_some(), "{weak}");
        }
        for good in ["correct horse battery", "Tr0ub4dor&3xyz", "ÅÆØ ÿñé ĉĝĥ ß"] {
            assert_eq!(passphrase_problem(good, false), None, "{good}");
        }
        assert_eq!(passphrase_problem("246810", true), None);
        assert!(passphrase_problem("2468", true).is_some());
    }
}
