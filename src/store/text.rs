//! Searchable text in the cache: which batches asked for it
//! (`text_requests`), and the words read on each page image (`page_text`).
//! The OCR worker claims one page at a time in a transaction, so workers in
//! several processes never read the same page twice, and a claim left by a
//! worker that died is taken over once it is older than [`CLAIM_S`]. What
//! may be asked for, and whether an upload waits, is [`crate::batch::text`].

use super::{Actor, Store, StoreError, StoredImage, audit, batches};
use crate::batch::BatchState;
use crate::batch::text::{self, TextProgress};
use crate::imaging::ocr::OcrWord;
use rusqlite::{OptionalExtension, params};

/// A claim on a page older than this (seconds) was left by a worker that
/// stopped: OCR's own deadline per page is far shorter.
pub const CLAIM_S: i64 = 3 * crate::imaging::ocr::PAGE_DEADLINE_S as i64;
/// Claims on one page image before it is failed: a page that stops OCR
/// (crashes the process) every time must not stop it for ever.
pub const MAX_ATTEMPTS: u32 = 3;

/// One page image to read.
#[derive(Debug, Clone)]
pub struct TextJob {
    pub batch_id: String,
    pub side: u32,
    pub image: StoredImage,
    pub language: String,
}

/// Pages that get text: stored, not blank, not removed, of batches whose PDFs
/// are still built (see [`text::text_useful`]).
fn pages_wanting(extra: &str) -> String {
    format!(
        "FROM text_requests q
         JOIN batches b ON b.id = q.batch_id
         JOIN pages p ON p.batch_id = q.batch_id
         LEFT JOIN page_text t ON t.image_sha256 = p.image_sha256
         WHERE p.image_sha256 IS NOT NULL AND p.blank = 0
           AND NOT EXISTS (SELECT 1 FROM removed r WHERE r.batch_id = p.batch_id AND r.side = p.side)
           {extra}"
    )
}

impl Store {
    /// Asks for a batch's text (its profile's choice, a flag, or someone in
    /// review); false when it was asked for already.
    pub fn request_text(
        &mut self,
        batch_id: &str,
        language: &str,
        actor: &Actor,
        why: &str,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM batches WHERE id = ?1", [batch_id], |r| {
                r.get(0)
            })
            .optional()?;
        let state = state
            .as_deref()
            .and_then(BatchState::parse)
            .ok_or_else(|| StoreError::NoSuchBatch(batch_id.to_string()))?;
        text::may_request_text(state).map_err(|why| StoreError::Refused {
            batch: batch_id.to_string(),
            why: format!("its text cannot be asked for: {why}"),
        })?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO text_requests (batch_id, requested_at, requested_by, language)
             VALUES (?1, ?2, ?3, ?4)",
            params![batch_id, crate::now_rfc3339(), actor.operator, language],
        )? > 0;
        if added {
            audit::append(&tx, actor, "text.requested", batch_id, why)?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// How far a batch's text has got.
    pub fn text_progress(&self, batch_id: &str) -> Result<TextProgress, StoreError> {
        let wanted = self
            .conn
            .query_row(
                "SELECT 1 FROM text_requests WHERE batch_id = ?1",
                [batch_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let (pages, done, failed): (u32, u32, u32) = self.conn.query_row(
            "SELECT COUNT(*),
                    COALESCE(SUM(t.state = 'done'), 0),
                    COALESCE(SUM(t.state = 'failed'), 0)
             FROM pages p LEFT JOIN page_text t ON t.image_sha256 = p.image_sha256
             WHERE p.batch_id = ?1 AND p.image_sha256 IS NOT NULL AND p.blank = 0
               AND NOT EXISTS (SELECT 1 FROM removed r WHERE r.batch_id = p.batch_id AND r.side = p.side)",
            [batch_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(TextProgress {
            wanted,
            pages,
            done,
            failed,
        })
    }

    /// Claims the next page to read for worker `owner`: the oldest
    /// request's first page without text, or whose claim was abandoned (its
    /// process gone, by `gone`, or older than [`CLAIM_S`]). A page claimed
    /// [`MAX_ATTEMPTS`] times without a result is failed here instead.
    pub fn claim_text_job(
        &mut self,
        owner: &str,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<Option<TextJob>, StoreError> {
        let states = super::sql_names(
            crate::batch::rules::states_where(text::text_useful),
            BatchState::as_str,
        );
        let cutoff =
            crate::rfc3339(time::OffsetDateTime::now_utc() - time::Duration::seconds(CLAIM_S));
        let cols = batches::IMAGE_COLS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Unread pages and every claimed one (a few: one a worker).
        let sql = format!(
            "SELECT p.batch_id, p.side, q.language, t.attempts, t.claimed_by, t.started_at, {cols} {}
             ORDER BY q.requested_at, q.batch_id, p.side LIMIT 64",
            pages_wanting(&format!(
                "AND b.state IN ({states}) AND (t.image_sha256 IS NULL OR t.state = 'reading')"
            )),
        );
        let tx = self.conn.transaction()?;
        let candidates = {
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<u32>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    batches::stored_image(r, 6)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let now = crate::now_rfc3339();
        let mut job = None;
        for (batch_id, side, language, attempts, claimed_by, started, image) in candidates {
            let Some(image) = image else { continue };
            if let Some(attempts) = attempts {
                let abandoned = started.as_deref().is_none_or(|t| t < cutoff.as_str())
                    || claimed_by.as_deref().is_none_or(gone);
                if !abandoned {
                    continue;
                }
                if attempts >= MAX_ATTEMPTS {
                    tx.execute(
                        "UPDATE page_text SET state = 'failed', read_at = ?2, claimed_by = NULL,
                           error = 'OCR stopped on this page every time it was tried; its PDF page has no text'
                         WHERE image_sha256 = ?1",
                        params![image.sha256, now],
                    )?;
                    continue;
                }
            }
            tx.execute(
                "INSERT INTO page_text (image_sha256, state, attempts, started_at, claimed_by, language)
                 VALUES (?1, 'reading', 1, ?2, ?3, ?4)
                 ON CONFLICT (image_sha256) DO UPDATE SET
                   state = 'reading', attempts = attempts + 1, started_at = ?2, claimed_by = ?3",
                params![image.sha256, now, owner, language],
            )?;
            job = Some(TextJob {
                batch_id,
                side,
                image,
                language,
            });
            break;
        }
        tx.commit()?;
        Ok(job)
    }

    /// Records what OCR made of a claimed page: its words, or why not.
    pub fn save_text(
        &mut self,
        image_sha256: &str,
        result: Result<&[OcrWord], &str>,
        engine: &str,
    ) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        match result {
            Ok(words) => {
                let json = serde_json::to_string(words)
                    .map_err(|e| StoreError::Damaged(format!("page text: {e}")))?;
                self.conn.execute(
                    "UPDATE page_text SET state = 'done', words = ?2, error = NULL, engine = ?3, read_at = ?4, claimed_by = NULL
                     WHERE image_sha256 = ?1",
                    params![image_sha256, json, engine, now],
                )?;
            }
            Err(why) => {
                self.conn.execute(
                    "UPDATE page_text SET state = 'failed', words = NULL, error = ?2, engine = ?3, read_at = ?4, claimed_by = NULL
                     WHERE image_sha256 = ?1",
                    params![image_sha256, why, engine, now],
                )?;
            }
        }
        Ok(())
    }

    /// The words read on a page image, if it was read.
    pub fn page_words(&self, image_sha256: &str) -> Result<Option<Vec<OcrWord>>, StoreError> {
        let json: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT words FROM page_text WHERE image_sha256 = ?1 AND state = 'done'",
                [image_sha256],
                |r| r.get(0),
            )
            .optional()?;
        json.flatten()
            .map(|j| {
                serde_json::from_str(&j).map_err(|e| {
                    StoreError::Damaged(format!("the text of page image {image_sha256}: {e}"))
                })
            })
            .transpose()
    }

    /// Pages still to read across every batch that asked for text.
    pub fn text_backlog(&self) -> Result<u32, StoreError> {
        let states = super::sql_names(
            crate::batch::rules::states_where(text::text_useful),
            BatchState::as_str,
        );
        let sql = format!(
            "SELECT COUNT(*) {}",
            pages_wanting(&format!(
                "AND b.state IN ({states}) AND (t.image_sha256 IS NULL OR t.state = 'reading')"
            ))
        );
        Ok(self.conn.query_row(&sql, [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchSource;
    use crate::pixels::{Encoding, PixelKind};
    use crate::store::NewBatch;
    use crate::workers::process::{SideMeta, unreadable_side};

    fn actor() -> Actor {
        Actor {
            station: "s".into(),
            operator: "op".into(),
            role: None,
        }
    }

    /// A store holding one batch of `n` stored sides that asked for text.
    fn batch_wanting_text(n: u32) -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let batch = "01a00000-0000-7000-8000-000000000001".to_string();
        let new = NewBatch {
            id: batch.clone(),
            label: "box".into(),
            source: BatchSource::Import,
            specialty: None,
            duplex: false,
            dpi: Some(300),
            expected_sheets: None,
        };
        store.create_batch(&new, &actor()).unwrap();
        for side in 0..n {
            let meta = SideMeta::at(&batch, side, false, format!("p{side}"));
            let mut row = unreadable_side(&meta, String::new());
            row.error = None;
            row.image = Some(StoredImage {
                sha256: format!("{side:064}"),
                encoding: Encoding::Jpeg,
                kind: PixelKind::Gray,
                width: 100,
                height: 100,
                dpi: 300,
                bytes: 1,
            });
            store.insert_page(&row).unwrap();
        }
        assert!(store.request_text(&batch, "eng", &actor(), "test").unwrap());
        assert!(
            !store
                .request_text(&batch, "eng", &actor(), "again")
                .unwrap()
        );
        (dir, store, batch)
    }

    #[test]
    fn pages_are_claimed_once_in_order_and_a_dead_workers_claim_is_taken_over() {
        let (_dir, mut store, batch) = batch_wanting_text(3);
        let alive = |_: &str| false;
        let first = store.claim_text_job("a", &alive).unwrap().unwrap();
        let second = store.claim_text_job("b", &alive).unwrap().unwrap();
        assert_eq!((first.side, second.side), (0, 1));
        store.save_text(&second.image.sha256, Ok(&[]), "t").unwrap();
        // Worker "a" died on side 0: the next claim takes it over first.
        let gone = |owner: &str| owner == "a";
        let again = store.claim_text_job("c", &gone).unwrap().unwrap();
        assert_eq!(again.side, 0);
        store
            .save_text(&again.image.sha256, Err("unreadable"), "t")
            .unwrap();
        let last = store.claim_text_job("c", &alive).unwrap().unwrap();
        assert_eq!(last.side, 2);
        assert!(store.claim_text_job("d", &alive).unwrap().is_none());
        assert_eq!(store.text_backlog().unwrap(), 1, "side 2 is being read");
        let p = store.text_progress(&batch).unwrap();
        assert_eq!((p.wanted, p.pages, p.done, p.failed), (true, 3, 1, 1));
        assert_eq!(
            store.page_words(&second.image.sha256).unwrap(),
            Some(vec![])
        );
        assert_eq!(store.page_words(&again.image.sha256).unwrap(), None);
    }

    #[test]
    fn a_page_that_stops_ocr_every_time_is_failed_not_tried_for_ever() {
        let (_dir, mut store, batch) = batch_wanting_text(1);
        let gone = |_: &str| true;
        for _ in 0..MAX_ATTEMPTS {
            assert!(store.claim_text_job("w", &gone).unwrap().is_some());
        }
        assert!(store.claim_text_job("w", &gone).unwrap().is_none());
        let p = store.text_progress(&batch).unwrap();
        assert_eq!((p.done, p.failed, p.pending()), (0, 1, 0));
    }
}
