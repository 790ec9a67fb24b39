//! The durable upload outbox, the deliveries each target acknowledged, and the
//! cache of built PDFs. Approving a batch queues it; the uploader takes the
//! most urgent due batch, records each acknowledged document in the same
//! transaction as nothing else, so a crash at any moment resumes with exactly
//! the records still to send.

use super::{Actor, Store, StoreError, audit};
use crate::batch::{BatchState, OutboxState};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// A batch in the outbox.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxRow {
    pub batch_id: String,
    pub label: String,
    pub priority: u32,
    pub queued_at: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub target: Option<String>,
    pub done_at: Option<String>,
}

/// A document's PDF as built and kept in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedPdf {
    pub pages_key: String,
    pub sha256: String,
    pub sha1: String,
    pub bytes: u64,
    pub pages: u32,
}

const OUTBOX_COLS: &str = "o.batch_id, b.label, o.priority, o.queued_at, o.state, o.attempts, o.next_attempt_at, o.last_error, o.target, o.done_at";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        batch_id: r.get(0)?,
        label: r.get(1)?,
        priority: r.get(2)?,
        queued_at: r.get(3)?,
        state: super::parsed(r, 4, "upload state", OutboxState::parse)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        target: r.get(8)?,
        done_at: r.get(9)?,
    })
}

/// A sender's name as a claim owner: `<station>/pid <n>/<random>`.
pub fn sender_name(station: &str) -> String {
    format!(
        "{station}/pid {}/{:08x}",
        std::process::id(),
        fastrand::u32(..)
    )
}

/// Whether the sender named `holder` is a process of this station (as
/// `me` is) that has ended. A sender on another machine, or one whose
/// process cannot be looked at, is not known to have ended: its claim runs out.
fn sender_has_ended(me: &str, holder: &str) -> bool {
    let station = |name: &str| name.rsplitn(3, '/').nth(2).map(str::to_string);
    let pid = holder
        .rsplit('/')
        .nth(1)
        .and_then(|p| p.strip_prefix("pid "))
        .and_then(|p| p.parse::<u32>().ok());
    let (Some(pid), Some(mine), Some(theirs)) = (pid, station(me), station(holder)) else {
        return false;
    };
    if mine != theirs || !cfg!(target_os = "linux") {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses; Z is a zombie.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

impl Store {
    /// Approves a batch and queues it for upload (again, if it was parked);
    /// `detail` (what is sent, what was overridden and why) goes to the audit.
    pub fn approve_batch(
        &mut self,
        batch_id: &str,
        actor: &Actor,
        detail: &str,
    ) -> Result<(), StoreError> {
        let b = self.find_batch(batch_id)?;
        let priority = match b.source {
            crate::batch::BatchSource::OnDemand => 0,
            _ => 1,
        };
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO outbox (batch_id, priority, queued_at, state, next_attempt_at)
             VALUES (?1, ?2, ?3, 'queued', ?3)
             ON CONFLICT (batch_id) DO UPDATE SET state = 'queued', attempts = 0,
               next_attempt_at = ?3, last_error = NULL WHERE state != 'done'",
            params![b.id, priority, now],
        )?;
        // Queued again while uploading, it stays uploading. The newest flag
        // now is what this approval decided.
        tx.execute(
            &format!(
                "UPDATE batches SET state = 'approved',
                   flags_at_approval = (SELECT coalesce(max(id), 0) FROM flags WHERE batch_id = ?1)
                 WHERE id = ?1 AND {}",
                super::from_states(BatchState::Approved)
            ),
            params![b.id],
        )?;
        audit::append(&tx, actor, "batch.approve", &b.id, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// The outbox, most urgent first.
    pub fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM outbox o JOIN batches b ON b.id = o.batch_id
             ORDER BY o.state = 'done', o.priority, o.queued_at"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], outbox_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims the most urgent batch that is due and that no other sender
    /// holds (or whose sender's claim expired), for `owner` until `lease` from
    /// now, in one write transaction: of several senders, one gets it.
    /// `only` limits the choice to one batch.
    pub fn claim_upload(
        &mut self,
        owner: &str,
        lease: std::time::Duration,
        only: Option<&str>,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let now = crate::now_rfc3339();
        let until = crate::rfc3339_after(lease);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Claims of senders on this machine whose process has ended (killed,
        // crashed) are free now, not when they run out.
        let held: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT batch_id, lease_owner FROM outbox
                 WHERE state = 'queued' AND lease_owner IS NOT NULL AND lease_owner != ?1",
            )?;
            let rows = stmt.query_map(params![owner], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (batch, holder) in held {
            if sender_has_ended(owner, &holder) {
                tx.execute(
                    "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE batch_id = ?1 AND lease_owner = ?2",
                    params![batch, holder],
                )?;
            }
        }
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM outbox o JOIN batches b ON b.id = o.batch_id
             WHERE o.state = 'queued' AND o.next_attempt_at <= ?1
               AND (o.lease_owner IS NULL OR o.lease_owner = ?2 OR o.lease_until < ?1)
               AND (?3 IS NULL OR o.batch_id = ?3)
             ORDER BY o.priority, o.queued_at LIMIT 1"
        );
        let row = tx
            .query_row(&sql, params![now, owner, only], outbox_row)
            .optional()?;
        if let Some(r) = &row {
            tx.execute(
                "UPDATE outbox SET lease_owner = ?2, lease_until = ?3 WHERE batch_id = ?1",
                params![r.batch_id, owner, until],
            )?;
        }
        tx.commit()?;
        Ok(row)
    }

    /// Extends `owner`'s claim on a batch; false when it no longer holds it
    /// (it expired and another sender took the batch over).
    pub fn renew_upload_lease(
        &mut self,
        batch_id: &str,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE outbox SET lease_until = ?3 WHERE batch_id = ?1 AND lease_owner = ?2 AND state = 'queued'",
            params![batch_id, owner, crate::rfc3339_after(lease)],
        )?;
        Ok(n == 1)
    }

    /// Who holds a claim on a queued batch now, and until when (a claim of
    /// `owner` itself, or an expired one, is none).
    pub fn upload_lease(
        &self,
        batch_id: &str,
        owner: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT lease_owner, lease_until FROM outbox
                 WHERE batch_id = ?1 AND lease_owner IS NOT NULL AND lease_owner != ?2 AND lease_until >= ?3",
                params![batch_id, owner, crate::now_rfc3339()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The outbox row of one batch.
    pub fn outbox_entry(&self, batch_id: &str) -> Result<Option<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM outbox o JOIN batches b ON b.id = o.batch_id WHERE o.batch_id = ?1"
        );
        Ok(self
            .conn
            .query_row(&sql, params![batch_id], outbox_row)
            .optional()?)
    }

    /// Records a failed try: when to try next, and why.
    pub fn upload_failed(
        &mut self,
        batch_id: &str,
        next_attempt_at: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3,
               lease_owner = NULL, lease_until = NULL WHERE batch_id = ?1",
            params![batch_id, next_attempt_at, error],
        )?;
        Ok(())
    }

    /// Puts off a claimed batch until `next_attempt_at` without counting a
    /// try (it waits for something of its own, such as its text), and lets
    /// go of the claim.
    pub fn upload_deferred(
        &mut self,
        batch_id: &str,
        next_attempt_at: &str,
        why: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3,
               lease_owner = NULL, lease_until = NULL WHERE batch_id = ?1",
            params![batch_id, next_attempt_at, why],
        )?;
        Ok(())
    }

    /// Takes a batch out of the running: `parked` (retries used up, or the
    /// store refused it) or `conflict`; a person re-queues it with approve.
    pub fn park_upload(
        &mut self,
        batch_id: &str,
        state: OutboxState,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let state = state.as_str();
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE outbox SET state = ?2, last_error = ?3, attempts = attempts + 1,
               lease_owner = NULL, lease_until = NULL WHERE batch_id = ?1",
            params![batch_id, state, reason],
        )?;
        audit::append(&tx, actor, &format!("upload.{state}"), batch_id, reason)?;
        tx.commit()?;
        Ok(())
    }

    /// Records the documents of one record as held by `target`.
    pub fn record_delivered(
        &mut self,
        batch_id: &str,
        record_id: &str,
        target: &str,
        delivered: &[(String, String, String, bool)],
    ) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        for (doc, sha256, location, already) in delivered {
            tx.execute(
                "INSERT OR REPLACE INTO deliveries (document_id, target, batch_id, record_id, sha256, location, already_there, delivered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![doc, target, batch_id, record_id, sha256, location, already, now],
            )?;
        }
        tx.execute(
            &format!(
                "UPDATE batches SET state = 'uploading' WHERE id = ?1 AND {}",
                super::from_states(BatchState::Uploading)
            ),
            params![batch_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Documents of a batch `target` already holds, with the hash sent.
    pub fn delivered_documents(
        &self,
        batch_id: &str,
        target: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT document_id, sha256 FROM deliveries WHERE batch_id = ?1 AND target = ?2",
        )?;
        let rows = stmt.query_map(params![batch_id, target], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a batch uploaded: every document acknowledged.
    pub fn upload_done(
        &mut self,
        batch_id: &str,
        target: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        let count = super::receipts::unverified_count(&tx, batch_id, target)?;
        if count > 0 {
            return Err(StoreError::Unverified {
                batch: batch_id.to_string(),
                target: target.to_string(),
                count,
            });
        }
        tx.execute(
            "UPDATE outbox SET state = 'done', done_at = ?2, target = ?3, last_error = NULL,
               lease_owner = NULL, lease_until = NULL WHERE batch_id = ?1",
            params![batch_id, now, target],
        )?;
        let moved = tx.execute(
            &format!(
                "UPDATE batches SET state = 'uploaded' WHERE id = ?1 AND {}",
                super::from_states(BatchState::Uploaded)
            ),
            params![batch_id],
        )?;
        if moved == 0 {
            super::refused_move(&tx, batch_id, BatchState::Uploaded)?;
        }
        audit::append(&tx, actor, "batch.uploaded", batch_id, target)?;
        tx.commit()?;
        Ok(())
    }

    /// The cached PDF of a document, if built.
    pub fn cached_pdf(&self, document_id: &str) -> Result<Option<CachedPdf>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT pages_key, sha256, sha1, bytes, pages FROM document_pdfs WHERE document_id = ?1",
                params![document_id],
                |r| {
                    Ok(CachedPdf {
                        pages_key: r.get(0)?,
                        sha256: r.get(1)?,
                        sha1: r.get(2)?,
                        bytes: r.get(3)?,
                        pages: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Whether these bytes of a document's PDF have left the station: a
    /// target acknowledged or read them back. Such a PDF is never rebuilt for
    /// a change of format alone, so a store never holds two versions.
    pub fn pdf_sent(&self, document_id: &str, sha256: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE document_id = ?1 AND sha256 = ?2)
                 OR EXISTS (SELECT 1 FROM receipts WHERE document_id = ?1 AND sent_sha256 = ?2)",
            params![document_id, sha256],
            |r| r.get(0),
        )?)
    }

    /// Remembers a document's built PDF (its file is already in the cache).
    pub fn save_pdf(&mut self, document_id: &str, pdf: &CachedPdf) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO document_pdfs (document_id, pages_key, sha256, sha1, bytes, pages, built_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                document_id,
                pdf.pages_key,
                pdf.sha256,
                pdf.sha1,
                pdf.bytes,
                pdf.pages,
                crate::now_rfc3339()
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_of_this_station_whose_process_ended_is_known_to_have_ended() {
        let me = sender_name("st/1");
        assert!(!sender_has_ended(&me, &me), "this process runs");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = format!("st/1/pid {pid}/0000beef");
        assert!(sender_has_ended(&me, &dead));
        // Another station's sender, or a name we cannot read: its claim runs out.
        assert!(!sender_has_ended(&me, &format!("st/2/pid {pid}/0000beef")));
        assert!(!sender_has_ended(&me, "garbage"));
        assert!(!sender_has_ended(&me, "st/1/pid x/1"));
    }
}
