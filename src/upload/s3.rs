//! S3-compatible object-store target (Ceph RGW, MinIO, a cloud bucket).
//!
//! Per batch, under the configured prefix, the same layout as the folder
//! target: `<prefix>/<batch>/documents/<document>.pdf`,
//! `<prefix>/<batch>/bundles/<record>.json` (the record's ITI-65 Bundle, its
//! attachments pointing at the PDFs' objects) and `<prefix>/<batch>/manifest.json`,
//! written last. Every object is created with `If-None-Match: *`: a retry
//! rewrites nothing, and where an object is there already it is read back and
//! accepted only if it is what we would have written (a PDF: same size and
//! SHA-256; a Bundle or manifest: the same JSON but for the audit chain head,
//! which is the station's head at the first send). Anything else is a
//! conflict for a supervisor; Folio never overwrites an object.
//!
//! PDFs larger than `part_size_kib` go multipart, one part in memory at a
//! time. The upload's id is journalled in the data directory before its
//! first part, so after a crash the next attempt lists the bucket's open
//! multipart uploads for the key, resumes ours (parts already there, with the
//! MD5 of our bytes as their ETag, are not sent again) and aborts any other;
//! a batch's last step aborts whatever is still open under it.
//!
//! Why `rusty-s3` (SigV4 signing only) over `object_store` or `aws-sdk-s3`:
//! recovering a multipart upload needs ListMultipartUploads and ListParts,
//! which `object_store` does not offer; `aws-sdk-s3` adds a large async
//! stack and sends CRC checksums by default that several S3-compatible stores
//! reject. With signing done by the crate, requests go through the same
//! rustls client, CA and client-certificate rules as the FHIR target, carry
//! `Content-MD5` (which every S3 store checks) and no other checksum: the
//! "when required" setting, by construction.

use super::bundle::{Binaries, StreamedBundle};
use super::{DocumentFile, ProgressSink, RecordPackage, Stored, UploadConfig, UploadError};
use crate::batch::printable;
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most of an answer read into memory (S3's XML answers are small;
/// a Bundle or manifest read back for comparison is bounded by this too).
const MAX_ANSWER_BYTES: usize = 64 << 20;
/// How long a signed request stays valid.
const SIGNED_FOR_SECS: u64 = 15 * 60;
/// Transfer rate below which a request is given up (on top of `timeout_secs`).
const SLOWEST_BYTES_PER_SEC: u64 = 64 << 10;

/// How bucket names reach the endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    /// `https://endpoint/bucket/key`: Ceph, MinIO and most in-house stores.
    #[default]
    Path,
    /// `https://bucket.endpoint/key`: AWS and some clouds.
    VirtualHost,
}

/// `[upload.s3]`: the bucket records are delivered to.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// The store's address (`https://s3.example.nhs.uk`), without bucket.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Keys begin with this (no leading or trailing `/`); may be empty.
    pub prefix: String,
    pub addressing: Addressing,
    /// Access key id (or `FOLIO_S3_ACCESS_KEY_ID`, or `credentials_file`).
    pub access_key: Option<String>,
    /// Secret (or `FOLIO_S3_SECRET_ACCESS_KEY`); never logged.
    pub secret_key: Option<String>,
    /// An AWS-style credentials file (`aws_access_key_id`,
    /// `aws_secret_access_key` under `[profile]`), readable by the station's
    /// user only.
    pub credentials_file: Option<PathBuf>,
    pub profile: String,
    /// PDFs above this go multipart in parts of this size (AWS needs at
    /// least 5 MiB; other stores may allow less).
    pub part_size_kib: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            region: "us-east-1".into(),
            bucket: String::new(),
            prefix: String::new(),
            addressing: Addressing::Path,
            access_key: None,
            secret_key: None,
            credentials_file: None,
            profile: "default".into(),
            part_size_kib: 16 << 10,
        }
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("credentials_file", &self.credentials_file)
            .finish_non_exhaustive()
    }
}

/// Smallest and largest part sizes accepted.
const PART_KIB: std::ops::RangeInclusive<u64> = 64..=(5 << 20);

impl S3Config {
    /// What is wrong with the settings, in words naming the setting.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.endpoint.trim().is_empty() {
            out.push("upload.s3.endpoint is not set (the store's https address)".into());
        }
        let b = &self.bucket;
        let bucket_ok = (3..=63).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
            && !b.starts_with(['-', '.'])
            && !b.ends_with(['-', '.']);
        if !bucket_ok {
            out.push(format!(
                "upload.s3.bucket = '{}' is not a bucket name (3 to 63 lower-case letters, digits, '-' or '.')",
                printable(b, 80)
            ));
        }
        if self.region.is_empty() || !self.region.bytes().all(|c| c.is_ascii_graphic()) {
            out.push("upload.s3.region must be set (e.g. \"eu-west-2\"; Ceph: its zonegroup, often \"default\")".into());
        }
        if let Err(why) = prefix_problem(&self.prefix) {
            out.push(why);
        }
        if !PART_KIB.contains(&self.part_size_kib) {
            out.push(format!(
                "upload.s3.part_size_kib = {} is outside {} to {}",
                self.part_size_kib,
                PART_KIB.start(),
                PART_KIB.end()
            ));
        }
        out
    }
}

fn prefix_problem(prefix: &str) -> Result<(), String> {
    let bad = prefix.starts_with('/')
        || prefix.ends_with('/')
        || prefix.len() > 512
        || prefix.chars().any(char::is_control)
        || prefix
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad && !prefix.is_empty() {
        return Err(format!(
            "upload.s3.prefix = '{}' must be path segments joined by '/', without leading or trailing '/', '.' or '..' (at most 512 bytes)",
            printable(prefix, 80)
        ));
    }
    Ok(())
}

/// An id that becomes part of a key: Folio's own ids are letters, digits,
/// `-`, `_` and `.`; anything else is refused rather than escaped.
fn segment(id: &str) -> Result<&str, UploadError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(id)
    } else {
        Err(UploadError::Permanent {
            why: format!(
                "'{}' cannot be part of an object key: run `folio check`",
                printable(id, 80)
            ),
        })
    }
}

fn config_err(what: impl std::fmt::Display) -> UploadError {
    UploadError::Config(what.to_string())
}

/// The access key and secret: from the environment, the settings or the
/// credentials file, in that order.
fn credentials(
    c: &S3Config,
    warnings: &mut Vec<String>,
) -> Result<rusty_s3::Credentials, UploadError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let pair = match (
        env("FOLIO_S3_ACCESS_KEY_ID"),
        env("FOLIO_S3_SECRET_ACCESS_KEY"),
    ) {
        (Some(k), Some(s)) => Some((k, s, None)),
        _ => match (&c.access_key, &c.secret_key) {
            (Some(k), Some(s)) => Some((k.clone(), s.clone(), None)),
            _ => None,
        },
    };
    let (key, secret, token) = match (pair, &c.credentials_file) {
        (Some(p), _) => p,
        (None, Some(path)) => credentials_file(path, &c.profile, warnings)?,
        (None, None) => {
            return Err(config_err(
                "no credentials for the S3 store: set FOLIO_S3_ACCESS_KEY_ID and FOLIO_S3_SECRET_ACCESS_KEY, or credentials_file (or access_key and secret_key) under [upload.s3]",
            ));
        }
    };
    let fine = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic());
    if !fine(&key) || !fine(&secret) || token.as_deref().is_some_and(|t| !fine(t)) {
        return Err(config_err(
            "the S3 access key or secret is empty or holds spaces or control characters",
        ));
    }
    Ok(match token {
        Some(t) => rusty_s3::Credentials::new_with_token(key, secret, t),
        None => rusty_s3::Credentials::new(key, secret),
    })
}

/// Reads `[profile]` of an AWS-style credentials file.
fn credentials_file(
    path: &Path,
    profile: &str,
    warnings: &mut Vec<String>,
) -> Result<(String, String, Option<String>), UploadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        config_err(format!(
            "cannot read the S3 credentials file {}: {e}",
            path.display()
        ))
    })?;
    super::fhir::warn_if_others_read(path, "S3 credentials file", warnings);
    let mut section = String::new();
    let (mut key, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().trim_start_matches("profile ").to_string();
        } else if section == profile
            && let Some((k, v)) = line.split_once('=')
        {
            let v = Some(v.trim().to_string());
            match k.trim() {
                "aws_access_key_id" => key = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    match (key, secret) {
        (Some(k), Some(s)) => Ok((k, s, token)),
        _ => Err(config_err(format!(
            "the S3 credentials file {} has no aws_access_key_id and aws_secret_access_key under [{}]",
            path.display(),
            printable(profile, 40)
        ))),
    }
}

/// An answer read whole (bounded by [`MAX_ANSWER_BYTES`]).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| printable(&String::from_utf8_lossy(v.as_bytes()), 200))
}

/// What a HEAD or GET of an object said about it.
#[derive(Debug, Default)]
struct Object {
    etag: Option<String>,
    version: Option<String>,
    /// Size and SHA-256 (hex) of the content read (GET only).
    content: Option<(u64, String)>,
}

/// The open multipart upload of a key, journalled before its first part.
#[derive(Serialize, Deserialize)]
struct Journal {
    key: String,
    upload_id: String,
    sha256: String,
}

pub struct S3Target {
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
    prefix: String,
    part_size: u64,
    timeout: Duration,
    /// Where open multipart uploads are journalled.
    journal: PathBuf,
    /// The endpoint as shown (no credentials).
    shown: String,
    warnings: Vec<String>,
    /// Whether the bucket answered a first small request.
    reached: bool,
}

impl S3Target {
    pub fn new(c: &S3Config, cfg: &UploadConfig, data_dir: &Path) -> Result<S3Target, UploadError> {
        if let Some(why) = c.problems().into_iter().next() {
            return Err(config_err(why));
        }
        let endpoint = super::fhir::checked_url(
            &c.endpoint,
            cfg,
            "S3 endpoint",
            "put the access key and secret in FOLIO_S3_ACCESS_KEY_ID and FOLIO_S3_SECRET_ACCESS_KEY, or `credentials_file` under [upload.s3]",
        )?;
        let style = match c.addressing {
            Addressing::Path => rusty_s3::UrlStyle::Path,
            Addressing::VirtualHost => rusty_s3::UrlStyle::VirtualHost,
        };
        let bucket =
            rusty_s3::Bucket::new(endpoint.clone(), style, c.bucket.clone(), c.region.clone())
                .map_err(|e| {
                    config_err(format!("the S3 endpoint {endpoint} cannot be used: {e}"))
                })?;
        let mut warnings = Vec::new();
        let credentials = credentials(c, &mut warnings)?;
        if c.part_size_kib < 5 << 10 {
            warnings.push(format!(
                "upload.s3.part_size_kib = {} is below 5 MiB: AWS and some stores refuse such parts",
                c.part_size_kib
            ));
        }
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config_err(format!("cannot start the upload's network runtime: {e}")))?;
        Ok(S3Target {
            client: super::fhir::client(cfg, timeout)?,
            rt,
            prefix: c.prefix.clone(),
            part_size: c.part_size_kib << 10,
            timeout,
            journal: data_dir.join("s3-multipart"),
            shown: format!(
                "S3 bucket {} at {}{}",
                c.bucket,
                super::fhir::redact_url(endpoint.as_str()),
                if c.prefix.is_empty() {
                    String::new()
                } else {
                    format!(" (prefix {})", c.prefix)
                }
            ),
            bucket,
            credentials,
            warnings,
            reached: false,
        })
    }

    /// The key of `name` in batch `batch`.
    fn key(&self, batch: &str, name: &str) -> Result<String, UploadError> {
        let batch = segment(batch)?;
        Ok(if self.prefix.is_empty() {
            format!("{batch}/{name}")
        } else {
            format!("{}/{batch}/{name}", self.prefix)
        })
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }

    /// The object's unsigned URL (what a Bundle's attachment points at).
    fn object_url(&self, key: &str) -> Result<reqwest::Url, UploadError> {
        self.bucket.object_url(key).map_err(|e| {
            config_err(format!(
                "'{}' is not a usable key: {e}",
                printable(key, 200)
            ))
        })
    }

    /// A presigned URL for `method` on `key` (the bucket when none), with
    /// the query and headers signed.
    fn signed(
        &self,
        method: rusty_s3::Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Url, UploadError> {
        let url = match key {
            Some(k) => self.object_url(k)?,
            None => self.bucket.base_url().clone(),
        };
        // The signer merges these with its own, each in sorted order.
        let (mut query, mut headers) = (query.to_vec(), headers.to_vec());
        query.sort_unstable();
        headers.sort_unstable();
        Ok(rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            method,
            url,
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            SIGNED_FOR_SECS,
            query.into_iter(),
            headers.into_iter(),
        ))
    }

    /// Sends one request and reads the answer whole.
    fn send(
        &self,
        method: rusty_s3::Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, UploadError> {
        let url = self.signed(method, key, query, headers)?;
        let len = body.as_ref().map_or(0, |b| b.len() as u64);
        let mut r = self
            .client
            .request(http_method(method), url)
            .timeout(self.timeout + Duration::from_secs(len / SLOWEST_BYTES_PER_SEC));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.body(b);
        }
        let shown = &self.shown;
        self.rt.block_on(async {
            let mut resp = r.send().await.map_err(|e| network(shown, e))?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let mut body = Vec::new();
            while let Some(c) = resp.chunk().await.map_err(|e| network(shown, e))? {
                let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&c[..c.len().min(room)]);
            }
            Ok(Answer {
                status,
                headers,
                body,
            })
        })
    }

    /// An answer that is not what was asked, as an error in words.
    fn refusal(&self, a: &Answer, what: &str) -> UploadError {
        let text = String::from_utf8_lossy(&a.body);
        let code = xml_value(&text, "Code").unwrap_or_default();
        let said = match (code.as_str(), xml_value(&text, "Message")) {
            ("", _) => a.status.to_string(),
            (c, Some(m)) if !m.is_empty() => format!("{} {c}: {m}", a.status),
            (c, _) => format!("{} {c}", a.status),
        };
        let said = printable(&said, 300);
        let s = &self.shown;
        let retry_after = a
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match (a.status.as_u16(), code.as_str()) {
            (_, "NoSuchBucket") => config_err(format!(
                "the {s} does not exist ({said}): create the bucket, or correct `bucket` under [upload.s3]; nothing was marked as delivered"
            )),
            (
                _,
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken",
            ) => config_err(format!(
                "the {s} does not accept Folio's credentials ({said}): check the access key and secret (FOLIO_S3_ACCESS_KEY_ID and FOLIO_S3_SECRET_ACCESS_KEY, or [upload.s3]); nothing was marked as delivered"
            )),
            (_, "RequestTimeTooSkewed") => UploadError::Permanent {
                why: format!(
                    "this station's clock differs from the {s}'s by too much ({said}): set the clock (NTP), then `folio upload --batch ...`"
                ),
            },
            (403, _) => UploadError::Permanent {
                why: format!(
                    "the {s} refused {what} ({said}): its credentials may not write there; the store's administrators must allow PutObject, GetObject, ListBucketMultipartUploads and AbortMultipartUpload under the prefix"
                ),
            },
            (301 | 307 | 308, _) | (_, "PermanentRedirect" | "AuthorizationHeaderMalformed") => {
                config_err(format!(
                    "the {s} is elsewhere ({said}): check `region`, `endpoint` and `addressing` under [upload.s3]"
                ))
            }
            (429 | 503, _) | (_, "SlowDown") => UploadError::Transient {
                why: format!("the {s} is busy ({said})"),
                retry_after,
            },
            (400, "BadDigest" | "IncompleteBody" | "RequestTimeout") | (409, _) => {
                UploadError::transient(format!("the {s} did not take {what} ({said})"))
            }
            (500..=599, _) => UploadError::transient(format!("the {s} failed ({said})")),
            _ => UploadError::Permanent {
                why: format!("the {s} refused {what} ({said}): sending the same again cannot help"),
            },
        }
    }

    /// Checks the bucket answers to our credentials (listing open uploads
    /// under the prefix: an answer the store words, unlike HEAD's).
    fn check_bucket(&mut self) -> Result<(), UploadError> {
        let prefix = self.prefix.clone();
        let a = self.send(
            rusty_s3::Method::Get,
            None,
            &[("uploads", ""), ("max-uploads", "1"), ("prefix", &prefix)],
            &[],
            None,
        )?;
        if !a.status.is_success() {
            return Err(self.refusal(&a, "a listing"));
        }
        self.reached = true;
        Ok(())
    }

    /// Reads an object: HEAD only (`content` none) or GET with its size and
    /// SHA-256. `None`: it is not there.
    fn read(&self, key: &str, content: bool) -> Result<Option<Object>, UploadError> {
        let method = if content {
            rusty_s3::Method::Get
        } else {
            rusty_s3::Method::Head
        };
        let url = self.signed(method, Some(key), &[], &[])?;
        let shown = &self.shown;
        let (status, headers, read) = self.rt.block_on(async {
            let mut resp = self
                .client
                .request(http_method(method), url)
                .timeout(self.timeout * 30)
                .send()
                .await
                .map_err(|e| network(shown, e))?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let mut hash = Hasher::default();
            let mut body = Vec::new();
            while let Some(c) = resp.chunk().await.map_err(|e| network(shown, e))? {
                if status.is_success() {
                    hash.update(&c);
                } else if body.len() < 64 << 10 {
                    body.extend_from_slice(&c);
                }
            }
            Ok::<_, UploadError>((status, headers, (hash, body)))
        })?;
        if status == StatusCode::NOT_FOUND
            && !String::from_utf8_lossy(&read.1).contains("NoSuchBucket")
        {
            return Ok(None);
        }
        if !status.is_success() {
            let a = Answer {
                status,
                headers,
                body: read.1,
            };
            return Err(self.refusal(&a, &format!("reading {} back", self.location(key))));
        }
        Ok(Some(Object {
            etag: header(&headers, "etag"),
            version: header(&headers, "x-amz-version-id"),
            content: content.then(|| read.0.finish()),
        }))
    }

    /// What the object under `key` holds, compared with what we would have
    /// written: the same is `Ok`, anything else a conflict.
    fn same_or_conflict(
        &self,
        key: &str,
        doc_id: &str,
        bytes: u64,
        sha256: &str,
    ) -> Result<(), UploadError> {
        let (got_bytes, got_sha) = match self.read(key, true)? {
            Some(Object {
                content: Some(c), ..
            }) => c,
            _ => {
                return Err(UploadError::transient(format!(
                    "{} was there, then was not: trying again",
                    self.location(key)
                )));
            }
        };
        if got_bytes == bytes && got_sha == sha256 {
            return Ok(());
        }
        Err(UploadError::Conflict {
            document_id: doc_id.to_string(),
            detail: format!(
                "{} holds {got_bytes} bytes (SHA-256 {}…) where {bytes} bytes (SHA-256 {}…) were to be sent; Folio does not overwrite it",
                self.location(key),
                got_sha.get(..12).unwrap_or(&got_sha),
                sha256.get(..12).unwrap_or(sha256)
            ),
        })
    }

    /// Creates `key` with `body` unless it exists: `Ok(true)` when it was
    /// there already (nothing written).
    fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        what: &str,
    ) -> Result<bool, UploadError> {
        let md5 = md5_base64(&body);
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        let headers = [
            ("content-md5", md5.as_str()),
            ("content-type", content_type),
            ("if-none-match", "*"),
            ("x-amz-meta-sha256", sha.as_str()),
        ];
        let a = self.send(rusty_s3::Method::Put, Some(key), &[], &headers, Some(body))?;
        match a.status {
            s if s.is_success() => Ok(false),
            StatusCode::PRECONDITION_FAILED => Ok(true),
            _ => Err(self.refusal(&a, what)),
        }
    }

    /// Delivers a PDF small enough for one request.
    fn put_small(&self, key: &str, d: &DocumentFile) -> Result<bool, UploadError> {
        let body = read_checked(d)?;
        let there = self.create(key, body, "application/pdf", &format!("document {}", d.id))?;
        if there {
            self.same_or_conflict(key, &d.id, d.bytes, &d.sha256)?;
        }
        Ok(there)
    }

    /// A Bundle or manifest: created, or what is there compared with it as
    /// JSON, the audit chain head set aside.
    fn put_json(&self, key: &str, body: Vec<u8>, what: &str) -> Result<(), UploadError> {
        let ours: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| UploadError::Permanent {
                why: format!("{what} is not JSON: {e}"),
            })?;
        if !self.create(key, body, "application/json", what)? {
            return Ok(());
        }
        let a = self.send(rusty_s3::Method::Get, Some(key), &[], &[], None)?;
        if !a.status.is_success() {
            return Err(self.refusal(&a, &format!("reading {} back", self.location(key))));
        }
        let theirs = serde_json::from_slice::<serde_json::Value>(&a.body).unwrap_or_default();
        if without_audit_head(theirs) == without_audit_head(ours) {
            return Ok(());
        }
        Err(UploadError::Conflict {
            document_id: what.to_string(),
            detail: format!(
                "{} holds something else; Folio does not overwrite it",
                self.location(key)
            ),
        })
    }

    fn journal_path(&self, key: &str) -> PathBuf {
        let name = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        self.journal.join(format!("{}.json", &name[..32]))
    }

    fn journal_read(&self, key: &str) -> Option<Journal> {
        let bytes = std::fs::read(self.journal_path(key)).ok()?;
        serde_json::from_slice::<Journal>(&bytes)
            .ok()
            .filter(|j| j.key == key)
    }

    fn journal_write(&self, j: &Journal) -> Result<(), UploadError> {
        let json = serde_json::to_vec(j).map_err(|e| UploadError::Permanent {
            why: format!("cannot note the multipart upload: {e}"),
        })?;
        let path = self.journal_path(&j.key);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("journal");
        crate::durable::write_atomic(&self.journal, name, |f| std::io::Write::write_all(f, &json))
            .map_err(|e| {
                UploadError::transient(format!(
                    "cannot note the multipart upload in {}: {}",
                    e.path.display(),
                    e.source
                ))
            })?;
        Ok(())
    }

    fn journal_clear(&self, key: &str) {
        // A journal left behind only names an upload already finished or
        // aborted: the next listing shows it is gone.
        let _ = std::fs::remove_file(self.journal_path(key));
    }

    /// The bucket's open multipart uploads whose keys begin with `prefix`:
    /// (key, upload id).
    fn open_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>, UploadError> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (String::new(), String::new());
        loop {
            let mut query = vec![("uploads", ""), ("prefix", prefix)];
            if !key_marker.is_empty() {
                query.push(("key-marker", &key_marker));
                query.push(("upload-id-marker", &id_marker));
            }
            let a = self.send(rusty_s3::Method::Get, None, &query, &[], None)?;
            if !a.status.is_success() {
                return Err(self.refusal(&a, "the listing of open uploads"));
            }
            let text = String::from_utf8_lossy(&a.body);
            for u in xml_blocks(&text, "Upload") {
                if let (Some(k), Some(id)) = (xml_value(u, "Key"), xml_value(u, "UploadId")) {
                    out.push((k, id));
                }
            }
            let more = xml_value(&text, "IsTruncated").as_deref() == Some("true");
            let next = (
                xml_value(&text, "NextKeyMarker").unwrap_or_default(),
                xml_value(&text, "NextUploadIdMarker").unwrap_or_default(),
            );
            if !more || next.0.is_empty() || next == (key_marker.clone(), id_marker.clone()) {
                return Ok(out);
            }
            (key_marker, id_marker) = next;
        }
    }

    /// The parts an open upload holds: number → (ETag without quotes, size).
    fn parts(
        &self,
        key: &str,
        id: &str,
    ) -> Result<std::collections::HashMap<u32, (String, u64)>, UploadError> {
        let mut out = std::collections::HashMap::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("uploadId", id)];
            if !marker.is_empty() {
                query.push(("part-number-marker", &marker));
            }
            let a = self.send(rusty_s3::Method::Get, Some(key), &query, &[], None)?;
            if a.status == StatusCode::NOT_FOUND {
                return Ok(out);
            }
            if !a.status.is_success() {
                return Err(self.refusal(&a, "the listing of parts"));
            }
            let text = String::from_utf8_lossy(&a.body);
            for p in xml_blocks(&text, "Part") {
                let n = xml_value(p, "PartNumber").and_then(|v| v.parse().ok());
                let size = xml_value(p, "Size").and_then(|v| v.parse().ok());
                if let (Some(n), Some(etag), Some(size)) = (n, xml_value(p, "ETag"), size) {
                    out.insert(n, (etag.trim_matches('"').to_string(), size));
                }
            }
            let next = xml_value(&text, "NextPartNumberMarker").unwrap_or_default();
            if xml_value(&text, "IsTruncated").as_deref() != Some("true") || next == marker {
                return Ok(out);
            }
            marker = next;
        }
    }

    fn abort(&self, key: &str, id: &str) -> Result<(), UploadError> {
        let a = self.send(
            rusty_s3::Method::Delete,
            Some(key),
            &[("uploadId", id)],
            &[],
            None,
        )?;
        if a.status.is_success() || a.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(self.refusal(&a, "aborting an unfinished upload"))
        }
    }

    /// The open upload of `key` to carry on with (ours, for this content),
    /// after aborting any other; or a new one.
    fn upload_id(&self, key: &str, d: &DocumentFile) -> Result<(String, bool), UploadError> {
        let ours = self.journal_read(key).filter(|j| j.sha256 == d.sha256);
        let mut resume = None;
        for (k, id) in self.open_uploads(key)? {
            if k != key {
                continue;
            }
            match &ours {
                Some(j) if j.upload_id == id && resume.is_none() => resume = Some(id),
                _ => self.abort(key, &id)?,
            }
        }
        if let Some(id) = resume {
            return Ok((id, true));
        }
        let headers = [
            ("content-type", "application/pdf"),
            ("x-amz-meta-sha256", d.sha256.as_str()),
        ];
        let a = self.send(
            rusty_s3::Method::Post,
            Some(key),
            &[("uploads", "")],
            &headers,
            None,
        )?;
        let id = xml_value(&String::from_utf8_lossy(&a.body), "UploadId");
        let Some(id) = id.filter(|_| a.status.is_success()) else {
            return Err(self.refusal(&a, &format!("starting the upload of document {}", d.id)));
        };
        self.journal_write(&Journal {
            key: key.to_string(),
            upload_id: id.clone(),
            sha256: d.sha256.clone(),
        })?;
        Ok((id, false))
    }

    /// Delivers a PDF in parts, carrying on with an upload a crash left.
    fn put_large(
        &self,
        key: &str,
        d: &DocumentFile,
        progress: &ProgressSink,
    ) -> Result<bool, UploadError> {
        if self.read(key, false)?.is_some() {
            self.same_or_conflict(key, &d.id, d.bytes, &d.sha256)?;
            return Ok(true);
        }
        let (id, resumed) = self.upload_id(key, d)?;
        let have = if resumed {
            self.parts(key, &id)?
        } else {
            Default::default()
        };
        let mut file = super::open_pdf(d)?;
        let mut whole = Hasher::default();
        let mut etags = Vec::new();
        let mut buf = vec![0u8; self.part_size as usize];
        for n in 1u32.. {
            let len = read_full(&mut file, &mut buf).map_err(|e| UploadError::Permanent {
                why: format!("cannot read {}: {e}", d.pdf_path.display()),
            })?;
            if len == 0 {
                break;
            }
            let part = &buf[..len];
            whole.update(part);
            let md5 = <md5::Md5 as md5::Digest>::digest(part);
            let md5_hex = hex::encode(md5);
            let etag = match have.get(&n) {
                Some((etag, size)) if *etag == md5_hex && *size == len as u64 => etag.clone(),
                _ => self.put_part(key, &id, n, part, &d.id)?,
            };
            if etag != md5_hex {
                return Err(UploadError::transient(format!(
                    "part {n} of document {} was stored with ETag {} where its MD5 is {md5_hex}: sending it again",
                    d.id,
                    printable(&etag, 80)
                )));
            }
            progress(len as u64);
            etags.push(etag);
        }
        if whole.finish() != (d.bytes, d.sha256.clone()) {
            let _ = self.abort(key, &id);
            self.journal_clear(key);
            return Err(UploadError::Permanent {
                why: format!(
                    "the PDF of document {} ({}) changed while it was sent: run `folio check`",
                    d.id,
                    d.pdf_path.display()
                ),
            });
        }
        self.complete(key, &id, &etags, d)
    }

    fn put_part(
        &self,
        key: &str,
        id: &str,
        n: u32,
        part: &[u8],
        doc: &str,
    ) -> Result<String, UploadError> {
        let md5 = md5_base64(part);
        let number = n.to_string();
        let a = self.send(
            rusty_s3::Method::Put,
            Some(key),
            &[("partNumber", &number), ("uploadId", id)],
            &[("content-md5", md5.as_str())],
            Some(part.to_vec()),
        )?;
        if !a.status.is_success() {
            if a.status == StatusCode::NOT_FOUND {
                self.journal_clear(key);
                return Err(UploadError::transient(format!(
                    "the store cancelled the upload of document {doc}: starting it again"
                )));
            }
            return Err(self.refusal(&a, &format!("part {n} of document {doc}")));
        }
        Ok(a.header("etag")
            .unwrap_or_default()
            .trim_matches('"')
            .to_string())
    }

    fn complete(
        &self,
        key: &str,
        id: &str,
        etags: &[String],
        d: &DocumentFile,
    ) -> Result<bool, UploadError> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>",
                i + 1,
                xml_escape(e)
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let a = self.send(
            rusty_s3::Method::Post,
            Some(key),
            &[("uploadId", id)],
            &[("content-type", "application/xml"), ("if-none-match", "*")],
            Some(xml.into_bytes()),
        )?;
        // S3 may answer 200 and put its error in the body.
        let failed = String::from_utf8_lossy(&a.body).contains("<Error>");
        let there = match a.status {
            StatusCode::PRECONDITION_FAILED => {
                self.abort(key, id)?;
                true
            }
            StatusCode::NOT_FOUND => {
                self.journal_clear(key);
                return Err(UploadError::transient(format!(
                    "the store lost the upload of document {}: starting it again",
                    d.id
                )));
            }
            s if s.is_success() && !failed => false,
            _ => {
                let mut a = a;
                if a.status.is_success() {
                    a.status = StatusCode::INTERNAL_SERVER_ERROR;
                }
                return Err(self.refusal(&a, &format!("completing document {}", d.id)));
            }
        };
        self.journal_clear(key);
        // What was there already is compared now; what we completed is read
        // back whole by the receipt step, like every document.
        if there {
            self.same_or_conflict(key, &d.id, d.bytes, &d.sha256)?;
        }
        Ok(there)
    }
}

fn http_method(m: rusty_s3::Method) -> reqwest::Method {
    match m {
        rusty_s3::Method::Head => reqwest::Method::HEAD,
        rusty_s3::Method::Get => reqwest::Method::GET,
        rusty_s3::Method::Post => reqwest::Method::POST,
        rusty_s3::Method::Put => reqwest::Method::PUT,
        rusty_s3::Method::Delete => reqwest::Method::DELETE,
    }
}

/// A network failure in words, without the URL (a presigned URL carries
/// the access key id and a signature).
fn network(shown: &str, e: reqwest::Error) -> UploadError {
    super::fhir::network_failure(&format!("the {shown}"), e.without_url())
}

/// SHA-256 and length of a stream.
#[derive(Default)]
struct Hasher(sha2::Sha256, u64);

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        sha2::Digest::update(&mut self.0, b);
        self.1 += b.len() as u64;
    }
    fn finish(self) -> (u64, String) {
        (self.1, hex::encode(sha2::Digest::finalize(self.0)))
    }
}

fn md5_base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(b))
}

/// Reads until `buf` is full or the file ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A small PDF, read and checked against its recorded size and hash.
fn read_checked(d: &DocumentFile) -> Result<Vec<u8>, UploadError> {
    let mut body = Vec::new();
    super::open_pdf(d)?
        .read_to_end(&mut body)
        .map_err(|e| UploadError::Permanent {
            why: format!("cannot read {}: {e}", d.pdf_path.display()),
        })?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    if body.len() as u64 != d.bytes || sha != d.sha256 {
        return Err(UploadError::Permanent {
            why: format!(
                "the PDF of document {} ({}) changed since it was built: run `folio check`",
                d.id,
                d.pdf_path.display()
            ),
        });
    }
    Ok(body)
}

/// The JSON with the station's audit chain head taken out (the manifest's
/// `audit_head`, a Provenance's audit-head extension): what a re-send must
/// match.
fn without_audit_head(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("audit_head");
                if let Some(serde_json::Value::Array(ext)) = m.get_mut("extension") {
                    ext.retain(|e| e["url"] != super::bundle::AUDIT_HEAD_EXTENSION);
                    if ext.is_empty() {
                        m.remove("extension");
                    }
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

// S3's answers are small fixed XML documents of which we read a few leaf
// elements; a tag scanner does that without an XML stack.

/// The text of the first `<tag>…</tag>` in `xml`, unescaped.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    xml_blocks(xml, tag).next().map(xml_unescape)
}

/// The insides of every `<tag>…</tag>` in `xml`, in order.
fn xml_blocks<'a>(xml: &'a str, tag: &str) -> impl Iterator<Item = &'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let inside = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(inside)
    })
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl super::Target for S3Target {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn deliver(
        &mut self,
        p: &RecordPackage,
        progress: &ProgressSink,
    ) -> Result<Vec<Stored>, UploadError> {
        if !self.reached {
            self.check_bucket()?;
        }
        let batch = &p.origin.batch_id;
        let mut stored = Vec::new();
        let mut urls = Vec::new();
        for d in &p.documents {
            let key = self.key(batch, &format!("documents/{}.pdf", segment(&d.id)?))?;
            let there = if d.bytes > self.part_size {
                self.put_large(&key, d, progress)?
            } else {
                let there = self.put_small(&key, d)?;
                progress(d.bytes);
                there
            };
            urls.push(self.object_url(&key)?.to_string());
            stored.push(Stored {
                document_id: d.id.clone(),
                location: self.location(&key),
                already_there: there,
            });
        }
        let mut bundle = Vec::new();
        StreamedBundle::with(p, &Binaries::Stored(urls))
            .reader()
            .read_to_end(&mut bundle)
            .map_err(|e| UploadError::Permanent {
                why: format!("cannot read what is to be delivered: {e}"),
            })?;
        let record = segment(&p.record.id)?;
        let key = self.key(batch, &format!("bundles/{record}.json"))?;
        self.put_json(&key, bundle, &format!("the Bundle of record {record}"))?;
        Ok(stored)
    }

    fn read_back(
        &mut self,
        batch_id: &str,
        doc: &DocumentFile,
    ) -> Result<super::ReadBack, UploadError> {
        let key = self.key(batch_id, &format!("documents/{}.pdf", segment(&doc.id)?))?;
        let location = self.location(&key);
        Ok(match self.read(&key, true)? {
            Some(o) => super::ReadBack {
                location: location.clone(),
                content_location: Some(self.object_url(&key)?.to_string()),
                version: o.version,
                etag: o.etag,
                content: o.content,
                missing: None,
            },
            None => super::ReadBack {
                missing: Some(format!("{location} is not there")),
                location,
                ..super::ReadBack::default()
            },
        })
    }

    fn finish_batch(
        &mut self,
        manifest: &crate::batch::manifest::Manifest,
    ) -> Result<(), UploadError> {
        let key = self.key(&manifest.batch.id, "manifest.json")?;
        self.put_json(
            &key,
            super::manifest_json(manifest)?,
            "the batch's manifest",
        )?;
        // Every document is stored: an upload still open under the batch is
        // one a crash left, and holds parts nobody will complete.
        let batch = self.key(&manifest.batch.id, "")?;
        for (k, id) in self.open_uploads(&batch)? {
            self.abort(&k, &id)?;
            self.journal_clear(&k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_leaves_are_read_and_unescaped() {
        let xml = "<?xml version=\"1.0\"?><ListMultipartUploadsResult xmlns=\"x\"><Upload><Key>a/b&amp;c.pdf</Key><UploadId>2~x</UploadId></Upload><Upload><Key>d</Key><UploadId>3</UploadId></Upload><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
        let got: Vec<_> = xml_blocks(xml, "Upload")
            .map(|u| (xml_value(u, "Key"), xml_value(u, "UploadId")))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("a/b&c.pdf".into()), Some("2~x".into())),
                (Some("d".into()), Some("3".into()))
            ]
        );
        assert_eq!(xml_value(xml, "IsTruncated").as_deref(), Some("false"));
        assert_eq!(xml_value(xml, "Missing"), None);
        assert_eq!(xml_value("<Code>Unclosed", "Code"), None);
    }

    #[test]
    fn settings_are_checked_in_words() {
        let ok = S3Config {
            endpoint: "https://s3.example".into(),
            bucket: "folio-archive".into(),
            prefix: "site-a/station-1".into(),
            ..S3Config::default()
        };
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
        for (bad, words) in [
            (
                S3Config {
                    bucket: "Folio_Archive".into(),
                    ..ok.clone()
                },
                "bucket",
            ),
            (
                S3Config {
                    bucket: "ab".into(),
                    ..ok.clone()
                },
                "bucket",
            ),
            (
                S3Config {
                    prefix: "/lead".into(),
                    ..ok.clone()
                },
                "prefix",
            ),
            (
                S3Config {
                    prefix: "a/../b".into(),
                    ..ok.clone()
                },
                "prefix",
            ),
            (
                S3Config {
                    prefix: "a\nb".into(),
                    ..ok.clone()
                },
                "prefix",
            ),
            (
                S3Config {
                    part_size_kib: 1,
                    ..ok.clone()
                },
                "part_size_kib",
            ),
            (
                S3Config {
                    endpoint: " ".into(),
                    ..ok.clone()
                },
                "endpoint",
            ),
        ] {
            let p = bad.problems();
            assert!(p.iter().any(|w| w.contains(words)), "{words}: {p:?}");
        }
        let secret = S3Config {
            secret_key: Some("hunter2-secret".into()),
            ..ok
        };
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn ids_that_are_not_ours_never_become_keys() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "ü",
            "a\u{0}b",
            &"x".repeat(201),
        ] {
            assert!(segment(bad).is_err(), "{bad:?}");
        }
        assert!(segment("b-20261207_1.x").is_ok());
    }

    #[test]
    fn a_resend_matches_whatever_the_audit_head() {
        let a = serde_json::json!({"batch": {"id": "b"}, "audit_head": {"seq": 1, "hash": "x"},
            "entry": [{"resource": {"extension": [{"url": super::super::bundle::AUDIT_HEAD_EXTENSION, "valueString": "1:x"}], "id": 1}}]});
        let b = serde_json::json!({"batch": {"id": "b"}, "audit_head": {"seq": 9, "hash": "y"},
            "entry": [{"resource": {"extension": [{"url": super::super::bundle::AUDIT_HEAD_EXTENSION, "valueString": "9:y"}], "id": 1}}]});
        assert_eq!(without_audit_head(a.clone()), without_audit_head(b));
        let c =
            serde_json::json!({"batch": {"id": "other"}, "audit_head": {"seq": 1, "hash": "x"}});
        assert_ne!(without_audit_head(a), without_audit_head(c));
    }

    #[test]
    fn the_stores_words_are_escaped_and_sorted_into_retry_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let c = S3Config {
            endpoint: "http://127.0.0.1:9".into(),
            bucket: "b-1".into(),
            access_key: Some("AK".into()),
            secret_key: Some("SK-secret".into()),
            ..S3Config::default()
        };
        let t = S3Target::new(&c, &UploadConfig::default(), dir.path()).unwrap();
        let answer = |status: u16, body: &str| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let hostile =
            "<Error><Code>SlowDown</Code><Message>wait\u{1b}[2J\u{202e}gnp.exe</Message></Error>";
        let e = t.refusal(&answer(503, hostile), "x");
        assert!(e.retryable());
        let said = e.to_string();
        assert!(
            !said.contains('\u{1b}') && !said.contains('\u{202e}'),
            "{said}"
        );
        // Not XML, empty, huge: the status alone, nothing raw.
        for body in ["", "<html>\u{0}proxy</html>", &"x".repeat(1 << 20)] {
            let e = t.refusal(&answer(502, body), "x");
            assert!(e.retryable() && e.to_string().contains("502"), "{e}");
            assert!(e.to_string().len() < 500);
        }
        let e = t.refusal(
            &answer(400, "<Error><Code>InvalidArgument</Code></Error>"),
            "x",
        );
        assert!(
            !e.retryable() && e.to_string().contains("cannot help"),
            "{e}"
        );
        let e = t.refusal(
            &answer(403, "<Error><Code>InvalidAccessKeyId</Code></Error>"),
            "x",
        );
        assert!(matches!(e, UploadError::Config(_)) && !e.to_string().contains("SK-secret"));
        // An unclosed element is no code at all.
        let e = t.refusal(&answer(404, "<Error><Code>NoSuchBucket"), "x");
        assert!(!e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn a_credentials_file_is_read_by_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n[profile site]\naws_access_key_id=A2\naws_secret_access_key=S2\n",
        )
        .unwrap();
        let mut w = Vec::new();
        let (k, s, _) = credentials_file(&path, "site", &mut w).unwrap();
        assert_eq!((k.as_str(), s.as_str()), ("A2", "S2"));
        let e = credentials_file(&path, "other", &mut w).unwrap_err();
        assert!(e.to_string().contains("[other]"), "{e}");
    }
}
