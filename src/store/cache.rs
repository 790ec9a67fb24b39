//! The station's cache on disk (issue 18, item 5): what it takes and what is
//! free, and purging the page images (and built PDFs) of batches whose paper
//! was destroyed, or of on-demand batches verified in the store long enough. Rows, hashes and receipts stay, so the history stays
//! provable; a purged page says so instead of failing to load.

use super::{Actor, Store, StoreError, audit};
use rusqlite::params;
use serde::Serialize;
use std::path::Path;

/// What the cache takes on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    /// Page images, previews and built PDFs.
    pub images_bytes: u64,
    pub files: u64,
    /// The database with its write-ahead log.
    pub database_bytes: u64,
    /// Everything else under the data folder (certificates, exports).
    pub other_bytes: u64,
    /// Free on the disk holding the data folder (for this user).
    pub free_bytes: u64,
}

impl DiskUsage {
    pub fn total(&self) -> u64 {
        self.images_bytes + self.database_bytes + self.other_bytes
    }
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub batches: u32,
    pub pages: u32,
    pub files: u32,
    pub bytes: u64,
}

/// Bytes and files under `dir` (what cannot be read is skipped: the
/// figure is for people, not for accounting).
fn walk(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => {
                    bytes += m.len();
                    files += 1;
                }
                Err(_) => {}
            }
        }
    }
    (bytes, files)
}

/// Bytes free for this user on the disk holding `path`.
pub(crate) fn free_bytes(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    (s.f_bavail as u64).saturating_mul(s.f_frsize as u64)
}

impl Store {
    /// What the cache takes on disk now (walks the image folder: seconds
    /// for millions of files, so callers ask now and then).
    pub fn disk_usage(&self) -> DiskUsage {
        let root = self.root().to_path_buf();
        let (images_bytes, files) = walk(&root.join("images"));
        let (all, _) = walk(self.data_dir());
        let database_bytes = [super::DB_FILE, "folio.sqlite3-wal", "folio.sqlite3-shm"]
            .iter()
            .filter_map(|n| std::fs::metadata(root.join(n)).ok())
            .map(|m| m.len())
            .sum();
        DiskUsage {
            images_bytes,
            files,
            database_bytes,
            other_bytes: all.saturating_sub(images_bytes + database_bytes),
            free_bytes: free_bytes(&root),
        }
    }

    /// Removes the page images, previews and built PDFs of the batches
    /// [`crate::batch::retention::may_purge`] lets go at `now` (destroyed
    /// ones; with `on_demand`, on-demand ones verified long enough), keeping
    /// every row and hash; a file another batch still uses stays. Pages are
    /// marked purged, audited per batch with why.
    pub fn purge(
        &mut self,
        retention: &crate::batch::retention::RetentionConfig,
        now: time::OffsetDateTime,
        on_demand: bool,
        actor: &Actor,
    ) -> Result<Purged, StoreError> {
        let batches: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT DISTINCT b.id FROM batches b JOIN pages p ON p.batch_id = b.id
                 WHERE b.state IN ('paper_held', 'destruction_due', 'destroyed')
                   AND p.purged_at IS NULL ORDER BY b.id",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut done = Purged::default();
        for b in batches {
            let facts = self.paper_facts(&b)?;
            let Some(why) = crate::batch::retention::may_purge(&facts, retention, now, on_demand)
            else {
                continue;
            };
            let p = self.purge_batch(&b, why, actor)?;
            done.batches += 1;
            done.pages += p.pages;
            done.files += p.files;
            done.bytes += p.bytes;
        }
        Ok(done)
    }

    fn purge_batch(
        &mut self,
        batch_id: &str,
        why: &str,
        actor: &Actor,
    ) -> Result<Purged, StoreError> {
        // Every file of the batch: its pages' images and its documents' PDFs.
        let shas: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT image_sha256 FROM pages WHERE batch_id = ?1
                 UNION SELECT pixels_sha256 FROM pages WHERE batch_id = ?1
                 UNION SELECT thumb_sha256 FROM pages WHERE batch_id = ?1
                 UNION SELECT preview_sha256 FROM pages WHERE batch_id = ?1
                 UNION SELECT p.sha256 FROM document_pdfs p JOIN documents d ON d.id = p.document_id WHERE d.batch_id = ?1",
            )?;
            stmt.query_map(params![batch_id], |r| r.get::<_, Option<String>>(0))?
                .filter_map(|r| r.transpose())
                .collect::<Result<_, _>>()?
        };
        let mut done = Purged::default();
        for sha in shas {
            // Kept while a batch not destroyed holds the same bytes.
            let shared: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM pages p
                   WHERE p.batch_id != ?2 AND p.purged_at IS NULL
                     AND ?1 IN (p.image_sha256, p.pixels_sha256, p.thumb_sha256, p.preview_sha256))",
                params![sha, batch_id],
                |r| r.get(0),
            )?;
            let path = self.images().path_of(&sha);
            if shared {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(m) => {
                    std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                    done.files += 1;
                    done.bytes += m.len();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        let now = crate::now_rfc3339();
        let tx = self.conn.transaction()?;
        done.pages = tx.execute(
            "UPDATE pages SET purged_at = ?2 WHERE batch_id = ?1 AND purged_at IS NULL",
            params![batch_id, now],
        )? as u32;
        audit::append(
            &tx,
            actor,
            "cache.purge",
            batch_id,
            &format!(
                "{why}: {} pages, {} files, {} bytes",
                done.pages, done.files, done.bytes
            ),
        )?;
        tx.commit()?;
        Ok(done)
    }

    /// Pages of a batch whose images were purged.
    pub fn purged_pages(&self, batch_id: &str) -> Result<u32, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM pages WHERE batch_id = ?1 AND purged_at IS NOT NULL",
            params![batch_id],
            |r| r.get(0),
        )?)
    }
}
