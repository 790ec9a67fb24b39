//! `folio export`: one PDF per document and `manifest.json`, written atomically.
//!
//! Every file goes to a temporary name in the target folder, is fsynced and then
//! renamed, and the manifest is renamed last: a reader that sees `manifest.json`
//! sees every PDF it names, complete. Runs on the calling thread; it reads one page
//! image at a time.

use crate::batch::manifest::{
    BatchInfo, FORMAT, Manifest, ManifestDocument, ManifestFlag, ManifestPage, ManifestRecord,
    ManifestRemoved, Patient, PdfInfo,
};
use crate::imaging::ImagingError;
use crate::imaging::encode::Encoded;
use crate::imaging::pdf::PdfStream;
use crate::store::images::sync_dir;
use crate::store::{Actor, BatchTree, Store, StoreError, TreeDocument};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("batch {0} is still scanning: finish it (`folio import --resume`) before exporting")]
    NotClosed(String),
    #[error("cannot build the PDF of document {doc}: {source}")]
    Pdf { doc: String, source: ImagingError },
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

/// Writes `bytes` to `dir/name` atomically.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".folio-tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(dir))?;
    let target = dir.join(name);
    tmp.persist(&target)
        .map_err(|e| StoreError::io(&target, e.error))?;
    sync_dir(dir)
}

/// Builds one document's PDF into `dir/documents/<id>.pdf`.
fn write_pdf(store: &Store, dir: &Path, doc: &TreeDocument) -> Result<PdfInfo, ExportError> {
    let docs_dir = dir.join("documents");
    std::fs::create_dir_all(&docs_dir).map_err(io(&docs_dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".folio-tmp-")
        .tempfile_in(&docs_dir)
        .map_err(io(&docs_dir))?;
    let (file, tmp_path) = tmp.into_parts();
    let out = Hashing {
        inner: std::io::BufWriter::new(file),
        hash: Sha256::new(),
        bytes: 0,
    };
    let pdf_err = |source| ExportError::Pdf {
        doc: doc.id.clone(),
        source,
    };
    let title = format!(
        "{} {}",
        doc.doc_type.as_deref().unwrap_or("document"),
        doc.id
    );
    let mut pdf = PdfStream::start(out, doc.pages.len(), &title).map_err(pdf_err)?;
    for page in &doc.pages {
        let Some(img) = &page.image else { continue };
        let bytes = store.images().get(&img.sha256)?;
        let enc = Encoded {
            encoding: img.encoding,
            width: img.width,
            height: img.height,
            dpi: img.dpi,
            kind: img.kind,
            bytes,
        };
        pdf.add_page(&enc).map_err(|e| match e {
            ImagingError::Io(io_err) => ExportError::Store(StoreError::io(&docs_dir, io_err)),
            other => pdf_err(other),
        })?;
    }
    let id_bytes: [u8; 16] = *uuid::Uuid::parse_str(&doc.id)
        .unwrap_or_default()
        .as_bytes();
    let out = pdf.finish(&id_bytes).map_err(pdf_err)?;
    let (hash, bytes) = (out.hash, out.bytes);
    let file = out
        .inner
        .into_inner()
        .map_err(|e| StoreError::io(&docs_dir, e.into_error()))?;
    file.sync_all().map_err(io(&docs_dir))?;
    let name = format!("{}.pdf", doc.id);
    let target = docs_dir.join(&name);
    tmp_path
        .persist(&target)
        .map_err(|e| StoreError::io(&target, e.error))?;
    sync_dir(&docs_dir)?;
    Ok(PdfInfo {
        path: format!("documents/{name}"),
        sha256: hex::encode(hash.finalize()),
        bytes,
        pages: doc.pages.len() as u32,
    })
}

/// Builds the manifest of a separated batch, writing each document's PDF.
fn build_manifest(store: &Store, tree: &BatchTree, dir: &Path) -> Result<Manifest, ExportError> {
    let b = &tree.batch;
    let mut records = Vec::new();
    for r in &tree.records {
        let mut documents = Vec::new();
        for d in &r.documents {
            let pdf = write_pdf(store, dir, d)?;
            let pages = d
                .pages
                .iter()
                .map(|p| ManifestPage {
                    side: p.side,
                    sheet: p.sheet,
                    face: p.face,
                    sha256: p
                        .image
                        .as_ref()
                        .map(|i| i.sha256.clone())
                        .unwrap_or_default(),
                    flags: p.flags.iter().map(ManifestFlag::from).collect(),
                })
                .collect();
            documents.push(ManifestDocument {
                id: d.id.clone(),
                doc_type: d.doc_type.clone(),
                pdf,
                pages,
            });
        }
        records.push(ManifestRecord {
            id: r.id.clone(),
            patient: Patient {
                nhs_number: r.nhs_number.clone(),
                hospital_number: r.hospital_number.clone(),
            },
            specialty: r.specialty.clone(),
            flags: r.flags.iter().map(ManifestFlag::from).collect(),
            documents,
        });
    }
    Ok(Manifest {
        format: FORMAT.to_string(),
        batch: BatchInfo {
            id: b.id.clone(),
            label: b.label.clone(),
            station: b.station.clone(),
            operator: b.operator.clone(),
            created: b.created.clone(),
            closed: b.closed.clone(),
            sides_scanned: b.sides,
        },
        records,
        removed: tree
            .removed
            .iter()
            .map(|r| ManifestRemoved {
                side: r.side,
                reason: r.reason.as_str().to_string(),
                barcode: r.barcode.clone(),
            })
            .collect(),
    })
}

/// Exports a closed batch to `dir`; returns the manifest and its path.
pub fn export_batch(
    store: &mut Store,
    batch: &str,
    dir: &Path,
    actor: &Actor,
) -> Result<(Manifest, PathBuf), ExportError> {
    let tree = store.tree(batch)?;
    if tree.batch.state == crate::batch::BatchState::Scanning.as_str() {
        return Err(ExportError::NotClosed(tree.batch.id));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let manifest = build_manifest(store, &tree, dir)?;
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Damaged(e.to_string()))?;
    write_atomic(dir, "manifest.json", &json)?;
    store.audit(
        actor,
        "batch.export",
        &tree.batch.id,
        &dir.display().to_string(),
    )?;
    Ok((manifest, dir.join("manifest.json")))
}
