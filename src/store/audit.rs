//! The audit trail: append-only, each row holding the hash of the previous one so
//! that editing or deleting a row breaks the chain visibly.

use super::StoreError;
use crate::batch::roles::Role;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// Who did something, on which station, and in which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub station: String,
    /// The operator's account id when signed in, else the name given (a
    /// station without accounts) or the station's own name for its workers.
    pub operator: String,
    /// The role they signed in with; `None` when nobody signed in (a station
    /// without accounts, or the station's own uploader).
    pub role: Option<Role>,
}

impl Actor {
    /// Someone not signed in: a station without accounts, or the station's
    /// own workers (its uploader).
    pub fn unaccounted(station: &str, operator: &str) -> Actor {
        Actor {
            station: station.into(),
            operator: operator.into(),
            role: None,
        }
    }

    pub(crate) fn role_str(&self) -> &'static str {
        self.role.map(Role::as_str).unwrap_or("")
    }
}

fn row_hash(prev: &str, at: &str, a: &Actor, action: &str, subject: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, at, &a.station, &a.operator, action, subject, detail] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    // Rows from before roles (and without one) hash as they always did; a
    // role, once written, is covered like every other field.
    let role = a.role_str();
    if !role.is_empty() {
        h.update((role.len() as u64).to_le_bytes());
        h.update(role.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an event inside the caller's transaction (so the event and the change
/// it describes commit together).
pub fn append(
    conn: &Connection,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let prev: String = conn
        .query_row(
            "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let at = crate::now_rfc3339();
    let hash = row_hash(&prev, &at, actor, action, subject, detail);
    conn.execute(
        "INSERT INTO audit (at, station, operator, role, action, subject, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            at,
            actor.station,
            actor.operator,
            actor.role_str(),
            action,
            subject,
            detail,
            prev,
            hash
        ],
    )?;
    Ok(())
}

/// One event of the trail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub station: String,
    pub operator: String,
    /// The role the operator signed in with; empty when nobody signed in.
    pub role: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Events, oldest first; those about a batch (its id, or a side of it) when
/// `subject` is given.
pub fn events(conn: &Connection, subject: Option<&str>) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, station, operator, action, subject, detail, role FROM audit
         WHERE ?1 IS NULL OR subject = ?1 OR substr(subject, 1, length(?1) + 1) = ?1 || '/' ORDER BY seq",
    )?;
    let rows = stmt.query_map([subject], |r| {
        Ok(AuditEvent {
            seq: r.get(0)?,
            at: r.get(1)?,
            station: r.get(2)?,
            operator: r.get(3)?,
            action: r.get(4)?,
            subject: r.get(5)?,
            detail: r.get(6)?,
            role: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Walks the chain; returns the number of events, or the first broken row.
pub fn verify(conn: &Connection) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, station, operator, action, subject, detail, prev_hash, hash, role
         FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = String::new();
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let role: String = r.get(9)?;
        let actor = Actor {
            station: r.get(2)?,
            operator: r.get(3)?,
            role: Role::parse(&role),
        };
        if actor.role_str() != role {
            return Err(StoreError::Damaged(format!(
                "audit event {seq} holds a role Folio does not know"
            )));
        }
        let (at, action, subject, detail): (String, String, String, String) =
            (r.get(1)?, r.get(4)?, r.get(5)?, r.get(6)?);
        let (stored_prev, stored): (String, String) = (r.get(7)?, r.get(8)?);
        if stored_prev != prev || row_hash(&prev, &at, &actor, &action, &subject, &detail) != stored
        {
            return Err(StoreError::Damaged(format!(
                "audit event {seq} was altered or an event before it was removed"
            )));
        }
        prev = stored;
        n += 1;
    }
    Ok(n)
}

pub use crate::batch::manifest::AuditHead;

pub fn head(conn: &Connection) -> Result<Option<AuditHead>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                Ok(AuditHead {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// Why the chain does not match an anchor kept outside it, in words; `None`
/// when the event the anchor names is there with its hash.
pub fn against_anchor(
    conn: &Connection,
    anchor: &AuditHead,
    whence: &str,
) -> Result<Option<String>, StoreError> {
    let at: Option<String> = conn
        .query_row("SELECT hash FROM audit WHERE seq = ?1", [anchor.seq], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match at {
        Some(h) if h == anchor.hash => None,
        Some(_) => Some(format!(
            "audit event {} differs from the one {whence}: the trail was rewritten",
            anchor.seq
        )),
        None => {
            let last = head(conn)?.map_or(0, |h| h.seq);
            Some(format!(
                "the audit chain is shorter than its anchor: event {} was {whence}, but the \
                 chain now ends at event {last} (its last events were removed)",
                anchor.seq
            ))
        }
    })
}
