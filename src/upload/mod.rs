//! Central-store targets behind one trait: FHIR R4 / IHE MHD ITI-65, an
//! S3-compatible bucket, and a folder for stores that ingest files. A target delivers one record at a time
//! (its documents' PDFs, already built and hashed) and says whether a failure
//! is worth retrying. Runs on the upload thread; depends on `batch` only.

pub mod bundle;
pub mod ehr;
pub mod fhir;
pub mod folder;
pub mod mhd;
pub mod s3;

use crate::batch::manifest::ManifestRecord;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// One document ready to deliver: its PDF as built once in the cache.
#[derive(Debug, Clone)]
pub struct DocumentFile {
    pub id: String,
    pub doc_type: Option<String>,
    pub pdf_path: PathBuf,
    pub sha256: String,
    /// SHA-1 (hex): what FHIR R4's Attachment.hash carries.
    pub sha1: String,
    pub bytes: u64,
    pub pages: u32,
}

/// Who and where a delivery comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub batch_id: String,
    pub batch_label: String,
    pub station: String,
    pub site: String,
    /// When the batch was closed (RFC 3339); the documents' date.
    pub scanned: String,
    /// The station's audit chain head as the batch's delivery began: each
    /// record's Provenance carries it to the central store.
    pub audit_head: Option<crate::batch::manifest::AuditHead>,
}

/// One record: what the central store files under one patient.
#[derive(Debug, Clone)]
pub struct RecordPackage {
    pub origin: Origin,
    /// The record as the manifest describes it.
    pub record: ManifestRecord,
    pub documents: Vec<DocumentFile>,
    /// Identifier system for hospital numbers (when a record has no NHS number).
    pub hospital_number_system: String,
    /// The MHD metadata settings.
    pub mhd: mhd::MhdConfig,
    /// Documents whose copy in the store did not read back as sent: the
    /// target sends their content again even where the store says it holds
    /// them (a truncated Binary under a correct DocumentReference).
    pub resend: Vec<String>,
}

/// What the store said it holds for a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub document_id: String,
    /// Where the store keeps it (a FHIR resource URL, a file path).
    pub location: String,
    /// It was there already from an earlier attempt, with the same content.
    pub already_there: bool,
}

/// What the store gave back when a stored document was read again: where it
/// is, the store's ids and version, and the content's size and SHA-256 as
/// read (none when the store no longer has it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadBack {
    /// The store's record of the document (a DocumentReference URL, a file path).
    pub location: String,
    /// Where the content was read from (the Binary's URL, the file).
    pub content_location: Option<String>,
    /// The store's version of the document (FHIR `meta.versionId`, the
    /// file's modification time).
    pub version: Option<String>,
    /// The content's ETag, as the store sent it.
    pub etag: Option<String>,
    /// Size and SHA-256 (hex) of what was read back.
    pub content: Option<(u64, String)>,
    /// Why nothing could be read back, in words (the store's words printable).
    pub missing: Option<String>,
}

/// Whether a document read back is the document sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same size and SHA-256.
    Verified,
    /// The store holds something else under this document.
    Mismatch(String),
    /// The store does not have it (any more).
    Missing(String),
}

impl ReadBack {
    /// Compares what was read back with what was sent.
    pub fn verdict(&self, sent: &DocumentFile) -> Verdict {
        match (&self.content, &self.missing) {
            (Some((bytes, sha)), _) if *bytes == sent.bytes && *sha == sent.sha256 => {
                Verdict::Verified
            }
            (Some((bytes, sha)), _) => Verdict::Mismatch(format!(
                "the store returned {bytes} bytes (SHA-256 {}…) where {} bytes (SHA-256 {}…) were sent",
                short(sha),
                sent.bytes,
                short(&sent.sha256)
            )),
            (None, why) => Verdict::Missing(
                why.clone()
                    .unwrap_or_else(|| "the store returned nothing".into()),
            ),
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Bytes and documents delivered so far, for progress bars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_sent: u64,
    pub bytes_total: u64,
    pub documents_done: u64,
    pub documents_total: u64,
}

#[derive(Debug, Error)]
pub enum UploadError {
    /// The network or the server failed in a way a later attempt may not.
    #[error("{why}")]
    Transient {
        why: String,
        /// The server's Retry-After, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The store refused the content: retrying the same bytes cannot help.
    #[error("{why}")]
    Permanent { why: String },
    /// The store already holds a document with this id but different content.
    #[error(
        "the store already holds document {document_id} with different content ({detail}): a supervisor must decide which is right"
    )]
    Conflict { document_id: String, detail: String },
    /// The target is not usable as configured.
    #[error("{0}")]
    Config(String),
}

impl UploadError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, UploadError::Transient { .. })
    }

    pub fn transient(why: impl Into<String>) -> UploadError {
        UploadError::Transient {
            why: why.into(),
            retry_after: None,
        }
    }
}

/// Told the number of bytes each time more have gone out.
pub type ProgressSink = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// Checks that every PDF of a package is there with its recorded size, before
/// a target sends a byte: a missing cache file is a local problem, not the
/// store's. (The uploader calls it once per record, for every target.)
pub fn check_files(p: &RecordPackage) -> Result<(), UploadError> {
    for d in &p.documents {
        let len = std::fs::metadata(&d.pdf_path).map(|m| m.len());
        let expected = crate::store::images::stored_len_at(&d.pdf_path, d.bytes);
        if len.as_ref().ok() != Some(&expected) {
            return Err(UploadError::Permanent {
                why: format!(
                    "the PDF of document {} ({}) is missing or changed since it was built: run `folio check`",
                    d.id,
                    d.pdf_path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Opens a document's PDF in the cache for sending (through the station's
/// key at an encrypted station).
pub fn open_pdf(d: &DocumentFile) -> Result<Box<dyn std::io::Read + Send + Sync>, UploadError> {
    crate::store::images::open_path(&d.pdf_path).map_err(|e| UploadError::Permanent {
        why: format!("cannot read the PDF of document {}: {e}", d.id),
    })
}

/// The manifest as the stores keep it (pretty JSON).
pub fn manifest_json(m: &crate::batch::manifest::Manifest) -> Result<Vec<u8>, UploadError> {
    serde_json::to_vec_pretty(m).map_err(|e| UploadError::Permanent {
        why: format!("cannot write the manifest: {e}"),
    })
}

/// A central store.
pub trait Target: Send {
    /// Where deliveries go, in words ("FHIR server https://...", "folder /srv/...").
    fn describe(&self) -> String;
    /// Delivers one record; `progress` is called as bytes go out.
    fn deliver(
        &mut self,
        package: &RecordPackage,
        progress: &ProgressSink,
    ) -> Result<Vec<Stored>, UploadError>;
    /// What the operator should know about how the target is set up (a
    /// credential file others can read), said before sending.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Reads a document of batch `batch_id` back from the store and
    /// measures what comes back. A document the store does
    /// not have is `Ok` with [`ReadBack::missing`]; an error is a failure to
    /// ask (the network, a refusal), worth trying again later.
    fn read_back(&mut self, batch_id: &str, doc: &DocumentFile) -> Result<ReadBack, UploadError>;
    /// Called once a batch's records are all delivered (the folder target
    /// writes its manifest last).
    fn finish_batch(
        &mut self,
        _manifest: &crate::batch::manifest::Manifest,
    ) -> Result<(), UploadError> {
        Ok(())
    }
}

/// The `[upload]` section of the station's configuration.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UploadConfig {
    /// FHIR base URL (e.g. `https://store.example.nhs.uk/fhir`); unset with no
    /// folder either: the folder `delivered/` under the data directory.
    pub fhir_url: Option<String>,
    /// A folder to deliver to instead of a FHIR server.
    pub folder: Option<PathBuf>,
    /// An S3-compatible bucket to deliver to (`[upload.s3]`), unless
    /// `fhir_url` is set.
    pub s3: Option<s3::S3Config>,
    /// Bearer token (or `FOLIO_UPLOAD_TOKEN`); never logged.
    pub token: Option<String>,
    /// A file holding the bearer token (readable by the station's user
    /// only: a file others can read is used with a warning).
    pub token_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, for a store with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM, both in one file) for mutual TLS.
    pub client_identity_file: Option<PathBuf>,
    /// Allow plain http to hosts other than localhost (never in production).
    pub allow_http: bool,
    /// Identifier system of hospital numbers.
    pub hospital_number_system: String,
    /// Seconds to wait for the server before a try counts as failed.
    pub timeout_secs: u64,
    /// First wait between tries, milliseconds; doubles each time, with jitter...
    pub retry_base_ms: u64,
    /// ...up to this.
    pub retry_max_ms: u64,
    /// Tries before a batch is parked with the reason.
    pub max_attempts: u32,
    /// IHE MHD metadata: source OID, organisation, codes (`[upload.mhd]`).
    pub mhd: mhd::MhdConfig,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            fhir_url: None,
            folder: None,
            s3: None,
            token: None,
            token_file: None,
            ca_file: None,
            client_identity_file: None,
            allow_http: false,
            hospital_number_system: "urn:folio:hospital-number".into(),
            timeout_secs: 120,
            retry_base_ms: 1000,
            retry_max_ms: 60_000,
            max_attempts: 8,
            mhd: mhd::MhdConfig::default(),
        }
    }
}

impl std::fmt::Debug for UploadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadConfig")
            .field("fhir_url", &self.fhir_url)
            .field("folder", &self.folder)
            .field("s3", &self.s3)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("ca_file", &self.ca_file)
            .field("client_identity_file", &self.client_identity_file)
            .field("allow_http", &self.allow_http)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// How long to wait before try number `attempt` (1-based) after a failure:
/// the server's Retry-After if given, else exponential backoff with full
/// jitter (so many stations do not retry in step).
pub fn backoff(cfg: &UploadConfig, attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(Duration::from_millis(cfg.retry_max_ms.max(1) * 10));
    }
    let exp = cfg
        .retry_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
        .min(cfg.retry_max_ms);
    Duration::from_millis(exp / 2 + fastrand::u64(0..=exp / 2))
}

impl UploadConfig {
    /// Delivers to the FHIR server at `url` instead of what is configured.
    pub fn send_to_fhir(&mut self, url: &str) {
        (self.fhir_url, self.s3, self.folder) = (Some(url.to_string()), None, None);
    }

    /// Delivers to the folder `dir` instead of what is configured.
    pub fn send_to_folder(&mut self, dir: &std::path::Path) {
        (self.fhir_url, self.s3, self.folder) = (None, None, Some(dir.to_path_buf()));
    }
}

/// Makes the configured target: a FHIR server, else a bucket, else a folder
/// (by default `delivered/` in the data directory).
pub fn target(
    cfg: &UploadConfig,
    data_dir: &std::path::Path,
) -> Result<Box<dyn Target>, UploadError> {
    match (&cfg.fhir_url, &cfg.s3, &cfg.folder) {
        (Some(url), ..) => Ok(Box::new(fhir::FhirTarget::new(url, cfg)?)),
        (None, Some(s3), _) => Ok(Box::new(s3::S3Target::new(s3, cfg, data_dir)?)),
        (None, None, Some(dir)) => Ok(Box::new(folder::FolderTarget::new(dir.clone()))),
        (None, None, None) => {
            // The demonstration's stand-in for a central store would put
            // patients' PDFs, in the clear, inside an encrypted station.
            if !matches!(
                crate::store::keys::layout(data_dir),
                Ok(crate::store::keys::Layout::Plain)
            ) {
                return Err(UploadError::Permanent {
                    why: "this station's data is encrypted, so it does not deliver into its own data folder (delivered/, the default for demonstrations): set the central store in config.toml ([upload] fhir_url, [upload.s3] or folder)".into(),
                });
            }
            Ok(Box::new(folder::FolderTarget::new(
                data_dir.join("delivered"),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let cfg = UploadConfig::default();
        for attempt in 1..6 {
            let d = backoff(&cfg, attempt, None).as_millis() as u64;
            let full = 1000u64 << (attempt - 1);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d} ms");
        }
        assert!(backoff(&cfg, 30, None) <= Duration::from_secs(60));
        assert_eq!(
            backoff(&cfg, 1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn the_token_is_never_in_debug_output() {
        let cfg = UploadConfig {
            token: Some("s3cret-token".into()),
            ..UploadConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}
