//! Operator accounts: who may sign in at this station, in which role. A
//! secret (PIN or passphrase) is kept only as an Argon2id hash, made by the
//! RustCrypto `argon2` crate with its default parameters (19 MiB, two passes:
//! OWASP's minimum), never by code of our own. Five wrong secrets in a row
//! lock the account for [`LOCK_MINUTES`]; every account change, sign-in,
//! failure and lock is in the audit trail.

use super::{Store, StoreError, audit};
use crate::batch::roles::{self, Action, Refusal, Role};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{OptionalExtension, params};

/// Wrong secrets in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCK_MINUTES: u64 = 15;
/// The shortest secret accepted (a six-digit PIN; the lock limits guessing).
pub const MIN_SECRET_CHARS: usize = 6;
const MAX_SECRET_CHARS: usize = 256;
const MAX_ID_CHARS: usize = 32;
const MAX_NAME_CHARS: usize = 100;

/// An account as the station keeps it (the hash stays in the store).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Operator {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    pub enabled: bool,
    /// Locked after too many wrong secrets, until then (RFC 3339 UTC).
    pub locked_until: Option<String>,
    pub created: String,
}

fn role_name<S: serde::Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "'{0}' cannot be an operator id: use 1 to 32 letters, digits, '.', '_' or '-' (e.g. j.smith)"
    )]
    BadId(String),
    #[error("a display name is 1 to 100 characters, without control characters")]
    BadName,
    #[error(
        "a PIN or passphrase needs at least {MIN_SECRET_CHARS} characters (at most {MAX_SECRET_CHARS}), without control characters"
    )]
    WeakSecret,
    #[error("operator {0} exists already: `folio operators list` shows the accounts")]
    Exists(String),
    #[error("there is no operator {0} at this station: `folio operators list` shows the accounts")]
    NoSuchOperator(String),
    #[error(
        "wrong PIN or passphrase for {id}: {left} more wrong tries lock the account for {LOCK_MINUTES} minutes"
    )]
    WrongSecret { id: String, left: u32 },
    #[error(
        "operator {id} is locked until {until} after {MAX_FAILURES} wrong PINs: wait, or ask an admin to check the account"
    )]
    Locked { id: String, until: String },
    #[error("operator {0} is disabled: ask an admin")]
    Disabled(String),
    #[error(
        "this station has operator accounts already: an admin adds more with `folio operators add`"
    )]
    AlreadySetUp,
    #[error("this would leave the station without an enabled admin: make another admin first")]
    LastAdmin,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("cannot hash the PIN or passphrase: {0}")]
    Hash(String),
    /// Too weak to wrap an encrypted station's key.
    #[error("{0}")]
    NotAPassphrase(String),
    #[error(
        "the PIN hash for {0} is not an Argon2id hash (`$argon2id$v=19$...`): make one with `folio operators hash-pin`"
    )]
    BadHash(String),
}

impl From<rusqlite::Error> for OperatorError {
    fn from(e: rusqlite::Error) -> Self {
        OperatorError::Store(StoreError::Sqlite(e))
    }
}

/// An id as typed: kept only if it is plainly printable and short.
pub fn check_id(id: &str) -> Result<&str, OperatorError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(id)
    } else {
        Err(OperatorError::BadId(crate::batch::printable(id, 40)))
    }
}

pub(super) fn check_name(name: &str) -> Result<&str, OperatorError> {
    let name = name.trim();
    let n = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&n) && !name.chars().any(char::is_control) {
        Ok(name)
    } else {
        Err(OperatorError::BadName)
    }
}

fn check_secret(secret: &str) -> Result<&str, OperatorError> {
    let n = secret.chars().count();
    if (MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) && !secret.chars().any(char::is_control) {
        Ok(secret)
    } else {
        Err(OperatorError::WeakSecret)
    }
}

/// The secret's Argon2id hash in PHC form, with a fresh random salt.
pub fn hash_secret(secret: &str) -> Result<String, OperatorError> {
    let salt = SaltString::generate(&mut password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(check_secret(secret)?.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OperatorError::Hash(e.to_string()))
}

/// Refuses a hash (of account `id`) that is not Argon2id in PHC form (a hash
/// from elsewhere, or a PIN pasted where its hash belongs: so it is never
/// printed).
pub fn check_hash(id: &str, hash: &str) -> Result<(), OperatorError> {
    match PasswordHash::new(hash) {
        Ok(h) if h.algorithm.as_str() == "argon2id" && h.salt.is_some() && h.hash.is_some() => {
            Ok(())
        }
        _ => Err(OperatorError::BadHash(crate::batch::printable(id, 40))),
    }
}

fn secret_matches(secret: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

const COLUMNS: &str = "id, name, role, enabled, locked_until, created";

fn operator_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Operator> {
    let role: String = r.get(2)?;
    Ok(Operator {
        id: r.get(0)?,
        name: r.get(1)?,
        // The table's CHECK keeps the three names.
        role: Role::parse(&role).unwrap_or(Role::Operator),
        enabled: r.get(3)?,
        locked_until: r.get(4)?,
        created: r.get(5)?,
    })
}

/// A new account as an admin (or `folio operators init`) gives it.
pub struct NewOperator<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub secret: &'a str,
}

/// Whether the station in `data_dir` has accounts, read without opening the
/// store (no lock, no migration: quick enough for a window that is opening).
/// When it cannot be told (a damaged or locked file) the answer is yes, so a
/// window opens on its sign-in screen rather than without one; the station's
/// reader says for certain a moment later.
pub fn peek_accounts(data_dir: &std::path::Path) -> bool {
    // An encrypted station always has them: they hold its key.
    if !matches!(
        super::keys::layout(data_dir),
        Ok(super::keys::Layout::Plain)
    ) {
        return true;
    }
    let path = data_dir.join(super::DB_FILE);
    if !path.exists() {
        return false;
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = rusqlite::Connection::open_with_flags(&path, flags) else {
        return true;
    };
    let has_table: rusqlite::Result<bool> = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'operators')",
        [],
        |r| r.get(0),
    );
    match has_table {
        Ok(false) => false,
        Ok(true) => conn
            .query_row("SELECT EXISTS (SELECT 1 FROM operators)", [], |r| r.get(0))
            .unwrap_or(true),
        Err(_) => true,
    }
}

impl Store {
    /// Every account, by id.
    pub fn operators(&self) -> Result<Vec<Operator>, OperatorError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM operators ORDER BY id"))?;
        let rows = stmt.query_map([], operator_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn operator(&self, id: &str) -> Result<Operator, OperatorError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM operators WHERE id = ?1"),
                [id],
                operator_row,
            )
            .optional()?
            .ok_or_else(|| OperatorError::NoSuchOperator(crate::batch::printable(id, 40)))
    }

    /// Whether the station has accounts: from then on every change needs
    /// someone signed in.
    pub fn has_operators(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM operators)", [], |r| r.get(0))?)
    }

    /// Everyone who put sides into a batch: who started it, resumed it,
    /// rescanned or replaced a page of it (for the four-eyes rule).
    pub fn batch_scanners(&self, batch_id: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT operator FROM batches WHERE id = ?1
             UNION
             SELECT operator FROM audit
              WHERE (subject = ?1 OR substr(subject, 1, length(?1) + 1) = ?1 || '/')
                AND action IN ('batch.create', 'batch.resume', 'batch.load',
                               'page.rescan', 'page.replace_image')",
        )?;
        let rows = stmt.query_map([batch_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The first admin from `[accounts] first_admin` in `config.toml`, made
    /// when the station has no account yet (nothing happens once it has).
    /// The hash must be an Argon2id PHC string.
    pub fn init_from_config(
        &mut self,
        station: &str,
        first: &crate::config::FirstAdmin,
    ) -> Result<Option<Operator>, OperatorError> {
        if self.has_operators()? {
            return Ok(None);
        }
        check_hash(&first.id, &first.secret_hash)?;
        let new = NewOperator {
            id: &first.id,
            name: &first.name,
            role: Role::Admin,
            secret: "",
        };
        self.init_with_hash(station, &new, &first.secret_hash, "from config.toml")
            .map(Some)
    }

    /// The station's first account, an admin, made while it has none (in the
    /// same transaction as the check, so two first runs cannot both make one).
    pub fn init_operators(
        &mut self,
        station: &str,
        first: &NewOperator<'_>,
    ) -> Result<Operator, OperatorError> {
        let hash = hash_secret(first.secret)?;
        self.init_with_hash(station, first, &hash, "")
    }

    fn init_with_hash(
        &mut self,
        station: &str,
        first: &NewOperator<'_>,
        hash: &str,
        how: &str,
    ) -> Result<Operator, OperatorError> {
        let tx = self.conn.transaction()?;
        let any: i64 = tx.query_row("SELECT count(*) FROM operators", [], |r| r.get(0))?;
        if any > 0 {
            return Err(OperatorError::AlreadySetUp);
        }
        let first = NewOperator {
            role: Role::Admin,
            ..*first
        };
        insert(&tx, &first, hash)?;
        let actor = audit::Actor {
            station: station.into(),
            operator: first.id.into(),
            role: Some(Role::Admin),
        };
        let detail = match how {
            "" => "the station's first admin".to_string(),
            how => format!("the station's first admin, {how}"),
        };
        audit::append(&tx, &actor, "operator.init", first.id, &detail)?;
        tx.commit()?;
        self.operator(first.id)
    }

    /// A new account, made by `by` (an admin).
    pub fn add_operator(
        &mut self,
        by: &SignedIn,
        new: &NewOperator<'_>,
    ) -> Result<Operator, OperatorError> {
        roles::may(by.role, Action::ManageOperators)?;
        let hash = hash_secret(new.secret)?;
        let tx = self.conn.transaction()?;
        insert(&tx, new, &hash)?;
        let detail = format!("{} as {}", crate::batch::printable(new.name, 100), new.role);
        audit::append(&tx, &by.actor, "operator.add", new.id, &detail)?;
        tx.commit()?;
        // At an encrypted station the new account gets its copy of the key
        // under the secret its admin set (which must be a passphrase).
        if let Some(why) = self.ensure_key_slot(&by.actor, new.id, new.secret)? {
            return Err(OperatorError::NotAPassphrase(why));
        }
        self.operator(new.id)
    }

    /// Enables or disables an account; the last enabled admin stays.
    pub fn set_operator_enabled(
        &mut self,
        by: &SignedIn,
        id: &str,
        enabled: bool,
    ) -> Result<Operator, OperatorError> {
        let changed = self.change_operator(by, id, "enabled", &enabled.to_string())?;
        if !enabled {
            // A disabled account's copy of an encrypted station's key goes
            // too, so their secret no longer opens a copy of the data.
            self.drop_key_slot(&by.actor, id)?;
        }
        Ok(changed)
    }

    /// IT, having opened the station with the recovery key, gives an
    /// operator a new secret (and a copy of the key under it).
    pub fn reset_secret(&mut self, id: &str, new: &str) -> Result<(), OperatorError> {
        let op = self.operator(check_id(id)?)?;
        if self.keys().is_some()
            && let Some(why) = self.key_secret_problem(new)?
        {
            return Err(OperatorError::NotAPassphrase(why));
        }
        let hash = hash_secret(new)?;
        let actor = audit::Actor {
            station: "recovery key".into(),
            operator: "IT".into(),
            role: None,
        };
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE operators SET secret_hash = ?2, failures = 0, locked_until = NULL WHERE id = ?1",
            rusqlite::params![op.id, hash],
        )?;
        audit::append(&tx, &actor, "operator.secret_reset_by_recovery", &op.id, "")?;
        tx.commit()?;
        self.rewrap_key_slot(&actor, &op.id, new)?;
        Ok(())
    }

    /// An operator changes their own secret (the old one proves it is
    /// them); at an encrypted station the new one must be a passphrase, and
    /// only their copy of the key is wrapped again.
    pub fn change_secret(
        &mut self,
        by: &SignedIn,
        old: &str,
        new: &str,
    ) -> Result<(), OperatorError> {
        let id = by.actor.operator.clone();
        let stored: String = self.conn.query_row(
            "SELECT secret_hash FROM operators WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        if !secret_matches(old, &stored) {
            return self.wrong_secret(&by.actor).map(drop);
        }
        if self.keys().is_some()
            && let Some(why) = self.key_secret_problem(new)?
        {
            return Err(OperatorError::NotAPassphrase(why));
        }
        let hash = hash_secret(new)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE operators SET secret_hash = ?2 WHERE id = ?1",
            rusqlite::params![id, hash],
        )?;
        audit::append(&tx, &by.actor, "operator.secret_changed", &id, "")?;
        tx.commit()?;
        self.rewrap_key_slot(&by.actor, &id, new)?;
        Ok(())
    }

    /// Gives an account another role; the last enabled admin stays one.
    pub fn set_operator_role(
        &mut self,
        by: &SignedIn,
        id: &str,
        role: Role,
    ) -> Result<Operator, OperatorError> {
        self.change_operator(by, id, "role", role.as_str())
    }

    fn change_operator(
        &mut self,
        by: &SignedIn,
        id: &str,
        what: &str,
        value: &str,
    ) -> Result<Operator, OperatorError> {
        roles::may(by.role, Action::ManageOperators)?;
        self.operator(id)?;
        let tx = self.conn.transaction()?;
        let sql = match what {
            "enabled" => "UPDATE operators SET enabled = (?2 = 'true') WHERE id = ?1",
            _ => "UPDATE operators SET role = ?2 WHERE id = ?1",
        };
        tx.execute(sql, params![id, value])?;
        let admins: i64 = tx.query_row(
            "SELECT count(*) FROM operators WHERE role = 'admin' AND enabled",
            [],
            |r| r.get(0),
        )?;
        if admins == 0 {
            return Err(OperatorError::LastAdmin);
        }
        audit::append(&tx, &by.actor, &format!("operator.{what}"), id, value)?;
        tx.commit()?;
        self.operator(id)
    }

    /// Checks `secret` for the account `id` at `station`: the account signed
    /// in, or why not. Wrong secrets count towards a lock; a right one
    /// clears the count. Every outcome is audited.
    pub fn sign_in(
        &mut self,
        station: &str,
        id: &str,
        secret: &str,
    ) -> Result<SignedIn, OperatorError> {
        let op = self.operator(check_id(id)?)?;
        let actor = audit::Actor {
            station: station.into(),
            operator: op.id.clone(),
            // Not signed in until the secret is checked.
            role: None,
        };
        let now = crate::now_rfc3339();
        if let Some(until) = op
            .locked_until
            .as_ref()
            .filter(|u| u.as_str() > now.as_str())
        {
            self.audit(&actor, "operator.sign_in_refused", &op.id, "locked")?;
            return Err(OperatorError::Locked {
                id: op.id,
                until: until.clone(),
            });
        }
        if !op.enabled {
            self.audit(&actor, "operator.sign_in_refused", &op.id, "disabled")?;
            return Err(OperatorError::Disabled(op.id));
        }
        let stored: String = self.conn.query_row(
            "SELECT secret_hash FROM operators WHERE id = ?1",
            [&op.id],
            |r| r.get(0),
        )?;
        if secret_matches(secret, &stored) {
            let actor = audit::Actor {
                role: Some(op.role),
                ..actor
            };
            let tx = self.conn.transaction()?;
            tx.execute(
                "UPDATE operators SET failures = 0, locked_until = NULL WHERE id = ?1",
                [&op.id],
            )?;
            audit::append(&tx, &actor, "operator.signed_in", &op.id, op.role.as_str())?;
            tx.commit()?;
            // At an unlocked encrypted station, an operator without a copy
            // of its key gets one now (their secret is at hand only now).
            if let Some(why) = self.ensure_key_slot(&actor, &op.id, secret)? {
                tracing::warn!("{} holds no copy of the station's key: {why}", op.id);
            }
            return Ok(SignedIn {
                actor,
                role: op.role,
            });
        }
        self.wrong_secret(&actor)
    }

    fn wrong_secret(&mut self, actor: &audit::Actor) -> Result<SignedIn, OperatorError> {
        let id = actor.operator.as_str();
        let tx = self.conn.transaction()?;
        let failures: u32 = tx.query_row(
            "UPDATE operators SET failures = failures + 1 WHERE id = ?1 RETURNING failures",
            [id],
            |r| r.get(0),
        )?;
        let err = if failures >= MAX_FAILURES {
            let until = crate::rfc3339_after(std::time::Duration::from_secs(LOCK_MINUTES * 60));
            tx.execute(
                "UPDATE operators SET failures = 0, locked_until = ?2 WHERE id = ?1",
                params![id, until],
            )?;
            audit::append(&tx, actor, "operator.locked", id, &until)?;
            OperatorError::Locked {
                id: id.into(),
                until,
            }
        } else {
            audit::append(
                &tx,
                actor,
                "operator.sign_in_failed",
                id,
                &failures.to_string(),
            )?;
            OperatorError::WrongSecret {
                id: id.into(),
                left: MAX_FAILURES - failures,
            }
        };
        tx.commit()?;
        Err(err)
    }
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    new: &NewOperator<'_>,
    hash: &str,
) -> Result<(), OperatorError> {
    let id = check_id(new.id)?;
    let name = check_name(new.name)?;
    let made = tx.execute(
        "INSERT INTO operators (id, name, role, secret_hash, created)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
        params![id, name, new.role.as_str(), hash, crate::now_rfc3339()],
    )?;
    if made == 0 {
        return Err(OperatorError::Exists(id.into()));
    }
    Ok(())
}

/// Someone whose secret was checked: who they are here, and their role.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub actor: audit::Actor,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    fn admin(store: &mut Store) -> SignedIn {
        let first = NewOperator {
            id: "a.admin",
            name: "Ann Admin",
            role: Role::Operator,
            secret: "246810",
        };
        let op = store.init_operators("scan-01", &first).unwrap();
        assert_eq!(op.role, Role::Admin, "the first account is an admin");
        store.sign_in("scan-01", "a.admin", "246810").unwrap()
    }

    fn add(
        store: &mut Store,
        by: &SignedIn,
        id: &str,
        role: Role,
    ) -> Result<Operator, OperatorError> {
        store.add_operator(
            by,
            &NewOperator {
                id,
                name: "Jo Smith",
                role,
                secret: "135790",
            },
        )
    }

    #[test]
    fn the_first_admin_is_made_once_and_signs_in() {
        let (_d, mut store) = store();
        let admin = admin(&mut store);
        assert_eq!(admin.role, Role::Admin);
        let again = NewOperator {
            id: "b.admin",
            name: "B",
            role: Role::Admin,
            secret: "246810",
        };
        assert!(matches!(
            store.init_operators("scan-01", &again),
            Err(OperatorError::AlreadySetUp)
        ));
        let stored: String = store
            .conn
            .query_row("SELECT secret_hash FROM operators", [], |r| r.get(0))
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("246810"));
    }

    #[test]
    fn only_an_admin_manages_accounts_and_the_last_admin_stays() {
        let (_d, mut store) = store();
        let admin = admin(&mut store);
        add(&mut store, &admin, "j.smith", Role::Supervisor).unwrap();
        let jo = store.sign_in("scan-01", "j.smith", "135790").unwrap();
        assert!(matches!(
            add(&mut store, &jo, "x.new", Role::Operator),
            Err(OperatorError::Refused(_))
        ));
        assert!(matches!(
            add(&mut store, &admin, "j.smith", Role::Operator),
            Err(OperatorError::Exists(_))
        ));
        assert!(matches!(
            add(&mut store, &admin, "bad id\u{1b}", Role::Operator),
            Err(OperatorError::BadId(s)) if !s.contains('\u{1b}')
        ));
        assert!(matches!(
            store.set_operator_role(&admin, "a.admin", Role::Supervisor),
            Err(OperatorError::LastAdmin)
        ));
        assert!(matches!(
            store.set_operator_enabled(&admin, "a.admin", false),
            Err(OperatorError::LastAdmin)
        ));
        store
            .set_operator_enabled(&admin, "j.smith", false)
            .unwrap();
        assert!(matches!(
            store.sign_in("scan-01", "j.smith", "135790"),
            Err(OperatorError::Disabled(_))
        ));
        let events = audit::events(&store.conn, None).unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        for a in [
            "operator.init",
            "operator.add",
            "operator.enabled",
            "operator.sign_in_refused",
        ] {
            assert!(actions.contains(&a), "{a} not in {actions:?}");
        }
    }

    #[test]
    fn five_wrong_secrets_lock_the_account_and_each_is_audited() {
        let (_d, mut store) = store();
        let admin = admin(&mut store);
        add(&mut store, &admin, "j.smith", Role::Operator).unwrap();
        for left in (1..MAX_FAILURES).rev() {
            match store.sign_in("scan-01", "j.smith", "000000") {
                Err(OperatorError::WrongSecret { left: l, .. }) => assert_eq!(l, left),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            store.sign_in("scan-01", "j.smith", "000000"),
            Err(OperatorError::Locked { .. })
        ));
        // Locked: even the right secret is refused until the lock ends.
        assert!(matches!(
            store.sign_in("scan-01", "j.smith", "135790"),
            Err(OperatorError::Locked { .. })
        ));
        let events = audit::events(&store.conn, Some("j.smith")).unwrap();
        let failed = events
            .iter()
            .filter(|e| e.action == "operator.sign_in_failed")
            .count();
        assert_eq!(failed, (MAX_FAILURES - 1) as usize);
        assert!(events.iter().any(|e| e.action == "operator.locked"));
        // The lock over, the right secret signs in and clears the count.
        store
            .conn
            .execute(
                "UPDATE operators SET locked_until = '2000-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        store.sign_in("scan-01", "j.smith", "135790").unwrap();
        assert!(matches!(
            store.sign_in("scan-01", "j.smith", "999999"),
            Err(OperatorError::WrongSecret { left, .. }) if left == MAX_FAILURES - 1
        ));
        audit::verify(&store.conn).unwrap();
    }

    #[test]
    fn secrets_and_names_are_checked() {
        assert!(matches!(
            hash_secret("12345"),
            Err(OperatorError::WeakSecret)
        ));
        assert!(matches!(
            hash_secret("123456\n"),
            Err(OperatorError::WeakSecret)
        ));
        assert!(hash_secret("correct horse").is_ok());
        assert!(check_name("  ").is_err());
        assert!(check_name("Jo\u{7}").is_err());
        assert_eq!(check_name(" Siân O'Neill ").unwrap(), "Siân O'Neill");
        assert!(check_id("").is_err());
        assert!(check_id(&"a".repeat(33)).is_err());
        assert!(check_id("j.smith-2_b").is_ok());
        assert!(check_id("jö").is_err());
    }
}
