//! Signed operator lists: a bureau's IT team provisions its twenty stations
//! from one list (ids, names, roles, PIN hashes) signed with its Ed25519 key,
//! instead of typing accounts at each. A station takes a list only when the
//! signature verifies against a key in `[accounts] import_keys`, every entry
//! is sound, and the list is newer than the last it took (an old list cannot
//! be replayed to bring back a disabled account or an old PIN). Accounts not
//! in the list are left as they are. One transaction; every account
//! changed is audited with the list it came from.
//!
//! Ed25519 through `ring`, which the TLS stack already builds: no second
//! implementation of the curve in the binary.

use super::operators::{OperatorError, SignedIn, check_hash, check_id, check_name};
use super::{Store, StoreError, audit};
use crate::batch::roles::{self, Action, Role};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The list's format name, first field of the file.
pub const FORMAT: &str = "folio.operators/1";
/// How public keys are written in `config.toml`.
const KEY_PREFIX: &str = "ed25519:";

/// A list as IT writes it (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorList {
    pub format: String,
    /// When IT issued it (RFC 3339, UTC): each list must be newer than the
    /// last one the station took.
    pub issued: String,
    pub operators: Vec<ListedOperator>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedOperator {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Argon2id in PHC form (`folio operators hash-pin`).
    pub secret_hash: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Why a list is not taken (nothing is changed).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Operator(#[from] OperatorError),
    #[error(
        "the list's signature does not verify against any key in [accounts] import_keys: \
         it was changed after signing, or signed with another key; nothing was imported"
    )]
    BadSignature,
    #[error("no key to check the list with: add IT's public key to [accounts] import_keys")]
    NoKeys,
    #[error("[accounts] import_keys: '{0}' is not an Ed25519 public key (ed25519:BASE64)")]
    BadKey(String),
    #[error("the signature file is not a base64 Ed25519 signature")]
    BadSignatureFile,
    #[error("the list is not a {FORMAT} JSON document: {0}")]
    Format(String),
    #[error(
        "the list was issued at {issued}, not after the last list taken here ({last}): \
         an old list cannot be taken again; ask IT for a new one"
    )]
    Replayed { issued: String, last: String },
    #[error("entry {index} ({id}): {why}")]
    Entry {
        index: usize,
        id: String,
        why: String,
    },
    #[error("the list names {0} twice")]
    Twice(String),
    #[error("cannot make a signing key: {0}")]
    Key(String),
}

impl From<rusqlite::Error> for ListError {
    fn from(e: rusqlite::Error) -> Self {
        ListError::Operator(OperatorError::Store(StoreError::Sqlite(e)))
    }
}

impl From<StoreError> for ListError {
    fn from(e: StoreError) -> Self {
        ListError::Operator(OperatorError::Store(e))
    }
}

/// A new signing key for IT: the private key (PKCS#8, base64, to keep
/// secret) and the public key as `config.toml` takes it.
pub fn new_signing_key() -> Result<(String, String), ListError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| ListError::Key(e.to_string()))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| ListError::Key(e.to_string()))?;
    Ok((
        B64.encode(pkcs8.as_ref()),
        format!("{KEY_PREFIX}{}", B64.encode(pair.public_key().as_ref())),
    ))
}

/// The signature (base64) of `list` with the private key `key` (as
/// [`new_signing_key`] gives it).
pub fn sign(list: &[u8], key: &str) -> Result<String, ListError> {
    let pkcs8 = B64
        .decode(key.trim())
        .map_err(|_| ListError::Key("the key file is not base64".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| ListError::Key("the key file holds no Ed25519 private key".into()))?;
    Ok(B64.encode(pair.sign(list).as_ref()))
}

/// The key among `keys` the signature verifies with.
fn verify<'k>(list: &[u8], signature: &str, keys: &'k [String]) -> Result<&'k str, ListError> {
    if keys.is_empty() {
        return Err(ListError::NoKeys);
    }
    let sig = B64
        .decode(signature.trim())
        .map_err(|_| ListError::BadSignatureFile)?;
    for k in keys {
        let raw = k
            .trim()
            .strip_prefix(KEY_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| ListError::BadKey(crate::batch::printable(k, 60)))?;
        if UnparsedPublicKey::new(&ED25519, &raw)
            .verify(list, &sig)
            .is_ok()
        {
            return Ok(k);
        }
    }
    Err(ListError::BadSignature)
}

/// Every entry checked before anything changes.
fn check(list: &OperatorList) -> Result<Vec<(Role, &ListedOperator)>, ListError> {
    if list.format != FORMAT {
        return Err(ListError::Format(format!(
            "format is '{}'",
            crate::batch::printable(&list.format, 40)
        )));
    }
    if time::OffsetDateTime::parse(&list.issued, &time::format_description::well_known::Rfc3339)
        .is_err()
    {
        return Err(ListError::Format("issued is not an RFC 3339 time".into()));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (index, o) in list.operators.iter().enumerate() {
        let entry = |why: String| ListError::Entry {
            index: index + 1,
            id: crate::batch::printable(&o.id, 40),
            why,
        };
        check_id(&o.id).map_err(|e| entry(e.to_string()))?;
        check_name(&o.name).map_err(|e| entry(e.to_string()))?;
        check_hash(&o.id, &o.secret_hash).map_err(|e| entry(e.to_string()))?;
        let role = Role::parse(&o.role)
            .ok_or_else(|| entry("the roles are operator, supervisor and admin".into()))?;
        if !seen.insert(o.id.as_str()) {
            return Err(ListError::Twice(crate::batch::printable(&o.id, 40)));
        }
        out.push((role, o));
    }
    Ok(out)
}

impl Store {
    /// Takes a signed list (see the module's documentation); `by` is the
    /// admin signed in. Returns the ids made or changed.
    pub fn import_operators(
        &mut self,
        by: &SignedIn,
        (list, signature): (&[u8], &str),
        keys: &[String],
    ) -> Result<Vec<String>, ListError> {
        roles::may(by.role, Action::ManageOperators).map_err(OperatorError::from)?;
        let key = verify(list, signature, keys)?;
        let parsed: OperatorList =
            serde_json::from_slice(list).map_err(|e| ListError::Format(e.to_string()))?;
        let entries = check(&parsed)?;
        let sha = hex::encode(Sha256::digest(list));
        let tx = self.conn.transaction()?;
        let last: Option<String> = tx
            .query_row("SELECT max(issued) FROM operator_lists", [], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(last) = last.filter(|l| l.as_str() >= parsed.issued.as_str()) {
            return Err(ListError::Replayed {
                issued: crate::batch::printable(&parsed.issued, 40),
                last,
            });
        }
        let mut changed = Vec::new();
        for (role, o) in entries {
            let now = crate::now_rfc3339();
            let n = tx.execute(
                "INSERT INTO operators (id, name, role, secret_hash, enabled, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = ?2, role = ?3, secret_hash = ?4,
                   enabled = ?5, failures = 0, locked_until = NULL
                 WHERE (name, role, secret_hash, enabled) IS NOT (?2, ?3, ?4, ?5)",
                params![
                    o.id,
                    o.name.trim(),
                    role.as_str(),
                    o.secret_hash,
                    o.enabled,
                    now
                ],
            )?;
            if n == 0 {
                continue;
            }
            let detail = format!(
                "{} as {role}, {} (list issued {}, sha256 {sha})",
                crate::batch::printable(o.name.trim(), 100),
                if o.enabled { "enabled" } else { "disabled" },
                crate::batch::printable(&parsed.issued, 40),
            );
            audit::append(&tx, &by.actor, "operator.import", &o.id, &detail)?;
            changed.push(o.id.clone());
        }
        let admins: i64 = tx.query_row(
            "SELECT count(*) FROM operators WHERE role = 'admin' AND enabled",
            [],
            |r| r.get(0),
        )?;
        if admins == 0 {
            return Err(OperatorError::LastAdmin.into());
        }
        tx.execute(
            "INSERT INTO operator_lists (issued, sha256, key, imported_by, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                parsed.issued,
                sha,
                key,
                by.actor.operator,
                crate::now_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only_and_not_after_a_change() {
        let (private, public) = new_signing_key().unwrap();
        let (_, other) = new_signing_key().unwrap();
        let list = br#"{"format":"folio.operators/1"}"#;
        let sig = sign(list, &private).unwrap();
        assert_eq!(
            verify(list, &sig, &[other.clone(), public.clone()]).unwrap(),
            public
        );
        assert!(matches!(
            verify(list, &sig, std::slice::from_ref(&other)),
            Err(ListError::BadSignature)
        ));
        assert!(matches!(
            verify(
                br#"{"format":"folio.operators/2"}"#,
                &sig,
                std::slice::from_ref(&public)
            ),
            Err(ListError::BadSignature)
        ));
        assert!(matches!(verify(list, &sig, &[]), Err(ListError::NoKeys)));
        assert!(matches!(
            verify(list, &sig, &["ed25519:AAAA".into()]),
            Err(ListError::BadKey(_))
        ));
        assert!(matches!(
            verify(list, "not base64!", &[public]),
            Err(ListError::BadSignatureFile)
        ));
    }
}
