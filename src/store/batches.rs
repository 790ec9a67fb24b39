//! Batches, pages and the separated tree (records, documents, flags, removed).

use super::audit::{self, Actor};
use super::{Store, StoreError};
use crate::batch::approval::ApprovalFacts;
use crate::batch::separate::{Face, Layout, RecordLayout, SideFacts};
use crate::batch::{BatchSource, BatchState, Flag, FlagCode, PatientId, RemovedReason, rules};
use crate::pixels::{Encoded, Encoding, PageMetrics, PixelKind};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::HashMap;

/// Shortest batch-id prefix accepted in place of a whole id.
pub const MIN_BATCH_PREFIX: usize = 6;

/// What is needed to start a batch.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    pub label: String,
    pub source: BatchSource,
    pub specialty: Option<String>,
    pub duplex: bool,
    pub dpi: Option<u32>,
    pub expected_sheets: Option<u32>,
}

/// A batch as listed.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRow {
    pub id: String,
    pub label: String,
    pub source: BatchSource,
    pub specialty: Option<String>,
    pub duplex: bool,
    pub station: String,
    pub operator: String,
    pub created: String,
    pub closed: Option<String>,
    pub state: BatchState,
    pub expected_sheets: Option<u32>,
    pub last_error: Option<String>,
    pub sides: u32,
    pub unreadable_sides: u32,
    pub records: u32,
    pub open_flags: u32,
    /// Where the paper is (a box or trolley label), once recorded.
    pub paper_location: Option<String>,
    /// Until when the paper is held, once every document is verified.
    pub hold_until: Option<String>,
}

impl BatchRow {
    /// Sheets its sides make up.
    pub fn sheets_scanned(&self) -> u32 {
        if self.duplex {
            self.sides.div_ceil(2)
        } else {
            self.sides
        }
    }

    /// The sheets counted against those scanned.
    pub fn count(&self) -> crate::batch::Reconciliation {
        crate::batch::Reconciliation::new(self.expected_sheets, self.sheets_scanned())
    }

    /// The sheets counted against those scanned, in words, and whether they
    /// agree (a batch nobody counted agrees).
    pub fn reconciliation(&self) -> (String, bool) {
        let c = self.count();
        (c.words(), c.agrees())
    }
}

/// A stored page image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredImage {
    pub sha256: String,
    pub encoding: Encoding,
    pub kind: PixelKind,
    pub width: u32,
    pub height: u32,
    pub dpi: u32,
    pub bytes: u64,
}

impl StoredImage {
    /// An encoded page stored under `sha256`.
    pub fn of(encoded: &Encoded, sha256: String) -> StoredImage {
        StoredImage {
            sha256,
            encoding: encoded.encoding,
            kind: encoded.kind,
            width: encoded.width,
            height: encoded.height,
            dpi: encoded.dpi,
            bytes: encoded.bytes.len() as u64,
        }
    }
}

/// One side as processing left it.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub batch_id: String,
    pub side: u32,
    pub sheet: u32,
    pub face: Face,
    /// Where it came from ("scan-0001.tif#2", or a device).
    pub origin: String,
    pub image: Option<StoredImage>,
    pub barcodes: Vec<String>,
    pub metrics: Option<PageMetrics>,
    pub blank: bool,
    pub error: Option<String>,
    /// Image-quality flags raised while processing.
    pub flags: Vec<Flag>,
    /// Skew found (degrees), corrected when within range.
    pub skew_deg: Option<f32>,
    /// SHA-256 of the page's pixels as captured (before any correction).
    pub pixels_sha256: Option<String>,
    /// Small and screen-sized JPEG renderings for the station window.
    pub thumb_sha256: Option<String>,
    pub preview_sha256: Option<String>,
    /// The session test target's result, when this side is the target.
    pub target: Option<crate::imaging::target::TargetCheck>,
    /// The scanning session the side came from (set when it is committed).
    pub session: Option<String>,
    /// The Kodak patch code read on the side as scanned, if any.
    pub patch: Option<crate::batch::protocol::Patch>,
    /// The barcodes read, with symbology, place and decoder.
    pub symbols: Vec<crate::imaging::barcode::Symbol>,
}

/// A page in the separated tree.
#[derive(Debug, Clone, Serialize)]
pub struct TreePage {
    pub side: u32,
    pub sheet: u32,
    pub face: Face,
    pub image: Option<StoredImage>,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeDocument {
    pub id: String,
    pub doc_type: Option<String>,
    pub pages: Vec<TreePage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeRecord {
    pub id: String,
    pub nhs_number: Option<String>,
    pub hospital_number: Option<String>,
    pub specialty: Option<String>,
    pub flags: Vec<Flag>,
    pub documents: Vec<TreeDocument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeRemoved {
    pub side: u32,
    pub reason: RemovedReason,
    pub barcode: Option<String>,
    pub image: Option<StoredImage>,
}

/// A batch with its records, documents, pages, flags and removed sides.
#[derive(Debug, Clone, Serialize)]
pub struct BatchTree {
    pub batch: BatchRow,
    pub records: Vec<TreeRecord>,
    pub removed: Vec<TreeRemoved>,
}

const BATCH_COLS: &str = "b.id, b.label, b.source, b.specialty, b.duplex, b.station, b.operator, b.created, b.closed, b.state, b.expected_sheets, b.last_error,
    (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.id),
    (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.id AND p.error IS NOT NULL),
    (SELECT COUNT(*) FROM records r WHERE r.batch_id = b.id),
    (SELECT COUNT(*) FROM flags f WHERE f.batch_id = b.id AND f.resolved_at IS NULL),
    b.paper_location, b.hold_until";

fn batch_row(r: &Row<'_>) -> rusqlite::Result<BatchRow> {
    Ok(BatchRow {
        id: r.get(0)?,
        label: r.get(1)?,
        source: super::parsed(r, 2, "batch source", BatchSource::parse)?,
        specialty: r.get(3)?,
        duplex: r.get(4)?,
        station: r.get(5)?,
        operator: r.get(6)?,
        created: r.get(7)?,
        closed: r.get(8)?,
        state: super::parsed(r, 9, "batch state", BatchState::parse)?,
        expected_sheets: r.get(10)?,
        last_error: r.get(11)?,
        sides: r.get(12)?,
        unreadable_sides: r.get(13)?,
        records: r.get(14)?,
        open_flags: r.get(15)?,
        paper_location: r.get(16)?,
        hold_until: r.get(17)?,
    })
}

pub(super) const IMAGE_COLS: &str = "image_sha256, encoding, kind, width, height, dpi, bytes";

/// Reads the seven image columns starting at `at`.
pub(super) fn stored_image(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<StoredImage>> {
    let sha: Option<String> = r.get(at)?;
    let Some(sha256) = sha else { return Ok(None) };
    let enc: String = r.get(at + 1)?;
    let kind: String = r.get(at + 2)?;
    Ok(Some(StoredImage {
        sha256,
        encoding: Encoding::parse(&enc).unwrap_or(Encoding::Jpeg),
        kind: match kind.as_str() {
            "bilevel" => PixelKind::Bilevel,
            "color" => PixelKind::Color,
            _ => PixelKind::Gray,
        },
        width: r.get(at + 3)?,
        height: r.get(at + 4)?,
        dpi: r.get(at + 5)?,
        bytes: r.get(at + 6)?,
    }))
}

fn flag_of(code: &str, detail: String) -> Option<Flag> {
    FlagCode::parse(code).map(|c| Flag::new(c, detail))
}

/// Adds a flag unless a supervisor already resolved the same kind on the same
/// page (or record), so decisions survive separating the batch again (its
/// words may change, e.g. with the record's corrected identifier).
const INSERT_FLAG: &str = "INSERT INTO flags (batch_id, record_id, side, code, detail)
    SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM flags WHERE batch_id = ?1
      AND record_id IS ?2 AND side IS ?3 AND code = ?4 AND resolved_at IS NOT NULL)";

/// Inserts one separated record with its documents, pages and flags.
fn insert_record(
    tx: &rusqlite::Transaction<'_>,
    batch_id: &str,
    ordinal: usize,
    rec: &RecordLayout,
) -> Result<(), StoreError> {
    let (nhs, hosp) = match &rec.patient {
        Some(PatientId::Nhs { number, .. }) => (Some(number.as_str()), None),
        Some(PatientId::Hospital { number }) => (None, Some(number.as_str())),
        None => (None, None),
    };
    tx.execute(
        "INSERT INTO records (id, batch_id, ordinal, nhs_number, hospital_number, specialty) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![rec.id, batch_id, ordinal, nhs, hosp, rec.specialty],
    )?;
    for f in &rec.flags {
        tx.execute(
            INSERT_FLAG,
            params![batch_id, rec.id, f.side, f.code.as_str(), f.detail],
        )?;
    }
    for (di, doc) in rec.documents.iter().enumerate() {
        tx.execute(
            "INSERT INTO documents (id, record_id, batch_id, ordinal, doc_type) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![doc.id, rec.id, batch_id, di, doc.doc_type],
        )?;
        for (pi, page) in doc.pages.iter().enumerate() {
            tx.execute(
                "INSERT INTO document_pages (document_id, batch_id, side, position) VALUES (?1, ?2, ?3, ?4)",
                params![doc.id, batch_id, page.side, pi],
            )?;
            for f in &page.flags {
                tx.execute(
                    INSERT_FLAG,
                    params![batch_id, rec.id, page.side, f.code.as_str(), f.detail],
                )?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Starts a batch in state `scanning`.
    pub fn create_batch(&mut self, b: &NewBatch, actor: &Actor) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO batches (id, label, source, specialty, duplex, dpi, station, operator, created, state, expected_sheets)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![b.id, b.label, b.source.as_str(), b.specialty, b.duplex, b.dpi, actor.station, actor.operator,
                crate::now_rfc3339(), BatchState::Scanning.as_str(), b.expected_sheets],
        )?;
        audit::append(
            &tx,
            actor,
            "batch.create",
            &b.id,
            &format!("label={} source={}", b.label, b.source.as_str()),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Finds a batch by its exact id, or by a prefix of at least
    /// [`MIN_BATCH_PREFIX`] characters that only one batch starts with. Anything
    /// else (empty, too short, characters no id has) is refused, never guessed.
    pub fn find_batch(&self, id_or_prefix: &str) -> Result<BatchRow, StoreError> {
        let lower = id_or_prefix.trim().to_ascii_lowercase();
        let given = lower.as_str();
        let shown = crate::batch::printable(given, 40);
        if !given.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || given.is_empty() {
            return Err(StoreError::BadBatchId(shown));
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {BATCH_COLS} FROM batches b WHERE b.id = ?1
             UNION ALL
             SELECT {BATCH_COLS} FROM batches b
               WHERE length(?1) >= ?2 AND b.id != ?1 AND substr(b.id, 1, length(?1)) = ?1
             LIMIT 12"
        ))?;
        let mut rows: Vec<BatchRow> = stmt
            .query_map(params![given, MIN_BATCH_PREFIX], batch_row)?
            .collect::<Result<_, _>>()?;
        if rows.first().is_some_and(|b| b.id == given) || rows.len() == 1 {
            return Ok(rows.swap_remove(0));
        }
        if rows.is_empty() {
            if given.chars().count() < MIN_BATCH_PREFIX {
                return Err(StoreError::BatchPrefixTooShort(shown));
            }
            return Err(StoreError::NoSuchBatch(shown));
        }
        let candidates = rows
            .iter()
            .map(|b| format!("{} ({})", b.id, crate::batch::printable(&b.label, 40)))
            .collect::<Vec<_>>()
            .join(", ");
        Err(StoreError::AmbiguousBatch {
            given: shown,
            candidates,
        })
    }

    /// What the approval rule needs to know about a batch.
    pub fn approval_facts(&self, batch_id: &str) -> Result<ApprovalFacts, StoreError> {
        let b = self.find_batch(batch_id)?;
        let (documents, pages, records_without_patient, patient_contradictions): (
            u32,
            u32,
            u32,
            u32,
        ) = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM documents WHERE batch_id = ?1),
                    (SELECT COUNT(*) FROM document_pages WHERE batch_id = ?1),
                    (SELECT COUNT(*) FROM records r WHERE r.batch_id = ?1
                       AND r.nhs_number IS NULL AND r.hospital_number IS NULL
                       AND EXISTS (SELECT 1 FROM documents d WHERE d.record_id = r.id)),
                    (SELECT COUNT(*) FROM flags f WHERE f.batch_id = ?1
                       AND f.code = 'misfiled_identifier' AND f.side IS NULL
                       AND f.resolved_at IS NULL)",
            [&b.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT code, COUNT(*) FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL
             GROUP BY code ORDER BY code",
        )?;
        let counted: Vec<(String, u32)> = stmt
            .query_map([&b.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        // A code this build does not know (written by a newer one) still counts
        // and must be seen.
        let open_flags = counted
            .into_iter()
            .map(|(code, n)| {
                (
                    FlagCode::parse(&code).unwrap_or(FlagCode::ProcessingFailed),
                    n,
                )
            })
            .collect();
        Ok(ApprovalFacts {
            batch_id: b.id.clone(),
            state: b.state,
            sides: b.sides,
            records: b.records,
            documents,
            pages,
            records_without_patient,
            patient_contradictions,
            open_flags,
            count: b.count(),
            sample: self.sample_state(&b.id)?,
            // Counted by `workers::access::approval_facts` where it applies.
            unproven_sessions: 0,
            text: self.text_progress(&b.id)?,
        })
    }

    /// A batch that is still being scanned (to resume or close it): one
    /// [`rules::may_scan_into`] allows.
    pub fn open_batch(&self, id_or_prefix: &str) -> Result<BatchRow, StoreError> {
        let b = self.find_batch(id_or_prefix)?;
        if !rules::may_scan_into(b.state) {
            return Err(StoreError::NotOpen {
                batch: b.id,
                state: b.state,
            });
        }
        Ok(b)
    }

    /// The name a batch is shown by: the prefix of its id that no other
    /// batch in the store shares, of [`crate::batch::SHOWN_ID_CHARS`] at
    /// least (its neighbours in id order are the only ones that can share
    /// more).
    pub fn batch_name(&self, id: &str) -> Result<String, StoreError> {
        let before: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM batches WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let after: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM batches WHERE id > ?1 ORDER BY id LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let ids = [Some(id), before.as_deref(), after.as_deref()];
        let names = crate::batch::short_names(ids.into_iter().flatten());
        Ok(names.get(id).cloned().unwrap_or_else(|| id.to_string()))
    }

    /// All batches, newest first.
    pub fn list_batches(&self) -> Result<Vec<BatchRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {BATCH_COLS} FROM batches b ORDER BY b.created DESC, b.id DESC"
        ))?;
        let rows = stmt.query_map([], batch_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The sides already stored for a batch, with their origins.
    pub fn committed_sides(&self, batch_id: &str) -> Result<HashMap<u32, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT side, origin FROM pages WHERE batch_id = ?1")?;
        let rows = stmt
            .query_map([batch_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Deletes a batch that never stored a side (its scan could not start); the
    /// audit trail keeps both events.
    pub fn discard_empty_batch(
        &mut self,
        batch_id: &str,
        why: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM batches WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM pages WHERE batch_id = ?1)",
            [batch_id],
        )?;
        if n > 0 {
            audit::append(&tx, actor, "batch.discard", batch_id, why)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a stored side (the front of a sheet whose back was never read, so
    /// the sheet can be scanned again whole); audited.
    pub fn delete_page(
        &mut self,
        batch_id: &str,
        side: u32,
        why: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM pages WHERE batch_id = ?1 AND side = ?2",
            params![batch_id, side],
        )?;
        audit::append(
            &tx,
            actor,
            "page.delete",
            &format!("{batch_id}/{side}"),
            why,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Commits one processed side (its image file must already be stored).
    pub fn insert_page(&mut self, p: &PageRow) -> Result<(), StoreError> {
        let img = p.image.as_ref();
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!("INSERT INTO pages (batch_id, side, sheet, face, origin, {IMAGE_COLS}, barcodes, metrics, blank, error, created, flags, skew_deg, pixels_sha256, thumb_sha256, preview_sha256, session_id, target, target_passed, patch, symbols)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"),
            params![
                p.batch_id, p.side, p.sheet, p.face.as_str(), p.origin,
                img.map(|i| &i.sha256), img.map(|i| i.encoding.as_str()), img.map(|i| i.kind.as_str()),
                img.map(|i| i.width), img.map(|i| i.height), img.map(|i| i.dpi), img.map(|i| i.bytes),
                serde_json::to_string(&p.barcodes).unwrap_or_else(|_| "[]".into()),
                p.metrics.as_ref().and_then(|m| serde_json::to_string(m).ok()),
                p.blank, p.error, crate::now_rfc3339(),
                serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into()), p.skew_deg,
                p.pixels_sha256, p.thumb_sha256, p.preview_sha256,
                p.session, p.target.as_ref().and_then(|t| serde_json::to_string(t).ok()),
                p.target.as_ref().map(|t| t.passed), p.patch.map(|x| x.as_str()),
                serde_json::to_string(&p.symbols).ok()
            ],
        )?;
        if let (Some(target), Some(session)) = (&p.target, &p.session) {
            Store::audit_target(&tx, session, (&p.batch_id, p.side), target)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts a rescanned side in place of the stored one: its image, checks and
    /// flags are the new scan's; a rescan mark is cleared; a move is kept.
    pub fn replace_page(&mut self, p: &PageRow, actor: &Actor) -> Result<(), StoreError> {
        let img = p.image.as_ref();
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE pages SET origin = ?3, image_sha256 = ?4, encoding = ?5, kind = ?6, width = ?7, height = ?8,
               dpi = ?9, bytes = ?10, barcodes = ?11, metrics = ?12, blank = ?13, error = ?14, flags = ?15,
               skew_deg = ?16, pixels_sha256 = ?17, thumb_sha256 = ?18, preview_sha256 = ?19,
               session_id = ?20, target = ?21, target_passed = ?22, patch = ?23, symbols = ?24,
               restored = 0, rescan = NULL
             WHERE batch_id = ?1 AND side = ?2",
            params![
                p.batch_id, p.side, p.origin,
                img.map(|i| &i.sha256), img.map(|i| i.encoding.as_str()), img.map(|i| i.kind.as_str()),
                img.map(|i| i.width), img.map(|i| i.height), img.map(|i| i.dpi), img.map(|i| i.bytes),
                serde_json::to_string(&p.barcodes).unwrap_or_else(|_| "[]".into()),
                p.metrics.as_ref().and_then(|m| serde_json::to_string(m).ok()),
                p.blank, p.error,
                serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into()), p.skew_deg,
                p.pixels_sha256, p.thumb_sha256, p.preview_sha256,
                p.session, p.target.as_ref().and_then(|t| serde_json::to_string(t).ok()),
                p.target.as_ref().map(|t| t.passed), p.patch.map(|x| x.as_str()),
                serde_json::to_string(&p.symbols).ok()
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "side {} of batch {}",
                p.side, p.batch_id
            )));
        }
        // Decisions about the old image (flags approved) do not carry over to
        // the new one; the audit keeps them.
        tx.execute(
            "DELETE FROM flags WHERE batch_id = ?1 AND side = ?2",
            params![p.batch_id, p.side],
        )?;
        audit::append(
            &tx,
            actor,
            "page.rescan",
            &p.batch_id,
            &format!("side {} replaced from {}", p.side, p.origin),
        )?;
        if let (Some(target), Some(session)) = (&p.target, &p.session) {
            Store::audit_target(&tx, session, (&p.batch_id, p.side), target)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What separation needs of every stored side, in feed order.
    pub fn side_facts(&self, batch_id: &str) -> Result<Vec<SideFacts>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT side, sheet, face, barcodes, blank, restored, error, flags, removed_by IS NOT NULL, rescan, moved_to,
               json_extract(target, '$.report') IS NOT NULL, patch
             FROM pages WHERE batch_id = ?1 ORDER BY side",
        )?;
        let rows = stmt
            .query_map([batch_id], |r| {
                let face: String = r.get(2)?;
                let barcodes: String = r.get(3)?;
                Ok(SideFacts {
                    side: r.get(0)?,
                    sheet: r.get(1)?,
                    face: Some(Face::parse(&face)),
                    barcodes: serde_json::from_str(&barcodes).unwrap_or_default(),
                    blank: r.get(4)?,
                    restored: r.get(5)?,
                    unreadable: r.get(6)?,
                    flags: {
                        let f: String = r.get(7)?;
                        serde_json::from_str(&f).unwrap_or_default()
                    },
                    removed: r.get(8)?,
                    rescan: r.get(9)?,
                    moved_to: r.get(10)?,
                    target: r.get(11)?,
                    patch: r
                        .get::<_, Option<String>>(12)?
                        .and_then(|p| crate::batch::protocol::Patch::parse(&p)),
                    unproven_session: None,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Replaces a batch's records, documents, flags and removed list with a new
    /// separation, and moves it to `state`, in one transaction.
    pub fn save_layout(
        &mut self,
        batch_id: &str,
        layout: &Layout,
        state: BatchState,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for table in ["document_pages", "documents", "removed"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE batch_id = ?1"),
                [batch_id],
            )?;
        }
        tx.execute(
            "DELETE FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL",
            [batch_id],
        )?;
        tx.execute("DELETE FROM records WHERE batch_id = ?1", [batch_id])?;
        for (ri, rec) in layout.records.iter().enumerate() {
            insert_record(&tx, batch_id, ri, rec)?;
        }
        for r in &layout.removed {
            tx.execute(
                "INSERT INTO removed (batch_id, side, reason, barcode) VALUES (?1, ?2, ?3, ?4)",
                params![batch_id, r.side, r.reason.as_str(), r.barcode],
            )?;
        }
        if let Some(label) = &layout.batch_label {
            tx.execute(
                "UPDATE batches SET label = ?2 WHERE id = ?1 AND label = ''",
                params![batch_id, label],
            )?;
        }
        // Flags a supervisor already resolved do not count: a batch whose
        // remaining flags are all resolved is closed, not in review.
        let moved = tx.execute(
            &format!(
                "UPDATE batches SET closed = COALESCE(closed, ?3), last_error = NULL,
               state = CASE WHEN ?2 IN ('closed', 'in_review') THEN
                 (CASE WHEN EXISTS (SELECT 1 FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL)
                  THEN 'in_review' ELSE 'closed' END) ELSE ?2 END
             WHERE id = ?1 AND {}",
                super::from_states(state)
            ),
            params![batch_id, state.as_str(), crate::now_rfc3339()],
        )?;
        if moved == 0 {
            // Approved (or further) meanwhile: its separation is settled.
            super::refused_move(&tx, batch_id, state)?;
        }
        let detail = format!(
            "records={} removed={} flags={}",
            layout.records.len(),
            layout.removed.len(),
            layout.flag_count()
        );
        audit::append(&tx, actor, "batch.separate", batch_id, &detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the sheets counted for a batch (by hand, from the box's slip),
    /// which review reconciles against the sheets scanned.
    pub fn set_expected_sheets(
        &mut self,
        batch_id: &str,
        sheets: u32,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        if tx.execute(
            "UPDATE batches SET expected_sheets = ?2 WHERE id = ?1",
            params![batch_id, sheets],
        )? == 0
        {
            return Err(StoreError::NotFound(format!("batch {batch_id}")));
        }
        audit::append(
            &tx,
            actor,
            "batch.expected_sheets",
            batch_id,
            &sheets.to_string(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records why a batch stopped (a fault, a full disk), for `folio batches`.
    pub fn set_batch_error(
        &mut self,
        batch_id: &str,
        message: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE batches SET last_error = ?2 WHERE id = ?1",
            params![batch_id, message],
        )?;
        audit::append(&tx, actor, "batch.interrupted", batch_id, message)?;
        tx.commit()?;
        Ok(())
    }

    /// Appends an audit event on its own.
    pub fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        audit::append(&tx, actor, action, subject, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// The whole separated tree of a batch.
    pub fn tree(&self, batch_id: &str) -> Result<BatchTree, StoreError> {
        let batch = self.find_batch(batch_id)?;
        let id = batch.id.clone();
        let mut flags_by: HashMap<(Option<String>, Option<u32>), Vec<Flag>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT record_id, side, code, detail FROM flags WHERE batch_id = ?1 AND resolved_at IS NULL ORDER BY id")?;
        let mut rows = stmt.query([&id])?;
        while let Some(r) = rows.next()? {
            let code: String = r.get(2)?;
            if let Some(f) = flag_of(&code, r.get(3)?) {
                flags_by.entry((r.get(0)?, r.get(1)?)).or_default().push(f);
            }
        }
        let mut rstmt = self.conn.prepare(
            "SELECT id, nhs_number, hospital_number, specialty FROM records WHERE batch_id = ?1 ORDER BY ordinal",
        )?;
        let mut records: Vec<TreeRecord> = rstmt
            .query_map([&id], |r| {
                Ok(TreeRecord {
                    id: r.get(0)?,
                    nhs_number: r.get(1)?,
                    hospital_number: r.get(2)?,
                    specialty: r.get(3)?,
                    flags: Vec::new(),
                    documents: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        for rec in &mut records {
            rec.documents = self.tree_documents(&rec.id, &mut flags_by)?;
            // What pages did not take is the record's: its own flags, and
            // those about a side that is in no document (unreadable ones).
            let mut keys: Vec<_> = flags_by
                .keys()
                .filter(|(r, _)| r.as_ref() == Some(&rec.id))
                .cloned()
                .collect();
            keys.sort();
            for key in keys {
                let side = key.1;
                let flags = flags_by.remove(&key).unwrap_or_default();
                rec.flags
                    .extend(flags.into_iter().map(|f| Flag { side, ..f }));
            }
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.side, r.reason, r.barcode, {IMAGE_COLS} FROM removed r
             JOIN pages p ON p.batch_id = r.batch_id AND p.side = r.side WHERE r.batch_id = ?1 ORDER BY r.side"
        ))?;
        let removed = stmt
            .query_map([&id], |r| {
                let reason: String = r.get(1)?;
                Ok(TreeRemoved {
                    side: r.get(0)?,
                    reason: RemovedReason::parse(&reason).unwrap_or(RemovedReason::Blank),
                    barcode: r.get(2)?,
                    image: stored_image(r, 3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(BatchTree {
            batch,
            records,
            removed,
        })
    }

    fn tree_documents(
        &self,
        record_id: &str,
        flags_by: &mut HashMap<(Option<String>, Option<u32>), Vec<Flag>>,
    ) -> Result<Vec<TreeDocument>, StoreError> {
        let mut dstmt = self
            .conn
            .prepare("SELECT id, doc_type FROM documents WHERE record_id = ?1 ORDER BY ordinal")?;
        let docs: Vec<(String, Option<String>)> = dstmt
            .query_map([record_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut pstmt = self.conn.prepare(&format!(
            "SELECT p.side, p.sheet, p.face, {IMAGE_COLS} FROM document_pages dp
             JOIN pages p ON p.batch_id = dp.batch_id AND p.side = dp.side
             WHERE dp.document_id = ?1 ORDER BY dp.position"
        ))?;
        let mut out = Vec::new();
        for (did, doc_type) in docs {
            let pages: Vec<TreePage> = pstmt
                .query_map([&did], |r| {
                    let face: String = r.get(2)?;
                    Ok(TreePage {
                        side: r.get(0)?,
                        sheet: r.get(1)?,
                        face: Face::parse(&face),
                        image: stored_image(r, 3)?,
                        flags: Vec::new(),
                    })
                })?
                .collect::<Result<_, _>>()?;
            let pages = pages
                .into_iter()
                .map(|mut p| {
                    p.flags = flags_by
                        .remove(&(Some(record_id.to_string()), Some(p.side)))
                        .unwrap_or_default();
                    p
                })
                .collect();
            out.push(TreeDocument {
                id: did,
                doc_type,
                pages,
            });
        }
        Ok(out)
    }
}
