//! The keyring of an open encrypted station: who holds a copy of its key.
//! Copies are made when an operator signs in while the station is unlocked
//! (their secret is at hand only then), replaced when they change it, and
//! dropped when their account is disabled.

use super::keys::{KEYRING_FILE, KeyError, Keyring};
use super::{Store, StoreError, audit};
use std::path::Path;

impl Store {
    /// The keyring of an encrypted station (none for a plain one).
    pub fn keyring(&self) -> Result<Option<Keyring>, StoreError> {
        if self.keys().is_none() {
            return Ok(None);
        }
        Ok(Some(Keyring::read(&self.root().join(KEYRING_FILE))?))
    }

    /// What Folio's own encryption does here, in words (none at a plain
    /// station): the key's id, who holds a copy, and whether IT can recover it.
    pub fn encryption_words(&self) -> Option<String> {
        let ring = self.keyring().ok().flatten()?;
        let holders: Vec<String> = ring
            .operators()
            .into_iter()
            .map(|o| crate::batch::printable(o, 40))
            .collect();
        Some(format!(
            "encrypted by Folio (database and page files, key {}); copies of the key held by {}; {}",
            ring.key_id,
            holders.join(", "),
            if ring.has_recovery() {
                "IT's recovery key holds one too"
            } else {
                "NO recovery copy: a forgotten passphrase loses the data"
            }
        ))
    }

    /// Why `secret` may not hold a copy of this station's key (none at a
    /// plain station).
    pub fn key_secret_problem(&self, secret: &str) -> Result<Option<String>, StoreError> {
        Ok(self.keyring()?.and_then(|r| r.secret_problem(secret)))
    }

    /// Changes the keyring under the data folder's lock (so two processes
    /// never lose each other's change).
    fn change_keyring(
        &self,
        change: impl FnOnce(&mut Keyring) -> Result<bool, KeyError>,
    ) -> Result<bool, StoreError> {
        let lock = super::lock_file(self.data_dir(), "folio.lock")?;
        lock.lock()
            .map_err(|e| StoreError::io(self.data_dir(), e))?;
        let path = self.root().join(KEYRING_FILE);
        let mut ring = Keyring::read(&path)?;
        let changed = change(&mut ring)?;
        if changed {
            ring.write(self.root())?;
        }
        Ok(changed)
    }

    /// Gives `operator` a copy of the key under `secret` when they have
    /// none (at a plain station, nothing). A secret too weak to wrap the key
    /// gives no copy: the reason is returned for the operator to be told.
    pub fn ensure_key_slot(
        &mut self,
        actor: &audit::Actor,
        operator: &str,
        secret: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some(keys) = self.keys().cloned() else {
            return Ok(None);
        };
        let operator = operator.to_string();
        let mut weak = None;
        let made = self.change_keyring(|ring| {
            if ring.operators().contains(&operator.as_str()) {
                return Ok(false);
            }
            match ring.wrap_for(&keys, &operator, secret) {
                Ok(()) => Ok(true),
                Err(KeyError::Weak(why)) => {
                    weak = Some(why);
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })?;
        if made {
            self.audit(actor, "keys.slot_added", &operator, keys.id())?;
        }
        Ok(weak)
    }

    /// Replaces `operator`'s copy of the key with one under `secret`.
    pub fn rewrap_key_slot(
        &mut self,
        actor: &audit::Actor,
        operator: &str,
        secret: &str,
    ) -> Result<(), StoreError> {
        let Some(keys) = self.keys().cloned() else {
            return Ok(());
        };
        self.change_keyring(|ring| ring.wrap_for(&keys, operator, secret).map(|()| true))?;
        self.audit(actor, "keys.slot_replaced", operator, keys.id())
    }

    /// Drops `operator`'s copy of the key (a disabled account).
    pub fn drop_key_slot(
        &mut self,
        actor: &audit::Actor,
        operator: &str,
    ) -> Result<(), StoreError> {
        let Some(keys) = self.keys().cloned() else {
            return Ok(());
        };
        if self.change_keyring(|ring| Ok(ring.remove_operator(operator)))? {
            self.audit(actor, "keys.slot_removed", operator, keys.id())?;
        }
        Ok(())
    }
}

/// Half-built vaults of an attempt that was stopped (never the current one).
pub fn remove_stale_vaults(data_dir: &Path, current: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let vault = e.file_name().to_string_lossy().starts_with("vault-") && p.is_dir();
        if vault && current.is_none_or(|c| c != p) {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// Removes what the switch left behind: a plain station's database and
/// images, or an older vault. Also run by every open of an encrypted
/// station, for a switch that was killed before it cleaned up.
pub fn remove_old(data_dir: &Path) -> Result<(), StoreError> {
    let Ok(super::keys::Layout::Sealed(current)) = super::keys::layout(data_dir) else {
        return Ok(());
    };
    for name in [super::DB_FILE, "folio.sqlite3-wal", "folio.sqlite3-shm"] {
        let p = data_dir.join(name);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::io(&p, e));
            }
            _ => {}
        }
    }
    for dir in ["images", "certificates"] {
        let dir = data_dir.join(dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
    }
    remove_stale_vaults(data_dir, Some(&current));
    Ok(())
}
