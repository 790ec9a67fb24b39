//! `folio export`: one PDF per document and `manifest.json`, written atomically;
//! and the cache of built PDFs that export and upload share.
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
use crate::store::{Actor, BatchTree, CachedPdf, Store, StoreError, TreeDocument};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
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

/// A writer that hashes (SHA-256 for our records, SHA-1 for FHIR's
/// Attachment.hash) and counts what passes through it.
struct Hashing<W> {
    inner: W,
    sha256: Sha256,
    sha1: Sha1,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.sha1.update(&buf[..n]);
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

/// Copies `from` to `dir/name` atomically (temporary name, fsync, rename).
fn write_atomic(dir: &Path, name: &str, mut from: impl Read) -> Result<(), StoreError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".folio-tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    std::io::copy(&mut from, &mut tmp).map_err(io(dir))?;
    tmp.as_file().sync_all().map_err(io(dir))?;
    let target = dir.join(name);
    tmp.persist(&target)
        .map_err(|e| StoreError::io(&target, e.error))?;
    sync_dir(dir)
}

/// What a document's PDF is made of: when this changes, it is rebuilt.
fn pages_key(doc: &TreeDocument) -> String {
    let mut h = Sha256::new();
    h.update(doc.id.as_bytes());
    h.update(doc.doc_type.as_deref().unwrap_or("").as_bytes());
    for p in &doc.pages {
        h.update(b"|");
        if let Some(img) = &p.image {
            h.update(img.sha256.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// A document's PDF in the cache: built once (at export or approval, whichever
/// comes first) and again only if its pages changed, so export and upload
/// deliver the very same bytes.
pub fn document_pdf(
    store: &mut Store,
    doc: &TreeDocument,
) -> Result<(PathBuf, CachedPdf), ExportError> {
    let key = pages_key(doc);
    if let Some(c) = store.cached_pdf(&doc.id)? {
        let path = store.images().path_of(&c.sha256);
        let intact = std::fs::metadata(&path).is_ok_and(|m| m.len() == c.bytes);
        if c.pages_key == key && intact {
            return Ok((path, c));
        }
    }
    let built = build_pdf(store, doc, key)?;
    store.save_pdf(&doc.id, &built)?;
    Ok((store.images().path_of(&built.sha256), built))
}

/// Builds a document's PDF into the cache, one page image in memory at a time.
fn build_pdf(
    store: &Store,
    doc: &TreeDocument,
    pages_key: String,
) -> Result<CachedPdf, ExportError> {
    let images = store.images();
    let root = images
        .path_of("00")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-pdf-")
        .tempfile_in(&root)
        .map_err(io(&root))?;
    let (file, tmp_path) = tmp.into_parts();
    let out = Hashing {
        inner: std::io::BufWriter::new(file),
        sha256: Sha256::new(),
        sha1: Sha1::new(),
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
        let enc = Encoded {
            encoding: img.encoding,
            width: img.width,
            height: img.height,
            dpi: img.dpi,
            kind: img.kind,
            bytes: images.get(&img.sha256)?,
        };
        pdf.add_page(&enc).map_err(|e| match e {
            ImagingError::Io(io_err) => ExportError::Store(StoreError::io(&root, io_err)),
            other => pdf_err(other),
        })?;
    }
    let id_bytes: [u8; 16] = *uuid::Uuid::parse_str(&doc.id)
        .unwrap_or_default()
        .as_bytes();
    let out = pdf.finish(&id_bytes).map_err(pdf_err)?;
    let (sha256, sha1, bytes) = (
        hex::encode(out.sha256.finalize()),
        hex::encode(out.sha1.finalize()),
        out.bytes,
    );
    let file = out
        .inner
        .into_inner()
        .map_err(|e| StoreError::io(&root, e.into_error()))?;
    file.sync_all().map_err(io(&root))?;
    let target = images.path_of(&sha256);
    let dir = target.parent().unwrap_or(&root).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    tmp_path
        .persist(&target)
        .map_err(|e| StoreError::io(&target, e.error))?;
    sync_dir(&dir)?;
    Ok(CachedPdf {
        pages_key,
        sha256,
        sha1,
        bytes,
        pages: doc.pages.len() as u32,
    })
}

/// The cached PDF of every document of a batch, by document id.
pub fn batch_pdfs(
    store: &mut Store,
    tree: &BatchTree,
) -> Result<HashMap<String, (PathBuf, CachedPdf)>, ExportError> {
    let mut out = HashMap::new();
    for d in tree.records.iter().flat_map(|r| &r.documents) {
        out.insert(d.id.clone(), document_pdf(store, d)?);
    }
    Ok(out)
}

/// Where a document's PDF sits in an export or a delivered folder.
pub fn pdf_relative_path(doc_id: &str) -> String {
    format!("documents/{doc_id}.pdf")
}

/// The manifest of a separated batch whose PDFs are built.
pub fn build_manifest(tree: &BatchTree, pdfs: &HashMap<String, (PathBuf, CachedPdf)>) -> Manifest {
    let b = &tree.batch;
    let records = tree
        .records
        .iter()
        .map(|r| ManifestRecord {
            id: r.id.clone(),
            patient: Patient {
                nhs_number: r.nhs_number.clone(),
                hospital_number: r.hospital_number.clone(),
            },
            specialty: r.specialty.clone(),
            flags: r.flags.iter().map(ManifestFlag::from).collect(),
            documents: r
                .documents
                .iter()
                .map(|d| manifest_document(d, pdfs.get(&d.id).map(|(_, c)| c)))
                .collect(),
        })
        .collect();
    Manifest {
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
    }
}

fn manifest_document(d: &TreeDocument, pdf: Option<&CachedPdf>) -> ManifestDocument {
    ManifestDocument {
        id: d.id.clone(),
        doc_type: d.doc_type.clone(),
        pdf: PdfInfo {
            path: pdf_relative_path(&d.id),
            sha256: pdf.map(|c| c.sha256.clone()).unwrap_or_default(),
            bytes: pdf.map_or(0, |c| c.bytes),
            pages: d.pages.len() as u32,
        },
        pages: d
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
            .collect(),
    }
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
    let docs_dir = dir.join("documents");
    std::fs::create_dir_all(&docs_dir).map_err(io(&docs_dir))?;
    let pdfs = batch_pdfs(store, &tree)?;
    for (id, (path, _)) in &pdfs {
        let file = std::fs::File::open(path).map_err(io(path))?;
        write_atomic(&docs_dir, &format!("{id}.pdf"), file)?;
    }
    let manifest = build_manifest(&tree, &pdfs);
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Damaged(e.to_string()))?;
    write_atomic(dir, "manifest.json", &json[..])?;
    store.audit(
        actor,
        "batch.export",
        &tree.batch.id,
        &dir.display().to_string(),
    )?;
    Ok((manifest, dir.join("manifest.json")))
}
