//! Folio's own encryption at rest: the station key, the keys derived from
//! it, the keyring that wraps it for each operator and for IT's recovery
//! key, and where an encrypted station keeps its data.
//!
//! - One random 256-bit **station key**. Three subkeys come from it by
//!   HKDF-SHA256 (ring's): the database key (SQLCipher's raw key), the files
//!   key (sealed files, [`super::seal`]) and the names key (an HMAC-SHA256 of
//!   an image's SHA-256 is its file name, so nobody can test whether a known
//!   image is in the cache by its hash).
//! - The **keyring** (`keyring.json` beside the database) holds the station
//!   key wrapped once per operator, under a key derived from the operator's
//!   PIN or passphrase by Argon2id (64 MiB, 3 passes), with XChaCha20-Poly1305
//!   and the operator's id and the key's id as associated data (so a slot
//!   copied to another operator does not open); and once for IT, sealed to
//!   the organisation's recovery public key (libsodium's sealed box, through
//!   `crypto_box`), for a forgotten PIN or a replaced laptop. Changing a PIN
//!   re-wraps only that operator's copy.
//! - An encrypted station keeps its database and files in a folder
//!   `vault-<id>` of the data folder, named by `vault.json`; replacing that
//!   small file is how `folio encrypt` and `folio rekey` switch from the old
//!   data to the new in one step (see `workers::encrypt`).
//! - An unlocked station's keys live in this process only (in memory,
//!   zeroised when dropped, with core dumps off), found by the vault's path.
//!
//! Where the machine has a TPM 2.0 (the keyring names it), each operator's
//! copy also needs 32 bytes sealed in that TPM under an authorisation
//! derived from their PIN ([`super::tpm`]): the TPM's lockout then limits
//! guesses and six-digit PINs are acceptable. Without one, the only brake on
//! guessing a stolen keyring offline is Argon2id's cost, so the secrets must
//! be passphrases ([`crate::batch::at_rest::passphrase_problem`]).

use crate::batch::printable;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zeroize::{Zeroize, Zeroizing};

/// The file naming the encrypted station's folder.
pub const VAULT_FILE: &str = "vault.json";
/// The keyring's file name, in the vault folder.
pub const KEYRING_FILE: &str = "keyring.json";
const FORMAT: &str = "folio-keyring-v1";
const RECOVERY_PREFIX: &str = "folio-recovery-v1:";
const RECOVERY_SECRET_PREFIX: &str = "folio-recovery-secret-v1:";
/// Argon2id's cost for wrapping the station key (memory in KiB, passes).
const ARGON_M_KIB: u32 = 64 * 1024;
const ARGON_T: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the station data in {0} is encrypted and locked: sign in to unlock it (for a command: --operator ID with the PIN or passphrase in FOLIO_PIN, or typed when asked)"
    )]
    Locked(PathBuf),
    #[error(
        "operator {0} holds no copy of this station's key yet: they get one by signing in at the window while it is unlocked (after someone who holds one signed in), or IT gives them a new passphrase with the recovery key (`folio keys recover --for {0}`)"
    )]
    NoSlot(String),
    #[error("wrong PIN or passphrase for {0}: the station's data stays locked")]
    WrongSecret(String),
    #[error(
        "the recovery key does not open this station's keyring: it is not the key whose public half was in the config when the station was encrypted"
    )]
    WrongRecoveryKey,
    #[error("{0}")]
    Weak(String),
    #[error(transparent)]
    Tpm(#[from] super::tpm::TpmError),
    #[error("the station's keyring {path}: {why}")]
    Damaged { path: PathBuf, why: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The station key and the keys derived from it (all zeroised on drop).
#[derive(Clone)]
pub struct Keys {
    station: Zeroizing<[u8; 32]>,
    db: Zeroizing<[u8; 32]>,
    files: Zeroizing<[u8; 32]>,
    names: ring::hmac::Key,
    id: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({})", self.id)
    }
}

fn subkey(prk: &ring::hkdf::Prk, info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // Expanding 32 bytes from SHA-256 cannot fail (the limit is 255 x 32).
    if let Ok(okm) = prk.expand(&[info], ring::hkdf::HKDF_SHA256) {
        let _ = okm.fill(&mut out[..]);
    }
    out
}

impl Keys {
    /// A new random station key.
    pub fn generate() -> Keys {
        let mut station = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut station[..]);
        Keys::from_station(station)
    }

    fn from_station(station: Zeroizing<[u8; 32]>) -> Keys {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"folio station key v1");
        let prk = salt.extract(&station[..]);
        let names = subkey(&prk, b"file names");
        let id = hex::encode(&subkey(&prk, b"key id")[..8]);
        Keys {
            db: subkey(&prk, b"database"),
            files: subkey(&prk, b"files"),
            names: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &names[..]),
            station,
            id,
        }
    }

    /// The key's public id (in the keyring, the audit trail and messages).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The files key, for [`super::seal`].
    pub fn files(&self) -> &[u8; 32] {
        &self.files
    }

    /// SQLCipher's `PRAGMA key` statement with the raw database key.
    pub fn db_pragma(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "PRAGMA key = \"x'{}'\";",
            hex::encode(&self.db[..])
        ))
    }

    /// The file name an image with this SHA-256 has on disk.
    pub fn name_of(&self, sha256: &str) -> String {
        hex::encode(ring::hmac::sign(&self.names, sha256.as_bytes()).as_ref())
    }
}

/// A station key wrapped for one operator or for IT.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Slot {
    Operator {
        operator: String,
        argon2_m_kib: u32,
        argon2_t: u32,
        salt: String,
        nonce: String,
        wrapped: String,
        /// The TPM's half, sealed (marshalled public and private parts).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tpm_public: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tpm_private: Option<String>,
    },
    Recovery {
        public_key: String,
        sealed: String,
    },
}

/// The keyring file: the key's id and its wrapped copies (no secret in it
/// is readable without an operator's secret or the recovery key).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyring {
    pub format: String,
    pub key_id: String,
    /// The TPM holding a half of every operator's copy (a TCTI string;
    /// `FOLIO_TPM_TCTI` overrides it), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<String>,
    pub slots: Vec<Slot>,
}

/// The TPM's authorisation for an operator's half, and the key that wraps
/// their copy from both halves (HKDF-SHA256 over the Argon2id output and
/// the TPM's 32 bytes).
fn tpm_auth(argon: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"folio tpm auth v1").extract(argon);
    subkey(&prk, b"tpm auth")
}

fn with_tpm_half(argon: &[u8; 32], share: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut both = Zeroizing::new(argon.to_vec());
    both.extend_from_slice(share);
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"folio tpm kek v1").extract(&both);
    subkey(&prk, b"wrapping key")
}

fn operator_aad(operator: &str, key_id: &str) -> Vec<u8> {
    format!("{FORMAT}|operator|{operator}|{key_id}").into_bytes()
}

fn kek(secret: &str, salt: &[u8], m_kib: u32, t: u32) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let damaged = |why: String| KeyError::Damaged {
        path: PathBuf::from(KEYRING_FILE),
        why,
    };
    let params =
        argon2::Params::new(m_kib, t, 1, Some(32)).map_err(|e| damaged(format!("argon2: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(secret.as_bytes(), salt, &mut out[..])
        .map_err(|e| damaged(format!("argon2: {e}")))?;
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(path: &Path, what: &str, text: &str) -> Result<Vec<u8>, KeyError> {
    B64.decode(text).map_err(|_| KeyError::Damaged {
        path: path.to_path_buf(),
        why: format!("its {what} is not base64"),
    })
}

impl Keyring {
    pub fn new(keys: &Keys, tpm: Option<String>) -> Keyring {
        Keyring {
            format: FORMAT.into(),
            key_id: keys.id.clone(),
            tpm,
            slots: Vec::new(),
        }
    }

    /// The TPM in use: `FOLIO_TPM_TCTI` when set, else the one recorded.
    pub fn tcti(&self) -> Option<String> {
        self.tpm.as_ref()?;
        std::env::var("FOLIO_TPM_TCTI")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.tpm.clone())
    }

    /// Why `secret` may not wrap a copy here (see `passphrase_problem`).
    pub fn secret_problem(&self, secret: &str) -> Option<String> {
        crate::batch::at_rest::passphrase_problem(secret, self.tpm.is_some())
    }

    /// The operators holding a copy of the key.
    pub fn operators(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Operator { operator, .. } => Some(operator.as_str()),
                Slot::Recovery { .. } => None,
            })
            .collect()
    }

    pub fn has_recovery(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s, Slot::Recovery { .. }))
    }

    /// Wraps the key for `operator` under `secret` (replacing their old copy).
    pub fn wrap_for(&mut self, keys: &Keys, operator: &str, secret: &str) -> Result<(), KeyError> {
        if let Some(why) = self.secret_problem(secret) {
            return Err(KeyError::Weak(why));
        }
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let argon = kek(secret, &salt, ARGON_M_KIB, ARGON_T)?;
        let (kek, sealed) = match self.tcti() {
            None => (argon, None),
            Some(tcti) => {
                let mut share = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(&mut share[..]);
                let sealed = super::tpm::seal(&tcti, &tpm_auth(&argon), &share[..])?;
                (with_tpm_half(&argon, &share[..]), Some(sealed))
            }
        };
        let aead = XChaCha20Poly1305::new((&*kek).into());
        let wrapped = aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &keys.station[..],
                    aad: &operator_aad(operator, &keys.id),
                },
            )
            .map_err(|_| KeyError::Damaged {
                path: PathBuf::from(KEYRING_FILE),
                why: "wrapping the key failed".into(),
            })?;
        self.remove_operator(operator);
        self.slots.push(Slot::Operator {
            operator: operator.to_string(),
            argon2_m_kib: ARGON_M_KIB,
            argon2_t: ARGON_T,
            salt: b64(&salt),
            nonce: b64(&nonce),
            wrapped: b64(&wrapped),
            tpm_public: sealed.as_ref().map(|s| b64(&s.public)),
            tpm_private: sealed.as_ref().map(|s| b64(&s.private)),
        });
        Ok(())
    }

    /// Drops an operator's copy (true when there was one).
    pub fn remove_operator(&mut self, operator: &str) -> bool {
        let before = self.slots.len();
        self.slots
            .retain(|s| !matches!(s, Slot::Operator { operator: o, .. } if o == operator));
        self.slots.len() != before
    }

    /// Seals a copy of the key to IT's recovery public key (replacing any).
    pub fn seal_recovery(
        &mut self,
        keys: &Keys,
        public_key: &RecoveryPublicKey,
    ) -> Result<(), KeyError> {
        let sealed = public_key
            .0
            .seal(&mut OsRng, &keys.station[..])
            .map_err(|_| KeyError::Damaged {
                path: PathBuf::from(KEYRING_FILE),
                why: "sealing the recovery copy failed".into(),
            })?;
        self.slots.retain(|s| !matches!(s, Slot::Recovery { .. }));
        self.slots.push(Slot::Recovery {
            public_key: public_key.to_string(),
            sealed: b64(&sealed),
        });
        Ok(())
    }

    /// Opens the key with an operator's secret.
    pub fn open(&self, path: &Path, operator: &str, secret: &str) -> Result<Keys, KeyError> {
        let slot = self.slots.iter().find_map(|s| match s {
            Slot::Operator {
                operator: o,
                argon2_m_kib,
                argon2_t,
                salt,
                nonce,
                wrapped,
                tpm_public,
                tpm_private,
            } if o == operator => Some((
                (*argon2_m_kib, *argon2_t, salt, nonce, wrapped),
                tpm_public.as_ref().zip(tpm_private.as_ref()),
            )),
            _ => None,
        });
        let shown = printable(operator, 40);
        let ((m, t, salt, nonce, wrapped), tpm_half) =
            slot.ok_or_else(|| KeyError::NoSlot(shown.clone()))?;
        let (salt, nonce, wrapped) = (
            unb64(path, "salt", salt)?,
            unb64(path, "nonce", nonce)?,
            unb64(path, "wrapped key", wrapped)?,
        );
        if nonce.len() != 24 || !(8 * 1024..=4 * 1024 * 1024).contains(&m) || !(1..=16).contains(&t)
        {
            return Err(KeyError::Damaged {
                path: path.to_path_buf(),
                why: format!("operator {shown}'s slot has impossible parameters"),
            });
        }
        let argon = kek(secret, &salt, m, t)?;
        let kek = match tpm_half {
            None => argon,
            Some((public, private)) => {
                let sealed = super::tpm::Sealed {
                    public: unb64(path, "TPM public part", public)?,
                    private: unb64(path, "TPM private part", private)?,
                };
                let tcti = self.tcti().ok_or_else(|| KeyError::Damaged {
                    path: path.to_path_buf(),
                    why: format!("operator {shown}'s copy needs a TPM, and the keyring names none"),
                })?;
                let share =
                    super::tpm::unseal(&tcti, &tpm_auth(&argon), &sealed).map_err(|e| match e {
                        super::tpm::TpmError::WrongAuth => KeyError::WrongSecret(shown.clone()),
                        other => KeyError::Tpm(other),
                    })?;
                with_tpm_half(&argon, &share)
            }
        };
        let aead = XChaCha20Poly1305::new((&*kek).into());
        let station = aead
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: &operator_aad(operator, &self.key_id),
                },
            )
            .map_err(|_| KeyError::WrongSecret(shown))?;
        self.keys_from(path, Zeroizing::new(station))
    }

    /// Opens the key with IT's recovery secret key.
    pub fn open_with_recovery(
        &self,
        path: &Path,
        secret: &RecoverySecretKey,
    ) -> Result<Keys, KeyError> {
        for slot in &self.slots {
            if let Slot::Recovery { sealed, .. } = slot
                && let Ok(station) = secret.0.unseal(&unb64(path, "recovery copy", sealed)?)
            {
                return self.keys_from(path, Zeroizing::new(station));
            }
        }
        Err(KeyError::WrongRecoveryKey)
    }

    fn keys_from(&self, path: &Path, mut station: Zeroizing<Vec<u8>>) -> Result<Keys, KeyError> {
        let mut key = Zeroizing::new([0u8; 32]);
        if station.len() != 32 {
            return Err(KeyError::Damaged {
                path: path.to_path_buf(),
                why: "a wrapped key has the wrong length".into(),
            });
        }
        key.copy_from_slice(&station);
        station.zeroize();
        let keys = Keys::from_station(key);
        if keys.id != self.key_id {
            return Err(KeyError::Damaged {
                path: path.to_path_buf(),
                why: format!(
                    "a slot opens key {} but the keyring is for key {}",
                    keys.id, self.key_id
                ),
            });
        }
        Ok(keys)
    }

    /// Reads a keyring file.
    pub fn read(path: &Path) -> Result<Keyring, KeyError> {
        let text = std::fs::read(path).map_err(io_at(path))?;
        let ring: Keyring = serde_json::from_slice(&text).map_err(|e| KeyError::Damaged {
            path: path.to_path_buf(),
            why: format!("it cannot be read ({})", printable(&e.to_string(), 120)),
        })?;
        if ring.format != FORMAT {
            return Err(KeyError::Damaged {
                path: path.to_path_buf(),
                why: format!("its format {} is not {FORMAT}", printable(&ring.format, 40)),
            });
        }
        Ok(ring)
    }

    /// Writes the keyring whole or not at all.
    pub fn write(&self, dir: &Path) -> Result<(), KeyError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| KeyError::Damaged {
            path: dir.join(KEYRING_FILE),
            why: e.to_string(),
        })?;
        crate::durable::write_atomic(dir, KEYRING_FILE, |f| std::io::Write::write_all(f, &json))
            .map_err(|e| KeyError::Io {
                path: e.path,
                source: e.source,
            })?;
        Ok(())
    }
}

/// IT's recovery public key, as written in the config
/// (`folio-recovery-v1:` and 32 bytes in base64).
#[derive(Clone)]
pub struct RecoveryPublicKey(crypto_box::PublicKey);

impl std::fmt::Display for RecoveryPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{RECOVERY_PREFIX}{}", b64(self.0.as_bytes()))
    }
}

impl std::str::FromStr for RecoveryPublicKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = s
            .trim()
            .strip_prefix(RECOVERY_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                format!(
                    "a recovery public key is {RECOVERY_PREFIX} and 32 bytes in base64 (`folio keys recovery-pair` makes one), not {}",
                    printable(s, 60)
                )
            })?;
        Ok(RecoveryPublicKey(crypto_box::PublicKey::from(bytes)))
    }
}

/// IT's recovery secret key (kept offline; read from its file only to recover).
pub struct RecoverySecretKey(crypto_box::SecretKey);

impl RecoverySecretKey {
    /// A new pair: the secret to keep offline and the public half for the config.
    pub fn generate() -> (RecoverySecretKey, RecoveryPublicKey) {
        let secret = crypto_box::SecretKey::generate(&mut OsRng);
        let public = RecoveryPublicKey(secret.public_key());
        (RecoverySecretKey(secret), public)
    }

    /// The file's text.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# Folio recovery secret key: it opens every station encrypted with its public half.\n# Keep it offline, in IT's custody.\n{RECOVERY_SECRET_PREFIX}{}\n",
            b64(&self.0.to_bytes())
        ))
    }

    /// Reads the key from its file's text.
    pub fn from_text(text: &str) -> Result<RecoverySecretKey, String> {
        let bytes = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(RECOVERY_SECRET_PREFIX))
            .and_then(|b| B64.decode(b).ok())
            .map(Zeroizing::new)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                format!("this is not a Folio recovery secret key (a line starting {RECOVERY_SECRET_PREFIX})")
            })?;
        Ok(RecoverySecretKey(crypto_box::SecretKey::from(bytes)))
    }
}

/// Where a station keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Plain SQLite and image files in the data folder itself.
    Plain,
    /// Encrypted, in this vault folder (with its keyring).
    Sealed(PathBuf),
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultFile {
    format: String,
    dir: String,
}

/// Reads how the station in `data_dir` keeps its data.
pub fn layout(data_dir: &Path) -> Result<Layout, KeyError> {
    let path = data_dir.join(VAULT_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Layout::Plain),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let damaged = |why: &str| KeyError::Damaged {
        path: path.clone(),
        why: why.into(),
    };
    let vault: VaultFile =
        serde_json::from_slice(&text).map_err(|_| damaged("it cannot be read"))?;
    let ok_name = vault.dir.starts_with("vault-")
        && vault.dir.len() <= 64
        && vault
            .dir
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if vault.format != "folio-vault-v1" || !ok_name {
        return Err(damaged("it names no vault folder of this version"));
    }
    Ok(Layout::Sealed(data_dir.join(vault.dir)))
}

/// Points the station at `vault` (a folder in `data_dir`): the one step
/// that switches from the old data to the new.
pub fn commit_vault(data_dir: &Path, vault: &Path) -> Result<(), KeyError> {
    let dir = vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let json = serde_json::to_vec_pretty(&VaultFile {
        format: "folio-vault-v1".into(),
        dir,
    })
    .map_err(|e| KeyError::Damaged {
        path: data_dir.join(VAULT_FILE),
        why: e.to_string(),
    })?;
    crate::durable::write_atomic(data_dir, VAULT_FILE, |f| {
        std::io::Write::write_all(f, &json)
    })
    .map_err(|e| KeyError::Io {
        path: e.path,
        source: e.source,
    })?;
    Ok(())
}

/// The unlocked stations of this process, by vault folder.
static UNLOCKED: Mutex<Vec<(PathBuf, Arc<Keys>)>> = Mutex::new(Vec::new());

fn same_place(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

/// Keeps an unlocked station's keys for this process (and turns core dumps
/// off, so they never land in a crash file).
pub fn remember(vault: &Path, keys: Keys) -> Arc<Keys> {
    no_core_dumps();
    let keys = Arc::new(keys);
    let mut open = UNLOCKED.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|(v, _)| !same_place(v, vault));
    open.push((vault.to_path_buf(), keys.clone()));
    keys
}

/// The keys of an unlocked vault.
pub fn unlocked(vault: &Path) -> Option<Arc<Keys>> {
    let open = UNLOCKED.lock().unwrap_or_else(|p| p.into_inner());
    open.iter()
        .find(|(v, _)| same_place(v, vault))
        .map(|(_, k)| k.clone())
}

/// Forgets a vault's keys (the memory is zeroised once the last user drops them).
pub fn forget(vault: &Path) {
    let mut open = UNLOCKED.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|(v, _)| !same_place(v, vault));
}

/// Whose file a path is, for a reader given only the path.
pub enum Owner {
    Plain,
    Locked(PathBuf),
    Unlocked(Arc<Keys>),
}

/// A file inside a vault folder (one holding a keyring) belongs to that
/// encrypted station, unlocked here or not.
pub fn owner_of(path: &Path) -> Owner {
    for dir in path.ancestors().skip(1) {
        let is_vault = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("vault-"))
            && dir.join(KEYRING_FILE).exists();
        if is_vault {
            return match unlocked(dir) {
                Some(k) => Owner::Unlocked(k),
                None => Owner::Locked(dir.parent().unwrap_or(dir).to_path_buf()),
            };
        }
    }
    Owner::Plain
}

/// Whether the station in `data_dir` is encrypted and not unlocked here.
pub fn is_locked(data_dir: &Path) -> bool {
    matches!(layout(data_dir), Ok(Layout::Sealed(v)) if unlocked(&v).is_none())
}

/// Unlocks the station in `data_dir` with an operator's secret (a plain
/// station needs nothing and gives `None`).
pub fn unlock(
    data_dir: &Path,
    operator: &str,
    secret: &str,
) -> Result<Option<Arc<Keys>>, KeyError> {
    let Layout::Sealed(vault) = layout(data_dir)? else {
        return Ok(None);
    };
    if let Some(k) = unlocked(&vault) {
        return Ok(Some(k));
    }
    let path = vault.join(KEYRING_FILE);
    let keys = Keyring::read(&path)?.open(&path, operator, secret)?;
    Ok(Some(remember(&vault, keys)))
}

/// Turns core dumps off for this process: an unlocked station's keys are
/// in its memory. (Also stops other processes of the same user attaching a
/// debugger to it.)
fn no_core_dumps() {
    let off = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on this process with valid arguments.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &off);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "correct horse battery";

    #[test]
    fn an_operators_copy_opens_only_with_their_secret_and_id() {
        let keys = Keys::generate();
        let mut ring = Keyring::new(&keys, None);
        ring.wrap_for(&keys, "a.jones", GOOD).unwrap();
        ring.wrap_for(&keys, "b.smith", "another long phrase")
            .unwrap();
        let p = Path::new("k.json");
        assert_eq!(ring.open(p, "a.jones", GOOD).unwrap().id(), keys.id());
        assert!(matches!(
            ring.open(p, "a.jones", "correct horse batterY"),
            Err(KeyError::WrongSecret(_))
        ));
        assert!(matches!(
            ring.open(p, "nobody", GOOD),
            Err(KeyError::NoSlot(_))
        ));
        // A's slot copied in as B's: the operator id is authenticated.
        let Slot::Operator {
            salt,
            nonce,
            wrapped,
            ..
        } = ring.slots[0].clone()
        else {
            panic!()
        };
        if let Slot::Operator {
            salt: s,
            nonce: n,
            wrapped: w,
            ..
        } = &mut ring.slots[1]
        {
            (*s, *n, *w) = (salt, nonce, wrapped);
        }
        assert!(matches!(
            ring.open(p, "b.smith", GOOD),
            Err(KeyError::WrongSecret(_))
        ));
        // A new secret replaces the old copy.
        ring.wrap_for(&keys, "a.jones", "a brand new phrase")
            .unwrap();
        assert!(ring.open(p, "a.jones", GOOD).is_err());
        assert!(ring.open(p, "a.jones", "a brand new phrase").is_ok());
        assert_eq!(ring.operators(), ["b.smith", "a.jones"]);
        assert!(matches!(
            ring.wrap_for(&keys, "c", "123456"),
            Err(KeyError::Weak(_))
        ));
        assert!(!format!("{keys:?}").contains(&hex::encode(&keys.station[..])));
    }

    #[test]
    fn the_recovery_copy_opens_with_its_secret_key_only() {
        let keys = Keys::generate();
        let mut ring = Keyring::new(&keys, None);
        let (secret, public) = RecoverySecretKey::generate();
        ring.seal_recovery(&keys, &public).unwrap();
        let p = Path::new("k.json");
        let text = secret.to_text();
        let again = RecoverySecretKey::from_text(&text).unwrap();
        assert_eq!(ring.open_with_recovery(p, &again).unwrap().id(), keys.id());
        let (other, _) = RecoverySecretKey::generate();
        assert!(matches!(
            ring.open_with_recovery(p, &other),
            Err(KeyError::WrongRecoveryKey)
        ));
        let shown = public.to_string();
        assert_eq!(
            shown.parse::<RecoveryPublicKey>().unwrap().to_string(),
            shown
        );
        assert!(
            "folio-recovery-v1:abc"
                .parse::<RecoveryPublicKey>()
                .is_err()
        );
        assert!(RecoverySecretKey::from_text(&shown).is_err());
    }

    #[test]
    fn subkeys_differ_and_names_hide_the_hash() {
        let a = Keys::generate();
        let b = Keys::generate();
        assert_ne!(a.id(), b.id());
        assert_ne!(&a.db[..], &a.files[..]);
        let sha = "00".repeat(32);
        assert_ne!(a.name_of(&sha), b.name_of(&sha));
        assert_ne!(a.name_of(&sha), sha);
        assert_eq!(a.name_of(&sha).len(), 64);
        assert!(a.db_pragma().starts_with("PRAGMA key = \"x'"));
    }

    #[test]
    fn the_vault_file_names_only_a_vault_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(layout(dir.path()).unwrap(), Layout::Plain);
        commit_vault(dir.path(), &dir.path().join("vault-abc")).unwrap();
        assert_eq!(
            layout(dir.path()).unwrap(),
            Layout::Sealed(dir.path().join("vault-abc"))
        );
        std::fs::write(
            dir.path().join(VAULT_FILE),
            r#"{"format":"folio-vault-v1","dir":"../etc"}"#,
        )
        .unwrap();
        assert!(matches!(layout(dir.path()), Err(KeyError::Damaged { .. })));
    }
}
