//! Turning a station's own encryption on (`folio encrypt`) and rotating its
//! key (`folio rekey`), in place and crash-safe.
//!
//! Both build a complete new store in a fresh `vault-<id>` folder of the data
//! folder (the database copied page by page by SQLCipher's
//! `sqlcipher_export` under the new key, every image and PDF sealed under
//! the new key and name, the keyring), sync it, and only then replace
//! `vault.json`, the one small file that says where the station's data is
//! (written to a temporary name, synced and renamed). A process killed at
//! any moment leaves either the old store, untouched, or the new one,
//! complete; the old files are removed after the switch (or, after a crash,
//! by the next open), and a half-built vault is removed by the next attempt.
//! No store may be open meanwhile: every open store holds `folio.inuse`
//! shared, and this takes it exclusively or refuses.

use crate::store::keys::{self, KeyError, Keyring, Keys, Layout, RecoveryPublicKey};
use crate::store::vault::{remove_old, remove_stale_vaults};
use crate::store::{DB_FILE, IN_USE_FILE, ImageStore, Store, StoreError, sha256_hex};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(
        "the station's data is in use (the window, or another folio command, has it open): close it and try again; nothing was changed"
    )]
    InUse,
    #[error("this station's data is encrypted already: `folio rekey` gives it a new key")]
    AlreadyEncrypted,
    #[error("this station's data is not encrypted: `folio encrypt` encrypts it")]
    NotEncrypted,
    #[error(
        "encrypting needs room for a second copy of the station's data while it runs: {need} MB, and the disk has {free} MB free; free space and try again (nothing was changed)"
    )]
    NoRoom { need: u64, free: u64 },
    #[error(
        "image file {0} could not be read as it should be, so nothing was changed: run `folio check`, restore it from backup or rescan its page, then try again"
    )]
    BadFile(String),
}

/// What a finished encryption or rekey did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Done {
    pub key_id: String,
    pub vault: PathBuf,
    pub files: u64,
    pub bytes: u64,
    /// Operators whose copy of the key is under the old key, to be made
    /// again when they next sign in at the unlocked station.
    pub operators_without_copy: Vec<String>,
    pub recovery: bool,
    /// The TPM holding a half of each copy (a TCTI), if any.
    pub tpm: Option<String>,
}

/// Progress: files done, files in all.
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// Who turns it on: an operator (their copy of the new key is made under
/// their secret, which must be a passphrase) and IT's recovery key.
pub struct Holder<'a> {
    pub operator: &'a str,
    pub secret: &'a str,
    pub recovery: Option<&'a RecoveryPublicKey>,
    /// The TPM that holds a half of every operator's copy (a TCTI), if any.
    pub tpm: Option<&'a str>,
}

/// Encrypts the plain station in `data_dir` under a new key.
pub fn encrypt(
    data_dir: &Path,
    who: &Holder<'_>,
    progress: Progress<'_>,
) -> Result<Done, EncryptError> {
    if !matches!(keys::layout(data_dir)?, Layout::Plain) {
        return Err(EncryptError::AlreadyEncrypted);
    }
    // Migrated to this version first, with the usual open.
    drop(Store::open(data_dir)?);
    rebuild(data_dir, None, who, progress)
}

/// Gives the encrypted station in `data_dir` (unlocked in this process) a
/// new key; every old copy of the old key stops opening anything.
pub fn rekey(
    data_dir: &Path,
    who: &Holder<'_>,
    progress: Progress<'_>,
) -> Result<Done, EncryptError> {
    let Layout::Sealed(vault) = keys::layout(data_dir)? else {
        return Err(EncryptError::NotEncrypted);
    };
    let old = keys::unlocked(&vault).ok_or_else(|| KeyError::Locked(data_dir.to_path_buf()))?;
    drop(Store::open(data_dir)?);
    rebuild(data_dir, Some((vault, old)), who, progress)
}

fn rebuild(
    data_dir: &Path,
    from: Option<(PathBuf, Arc<Keys>)>,
    who: &Holder<'_>,
    progress: Progress<'_>,
) -> Result<Done, EncryptError> {
    if let Some(why) = crate::batch::at_rest::passphrase_problem(who.secret, who.tpm.is_some()) {
        return Err(KeyError::Weak(why).into());
    }
    let in_use = crate::store::lock_file(data_dir, IN_USE_FILE)?;
    if in_use.try_lock().is_err() {
        return Err(EncryptError::InUse);
    }
    let (old_root, old_keys) = match &from {
        Some((v, k)) => (v.clone(), Some(k.clone())),
        None => (data_dir.to_path_buf(), None),
    };
    remove_stale_vaults(data_dir, from.as_ref().map(|(v, _)| v.as_path()));
    check_room(data_dir, &old_root)?;
    let keys = Keys::generate();
    let vault = data_dir.join(format!("vault-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&vault).map_err(|e| StoreError::io(&vault, e))?;
    copy_database(
        &old_root.join(DB_FILE),
        old_keys.as_deref(),
        &vault.join(DB_FILE),
        &keys,
    )?;
    let old_images = ImageStore::at(&old_root, old_keys.clone());
    let (files, bytes) = copy_images(
        &old_root.join("images"),
        &old_images,
        &vault,
        &keys,
        progress,
    )?;
    copy_certificates(&old_root, &vault, &keys)?;
    let mut ring = Keyring::new(&keys, who.tpm.map(str::to_string));
    ring.wrap_for(&keys, who.operator, who.secret)?;
    if let Some(public) = who.recovery {
        ring.seal_recovery(&keys, public)?;
    }
    ring.write(&vault)?;
    crate::store::images::sync_dir(&vault)?;
    // The switch.
    keys::commit_vault(data_dir, &vault)?;
    let operators_without_copy = match &from {
        Some((v, _)) => Keyring::read(&v.join(keys::KEYRING_FILE))
            .map(|r| {
                r.operators()
                    .into_iter()
                    .filter(|o| *o != who.operator)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some((v, _)) = &from {
        keys::forget(v);
    }
    let key_id = keys.id().to_string();
    keys::remember(&vault, keys);
    drop(in_use);
    remove_old(data_dir)?;
    Ok(Done {
        key_id,
        vault,
        files,
        bytes,
        operators_without_copy,
        recovery: who.recovery.is_some(),
        tpm: who.tpm.map(str::to_string),
    })
}

fn check_room(data_dir: &Path, old_root: &Path) -> Result<(), EncryptError> {
    fn size(p: &Path) -> u64 {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| size(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let need = size(&old_root.join("images"))
        + size(&old_root.join(DB_FILE))
        + size(&old_root.join("folio.sqlite3-wal"));
    let need = need + need / 10 + (1 << 20);
    let free = crate::store::free_bytes(data_dir);
    if free < need {
        return Err(EncryptError::NoRoom {
            need: need >> 20,
            free: free >> 20,
        });
    }
    Ok(())
}

/// Copies the database under the new key with SQLCipher's export (every
/// table, index, trigger and the schema version), then checks the copy.
fn copy_database(
    from: &Path,
    from_keys: Option<&Keys>,
    to: &Path,
    keys: &Keys,
) -> Result<(), StoreError> {
    let conn = crate::store::connect(from, from_keys)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let raw = keys.db_pragma();
    // The key clause takes the same x'…' text as PRAGMA key.
    let key_text = raw
        .trim_start_matches("PRAGMA key = \"")
        .trim_end_matches("\";")
        .to_string();
    let key_text = zeroize::Zeroizing::new(key_text);
    conn.execute(
        "ATTACH DATABASE ?1 AS sealed KEY ?2",
        rusqlite::params![to.to_string_lossy(), key_text.as_str()],
    )?;
    conn.query_row("SELECT sqlcipher_export('sealed')", [], |_| Ok(()))?;
    conn.execute_batch(&format!(
        "PRAGMA sealed.user_version = {version}; DETACH DATABASE sealed;"
    ))?;
    drop(conn);
    let copy = crate::store::connect(to, Some(keys))?;
    copy.pragma_update(None, "journal_mode", "WAL")?;
    let ok: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(StoreError::Damaged(format!(
            "the encrypted copy of the database failed its check ({}): nothing was changed",
            crate::batch::printable(&ok, 200)
        )));
    }
    Ok(())
}

/// Seals every image and PDF under the new key and name; each file's
/// content is checked against its hash on the way.
fn copy_images(
    dir: &Path,
    old: &ImageStore,
    vault: &Path,
    keys: &Keys,
    progress: Progress<'_>,
) -> Result<(u64, u64), EncryptError> {
    let mut files = Vec::new();
    list_files(dir, &mut files);
    let total = files.len() as u64;
    let new = ImageStore::at(vault, Some(Arc::new(keys.clone())));
    let mut bytes = 0;
    for (n, path) in files.iter().enumerate() {
        let content = old
            .read_path(path)
            .map_err(|_| EncryptError::BadFile(path.display().to_string()))?;
        let sha = sha256_hex(&content);
        // A plain file's name is its hash: one that no longer matches is
        // damaged (kept under its name, so `folio check` still finds it).
        let name = plain_name(dir, path).filter(|n| old.is_plain() && *n != sha);
        new.put_as(name.as_deref().unwrap_or(&sha), &content)?;
        bytes += content.len() as u64;
        progress(n as u64 + 1, total);
    }
    Ok((total, bytes))
}

/// Destruction certificates (they name patients) go sealed into the vault.
fn copy_certificates(old_root: &Path, vault: &Path, keys: &Keys) -> Result<(), StoreError> {
    let mut files = Vec::new();
    list_files(&old_root.join("certificates"), &mut files);
    let dir = vault.join("certificates");
    for path in files {
        let bytes = crate::store::images::read_file(&path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        crate::store::images::write_file(&dir, &name, &bytes, Some(keys))?;
    }
    Ok(())
}

fn plain_name(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    Some(rel.to_string_lossy().replace('/', ""))
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            list_files(&p, out);
        } else if !e
            .file_name()
            .to_string_lossy()
            .starts_with(crate::durable::TMP_PREFIX)
        {
            out.push(p);
        }
    }
}
