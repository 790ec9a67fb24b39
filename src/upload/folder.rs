//! Folder target, for stores that ingest files: per batch a folder with the
//! PDFs, one ITI-65 Bundle JSON per record and `manifest.json`. Every file is
//! written under a temporary name, fsynced and renamed, and the manifest comes
//! last, so an ingester that waits for `manifest.json` never sees a partial
//! file. Delivering again rewrites the same bytes. Runs on the upload thread.

use super::bundle::StreamedBundle;
use super::{RecordPackage, Stored, UploadError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub struct FolderTarget {
    root: PathBuf,
}

impl FolderTarget {
    pub fn new(root: PathBuf) -> FolderTarget {
        FolderTarget { root }
    }

    fn batch_dir(&self, batch_id: &str) -> PathBuf {
        self.root.join(batch_id)
    }

    /// The newest audit chain head the folder's manifests hold, and the
    /// manifest holding it (manifests that cannot be read are skipped: an
    /// ingester may have moved them on).
    pub fn newest_anchor(
        &self,
    ) -> std::io::Result<Option<(crate::batch::manifest::AuditHead, PathBuf)>> {
        let mut newest: Option<(crate::batch::manifest::AuditHead, PathBuf)> = None;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let path = entry.path().join("manifest.json");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(m) = serde_json::from_slice::<crate::batch::manifest::Manifest>(&bytes) else {
                continue;
            };
            if let Some(head) = m.audit_head
                && newest.as_ref().is_none_or(|(n, _)| head.seq > n.seq)
            {
                newest = Some((head, path));
            }
        }
        Ok(newest)
    }
}

/// An I/O failure in words: a full disk may clear (retry); a read-only or
/// forbidden folder needs a person first.
fn io_err(path: &Path, e: std::io::Error) -> UploadError {
    use std::io::ErrorKind::*;
    let why = format!("cannot write {}: {e}", path.display());
    match e.kind() {
        StorageFull | QuotaExceeded => UploadError::transient(format!(
            "{why}: the disk is full; free space there (nothing already delivered is lost)"
        )),
        ReadOnlyFilesystem | PermissionDenied => UploadError::Permanent {
            why: format!(
                "{why}: the folder is read-only or not ours; make it writable, then `folio upload --batch ...` again"
            ),
        },
        _ => UploadError::transient(why),
    }
}

/// Copies `from` into `dir/name` atomically, counting bytes.
fn write_atomic(
    dir: &Path,
    name: &str,
    mut from: impl Read,
    progress: &dyn Fn(u64),
) -> Result<PathBuf, UploadError> {
    // A failure to read the source is ours, not the folder's.
    let mut unreadable = None;
    let written = crate::durable::write_atomic(dir, name, |file| {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let why = e.to_string();
                    unreadable = Some(e);
                    return Err(std::io::Error::other(why));
                }
            };
            file.write_all(&buf[..n])?;
            progress(n as u64);
        }
    });
    match (written, unreadable) {
        (Ok(target), _) => Ok(target),
        (Err(_), Some(e)) => Err(UploadError::Permanent {
            why: format!("cannot read what is to be delivered: {e}"),
        }),
        (Err(e), None) => Err(io_err(&e.path, e.source)),
    }
}

/// Size and SHA-256 (hex) of everything `r` yields.
pub fn hash_reader(mut r: impl Read) -> std::io::Result<(u64, String)> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, hex::encode(h.finalize())))
}

impl super::Target for FolderTarget {
    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }

    fn deliver(
        &mut self,
        p: &RecordPackage,
        progress: &super::ProgressSink,
    ) -> Result<Vec<Stored>, UploadError> {
        let dir = self.batch_dir(&p.origin.batch_id);
        let mut stored = Vec::new();
        for d in &p.documents {
            let file = super::open_pdf(d)?;
            let path = write_atomic(
                &dir.join("documents"),
                &format!("{}.pdf", d.id),
                file,
                &**progress,
            )?;
            stored.push(Stored {
                document_id: d.id.clone(),
                location: path.display().to_string(),
                already_there: false,
            });
        }
        let bundle = StreamedBundle::of(p).reader();
        // The Bundle repeats the PDFs in base64: its bytes are not counted
        // again as progress.
        write_atomic(
            &dir.join("bundles"),
            &format!("{}.json", p.record.id),
            bundle,
            &|_| {},
        )?;
        Ok(stored)
    }

    fn read_back(
        &mut self,
        batch_id: &str,
        doc: &super::DocumentFile,
    ) -> Result<super::ReadBack, UploadError> {
        let path = self
            .root
            .join(batch_id)
            .join("documents")
            .join(format!("{}.pdf", doc.id));
        let location = path.display().to_string();
        let missing = |why: String| super::ReadBack {
            location: location.clone(),
            missing: Some(why),
            ..super::ReadBack::default()
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(missing(format!("{location} is not there")));
            }
            Err(e) => {
                return Err(UploadError::transient(format!(
                    "cannot read {location} back: {e}"
                )));
            }
        };
        let version = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .map(|t| crate::rfc3339(t.into()));
        let (bytes, sha256) = hash_reader(file)
            .map_err(|e| UploadError::transient(format!("cannot read {location} back: {e}")))?;
        Ok(super::ReadBack {
            location: location.clone(),
            content_location: Some(location),
            version,
            etag: None,
            content: Some((bytes, sha256)),
            missing: None,
        })
    }

    fn finish_batch(
        &mut self,
        manifest: &crate::batch::manifest::Manifest,
    ) -> Result<(), UploadError> {
        let json = super::manifest_json(manifest)?;
        write_atomic(
            &self.batch_dir(&manifest.batch.id),
            "manifest.json",
            &json[..],
            &|_| {},
        )?;
        Ok(())
    }
}
