//! The TPM's half of an operator's copy of the station key (through
//! `tss-esapi`, the TSS 2.0 enhanced system API): 32 random bytes sealed in
//! the machine's TPM 2.0 under the storage hierarchy, released only to the
//! right authorisation (derived from the operator's PIN) and subject to the
//! TPM's dictionary-attack lockout. A copy of the keyring and the disk is
//! then useless without this very TPM, and the TPM itself stops answering
//! after a few wrong PINs: that is what makes a short PIN acceptable.

use std::str::FromStr;
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, Digest, KeyedHashScheme, Private, Public, PublicBuilder, PublicKeyedHashParameters,
    SensitiveData, SymmetricCipherParameters, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, TctiNameConf};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum TpmError {
    #[error(
        "cannot reach the TPM ({tcti}): {why}. Is this the machine the station was encrypted on? IT can unlock with the recovery key"
    )]
    Unreachable { tcti: String, why: String },
    #[error("wrong PIN or passphrase")]
    WrongAuth,
    #[error(
        "the TPM refuses to try more PINs for now (too many wrong ones: its dictionary-attack lockout). Wait for it to lift, or IT clears it with the TPM's lockout authorisation (`tpm2_dictionarylockout --clear-lockout`)"
    )]
    Lockout,
    #[error(
        "this copy of the key was sealed by another TPM (another machine, or this one's TPM was cleared): IT unlocks with the recovery key"
    )]
    OtherTpm,
    #[error("the TPM failed: {0}")]
    Failed(String),
}

/// A sealed object as the keyring keeps it (both parts are encrypted or
/// integrity-protected by the TPM: neither is secret on its own).
pub struct Sealed {
    pub public: Vec<u8>,
    pub private: Vec<u8>,
}

/// Keeps the TSS library's own log off the terminal (a wrong PIN is said
/// once, in Folio's words): `TSS2_LOG` unless the user set it. Called by
/// `main` while it is the only thread.
pub fn quiet_library() {
    if std::env::var_os("TSS2_LOG").is_none() {
        // SAFETY: called by `main` before any other thread exists; no code
        // of ours reads the environment concurrently.
        unsafe { std::env::set_var("TSS2_LOG", "all+NONE") };
    }
}

/// The TPM to use unless the keyring names one: `FOLIO_TPM_TCTI` (a TCTI
/// string, such as `swtpm:host=127.0.0.1,port=2321`), else the kernel's
/// resource manager when the machine has one.
pub fn default_tcti() -> Option<String> {
    std::env::var("FOLIO_TPM_TCTI")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::path::Path::new("/dev/tpmrm0")
                .exists()
                .then(|| "device:/dev/tpmrm0".to_string())
        })
}

fn failed(e: tss_esapi::Error) -> TpmError {
    if let tss_esapi::Error::Tss2Error(rc) = e {
        match rc.kind() {
            Some(Tss2ResponseCodeKind::AuthFail | Tss2ResponseCodeKind::BadAuth) => {
                return TpmError::WrongAuth;
            }
            Some(Tss2ResponseCodeKind::Lockout) => return TpmError::Lockout,
            Some(Tss2ResponseCodeKind::Integrity) => return TpmError::OtherTpm,
            _ => {}
        }
    }
    TpmError::Failed(e.to_string())
}

fn context(tcti: &str) -> Result<Context, TpmError> {
    let unreachable = |why: String| TpmError::Unreachable {
        tcti: crate::batch::printable(tcti, 80),
        why,
    };
    let conf = TctiNameConf::from_str(tcti).map_err(|e| unreachable(e.to_string()))?;
    Context::new(conf).map_err(|e| unreachable(e.to_string()))
}

/// The storage primary key: the same template gives the same key from the
/// TPM's own seed every time, so nothing of it is kept.
fn primary(ctx: &mut Context) -> Result<KeyHandle, TpmError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_restricted(true)
        .build()
        .map_err(failed)?;
    let public = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::SymCipher)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_symmetric_cipher_parameters(SymmetricCipherParameters::new(
            SymmetricDefinitionObject::AES_128_CFB,
        ))
        .with_symmetric_cipher_unique_identifier(Digest::default())
        .build()
        .map_err(failed)?;
    ctx.execute_with_nullauth_session(|c| {
        c.create_primary(Hierarchy::Owner, public, None, None, None, None)
    })
    .map(|r| r.key_handle)
    .map_err(failed)
}

/// Seals `data` (at most 128 bytes) in the TPM under `auth`.
pub fn seal(tcti: &str, auth: &[u8; 32], data: &[u8]) -> Result<Sealed, TpmError> {
    let mut ctx = context(tcti)?;
    let parent = primary(&mut ctx)?;
    // A sealed data object: a keyed hash with no scheme, its data given,
    // opened by its authorisation value, under the lockout's protection.
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .build()
        .map_err(failed)?;
    let public = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(failed)?;
    let auth = Auth::try_from(auth.to_vec()).map_err(failed)?;
    let data = SensitiveData::try_from(data.to_vec()).map_err(failed)?;
    let made = ctx.execute_with_nullauth_session(|c| {
        c.create(parent, public, Some(auth), Some(data), None, None)
    });
    let _ = ctx.flush_context(parent.into());
    let made = made.map_err(failed)?;
    Ok(Sealed {
        public: made.out_public.marshall().map_err(failed)?,
        private: made.out_private.value().to_vec(),
    })
}

/// Unseals what [`seal`] sealed, with its authorisation (a wrong one counts
/// towards the TPM's lockout).
pub fn unseal(
    tcti: &str,
    auth: &[u8; 32],
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, TpmError> {
    let mut ctx = context(tcti)?;
    let parent = primary(&mut ctx)?;
    let public = Public::unmarshall(&sealed.public).map_err(|_| TpmError::OtherTpm)?;
    let private = Private::try_from(sealed.private.clone()).map_err(|_| TpmError::OtherTpm)?;
    let loaded = ctx.execute_with_nullauth_session(|c| c.load(parent, private, public));
    let object = match loaded {
        Ok(o) => o,
        Err(e) => {
            let _ = ctx.flush_context(parent.into());
            return Err(match failed(e) {
                // A blob from another TPM fails its integrity check (or
                // is not even a valid object here).
                TpmError::Failed(_) => TpmError::OtherTpm,
                other => other,
            });
        }
    };
    let auth = Auth::try_from(auth.to_vec()).map_err(failed)?;
    let opened = ctx.tr_set_auth(object.into(), auth).and_then(|()| {
        ctx.execute_with_session(Some(AuthSession::Password), |c| c.unseal(object.into()))
    });
    let _ = ctx.flush_context(object.into());
    let _ = ctx.flush_context(parent.into());
    let data = opened.map_err(failed)?;
    Ok(Zeroizing::new(data.value().to_vec()))
}
