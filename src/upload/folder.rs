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
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".folio-tmp-")
        .tempfile_in(dir)
        .map_err(|e| io_err(dir, e))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(UploadError::Permanent {
                    why: format!("cannot read what is to be delivered: {e}"),
                });
            }
        };
        tmp.write_all(&buf[..n]).map_err(|e| io_err(dir, e))?;
        progress(n as u64);
    }
    tmp.as_file().sync_all().map_err(|e| io_err(dir, e))?;
    let target = dir.join(name);
    tmp.persist(&target).map_err(|e| io_err(&target, e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))?;
    Ok(target)
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
            let file = std::fs::File::open(&d.pdf_path).map_err(|e| UploadError::Permanent {
                why: format!("cannot read {}: {e}", d.pdf_path.display()),
            })?;
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

    fn finish_batch(
        &mut self,
        manifest: &crate::batch::manifest::Manifest,
    ) -> Result<(), UploadError> {
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| UploadError::Permanent {
            why: format!("cannot write the manifest: {e}"),
        })?;
        write_atomic(
            &self.batch_dir(&manifest.batch.id),
            "manifest.json",
            &json[..],
            &|_| {},
        )?;
        Ok(())
    }
}
