//! The paper's life after upload (issue 18): where it is, until when it is
//! held, legal holds, and the moves uploaded → paper held → destruction due
//! (→ held again under a legal hold) that [`crate::batch::retention`]
//! decides. Each move is written guarded by the state it was decided from,
//! with its audit event, in one transaction.

use super::{Actor, Store, StoreError, audit};
use crate::batch::retention::{HoldKind, PaperFacts, RetentionConfig, next_state};
use crate::batch::{BatchSource, BatchState};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

/// A legal hold, in force or lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub id: i64,
    pub batch_id: String,
    /// The record held (None: the whole batch).
    pub record_id: Option<String>,
    pub kind: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_role: String,
    pub placed_at: String,
    pub lifted_by: Option<String>,
    pub lifted_role: Option<String>,
    pub lifted_at: Option<String>,
    pub lift_reason: Option<String>,
}

impl LegalHold {
    pub fn in_force(&self) -> bool {
        self.lifted_at.is_none()
    }
}

const HOLD_COLS: &str = "id, batch_id, record_id, kind, reason, placed_by, placed_role, placed_at, lifted_by, lifted_role, lifted_at, lift_reason";

fn hold_row(r: &Row<'_>) -> rusqlite::Result<LegalHold> {
    Ok(LegalHold {
        id: r.get(0)?,
        batch_id: r.get(1)?,
        record_id: r.get(2)?,
        kind: r.get(3)?,
        reason: r.get(4)?,
        placed_by: r.get(5)?,
        placed_role: r.get(6)?,
        placed_at: r.get(7)?,
        lifted_by: r.get(8)?,
        lifted_role: r.get(9)?,
        lifted_at: r.get(10)?,
        lift_reason: r.get(11)?,
    })
}

/// A move of a batch's paper, as made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaperMove {
    pub batch_id: String,
    pub from: BatchState,
    pub to: BatchState,
    pub hold_until: Option<String>,
}

fn facts(conn: &rusqlite::Connection, batch_id: &str) -> Result<PaperFacts, StoreError> {
    let row = conn
        .query_row(
            "SELECT b.state, b.source, b.hold_until, b.paper_location, b.flags_at_approval, o.target
             FROM batches b LEFT JOIN outbox o ON o.batch_id = b.id WHERE b.id = ?1",
            params![batch_id],
            |r| {
                Ok((
                    super::parsed(r, 0, "batch state", BatchState::parse)?,
                    super::parsed(r, 1, "batch source", BatchSource::parse)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::NoSuchBatch(batch_id.to_string()))?;
    let (state, source, hold_until, paper_location, flags_at_approval, target) = row;
    let documents: u32 = conn.query_row(
        "SELECT count(*) FROM documents WHERE batch_id = ?1",
        params![batch_id],
        |r| r.get(0),
    )?;
    let (verified, verified_at): (u32, Option<String>) = match &target {
        Some(t) => verified_at_target(conn, batch_id, t)?,
        None => (0, None),
    };
    let legal_holds: u32 = conn.query_row(
        "SELECT count(*) FROM legal_holds WHERE batch_id = ?1 AND lifted_at IS NULL",
        params![batch_id],
        |r| r.get(0),
    )?;
    let open_flags: u32 = conn.query_row(
        "SELECT count(*) FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL AND id > ?2",
        params![batch_id, flags_at_approval],
        |r| r.get(0),
    )?;
    Ok(PaperFacts {
        batch_id: batch_id.to_string(),
        state,
        source,
        documents,
        verified,
        verified_at,
        hold_until,
        legal_holds,
        open_flags,
        paper_location,
    })
}

/// Documents of the batch whose newest read-back at `target` is verified
/// for the PDF they have now, and when the last of them was.
fn verified_at_target(
    conn: &rusqlite::Connection,
    batch_id: &str,
    target: &str,
) -> Result<(u32, Option<String>), StoreError> {
    Ok(conn.query_row(
        "SELECT count(*), max(r.checked_at) FROM documents d
           JOIN document_pdfs p ON p.document_id = d.id
           JOIN receipts r ON r.document_id = d.id AND r.target = ?2
             AND r.id = (SELECT max(id) FROM receipts q WHERE q.document_id = d.id AND q.target = ?2)
         WHERE d.batch_id = ?1 AND r.verified = 1 AND r.sent_sha256 = p.sha256",
        params![batch_id, target],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

impl Store {
    /// What the destruction rules need to know of a batch.
    pub fn paper_facts(&self, batch_id: &str) -> Result<PaperFacts, StoreError> {
        facts(&self.conn, batch_id)
    }

    /// Moves the batch's paper on if [`next_state`] says so at `now`
    /// (RFC 3339), setting the hold date when it is first held.
    pub fn advance_paper(
        &mut self,
        batch_id: &str,
        retention: &RetentionConfig,
        now: &str,
        actor: &Actor,
    ) -> Result<Option<PaperMove>, StoreError> {
        let tx = self.conn.transaction()?;
        let f = facts(&tx, batch_id)?;
        let Some(to) = next_state(&f, now) else {
            return Ok(None);
        };
        let fmt = &time::format_description::well_known::Rfc3339;
        let hold_until = match (&f.hold_until, &f.verified_at) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(v)) => time::OffsetDateTime::parse(v, fmt)
                .ok()
                .map(|t| crate::rfc3339(retention.hold_until(f.source, t))),
            (None, None) => None,
        };
        let moved = tx.execute(
            "UPDATE batches SET state = ?3, hold_until = ?4 WHERE id = ?1 AND state = ?2",
            params![batch_id, f.state.as_str(), to.as_str(), hold_until],
        )?;
        if moved == 0 {
            return Ok(None);
        }
        let (action, detail) = match to {
            BatchState::PaperHeld if f.state == BatchState::DestructionDue => (
                "paper.held_again",
                format!("{} legal hold(s) in force", f.legal_holds),
            ),
            BatchState::PaperHeld => (
                "paper.held",
                format!(
                    "all {} documents verified in the store; held until {}",
                    f.documents,
                    hold_until.as_deref().unwrap_or("?")
                ),
            ),
            _ => (
                "paper.destruction_due",
                format!("held until {}", hold_until.as_deref().unwrap_or("?")),
            ),
        };
        audit::append(&tx, actor, action, batch_id, &detail)?;
        tx.commit()?;
        Ok(Some(PaperMove {
            batch_id: batch_id.to_string(),
            from: f.state,
            to,
            hold_until,
        }))
    }

    /// Moves on the paper of every batch whose time has come.
    pub fn advance_all_paper(
        &mut self,
        retention: &RetentionConfig,
        now: &str,
        actor: &Actor,
    ) -> Result<Vec<PaperMove>, StoreError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM batches WHERE state IN ('uploaded', 'paper_held', 'destruction_due') ORDER BY created",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut moves = Vec::new();
        for id in ids {
            moves.extend(self.advance_paper(&id, retention, now, actor)?);
        }
        Ok(moves)
    }

    /// Records where the batch's paper is (a box or trolley label, scanned
    /// or typed); `location` is checked by the caller.
    pub fn set_paper_location(
        &mut self,
        batch_id: &str,
        location: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE batches SET paper_location = ?2 WHERE id = ?1 AND state != 'destroyed'",
            params![batch_id, location],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "batch {batch_id} whose paper is not destroyed"
            )));
        }
        audit::append(&tx, actor, "paper.location", batch_id, location)?;
        tx.commit()?;
        Ok(())
    }

    /// Places a legal hold on a batch or one of its records; a batch due
    /// for destruction is held again at once. Returns the hold's id.
    pub fn place_hold(
        &mut self,
        batch_id: &str,
        record_id: Option<&str>,
        kind: HoldKind,
        reason: &str,
        actor: &Actor,
    ) -> Result<i64, StoreError> {
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        if let Some(r) = record_id {
            let known: Option<String> = tx
                .query_row(
                    "SELECT id FROM records WHERE id = ?1 AND batch_id = ?2",
                    params![r, batch_id],
                    |row| row.get(0),
                )
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!(
                    "record {r} in batch {batch_id}"
                )));
            }
        }
        tx.execute(
            "INSERT INTO legal_holds (batch_id, record_id, kind, reason, placed_by, placed_role, placed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![batch_id, record_id, kind.as_str(), reason, actor.operator, actor.role_str(), now],
        )?;
        let id = tx.last_insert_rowid();
        let on = record_id
            .map(|r| format!("record {r}"))
            .unwrap_or_else(|| "the batch".into());
        audit::append(
            &tx,
            actor,
            "hold.place",
            batch_id,
            &format!("hold {id} on {on}: {kind}: {reason}"),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Lifts a legal hold in force, with the reason.
    pub fn lift_hold(
        &mut self,
        id: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<LegalHold, StoreError> {
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE legal_holds SET lifted_by = ?2, lifted_role = ?3, lifted_at = ?4, lift_reason = ?5
             WHERE id = ?1 AND lifted_at IS NULL",
            params![id, actor.operator, actor.role_str(), now, reason],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("legal hold {id} in force")));
        }
        let hold = tx.query_row(
            &format!("SELECT {HOLD_COLS} FROM legal_holds WHERE id = ?1"),
            params![id],
            hold_row,
        )?;
        audit::append(
            &tx,
            actor,
            "hold.lift",
            &hold.batch_id,
            &format!("hold {id}: {reason}"),
        )?;
        tx.commit()?;
        Ok(hold)
    }

    /// Legal holds, of one batch or all, newest first; lifted ones too when
    /// `all`.
    pub fn legal_holds(
        &self,
        batch_id: Option<&str>,
        all: bool,
    ) -> Result<Vec<LegalHold>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {HOLD_COLS} FROM legal_holds WHERE (?1 IS NULL OR batch_id = ?1)
               AND (?2 OR lifted_at IS NULL) ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map(params![batch_id, all], hold_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A certificate to enter in the destruction register.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub certificate_id: &'a str,
    pub method: &'a str,
    pub batches: &'a [String],
    pub pdf_sha256: &'a str,
    pub json_sha256: &'a str,
}

/// An entry of the destruction register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterEntry {
    pub seq: i64,
    pub certificate_id: String,
    pub at: String,
    pub station: String,
    pub authorised_by: String,
    pub witness: String,
    pub method: String,
    pub batches: Vec<String>,
    pub pdf_sha256: String,
    pub json_sha256: String,
    pub prev_hash: String,
    pub hash: String,
}

const REGISTER_COLS: &str = "seq, certificate_id, at, station, authorised_by, witness, method, batches, pdf_sha256, json_sha256, prev_hash, hash";

fn register_row(r: &Row<'_>) -> rusqlite::Result<RegisterEntry> {
    let batches: String = r.get(7)?;
    Ok(RegisterEntry {
        seq: r.get(0)?,
        certificate_id: r.get(1)?,
        at: r.get(2)?,
        station: r.get(3)?,
        authorised_by: r.get(4)?,
        witness: r.get(5)?,
        method: r.get(6)?,
        batches: serde_json::from_str(&batches).unwrap_or_default(),
        pdf_sha256: r.get(8)?,
        json_sha256: r.get(9)?,
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

/// An entry's hash: every field, length-prefixed, after the previous hash.
fn register_hash(e: &RegisterEntry) -> String {
    use sha2::{Digest, Sha256};
    let batches = serde_json::to_string(&e.batches).unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        &e.prev_hash,
        &e.certificate_id,
        &e.at,
        &e.station,
        &e.authorised_by,
        &e.witness,
        &e.method,
        &batches,
        &e.pdf_sha256,
        &e.json_sha256,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Store {
    /// Marks the batches destroyed and enters the certificate in the
    /// register, in one transaction, after checking again inside it that
    /// each may go at `now` ([`crate::batch::retention::may_destroy`]):
    /// a hold placed a moment ago refuses the whole certificate.
    pub fn certify_destruction(
        &mut self,
        c: &NewCertificate<'_>,
        now: &str,
        authoriser: &Actor,
        witness: &Actor,
    ) -> Result<RegisterEntry, StoreError> {
        let tx = self.conn.transaction()?;
        let mut refused = Vec::new();
        for b in c.batches {
            if let Err(why) = crate::batch::retention::may_destroy(&facts(&tx, b)?, now) {
                let words: Vec<String> = why.iter().map(ToString::to_string).collect();
                refused.push(format!("batch {b}: {}", words.join("; ")));
            }
        }
        if !refused.is_empty() {
            return Err(StoreError::DestructionRefused(refused.join(". ")));
        }
        for b in c.batches {
            tx.execute(
                "UPDATE batches SET state = 'destroyed' WHERE id = ?1 AND state = 'destruction_due'",
                params![b],
            )?;
            audit::append(
                &tx,
                authoriser,
                "paper.destroyed",
                b,
                &format!(
                    "certificate {}; witness {}; method: {}",
                    c.certificate_id, witness.operator, c.method
                ),
            )?;
        }
        let prev_hash: String = tx
            .query_row(
                "SELECT hash FROM destruction_register ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_default();
        let mut e = RegisterEntry {
            seq: 0,
            certificate_id: c.certificate_id.to_string(),
            at: now.to_string(),
            station: authoriser.station.clone(),
            authorised_by: authoriser.operator.clone(),
            witness: witness.operator.clone(),
            method: c.method.to_string(),
            batches: c.batches.to_vec(),
            pdf_sha256: c.pdf_sha256.to_string(),
            json_sha256: c.json_sha256.to_string(),
            prev_hash,
            hash: String::new(),
        };
        e.hash = register_hash(&e);
        tx.execute(
            "INSERT INTO destruction_register (certificate_id, at, station, authorised_by, witness, method, batches, pdf_sha256, json_sha256, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                e.certificate_id,
                e.at,
                e.station,
                e.authorised_by,
                e.witness,
                e.method,
                serde_json::to_string(&e.batches).unwrap_or_default(),
                e.pdf_sha256,
                e.json_sha256,
                e.prev_hash,
                e.hash
            ],
        )?;
        e.seq = tx.last_insert_rowid();
        audit::append(
            &tx,
            witness,
            "paper.destruction_witnessed",
            c.certificate_id,
            &format!("{} batch(es)", c.batches.len()),
        )?;
        tx.commit()?;
        Ok(e)
    }

    /// The destruction register, oldest first.
    pub fn destruction_register(&self) -> Result<Vec<RegisterEntry>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {REGISTER_COLS} FROM destruction_register ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], register_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Checks the register's chain: each entry's hash over its fields and
    /// the one before. Returns the number of entries, or what is broken.
    pub fn check_register(&self) -> Result<usize, StoreError> {
        let entries = self.destruction_register()?;
        let mut prev = String::new();
        for e in &entries {
            if e.prev_hash != prev || register_hash(e) != e.hash {
                return Err(StoreError::Damaged(format!(
                    "the destruction register is broken at entry {} (certificate {}): an entry was changed or removed",
                    e.seq, e.certificate_id
                )));
            }
            prev = e.hash.clone();
        }
        Ok(entries.len())
    }
}
