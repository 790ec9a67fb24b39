//! The station cache: the only code that speaks SQL. SQLite in WAL mode with
//! `synchronous=FULL` (a page is durable when its row commits), migrations as an
//! append-only list keyed by `PRAGMA user_version`, content-addressed image files
//! and the hash-chained audit trail.
//!
//! One `Store` owns one connection and is used from one thread (the store writer);
//! `ImageStore` is shared by the imaging threads.

pub mod at_rest;
pub mod audit;
mod batches;
mod cache;
pub mod images;
pub mod keys;
mod operator_list;
mod operators;
mod outbox;
mod paper;
mod receipts;
mod review;
mod samples;
pub mod seal;
mod sessions;
mod stats;
mod text;
pub mod tpm;
pub mod vault;
mod worklist;

pub use crate::batch::PageDecision;
pub use audit::Actor;
pub use batches::{
    BatchRow, BatchTree, NewBatch, PageRow, StoredImage, TreeDocument, TreePage, TreeRecord,
    TreeRemoved,
};
pub(crate) use cache::free_bytes;
pub use cache::{DiskUsage, Purged};
pub use images::{ImageStore, sha256_hex};
pub use operator_list::{ListError, OperatorList, new_signing_key, sign as sign_operator_list};
pub use operators::{
    LOCK_MINUTES, MAX_FAILURES, MIN_SECRET_CHARS, NewOperator, Operator, OperatorError, SignedIn,
    check_hash, hash_secret, peek_accounts,
};
pub use outbox::{CachedPdf, OutboxRow, sender_name};
pub use paper::{LegalHold, NewCertificate, PaperMove, RegisterEntry};
pub use receipts::Receipt;
pub use review::{DocChoice, PatientMismatch, ReviewItem, ReviewKind};
pub use samples::{MAX_SAMPLE_REASON_CHARS, Sample, SampleError};
pub use sessions::{BatchProvenance, NewSession, SessionRow};
pub use text::{CLAIM_S, MAX_ATTEMPTS, TextJob};

use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{M, Migrations};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Failures of the cache, each saying what the operator can do.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "the disk holding {path} is full: free space (or choose another --data-dir), then resume; nothing already stored is lost"
    )]
    DiskFull { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the station database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot upgrade the station database {path}: {why}")]
    Migration { path: PathBuf, why: String },
    #[error("no batch matches '{0}': list batches with `folio batches`")]
    NoSuchBatch(String),
    #[error("'{given}' matches several batches: give more of the id. Candidates: {candidates}")]
    AmbiguousBatch { given: String, candidates: String },
    #[error(
        "'{0}' is too short to name a batch: give the whole id or at least its first 6 characters (`folio batches` lists them)"
    )]
    BatchPrefixTooShort(String),
    #[error(
        "'{0}' is not a batch id (ids are letters, digits and '-'): `folio batches` lists them"
    )]
    BadBatchId(String),
    #[error(
        "batch {batch} is already {state}; only a batch still scanning can be resumed or closed"
    )]
    NotOpen {
        batch: String,
        state: crate::batch::BatchState,
    },
    #[error(
        "batch {batch} is {from}: it cannot become {to} (no step of a batch's life leads there)"
    )]
    IllegalMove {
        batch: String,
        from: crate::batch::BatchState,
        to: crate::batch::BatchState,
    },
    #[error(
        "batch {batch}: {count} document(s) have not read back from {target} as sent, so it is not uploaded yet; `folio upload --batch {batch}` sends them again"
    )]
    Unverified {
        batch: String,
        target: String,
        count: u64,
    },
    /// The data folder is not on an encrypted disk, and the station's
    /// policy requires one (`require_encrypted_disk`).
    #[error("{0}")]
    NotEncrypted(String),
    #[error("nothing was destroyed: {0}")]
    DestructionRefused(String),
    #[error("batch {batch}: {why}")]
    Refused { batch: String, why: String },
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("{0}")]
    Damaged(String),
    #[error("no {0} in the station data (it may have changed meanwhile): refresh and try again")]
    NotFound(String),
}

impl From<crate::durable::PathError> for StoreError {
    fn from(e: crate::durable::PathError) -> StoreError {
        StoreError::io(&e.path, e.source)
    }
}

impl StoreError {
    /// Wraps an I/O error, recognising a full disk.
    pub fn io(path: &Path, source: std::io::Error) -> StoreError {
        if source.kind() == std::io::ErrorKind::StorageFull
            || source.raw_os_error() == Some(libc::ENOSPC)
        {
            StoreError::DiskFull {
                path: path.to_path_buf(),
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    /// True when the disk is full (the caller stops and tells the operator).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            _ => false,
        }
    }
}

/// Reads stored text at column `at` as one of `batch`'s enums. Text this build
/// does not know (a damaged cache) is an error naming `what`, never a guess.
pub(crate) fn parsed<T>(
    r: &rusqlite::Row<'_>,
    at: usize,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(at)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Text,
            format!("unknown {what} {text:?}").into(),
        )
    })
}

/// `'a', 'b'`: stored names for an SQL `IN (...)` list. Only `as_str` names
/// (constants of this crate) are written, never outside text.
pub(crate) fn sql_names<T>(
    items: impl IntoIterator<Item = T>,
    name: fn(T) -> &'static str,
) -> String {
    items
        .into_iter()
        .map(|i| format!("'{}'", name(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A failed upgrade in words: SQLite's reason, not the statement.
fn migration_error(path: &Path, e: rusqlite_migration::Error) -> StoreError {
    use rusqlite_migration::{Error, MigrationDefinitionError};
    let why = match e {
        Error::RusqliteError { err, .. } => err.to_string(),
        Error::MigrationDefinition(MigrationDefinitionError::DatabaseTooFarAhead) => {
            "it was written by a newer version of Folio: run that version (or a newer one) on this data folder".into()
        }
        other => other.to_string(),
    };
    StoreError::Migration {
        path: path.to_path_buf(),
        why,
    }
}

/// The guard of an update that moves a batch to `to`: `state IN (...)` of
/// the states [`crate::batch::rules::sources`] allows, so the rule and the
/// change are one statement.
pub(crate) fn from_states(to: crate::batch::BatchState) -> String {
    let list: Vec<String> = crate::batch::rules::sources(to)
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("state IN ({})", list.join(", "))
}

/// After an update guarded by [`from_states`] changed nothing: fine when the
/// batch already is `to`, else the move is refused, naming both states.
pub(crate) fn refused_move(
    conn: &Connection,
    batch_id: &str,
    to: crate::batch::BatchState,
) -> Result<(), StoreError> {
    let state: Option<String> = conn
        .query_row("SELECT state FROM batches WHERE id = ?1", [batch_id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(state) = state else {
        return Err(StoreError::NotFound(format!("batch {batch_id}")));
    };
    match crate::batch::BatchState::parse(&state) {
        Some(from) if from == to => Ok(()),
        Some(from) => Err(StoreError::IllegalMove {
            batch: batch_id.to_string(),
            from,
            to,
        }),
        None => Err(StoreError::Damaged(format!(
            "batch {batch_id} has the unknown state {state:?}"
        ))),
    }
}

/// Opens (creating) a lock file in the data folder.
pub(crate) fn lock_file(data_dir: &Path, name: &str) -> Result<std::fs::File, StoreError> {
    let path = data_dir.join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))
}

/// The schema, as an append-only list: never edit a step, add one.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("schema_1.sql")),
        M::up(include_str!("schema_2.sql")),
        M::up(include_str!("schema_3.sql")),
        M::up(include_str!("schema_4.sql")),
        M::up(include_str!("schema_5.sql")),
        M::up(include_str!("schema_6.sql")),
        M::up(include_str!("schema_7.sql")),
        M::up(include_str!("schema_8.sql")),
        M::up(include_str!("schema_9.sql")),
        M::up(include_str!("schema_10.sql")),
        M::up(include_str!("schema_11.sql")),
        M::up(include_str!("schema_12.sql")),
        M::up(include_str!("schema_13.sql")),
        M::up(include_str!("schema_14.sql")),
        M::up(include_str!("schema_15.sql")),
    ])
}

/// The station's database and image folder.
pub struct Store {
    conn: Connection,
    images: ImageStore,
    data_dir: PathBuf,
    /// Where the database and images are: the data folder, or its vault.
    root: PathBuf,
    keys: Option<std::sync::Arc<keys::Keys>>,
    /// Held (shared) while this store is open, so that `folio encrypt`
    /// and `folio rekey` know no one is using the data they replace.
    _in_use: std::fs::File,
}

/// The lock file every open store holds shared (see [`Store`]).
pub const IN_USE_FILE: &str = "folio.inuse";
/// The database's file name.
pub const DB_FILE: &str = "folio.sqlite3";

/// Where the database and images of the station in `data_dir` are, and the
/// keys they need (none for a plain station). A locked encrypted station
/// is refused in words.
pub fn place(data_dir: &Path) -> Result<(PathBuf, Option<std::sync::Arc<keys::Keys>>), StoreError> {
    match keys::layout(data_dir)? {
        keys::Layout::Plain => Ok((data_dir.to_path_buf(), None)),
        keys::Layout::Sealed(vault) => match keys::unlocked(&vault) {
            Some(k) => Ok((vault, Some(k))),
            None => Err(keys::KeyError::Locked(data_dir.to_path_buf()).into()),
        },
    }
}

/// Opens a connection to a station database, keyed when encrypted: the key
/// is the first statement, SQLCipher wipes freed memory, temporary tables
/// stay in memory, and a wrong key is said as such.
pub fn connect(path: &Path, keys: Option<&keys::Keys>) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    if let Some(k) = keys {
        conn.execute_batch(&k.db_pragma())?;
        conn.execute_batch("PRAGMA cipher_memory_security = ON; PRAGMA temp_store = MEMORY;")?;
        let readable: rusqlite::Result<i64> =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0));
        if readable.is_err() {
            return Err(StoreError::Damaged(format!(
                "the encrypted database {} does not open with this station's key {}: restore the data folder from backup",
                path.display(),
                k.id()
            )));
        }
    }
    Ok(conn)
}

impl Store {
    /// Opens (creating and migrating as needed) the cache under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        // The schema version is read before the migration's transaction
        // starts, so two processes opening a new data folder at once would
        // both migrate from the start, and turning a new database to WAL
        // races with the other connections opening it (seen as "database is
        // locked" when the window's workers open a new folder together):
        // openers take turns on a lock file (released when the file closes,
        // also if we crash).
        let lock = lock_file(data_dir, "folio.lock")?;
        lock.lock().map_err(|e| StoreError::io(data_dir, e))?;
        let in_use = lock_file(data_dir, IN_USE_FILE)?;
        in_use
            .lock_shared()
            .map_err(|e| StoreError::io(data_dir, e))?;
        let (root, keys) = place(data_dir)?;
        if keys.is_some() {
            // What a switch to a new vault killed midway left behind.
            vault::remove_old(data_dir)?;
        }
        let db_path = root.join(DB_FILE);
        let mut conn = connect(&db_path, keys.as_deref())?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Several processes may share the folder (a window and a CLI, two
        // uploads): a transaction that reads and then writes must hold the
        // write lock from its start, or it fails at once ("database is
        // locked") when another process wrote in between, whatever the
        // busy timeout.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| migration_error(&db_path, e))?;
        drop(lock);
        Ok(Store {
            conn,
            images: ImageStore::at(&root, keys.clone()),
            data_dir: data_dir.to_path_buf(),
            root,
            keys,
            _in_use: in_use,
        })
    }

    /// The keys of an encrypted station (none for a plain one).
    pub fn keys(&self) -> Option<&std::sync::Arc<keys::Keys>> {
        self.keys.as_ref()
    }

    /// Where the database and image files are (the data folder, or the
    /// vault inside it at an encrypted station).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image files, for the imaging threads.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The audit trail, oldest first (of one batch, when given).
    pub fn audit_events(&self, batch: Option<&str>) -> Result<Vec<audit::AuditEvent>, StoreError> {
        let id = batch
            .map(|b| self.find_batch(b).map(|b| b.id))
            .transpose()?;
        audit::events(&self.conn, id.as_deref())
    }

    /// The audit chain's head (none while the trail is empty).
    pub fn audit_head(&self) -> Result<Option<audit::AuditHead>, StoreError> {
        audit::head(&self.conn)
    }

    /// Remembers the head a delivered batch carried to `target`.
    /// The batch and record delivered last (to any target), if any.
    pub fn newest_delivery(&self) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT batch_id, record_id FROM deliveries ORDER BY delivered_at DESC, rowid DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn remember_anchor(
        &self,
        head: &audit::AuditHead,
        batch_id: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO audit_anchors (seq, hash, batch_id, target, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![head.seq, head.hash, batch_id, target, crate::now_rfc3339()],
        )?;
        Ok(())
    }

    /// The chain against an anchor read back from the central store (or
    /// remembered): why it does not match, if it does not.
    pub fn against_anchor(
        &self,
        anchor: &audit::AuditHead,
        whence: &str,
    ) -> Result<Option<String>, StoreError> {
        audit::against_anchor(&self.conn, anchor, whence)
    }

    /// `PRAGMA integrity_check`, the audit chain, and the chain against the
    /// newest head this station remembers sending (a removed tail shows).
    pub fn check(&self) -> Result<usize, StoreError> {
        let ok: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::Damaged(format!(
                "database integrity check failed: {ok}"
            )));
        }
        let n = audit::verify(&self.conn)?;
        let newest: Option<(i64, String, String, String, String)> = self
            .conn
            .query_row(
                "SELECT seq, hash, batch_id, target, at FROM audit_anchors ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        if let Some((seq, hash, batch, target, at)) = newest {
            let whence = format!(
                "sent to {} with batch {} at {}",
                crate::batch::printable(&target, 80),
                crate::batch::printable(&batch, 40),
                crate::batch::printable(&at, 40)
            );
            if let Some(why) =
                audit::against_anchor(&self.conn, &audit::AuditHead { seq, hash }, &whence)?
            {
                return Err(StoreError::Damaged(why));
            }
        }
        self.check_register()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new batch named `id`, from `source`, for the store's own tests.
    fn new_batch(id: &str, source: crate::batch::BatchSource) -> batches::NewBatch {
        batches::NewBatch {
            id: id.into(),
            label: "box".into(),
            source,
            specialty: None,
            duplex: false,
            dpi: None,
            expected_sheets: None,
        }
    }

    #[test]
    fn migrations_are_valid_and_idempotent() {
        migrations().validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let s = Store::open(dir.path()).unwrap();
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 15);
        assert_eq!(s.check().unwrap(), 0);
    }

    #[test]
    fn a_batch_is_named_by_a_prefix_no_other_batch_in_the_store_shares() {
        use crate::batch::BatchSource;
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let actor = Actor {
            station: "st".into(),
            operator: "op".into(),
            role: None,
        };
        let ids = [
            "01a23446-7c21-7000-8000-00000000000a",
            "01a23446-7c99-7000-8000-00000000000b",
            "01a23446-9d02-7000-8000-00000000000c",
            "02000000-0000-7000-8000-00000000000d",
        ];
        for id in ids {
            let new = new_batch(id, BatchSource::SiteLibrary);
            s.create_batch(&new, &actor).unwrap();
        }
        let names: Vec<String> = ids.iter().map(|id| s.batch_name(id).unwrap()).collect();
        assert_eq!(
            names,
            ["01a23446-7c2", "01a23446-7c9", "01a23446-9", "02000000"]
        );
        // The window's names (from the whole list) are the same.
        let all = crate::batch::short_names(ids);
        for (id, name) in ids.iter().zip(&names) {
            assert_eq!(&all[*id], name);
            // And the command line finds the batch by it.
            assert_eq!(&s.find_batch(name).unwrap().id, id);
        }
    }

    #[test]
    fn images_are_content_addressed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let sha = s.images().put(b"page").unwrap();
        assert_eq!(sha, sha256_hex(b"page"));
        assert_eq!(s.images().get(&sha).unwrap(), b"page");
        std::fs::write(s.images().path_of(&sha), b"tampered").unwrap();
        assert!(matches!(s.images().get(&sha), Err(StoreError::Damaged(_))));
    }

    #[test]
    fn the_store_moves_a_batch_only_along_its_life() {
        use crate::batch::{BatchSource, BatchState};
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let actor = Actor::unaccounted("st", "op");
        let new = new_batch("0123456789ab", BatchSource::SiteLibrary);
        s.create_batch(&new, &actor).unwrap();
        // A batch still scanning is not uploaded: refused, nothing changed.
        let e = s.upload_done("0123456789ab", "folder", &actor).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::IllegalMove {
                    from: BatchState::Scanning,
                    to: BatchState::Uploaded,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("is scanning: it cannot become uploaded"),
            "{e}"
        );
        assert_eq!(
            s.find_batch("0123456789ab").unwrap().state,
            BatchState::Scanning
        );
        // Separating it closes it; once approved, separating it again is
        // refused (its documents are settled), and it stays approved.
        let layout = crate::batch::Layout::default();
        s.save_layout("0123456789ab", &layout, BatchState::Closed, &actor)
            .unwrap();
        assert_eq!(
            s.find_batch("0123456789ab").unwrap().state,
            BatchState::Closed
        );
        s.conn
            .execute("UPDATE batches SET state = 'approved'", [])
            .unwrap();
        let e = s
            .save_layout("0123456789ab", &layout, BatchState::Closed, &actor)
            .unwrap_err();
        assert!(matches!(e, StoreError::IllegalMove { .. }), "{e}");
        assert_eq!(
            s.find_batch("0123456789ab").unwrap().state,
            BatchState::Approved
        );
        // Uploaded, then uploaded again (a second sender finishing): fine.
        s.upload_done("0123456789ab", "folder", &actor).unwrap();
        s.upload_done("0123456789ab", "folder", &actor).unwrap();
        assert_eq!(
            s.find_batch("0123456789ab").unwrap().state,
            BatchState::Uploaded
        );
    }

    #[test]
    fn states_and_sources_are_typed_and_unknown_text_is_an_error() {
        use crate::batch::{BatchSource, BatchState};
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let actor = Actor {
            station: "st".into(),
            operator: "op".into(),
            role: None,
        };
        let new = new_batch("0123456789ab", BatchSource::OnDemand);
        s.create_batch(&new, &actor).unwrap();
        let b = s.find_batch("0123456789ab").unwrap();
        assert_eq!(b.state, BatchState::Scanning);
        assert_eq!(b.source, BatchSource::OnDemand);
        assert_eq!(s.open_batch("0123456789ab").unwrap().id, b.id);
        // What a newer build, or damage, may leave: refused by name, no panic.
        s.conn
            .execute("UPDATE batches SET state = 'shredded'", [])
            .unwrap();
        let err = s.find_batch("0123456789ab").unwrap_err();
        assert!(
            err.to_string().contains("unknown batch state \"shredded\""),
            "{err}"
        );
        assert!(s.list_batches().is_err());
        // A closed batch is not open any more.
        s.conn
            .execute("UPDATE batches SET state = 'in_review'", [])
            .unwrap();
        assert!(matches!(
            s.open_batch("0123456789ab"),
            Err(StoreError::NotOpen {
                state: BatchState::InReview,
                ..
            })
        ));
    }
}
