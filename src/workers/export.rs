//! `folio export`: one PDF per document and `manifest.json`, written atomically;
//! and the cache of built PDFs that export and upload share.
//!
//! An export is complete or absent, and never mixes with other files (see
//! [`export_batch`] for the rules on the target folder): it is written into a
//! fresh hidden folder beside the target, every file fsynced and the manifest
//! last, and that folder is then renamed to the target's name. Runs on the
//! calling thread; it reads one page image at a time.

use crate::batch::manifest::{
    BatchInfo, FORMAT, Manifest, ManifestDocument, ManifestFlag, ManifestPage, ManifestRecord,
    ManifestRemoved, Patient, PdfInfo, Provenance, ProvenanceSample, ProvenanceSession,
    ProvenanceTarget,
};
use crate::batch::sample::SampleState;
use crate::imaging::ImagingError;
use crate::imaging::ocr::OcrWord;
use crate::imaging::pdf::{DocMeta, PdfStream, Word};
use crate::pixels::Encoded;
use crate::store::images::sync_dir;
use crate::store::{
    Actor, BatchProvenance, BatchRow, BatchTree, CachedPdf, Store, StoreError, TreeDocument,
};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use time::OffsetDateTime;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("batch {0} is still scanning: finish it (`folio import --resume`) before exporting")]
    NotClosed(String),
    #[error(
        "batch {batch}: {pages} page images were purged from this station after its paper was destroyed; its documents are in the central store (`folio receipts {batch}` says where)"
    )]
    Purged { batch: String, pages: u32 },
    #[error("cannot build the PDF of document {doc}: {source}")]
    Pdf { doc: String, source: ImagingError },
    #[error(
        "{} is a symbolic link: an export never follows a link; give the folder's real path (or a new folder's)",
        shown(.0)
    )]
    TargetIsLink(PathBuf),
    #[error("{} exists and is not a folder: give a folder's path", shown(.0))]
    TargetNotFolder(PathBuf),
    #[error(
        "{} is the top of a mounted disk: export into a new folder on it (for example {})",
        shown(.0),
        shown(&.0.join("export"))
    )]
    TargetIsMount(PathBuf),
    #[error("give the export folder a name (not '.', '..' or '/'): {}", shown(.0))]
    TargetUnnamed(PathBuf),
    #[error(
        "{} already holds {found}, which is not an earlier export of batch {batch}: nothing was written; export into an empty or new folder (an export never mixes with other files)",
        shown(dir)
    )]
    TargetInUse {
        dir: PathBuf,
        batch: String,
        found: String,
    },
}

/// A path as it may appear in a message (file names may hold anything).
fn shown(path: &Path) -> String {
    crate::batch::printable(&path.to_string_lossy(), 400)
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

/// Copies `from` to `dir/name` whole or not at all.
fn write_atomic(dir: &Path, name: &str, mut from: impl Read) -> Result<(), StoreError> {
    crate::durable::write_atomic(dir, name, |f| std::io::copy(&mut from, f).map(drop))?;
    Ok(())
}

/// The PDF format documents are written in, part of [`pages_key`]: PDFs built
/// in an earlier format are rebuilt unless already sent.
const PDF_FORMAT: &str = "pdfa-1b";

/// What a document's PDF is made of: when this changes, it is rebuilt.
/// `format` is [`PDF_FORMAT`], or "" for a PDF built before formats were
/// named.
fn pages_key(doc: &TreeDocument, format: &str) -> String {
    let mut h = Sha256::new();
    h.update(doc.id.as_bytes());
    if !format.is_empty() {
        h.update(b"|format=");
        h.update(format.as_bytes());
    }
    h.update(doc.doc_type.as_deref().unwrap_or("").as_bytes());
    for p in &doc.pages {
        h.update(b"|");
        if let Some(img) = &p.image {
            h.update(img.sha256.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// The words read on each page of a document (None: not read, or OCR gave
/// up), in page order.
type PageTexts = Vec<Option<Vec<OcrWord>>>;

fn page_texts(store: &Store, doc: &TreeDocument) -> Result<PageTexts, StoreError> {
    doc.pages
        .iter()
        .map(|p| match &p.image {
            Some(img) => store.page_words(&img.sha256),
            None => Ok(None),
        })
        .collect()
}

/// [`pages_key`] with the pages' text: a PDF is rebuilt when text arrives
/// (unless it was sent already). No text gives the key without it, so PDFs
/// of batches without OCR keep their key.
fn text_key(pages_key: String, texts: &PageTexts) -> String {
    if texts.iter().all(Option::is_none) {
        return pages_key;
    }
    let mut h = Sha256::new();
    h.update(pages_key.as_bytes());
    for t in texts {
        h.update(b"|text=");
        if let Some(words) = t {
            h.update(serde_json::to_string(words).unwrap_or_default().as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// A document's PDF in the cache: built once (at export or approval, whichever
/// comes first) and again only if its pages or their text changed, so export
/// and upload deliver the very same bytes. A PDF already sent (or read back)
/// is never replaced by one that differs only in format or text: the store
/// holds one version of a document.
pub fn document_pdf(
    store: &mut Store,
    doc: &TreeDocument,
    created: OffsetDateTime,
) -> Result<(PathBuf, CachedPdf), ExportError> {
    let texts = page_texts(store, doc)?;
    let plain = pages_key(doc, PDF_FORMAT);
    let key = text_key(plain.clone(), &texts);
    if let Some(c) = store.cached_pdf(&doc.id)? {
        let path = store.images().path_of(&c.sha256);
        let intact =
            std::fs::metadata(&path).is_ok_and(|m| m.len() == store.images().stored_len(c.bytes));
        let current = c.pages_key == key
            || ((c.pages_key == plain || c.pages_key == pages_key(doc, ""))
                && store.pdf_sent(&doc.id, &c.sha256)?);
        if current && intact {
            return Ok((path, c));
        }
    }
    let built = build_pdf(store, doc, &texts, key, created)?;
    store.save_pdf(&doc.id, &built)?;
    Ok((store.images().path_of(&built.sha256), built))
}

/// Builds a document's PDF into the cache, one page image in memory at a
/// time, each with its words (if read) as an invisible text layer.
fn build_pdf(
    store: &Store,
    doc: &TreeDocument,
    texts: &PageTexts,
    pages_key: String,
    created: OffsetDateTime,
) -> Result<CachedPdf, ExportError> {
    let images = store.images();
    let root = store.root().join("images");
    let mut staged = images.stage()?;
    let out = Hashing {
        inner: std::io::BufWriter::new(&mut staged),
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
    let meta = DocMeta {
        title: &title,
        subject: "Scanned paper health record",
        created,
    };
    let mut pdf = PdfStream::start(out, doc.pages.len(), &meta).map_err(pdf_err)?;
    for (page, text) in doc.pages.iter().zip(texts) {
        let Some(img) = &page.image else { continue };
        let enc = Encoded {
            encoding: img.encoding,
            width: img.width,
            height: img.height,
            dpi: img.dpi,
            kind: img.kind,
            bytes: images.get(&img.sha256)?,
        };
        let words: Vec<Word> = text
            .iter()
            .flatten()
            .map(|w| Word {
                text: w.text.clone(),
                bbox: w.bbox,
            })
            .collect();
        pdf.add_page_with_text(&enc, &words).map_err(|e| match e {
            ImagingError::Io(io_err) => ExportError::Store(StoreError::io(&root, io_err)),
            other => pdf_err(other),
        })?;
    }
    let id_bytes: [u8; 16] = *uuid::Uuid::parse_str(&doc.id)
        .unwrap_or_default()
        .as_bytes();
    let Hashing {
        inner,
        sha256,
        sha1,
        bytes,
    } = pdf.finish(&id_bytes).map_err(pdf_err)?;
    let (sha256, sha1) = (hex::encode(sha256.finalize()), hex::encode(sha1.finalize()));
    inner
        .into_inner()
        .map_err(|e| StoreError::io(&root, e.into_error()))?;
    // Named by its hash, known only now.
    staged.commit(&sha256)?;
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
    let created = pdf_date(&tree.batch);
    for d in tree.records.iter().flat_map(|r| &r.documents) {
        out.insert(d.id.clone(), document_pdf(store, d, created)?);
    }
    Ok(out)
}

/// The date a batch's PDFs carry: when it closed (or began, if it never
/// did), so rebuilding one gives the same bytes.
fn pdf_date(batch: &BatchRow) -> OffsetDateTime {
    let fmt = &time::format_description::well_known::Rfc3339;
    batch
        .closed
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, fmt).ok())
        .or_else(|| OffsetDateTime::parse(&batch.created, fmt).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Where a document's PDF sits in an export or a delivered folder.
pub fn pdf_relative_path(doc_id: &str) -> String {
    format!("documents/{doc_id}.pdf")
}

/// The manifest of a separated batch whose PDFs are built, with each
/// document's provenance from `prov`.
pub fn build_manifest(
    tree: &BatchTree,
    pdfs: &HashMap<String, (PathBuf, CachedPdf)>,
    prov: &BatchProvenance,
) -> Manifest {
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
                .map(|d| {
                    let pdf = pdfs.get(&d.id).map(|(_, c)| c);
                    let mut doc = manifest_document(d, pdf);
                    doc.provenance = Some(provenance(b, d, &doc.pdf.sha256, prov));
                    doc
                })
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
        audit_head: None,
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
        provenance: None,
    }
}

/// A document's provenance: the sessions its pages were scanned in (in page
/// order, each once), when its pages were stored, and the batch's sample.
fn provenance(
    b: &crate::store::BatchRow,
    d: &TreeDocument,
    sha256: &str,
    prov: &BatchProvenance,
) -> Provenance {
    let mut sessions: Vec<ProvenanceSession> = Vec::new();
    let mut times: Vec<&str> = Vec::new();
    for p in &d.pages {
        let Some((session, created)) = prov.sides.get(&p.side) else {
            continue;
        };
        times.push(created);
        let Some(s) = session.as_ref().and_then(|id| prov.sessions.get(id)) else {
            continue;
        };
        if sessions.iter().all(|known| known.id != s.id) {
            sessions.push(ProvenanceSession {
                id: s.id.clone(),
                operator: s.operator.clone(),
                role: Some(s.role.clone()).filter(|r| !r.is_empty()),
                device: s.device.clone(),
                vendor: s.vendor.clone(),
                model: s.model.clone(),
                profile: s.profile.clone(),
                settings: s.settings.clone(),
                started: s.started.clone(),
                target: s.target.as_ref().map(|t| ProvenanceTarget {
                    passed: t.passed,
                    summary: t.summary.clone(),
                }),
            });
        }
    }
    times.sort_unstable();
    let sample = prov.sample.as_ref().map(|s| {
        let (result, by, at, failed) = match s.state() {
            SampleState::Passed { by, at, .. } => ("passed", Some(by), Some(at), Vec::new()),
            SampleState::Failed { failed, .. } => ("failed", None, None, failed),
            _ => ("open", None, None, Vec::new()),
        };
        ProvenanceSample {
            draw: s.draw,
            result: result.into(),
            by,
            at,
            sides: s.sides.len() as u32,
            failed,
        }
    });
    Provenance {
        station: b.station.clone(),
        operator: b.operator.clone(),
        sessions,
        captured_from: times.first().map(|t| t.to_string()).unwrap_or_default(),
        captured_to: times.last().map(|t| t.to_string()).unwrap_or_default(),
        sample,
        pages: d.pages.len() as u32,
        sha256: sha256.to_string(),
    }
}

/// Exports a closed batch to `dir`; returns the manifest and its path.
///
/// The layout: `dir/documents/<document id>.pdf` for every document and
/// `dir/manifest.json` (written last). The rules on `dir`, checked before the
/// PDFs are built and again just before the export is put in place:
///
/// - `dir` may not exist yet (it is made; its parent folders too), or be an
///   empty folder, or hold an earlier export of this same batch and nothing
///   else (a `manifest.json` naming this batch id, and `documents/` holding
///   only `.pdf` files): that earlier export is replaced as a whole, so no PDF
///   of a document that no longer exists is left beside the new manifest.
/// - A folder holding anything else (another batch's export, other files) is
///   refused, and nothing is written.
/// - `dir` itself may not be a symbolic link, and an earlier export inside it
///   may not hold one: the link is refused, not resolved, so an export can
///   never land or delete files outside the folder named, and what the
///   operator typed is where the files are. Links among `dir`'s parent folders
///   are the operator's own path and are followed.
/// - `dir` may not be the top of a mounted disk (a USB stick's root): the
///   export could not be renamed into place there, so give a folder on it.
///
/// The export is complete or absent: it is written into a new hidden folder
/// beside `dir` (`.folio-export-<uuid>`), each file fsynced, the manifest last;
/// then an earlier export of the batch is renamed aside
/// (`.folio-replaced-<uuid>`), the new folder renamed to `dir` and the old one
/// deleted. A failure or a crash leaves either no `dir` or a whole one (a
/// crash may leave one of the hidden folders, which can be deleted).
pub fn export_batch(
    store: &mut Store,
    batch: &str,
    dir: &Path,
    actor: &Actor,
) -> Result<(Manifest, PathBuf), ExportError> {
    let tree = store.tree(batch)?;
    if !crate::batch::rules::may_export(tree.batch.state) {
        return Err(ExportError::NotClosed(tree.batch.id));
    }
    let batch_id = tree.batch.id.clone();
    let purged = store.purged_pages(&batch_id)?;
    if purged > 0 {
        return Err(ExportError::Purged {
            batch: batch_id,
            pages: purged,
        });
    }
    let parent = export_parent(dir)?;
    check_target(dir, &parent, &batch_id)?;
    let pdfs = batch_pdfs(store, &tree)?;
    let manifest = build_manifest(&tree, &pdfs, &store.batch_provenance(&batch_id)?);
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Damaged(e.to_string()))?;

    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let staging = Scratch::create(&parent, "export")?;
    let docs_dir = staging.path.join("documents");
    std::fs::create_dir(&docs_dir).map_err(io(&docs_dir))?;
    for (id, (path, _)) in &pdfs {
        // Opened through the station's key at an encrypted station.
        let file = crate::store::images::open_path(path)?;
        write_atomic(&docs_dir, &format!("{id}.pdf"), file)?;
    }
    write_atomic(&staging.path, "manifest.json", &json[..])?;

    // Whatever happened to `dir` while the PDFs were built, the same rules.
    let replacing = check_target(dir, &parent, &batch_id)?;
    let old = if replacing {
        let old = Scratch::name(&parent, "replaced");
        std::fs::rename(dir, &old).map_err(io(dir))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&staging.path, dir) {
        // Put the earlier export back where it was.
        if let Some(old) = &old {
            let _ = std::fs::rename(old, dir);
        }
        return Err(StoreError::io(dir, e).into());
    }
    staging.keep();
    sync_dir(&parent)?;
    if let Some(old) = old {
        remove_export(&old);
    }
    store.audit(actor, "batch.export", &batch_id, &dir.display().to_string())?;
    Ok((manifest, dir.join("manifest.json")))
}

/// The folder the export's folder goes in (made if missing).
fn export_parent(dir: &Path) -> Result<PathBuf, ExportError> {
    if dir.file_name().is_none() {
        return Err(ExportError::TargetUnnamed(dir.to_path_buf()));
    }
    Ok(match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    })
}

/// Checks `dir` against the rules of [`export_batch`]; true when it exists
/// (empty, or this batch's earlier export) and is to be replaced.
fn check_target(dir: &Path, parent: &Path, batch_id: &str) -> Result<bool, ExportError> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(StoreError::io(dir, e).into()),
    };
    if meta.file_type().is_symlink() {
        return Err(ExportError::TargetIsLink(dir.to_path_buf()));
    }
    if !meta.is_dir() {
        return Err(ExportError::TargetNotFolder(dir.to_path_buf()));
    }
    {
        use std::os::unix::fs::MetadataExt;
        let up = std::fs::metadata(parent).map_err(io(parent))?;
        if up.dev() != meta.dev() {
            return Err(ExportError::TargetIsMount(dir.to_path_buf()));
        }
    }
    match foreign_content(dir, batch_id)? {
        None => Ok(true),
        Some(found) => Err(ExportError::TargetInUse {
            dir: dir.to_path_buf(),
            batch: batch_id.to_string(),
            found,
        }),
    }
}

/// The largest `manifest.json` read to see whose export a folder holds.
const MANIFEST_MAX_BYTES: u64 = 256 << 20;

/// What in `dir` is not part of an earlier export of `batch_id`, in words;
/// `None` when `dir` is empty or holds only that export.
fn foreign_content(dir: &Path, batch_id: &str) -> Result<Option<String>, StoreError> {
    let name_of =
        |e: &std::fs::DirEntry| crate::batch::printable(&e.file_name().to_string_lossy(), 120);
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        entries.push(e.map_err(io(dir))?);
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let manifest = dir.join("manifest.json");
    let m = match std::fs::symlink_metadata(&manifest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Some(format!(
                "'{}' and no manifest.json",
                name_of(&entries[0])
            )));
        }
        Err(e) => return Err(StoreError::io(&manifest, e)),
    };
    if !m.is_file() {
        return Ok(Some("a manifest.json that is not a plain file".into()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&manifest)
        .and_then(|f| f.take(MANIFEST_MAX_BYTES).read_to_end(&mut bytes))
        .map_err(io(&manifest))?;
    match serde_json::from_slice::<Manifest>(&bytes) {
        Ok(m) if m.batch.id == batch_id => {}
        Ok(m) => {
            return Ok(Some(format!(
                "the export of batch {}",
                crate::batch::printable(&m.batch.id, 60)
            )));
        }
        Err(_) => return Ok(Some("a manifest.json that is not a Folio manifest".into())),
    }
    for e in &entries {
        let name = e.file_name();
        let kind = e.file_type().map_err(io(&e.path()))?;
        match name.to_str() {
            Some("manifest.json") => {}
            Some("documents") if kind.is_dir() => {
                for d in std::fs::read_dir(e.path()).map_err(io(&e.path()))? {
                    let d = d.map_err(io(&e.path()))?;
                    let plain = d.file_type().map_err(io(&d.path()))?.is_file();
                    let pdf = d.file_name().to_str().is_some_and(|n| n.ends_with(".pdf"));
                    if !plain || !pdf {
                        return Ok(Some(format!("'documents/{}'", name_of(&d))));
                    }
                }
            }
            _ => return Ok(Some(format!("'{}'", name_of(e)))),
        }
    }
    Ok(None)
}

/// Deletes an earlier export that has been renamed aside: only what an export
/// holds (checked when it was accepted), never anything else; what cannot be
/// deleted is left (a hidden folder beside the export).
fn remove_export(old: &Path) {
    let docs = old.join("documents");
    if let Ok(entries) = std::fs::read_dir(&docs) {
        for e in entries.flatten() {
            let pdf = e.file_name().to_str().is_some_and(|n| n.ends_with(".pdf"));
            if pdf && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let _ = std::fs::remove_dir(&docs);
    }
    let _ = std::fs::remove_file(old.join("manifest.json"));
    let _ = std::fs::remove_dir(old);
}

/// A hidden folder of ours beside the target, deleted on drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// A new name beside the target: `.folio-<what>-<uuid>`.
    fn name(parent: &Path, what: &str) -> PathBuf {
        parent.join(format!(".folio-{what}-{}", uuid::Uuid::new_v4().simple()))
    }

    fn create(parent: &Path, what: &str) -> Result<Scratch, StoreError> {
        let path = Scratch::name(parent, what);
        std::fs::create_dir(&path).map_err(io(&path))?;
        Ok(Scratch { path, keep: false })
    }

    /// It has become the export: not deleted.
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            // Our own folder, holding only our files; links are not followed.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
