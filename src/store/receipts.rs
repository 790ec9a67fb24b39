//! Verified receipts (issue 18, item 1): what the central store gave back
//! when each delivered document was read again. Only a matching read-back
//! makes a document verified; one that does not match (or is missing) is
//! forgotten as delivered, so it is sent again, and flagged on the batch
//! until a later read-back matches.

use super::{Actor, Store, StoreError, audit};
use crate::batch::flags::FlagCode;
use rusqlite::{Row, params};
use serde::Serialize;
use std::collections::HashMap;

/// One read-back of one document, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub document_id: String,
    pub target: String,
    pub batch_id: String,
    pub record_id: String,
    pub sent_bytes: u64,
    pub sent_sha256: String,
    pub read_bytes: Option<u64>,
    pub read_sha256: Option<String>,
    pub location: String,
    pub content_location: Option<String>,
    pub version: Option<String>,
    pub etag: Option<String>,
    pub verified: bool,
    /// Why it is not verified ('' when it is).
    pub detail: String,
    pub checked_at: String,
}

const COLS: &str = "document_id, target, batch_id, record_id, sent_bytes, sent_sha256, read_bytes, read_sha256, location, content_location, version, etag, verified, detail, checked_at";

fn receipt(r: &Row<'_>) -> rusqlite::Result<Receipt> {
    Ok(Receipt {
        document_id: r.get(0)?,
        target: r.get(1)?,
        batch_id: r.get(2)?,
        record_id: r.get(3)?,
        sent_bytes: r.get(4)?,
        sent_sha256: r.get(5)?,
        read_bytes: r.get(6)?,
        read_sha256: r.get(7)?,
        location: r.get(8)?,
        content_location: r.get(9)?,
        version: r.get(10)?,
        etag: r.get(11)?,
        verified: r.get(12)?,
        detail: r.get(13)?,
        checked_at: r.get(14)?,
    })
}

impl Store {
    /// Keeps the read-back of one record's documents (`checked_at` is set
    /// here). A document that did not read back as sent is no longer counted
    /// as delivered (so it is sent again) and is flagged
    /// `upload_not_verified` on its record, once while the flag is open; one
    /// that did resolves such a flag, saying so.
    pub fn record_receipts(
        &mut self,
        receipts: &[Receipt],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        let code = FlagCode::UploadNotVerified.as_str();
        let tx = self.conn.transaction()?;
        for r in receipts {
            tx.execute(
                &format!(
                    "INSERT INTO receipts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                ),
                params![
                    r.document_id,
                    r.target,
                    r.batch_id,
                    r.record_id,
                    r.sent_bytes,
                    r.sent_sha256,
                    r.read_bytes,
                    r.read_sha256,
                    r.location,
                    r.content_location,
                    r.version,
                    r.etag,
                    r.verified,
                    r.detail,
                    now
                ],
            )?;
            // The flag names its document first, so one open flag per document.
            let prefix = format!("document {}:", r.document_id);
            let open = "batch_id = ?1 AND record_id = ?2 AND side IS NULL AND code = ?3
                AND resolved_at IS NULL AND substr(detail, 1, length(?4)) = ?4";
            if r.verified {
                let resolved = tx.execute(
                    &format!(
                        "UPDATE flags SET resolved_by = ?5, resolution = ?6, resolved_at = ?7 WHERE {open}"
                    ),
                    params![
                        r.batch_id,
                        r.record_id,
                        code,
                        prefix,
                        actor.operator,
                        format!("read back as sent from {} after sending it again", r.target),
                        now
                    ],
                )?;
                let what = if resolved > 0 {
                    "upload.verified_again"
                } else {
                    "upload.verified"
                };
                let detail = format!(
                    "{prefix} {} bytes, SHA-256 {} at {}",
                    r.sent_bytes, r.sent_sha256, r.location
                );
                audit::append(&tx, actor, what, &r.batch_id, &detail)?;
                continue;
            }
            tx.execute(
                "DELETE FROM deliveries WHERE document_id = ?1 AND target = ?2",
                params![r.document_id, r.target],
            )?;
            let detail = format!(
                "{prefix} {}; it is sent again until the store returns what was sent",
                r.detail
            );
            tx.execute(
                &format!(
                    "INSERT INTO flags (batch_id, record_id, side, code, detail)
                     SELECT ?1, ?2, NULL, ?3, ?5 WHERE NOT EXISTS (SELECT 1 FROM flags WHERE {open})"
                ),
                params![r.batch_id, r.record_id, code, prefix, detail],
            )?;
            audit::append(&tx, actor, "upload.unverified", &r.batch_id, &detail)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every read-back of a batch's documents, oldest first.
    pub fn receipts(&self, batch_id: &str) -> Result<Vec<Receipt>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLS} FROM receipts WHERE batch_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![batch_id], receipt)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest read-back of each of a batch's documents, in document
    /// order: what the Uploads screen shows.
    pub fn latest_receipts(&self, batch_id: &str) -> Result<Vec<Receipt>, StoreError> {
        let mut newest: HashMap<String, Receipt> = HashMap::new();
        for r in self.receipts(batch_id)? {
            newest.insert(r.document_id.clone(), r);
        }
        let mut stmt = self.conn.prepare(
            "SELECT d.id FROM documents d JOIN records r ON r.id = d.record_id
             WHERE d.batch_id = ?1 ORDER BY r.ordinal, d.ordinal",
        )?;
        let ids = stmt.query_map(params![batch_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = newest.remove(&id?) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A batch's documents whose newest read-back at `target` is verified,
    /// with the hash then verified.
    pub fn verified_documents(
        &self,
        batch_id: &str,
        target: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for r in self.receipts(batch_id)? {
            if r.target != target {
                continue;
            }
            if r.verified {
                out.insert(r.document_id, r.sent_sha256);
            } else {
                out.remove(&r.document_id);
            }
        }
        Ok(out)
    }

    /// A batch's documents whose newest read-back at `target` failed: sent
    /// again in full.
    pub fn unverified_documents(
        &self,
        batch_id: &str,
        target: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut newest: HashMap<String, bool> = HashMap::new();
        for r in self.receipts(batch_id)? {
            if r.target == target {
                newest.insert(r.document_id, r.verified);
            }
        }
        let mut out: Vec<String> = newest
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(d, _)| d)
            .collect();
        out.sort();
        Ok(out)
    }
}

/// How many of a batch's documents have no verified read-back at `target`
/// for the PDF they have now (inside a transaction that is about to mark the
/// batch uploaded).
pub(super) fn unverified_count(
    tx: &rusqlite::Transaction<'_>,
    batch_id: &str,
    target: &str,
) -> Result<u64, StoreError> {
    Ok(tx.query_row(
        "SELECT count(*) FROM documents d LEFT JOIN document_pdfs p ON p.document_id = d.id
         WHERE d.batch_id = ?1 AND NOT EXISTS (
           SELECT 1 FROM receipts r WHERE r.document_id = d.id AND r.target = ?2
             AND r.verified = 1 AND r.sent_sha256 = p.sha256
             AND r.id = (SELECT max(id) FROM receipts q WHERE q.document_id = d.id AND q.target = ?2))",
        params![batch_id, target],
        |r| r.get(0),
    )?)
}
