//! FHIR R4 target: one ITI-65 transaction Bundle per record, POSTed to the
//! server's base URL over rustls, with the transaction-response read entry by
//! entry. A document the server already holds (its masterIdentifier matched a
//! conditional create, or the server answered "duplicate") is fetched back and
//! compared: same size and hash is success, anything else a conflict for a
//! supervisor. Runs on the upload thread (reqwest's blocking client).

use super::bundle::{Binaries, StreamedBundle, binary_id, identifier_query};
use super::mhd::BinaryTransport;
use super::{RecordPackage, Stored, UploadConfig, UploadError};
use crate::batch::printable;
use base64::Engine;
use reqwest::{Body, Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

const FHIR_JSON: &str = "application/fhir+json";
/// The most of a server's answer we read (a transaction-response or an
/// OperationOutcome is small; a misconfigured proxy's page may not be).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

pub struct FhirTarget {
    base: reqwest::Url,
    client: Client,
    /// Drives the client on the calling (upload) thread.
    rt: tokio::runtime::Runtime,
    token: Option<String>,
    /// The longest a request may go with nothing sent and nothing received
    /// (`upload.timeout_secs`): a slow link that keeps moving is never cut
    /// off, a stalled one is given up.
    idle: Duration,
    /// Said to the operator before sending (see [`super::Target::warnings`]).
    warnings: Vec<String>,
    /// Whether the server answered a first small request: TLS, trust and
    /// authentication problems show there in plain words, not as a broken
    /// upload of a large body.
    reached: bool,
}

fn config_err(what: impl std::fmt::Display) -> UploadError {
    UploadError::Config(what.to_string())
}

/// A URL as it may be shown or stored: without user name, password, query
/// or fragment (each replaced by `…`). Text that is not a URL is cut at the
/// first `@`, `?` or `#`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let hidden = !u.username().is_empty() || u.password().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let query = u.query().is_some() || u.fragment().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if hidden && let Some(i) = s.find("://") {
                s.insert_str(i + 3, "…@");
            }
            if query {
                s.push_str("?…");
            }
            s
        }
        Err(_) => match url.find(['@', '?', '#']) {
            Some(i) => format!("{}…", &url[..i]),
            None => url.to_string(),
        },
    }
}

/// The token in `path`, with a warning when others may read the file.
fn read_token_file(
    path: &std::path::Path,
    warnings: &mut Vec<String>,
) -> Result<String, UploadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        config_err(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    let token = text.trim().to_string();
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(config_err(format!(
            "the token file {} must hold the token on one line, and nothing else",
            path.display()
        )));
    }
    warn_if_others_read(path, "token file", warnings);
    Ok(token)
}

/// A bearer token: from the environment variable `env`, else the file,
/// else the setting itself; None when none is given.
pub(super) fn bearer_token(
    env: &str,
    file: Option<&std::path::Path>,
    inline: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, UploadError> {
    if let Some(t) = std::env::var(env).ok().filter(|t| !t.trim().is_empty()) {
        return Ok(Some(t));
    }
    if let Some(path) = file {
        return read_token_file(path, warnings).map(Some);
    }
    Ok(inline.map(str::to_string))
}

/// Warns when others than the station's user may read a secret's file.
pub(super) fn warn_if_others_read(path: &std::path::Path, what: &str, warnings: &mut Vec<String>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            warnings.push(format!(
                "the {what} {} can be read by other users (mode {:o}): `chmod 600 {}`",
                path.display(),
                m.permissions().mode() & 0o777,
                path.display()
            ));
        }
    }
}

/// A store's address, checked: https (or http to this machine, or when
/// allowed), no credentials, query or fragment (`secrets_go` says where
/// they belong instead).
pub(super) fn checked_url(
    url: &str,
    cfg: &UploadConfig,
    what: &str,
    secrets_go: &str,
) -> Result<reqwest::Url, UploadError> {
    let base = reqwest::Url::parse(url).map_err(|e| {
        config_err(format!(
            "the {what} '{}' is not valid: {e}",
            printable(&redact_url(url), 200)
        ))
    })?;
    // Credentials never ride in the URL: it is shown, logged and stored
    // (the outbox and audit name the target by it).
    if !base.username().is_empty() || base.password().is_some() {
        return Err(config_err(format!(
            "the {what} {} carries a user name or password: credentials do not belong in a URL (it is shown and stored); {secrets_go}",
            redact_url(url)
        )));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(config_err(format!(
            "the {what} {} has a query or fragment: a store's address has none (a secret in it would be shown and stored); {secrets_go}",
            redact_url(url)
        )));
    }
    let local = matches!(
        base.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match base.scheme() {
        "https" => {}
        "http" if local || cfg.allow_http => {}
        "http" => {
            return Err(config_err(format!(
                "plain http to {base} refused: patient records must travel over https (set `allow_http = true` under [upload] only for a test store)"
            )));
        }
        other => {
            return Err(config_err(format!(
                "'{other}' URLs are not stores: use https://"
            )));
        }
    }
    Ok(base)
}

/// The server's base URL, checked (see [`checked_url`]), ending in `/`.
fn base_url(url: &str, cfg: &UploadConfig) -> Result<reqwest::Url, UploadError> {
    let mut base = checked_url(
        url,
        cfg,
        "FHIR URL",
        "put the token in FOLIO_UPLOAD_TOKEN, or `token_file` (or `token`) under [upload]",
    )?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    Ok(base)
}

/// The HTTPS client: rustls with the site's CA and client certificate when
/// configured, no redirects, connect and keep-alive timeouts (the idle
/// watchdog does the rest).
pub(super) fn client(cfg: &UploadConfig, idle: Duration) -> Result<Client, UploadError> {
    // No redirects: a record and its credentials go to the configured
    // origin or nowhere (a redirect is refused, naming where it pointed).
    let mut builder = Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(idle.min(Duration::from_secs(15)))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("folio/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| config_err(format!("cannot read the CA file {}: {e}", path.display())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config_err(format!("{} is not a PEM certificate: {e}", path.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = &cfg.client_identity_file {
        let pem = std::fs::read(path).map_err(|e| {
            config_err(format!(
                "cannot read the client certificate {}: {e}",
                path.display()
            ))
        })?;
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            config_err(format!(
                "{} must hold the client certificate and its private key (PEM): {e}",
                path.display()
            ))
        })?;
        builder = builder.identity(id);
    }
    builder
        .build()
        .map_err(|e| config_err(format!("cannot set up HTTPS: {e}")))
}

impl FhirTarget {
    pub fn new(url: &str, cfg: &UploadConfig) -> Result<FhirTarget, UploadError> {
        let base = base_url(url, cfg)?;
        let idle = Duration::from_secs(cfg.timeout_secs.max(1));
        let client = client(cfg, idle)?;
        let mut warnings = Vec::new();
        let token = bearer_token(
            "FOLIO_UPLOAD_TOKEN",
            cfg.token_file.as_deref(),
            cfg.token.as_deref(),
            &mut warnings,
        )?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config_err(format!("cannot start the upload's network runtime: {e}")))?;
        Ok(FhirTarget {
            base,
            client,
            rt,
            token,
            idle,
            reached: false,
            warnings,
        })
    }

    fn request(&self, r: RequestBuilder) -> RequestBuilder {
        let r = r.header(reqwest::header::ACCEPT, FHIR_JSON);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends a request (with `body` streamed, its bytes told to `progress`)
    /// and reads the answer, giving up when nothing has been sent or received
    /// for `idle`.
    fn exchange(
        &self,
        r: RequestBuilder,
        body: Option<(StreamedBundle, &super::ProgressSink)>,
    ) -> Result<(StatusCode, Value), UploadError> {
        let clock = Arc::new(Clock::new());
        let mut r = self.request(r);
        if let Some((b, progress)) = body {
            r = r
                .header(reqwest::header::CONTENT_TYPE, FHIR_JSON)
                // Statuses and locations are all we read back: not the
                // resources, which for a Binary would be the PDF again.
                .header("Prefer", "return=minimal")
                .body(Body::wrap(StreamBody {
                    len: b.len,
                    sent: 0,
                    reader: b.reader(),
                    progress: progress.clone(),
                    clock: clock.clone(),
                }));
        }
        let work = async {
            let resp = r.send().await.map_err(|e| network(&self.base, e))?;
            clock.touch();
            answer(resp, &self.base, &clock).await
        };
        self.rt
            .block_on(until_idle(work, &clock, self.idle, &self.base))
    }

    /// Asks for the server's CapabilityStatement (`GET [base]/metadata`).
    fn capabilities(&self) -> Result<(), UploadError> {
        let url = self.base.join("metadata").map_err(config_err)?;
        let (status, body) = self.exchange(self.client.get(url), None)?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(UploadError::Permanent {
                why: format!(
                    "the server at {} refused our credentials ({status}): check the token (FOLIO_UPLOAD_TOKEN or [upload] token) or the client certificate",
                    self.base
                ),
            });
        }
        if !status.is_success() {
            return Err(refusal(status, &body, "a request for its capabilities"));
        }
        Ok(())
    }

    /// The DocumentReference entry the server holds under a document's
    /// masterIdentifier, if any.
    fn find_document(&self, doc_id: &str) -> Result<Option<Value>, UploadError> {
        let mut url = self.base.join("DocumentReference").map_err(config_err)?;
        // Already escaped and percent-encoded for a query.
        url.set_query(Some(&identifier_query(doc_id)));
        let (status, body) = self.exchange(self.client.get(url), None)?;
        if !status.is_success() {
            return Err(refusal(status, &body, "looking up a stored document"));
        }
        Ok(body["entry"].as_array().and_then(|e| {
            e.iter()
                .find(|e| e["resource"]["resourceType"] == "DocumentReference")
                .cloned()
        }))
    }

    /// What the server holds under a document's masterIdentifier: (size, SHA-1
    /// base64, resource URL), if anything.
    fn lookup(&self, doc_id: &str) -> Result<Option<(u64, String, String)>, UploadError> {
        Ok(self.find_document(doc_id)?.map(|e| {
            let a = &e["resource"]["content"][0]["attachment"];
            let location = redact_url(e["fullUrl"].as_str().unwrap_or_default());
            (
                a["size"].as_u64().unwrap_or(0),
                a["hash"].as_str().unwrap_or_default().to_string(),
                location,
            )
        }))
    }

    /// A URL the store gave (absolute, or relative to the base) if it is the
    /// store's own: the token is never sent anywhere else.
    fn own_url(&self, given: &str) -> Result<reqwest::Url, String> {
        let url = self
            .base
            .join(given)
            .map_err(|e| format!("its attachment URL cannot be read ({e})"))?;
        if url.origin() != self.base.origin() {
            return Err(format!(
                "its attachment points outside the store ({}): not followed",
                printable(&redact_url(url.as_str()), 200)
            ));
        }
        Ok(url)
    }

    /// Reads a Binary back, measuring its content as it streams in: the raw
    /// bytes as most servers send them for a PDF, or a Binary resource whose
    /// `data` is the content in base64. `Ok(Err(why))` when the server does
    /// not have it.
    fn fetch_binary(
        &self,
        url: reqwest::Url,
        expected: u64,
    ) -> Result<Result<Fetched, String>, UploadError> {
        let clock = Arc::new(Clock::new());
        let mut r = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/pdf");
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let shown = printable(&redact_url(url.as_str()), 200);
        let work = async {
            let mut resp = r.send().await.map_err(|e| network(&self.base, e))?;
            clock.touch();
            let status = resp.status();
            if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
                return Ok(Err(format!("its content {shown} is gone ({status})")));
            }
            if !status.is_success() {
                let (status, body) = answer(resp, &self.base, &clock).await?;
                return Err(refusal(status, &body, "reading a stored document back"));
            }
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| printable(v, 200))
            };
            let etag = header(reqwest::header::ETAG);
            let json = header(reqwest::header::CONTENT_TYPE).is_some_and(|t| t.contains("json"));
            // A Binary resource carries the content in base64: at most a
            // third more than the PDF, and its JSON.
            let limit = expected.saturating_mul(4) / 3 + (1 << 20);
            let mut hasher = Sha256::new();
            let (mut bytes, mut raw) = (0u64, Vec::new());
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        clock.touch();
                        if json {
                            if raw.len() as u64 + c.len() as u64 > limit {
                                return Ok(Err(format!(
                                    "its content {shown} is far larger than the document sent"
                                )));
                            }
                            raw.extend_from_slice(&c);
                        } else {
                            hasher.update(&c);
                            bytes += c.len() as u64;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(UploadError::transient(format!(
                            "reading {shown} back broke off: {e}"
                        )));
                    }
                }
            }
            if json {
                let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                let data = v["data"]
                    .as_str()
                    .map(|d| base64::engine::general_purpose::STANDARD.decode(d.trim()));
                match (v["resourceType"].as_str(), data) {
                    (Some("Binary"), Some(Ok(content))) => {
                        hasher.update(&content);
                        bytes = content.len() as u64;
                    }
                    _ => {
                        return Ok(Err(format!(
                            "its content {shown} came back as JSON that is not a Binary with data"
                        )));
                    }
                }
            }
            Ok(Ok(Fetched {
                bytes,
                sha256: hex::encode(hasher.finalize()),
                etag,
            }))
        };
        self.rt
            .block_on(until_idle(work, &clock, self.idle, &self.base))
    }

    /// The station's audit chain head as a record's Provenance carries it
    /// on the server (none: no Provenance, or one without the head).
    pub fn provenance_anchor(
        &self,
        batch_id: &str,
        record_id: &str,
    ) -> Result<Option<crate::batch::manifest::AuditHead>, UploadError> {
        let mut url = self.base.join("Provenance").map_err(config_err)?;
        // Already escaped and percent-encoded for a query.
        url.set_query(Some(&super::bundle::provenance_query(batch_id, record_id)));
        let (status, body) = self.exchange(self.client.get(url), None)?;
        if !status.is_success() {
            return Err(refusal(status, &body, "reading a record's Provenance back"));
        }
        let entries = body["entry"].as_array().cloned().unwrap_or_default();
        let head = entries
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "Provenance")
            .flat_map(|e| {
                e["resource"]["extension"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|x| x["url"] == super::bundle::AUDIT_HEAD_EXTENSION)
            .and_then(|x| x["valueString"].as_str().map(str::to_string));
        Ok(head.and_then(|v| {
            let (seq, hash) = v.split_once(':')?;
            Some(crate::batch::manifest::AuditHead {
                seq: seq.parse().ok()?,
                hash: hash.to_string(),
            })
        }))
    }

    /// Stores a document's Binary at `url` (`PUT Binary/<id>`, an update that
    /// creates: sending it again replaces it with the same bytes).
    fn put_binary(
        &self,
        p: &RecordPackage,
        d: &super::DocumentFile,
        url: reqwest::Url,
        progress: &super::ProgressSink,
    ) -> Result<(), UploadError> {
        let (status, answer) = self.exchange(
            self.client.put(url),
            Some((StreamedBundle::binary(d), progress)),
        )?;
        if let Some(too_big) = size_refusal(status, &answer, p, std::slice::from_ref(d)) {
            return Err(too_big);
        }
        if status.is_success() {
            return Ok(());
        }
        let mut e = refusal(
            status,
            &answer,
            &format!(
                "the Binary of document {} (PUT Binary/{})",
                d.id,
                binary_id(&d.id)
            ),
        );
        if let UploadError::Permanent { why } = &mut e {
            why.push_str(
                ": a server that does not let a client choose a Binary's id needs `binaries = \"in_bundle\"` under [upload.mhd]",
            );
        }
        Err(e)
    }

    /// What the transaction-response `entries` say of each document: stored
    /// now, or found from an earlier try (and checked).
    fn acknowledged(
        &self,
        p: &RecordPackage,
        entries: &[Value],
        per_doc: usize,
    ) -> Result<Vec<Stored>, UploadError> {
        p.documents
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let r = &entries[1 + per_doc * i]["response"];
                if r["status"].as_str().unwrap_or("").starts_with("200") {
                    // Conditional create found it: one from an earlier try.
                    return self.verify_existing(d);
                }
                Ok(Stored {
                    document_id: d.id.clone(),
                    location: redact_url(r["location"].as_str().unwrap_or_default()),
                    already_there: false,
                })
            })
            .collect()
    }

    /// Sends again the content of documents that did not read back as sent
    /// and that the store kept (its DocumentReference matched): the Binary
    /// the DocumentReference points at is replaced (`PUT`, an update) with
    /// the document's bytes.
    fn replace_binaries(
        &self,
        p: &RecordPackage,
        stored: &[Stored],
        progress: &super::ProgressSink,
    ) -> Result<(), UploadError> {
        for d in &p.documents {
            let kept = stored
                .iter()
                .any(|s| s.document_id == d.id && s.already_there);
            if !kept || !p.resend.contains(&d.id) {
                continue;
            }
            let given = self.find_document(&d.id)?.and_then(|e| {
                e["resource"]["content"][0]["attachment"]["url"]
                    .as_str()
                    .map(str::to_string)
            });
            let url = given
                .ok_or_else(|| "its DocumentReference has no attachment URL".to_string())
                .and_then(|g| self.own_url(&g))
                .map_err(|why| UploadError::Permanent {
                    why: format!("cannot send document {} again: {why}", d.id),
                })?;
            let id = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default()
                .to_string();
            let (status, answer) = self.exchange(
                self.client.put(url),
                Some((StreamedBundle::binary_as(d, &id), progress)),
            )?;
            if !status.is_success() {
                return Err(refusal(
                    status,
                    &answer,
                    &format!("the Binary of document {} sent again", d.id),
                ));
            }
        }
        Ok(())
    }

    /// Checks a document the server says it already has.
    fn verify_existing(&self, doc: &super::DocumentFile) -> Result<Stored, UploadError> {
        let ours = super::bundle::sha1_base64_of_hex(&doc.sha1);
        match self.lookup(&doc.id)? {
            Some((size, hash, location)) if size == doc.bytes && hash == ours => Ok(Stored {
                document_id: doc.id.clone(),
                location,
                already_there: true,
            }),
            Some((size, hash, _)) => Err(UploadError::Conflict {
                document_id: doc.id.clone(),
                detail: format!(
                    "the store's copy is {size} bytes with SHA-1 {hash}, ours {} bytes with SHA-1 {ours}",
                    doc.bytes
                ),
            }),
            None => Err(UploadError::transient(format!(
                "the server reported document {} as a duplicate but does not return it",
                doc.id
            ))),
        }
    }
}

impl super::Target for FhirTarget {
    fn describe(&self) -> String {
        format!("FHIR server {}", self.base)
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn read_back(
        &mut self,
        _batch_id: &str,
        doc: &super::DocumentFile,
    ) -> Result<super::ReadBack, UploadError> {
        let missing = |location: &str, why: String| super::ReadBack {
            location: location.to_string(),
            missing: Some(why),
            ..super::ReadBack::default()
        };
        let Some(entry) = self.find_document(&doc.id)? else {
            return Ok(missing(
                &format!("DocumentReference?{}", identifier_query(&doc.id)),
                format!(
                    "the store has no DocumentReference for document {} (it answered its upload with success)",
                    doc.id
                ),
            ));
        };
        let location = redact_url(entry["fullUrl"].as_str().unwrap_or_default());
        let r = &entry["resource"];
        let version = r["meta"]["versionId"].as_str().map(|v| printable(v, 64));
        let Some(given) = r["content"][0]["attachment"]["url"].as_str() else {
            return Ok(missing(
                &location,
                "its DocumentReference has no attachment URL".into(),
            ));
        };
        let url = match self.own_url(given) {
            Ok(u) => u,
            Err(why) => return Ok(missing(&location, why)),
        };
        let content_location = Some(redact_url(url.as_str()));
        Ok(match self.fetch_binary(url, doc.bytes)? {
            Ok(f) => super::ReadBack {
                location,
                content_location,
                version,
                etag: f.etag,
                content: Some((f.bytes, f.sha256)),
                missing: None,
            },
            Err(why) => super::ReadBack {
                content_location,
                version,
                ..missing(&location, why)
            },
        })
    }

    fn deliver(
        &mut self,
        p: &RecordPackage,
        progress: &super::ProgressSink,
    ) -> Result<Vec<Stored>, UploadError> {
        if !self.reached {
            self.capabilities()?;
            self.reached = true;
        }
        let binaries = match p.mhd.binaries {
            BinaryTransport::InBundle => Binaries::InBundle,
            BinaryTransport::Separate => {
                let mut urls = Vec::new();
                for d in &p.documents {
                    let url = self
                        .base
                        .join(&format!("Binary/{}", binary_id(&d.id)))
                        .map_err(config_err)?;
                    // A document stored by an earlier send is compared after
                    // the transaction, its Binary never overwritten.
                    if p.resend.contains(&d.id) || self.lookup(&d.id)?.is_none() {
                        self.put_binary(p, d, url.clone(), progress)?;
                    }
                    urls.push(url.to_string());
                }
                Binaries::Stored(urls)
            }
        };
        // Entries per document in the Bundle and the transaction-response.
        let per_doc = match binaries {
            Binaries::InBundle => 2,
            Binaries::Stored(_) => 1,
        };
        let bundle = StreamedBundle::with(p, &binaries);
        let (status, answer) = self.exchange(
            self.client.post(self.base.clone()),
            Some((bundle, progress)),
        )?;
        if status == StatusCode::CONFLICT || is_duplicate(&answer) {
            return p
                .documents
                .iter()
                .map(|d| self.verify_existing(d))
                .collect();
        }
        if let Some(too_big) = size_refusal(status, &answer, p, &p.documents) {
            return Err(too_big);
        }
        if !status.is_success() {
            let mut e = refusal(status, &answer, &format!("record {}", p.record.id));
            if let (UploadError::Permanent { why }, Binaries::InBundle) = (&mut e, &binaries) {
                let said = diagnostics(&answer).to_lowercase();
                if said.contains("binary") && said.contains("search") {
                    why.push_str(
                        ": this server cannot look Binaries up, so it cannot tell a re-sent one from a new one; set `binaries = \"separate\"` under [upload.mhd]",
                    );
                }
            }
            return Err(e);
        }
        let entries = answer["entry"].as_array().cloned().unwrap_or_default();
        // A transaction-response lists the entries in the order sent: the
        // List, then per document its DocumentReference (and its Binary),
        // then the record's Provenance.
        let expected = per_doc * p.documents.len() + 2;
        if entries.len() != expected {
            return Err(UploadError::transient(format!(
                "the server's transaction-response has {} entries, {expected} expected",
                entries.len(),
            )));
        }
        if let Some(e) = refused_entry(&entries, per_doc, p) {
            return Err(e);
        }
        let stored = self.acknowledged(p, &entries, per_doc)?;
        if let Binaries::InBundle = binaries {
            self.replace_binaries(p, &stored, progress)?;
        }
        Ok(stored)
    }
}

/// A stored document's content as read back.
struct Fetched {
    bytes: u64,
    sha256: String,
    etag: Option<String>,
}

/// When a request last moved (a byte sent or received).
struct Clock {
    start: Instant,
    /// Milliseconds from `start` to the last movement.
    last: AtomicU64,
    /// The body's length once all of it is handed over (0 before).
    body_sent: AtomicU64,
}

/// Bytes a second the server is allowed to take, after the last byte of a
/// body is handed over, to receive what the network still holds of it and
/// check it before answering (on top of the idle time).
const SERVER_DIGEST_BYTES_PER_SEC: f64 = 1e6;

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            last: AtomicU64::new(0),
            body_sent: AtomicU64::new(0),
        }
    }

    /// How long the request may stay quiet now: `idle`, and once the body is
    /// all handed over, time for the server to take it in and check it (the
    /// kernel holds up to megabytes of it, which drain unseen).
    fn allowance(&self, idle: Duration) -> Duration {
        let body = self.body_sent.load(Ordering::Relaxed);
        idle + Duration::from_secs_f64(body as f64 / SERVER_DIGEST_BYTES_PER_SEC)
    }

    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long nothing has moved.
    fn quiet(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }
}

/// Runs `work` until it ends or nothing has moved for `idle`.
async fn until_idle<T>(
    work: impl Future<Output = Result<T, UploadError>>,
    clock: &Clock,
    idle: Duration,
    base: &reqwest::Url,
) -> Result<T, UploadError> {
    let mut work = std::pin::pin!(work);
    let mut watch = std::pin::pin!(async {
        loop {
            let (quiet, allowed) = (clock.quiet(), clock.allowance(idle));
            if quiet >= allowed {
                return;
            }
            tokio::time::sleep(allowed - quiet).await;
        }
    });
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = work.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        match watch.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(UploadError::transient(format!(
                "timed out talking to {base}: nothing sent or received for {} s (upload.timeout_secs)",
                idle.as_secs()
            )))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A request body streamed from a [`StreamedBundle`]: its exact length (so
/// the request carries Content-Length), its bytes counted as progress and
/// as movement as the connection takes them.
struct StreamBody {
    len: u64,
    /// Bytes handed over so far.
    sent: u64,
    reader: super::bundle::BundleReader,
    progress: super::ProgressSink,
    clock: Arc<Clock>,
}

impl http_body::Body for StreamBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        // Reading the cached PDF is local and quick: done in place.
        let mut buf = vec![0u8; 32 * 1024];
        match self.reader.read(&mut buf) {
            Ok(0) => {
                self.clock.touch();
                self.clock.body_sent.store(self.len, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Ok(n) => {
                buf.truncate(n);
                self.clock.touch();
                self.sent += n as u64;
                if self.sent >= self.len {
                    // The client may not ask again once it has `len` bytes.
                    self.clock.body_sent.store(self.len, Ordering::Relaxed);
                }
                // Progress is in PDF bytes: the Bundle carries them as base64
                // (4 bytes for 3); its JSON is small beside them.
                (self.progress)(n as u64 * 3 / 4);
                Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from(buf)))))
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

fn network(base: &reqwest::Url, e: reqwest::Error) -> UploadError {
    network_failure(base.as_str(), e)
}

/// A network failure talking to `to`, in words with its causes.
pub(super) fn network_failure(to: &str, e: reqwest::Error) -> UploadError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    // reqwest's message names the URL but never the headers (so no token).
    let mut why = format!("{what} talking to {to} ({e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        why.push_str(&format!(": {s}"));
        src = s.source();
    }
    why.push(')');
    UploadError::transient(why)
}

/// The status and JSON body of an answer (Null when not JSON), and the
/// server's Retry-After for 429 and 503 as a transient error. A redirect is
/// refused: records and credentials do not follow it.
async fn answer(
    mut resp: Response,
    base: &reqwest::Url,
    clock: &Clock,
) -> Result<(StatusCode, Value), UploadError> {
    let status = resp.status();
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| printable(&redact_url(&String::from_utf8_lossy(v.as_bytes())), 200))
            .unwrap_or_else(|| "nowhere given".into());
        return Err(UploadError::Permanent {
            why: format!(
                "the server at {base} answered {status}, sending us to {to}: Folio does not follow redirects (records and credentials go to the configured address only); if the store has moved, set fhir_url to its new https address"
            ),
        });
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut raw = Vec::new();
    let read = loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                clock.touch();
                let room = (MAX_ANSWER_BYTES as usize).saturating_sub(raw.len());
                raw.extend_from_slice(&c[..c.len().min(room)]);
                if room <= c.len() {
                    break Ok(());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let text = String::from_utf8_lossy(&raw);
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return Err(UploadError::Transient {
            why: format!(
                "the server is busy ({status}){}",
                retry_after
                    .map(|d| format!(", asked to wait {} s", d.as_secs()))
                    .unwrap_or_default()
            ),
            retry_after,
        });
    }
    if let Err(e) = read {
        return Err(UploadError::transient(format!(
            "the server's answer ({status}) broke off: {e}"
        )));
    }
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v.trim()).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The first entry of a transaction-response that is not 2xx (a server that
/// runs a transaction entry by entry answers each one), in words: which
/// resource of which document, the status and the server's words. A 4xx is
/// permanent (a size refusal says what to do), anything else may pass.
fn refused_entry(entries: &[Value], per_doc: usize, p: &RecordPackage) -> Option<UploadError> {
    let (index, entry) = entries.iter().enumerate().find(|(_, e)| {
        !e["response"]["status"]
            .as_str()
            .unwrap_or("")
            .starts_with('2')
    })?;
    let status_text = entry["response"]["status"].as_str().unwrap_or("");
    let code = status_text
        .split_whitespace()
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let outcome = &entry["response"]["outcome"];
    let doc = index
        .checked_sub(1)
        .and_then(|k| p.documents.get(k / per_doc).map(|d| (d, k % per_doc)));
    let what = match doc {
        None if index > 0 => format!("the Provenance of record {}", p.record.id),
        None => format!("the SubmissionSet List of record {}", p.record.id),
        Some((d, 0)) => format!("the DocumentReference of document {}", d.id),
        Some((d, _)) => format!("the Binary of document {}", d.id),
    };
    if let Some((d, _)) = doc
        && let Some(e) = size_refusal(code, outcome, p, std::slice::from_ref(d))
    {
        return Some(e);
    }
    if code.is_client_error()
        && code != StatusCode::REQUEST_TIMEOUT
        && code != StatusCode::TOO_MANY_REQUESTS
    {
        return Some(refusal(code, outcome, &what));
    }
    Some(UploadError::transient(format!(
        "the server answered '{}' for {what}: {}",
        printable(status_text, 80),
        diagnostics(outcome)
    )))
}

/// Words in a server's refusal that say something was too large.
const SIZE_WORDS: &[&str] = &[
    "exceed",
    "too large",
    "too big",
    "size limit",
    "maximum size",
    "max size",
];

/// A refusal because something was too large (413, or a 400/422 whose
/// OperationOutcome says so), in words: which documents, their size, what the
/// server said and what to do. Permanent: the same bytes will be refused again.
fn size_refusal(
    status: StatusCode,
    body: &Value,
    p: &RecordPackage,
    sent: &[super::DocumentFile],
) -> Option<UploadError> {
    let said = diagnostics(body);
    let lower = said.to_lowercase();
    let refused = status == StatusCode::PAYLOAD_TOO_LARGE
        || ((status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY)
            && SIZE_WORDS.iter().any(|w| lower.contains(w)));
    if !refused {
        return None;
    }
    // The limit, when the server names one ("exceeds 1048576 bytes"): the
    // documents over it are the ones refused. Servers count either the PDF's
    // bytes (Medplum) or its base64 text.
    let limit = said
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u64>().ok())
        .find(|&n| n >= 1024);
    let encoded = |d: &super::DocumentFile| d.bytes.div_ceil(3) * 4;
    let mut over: Vec<&super::DocumentFile> = match limit {
        Some(l) if sent.iter().any(|d| d.bytes > l) => {
            sent.iter().filter(|d| d.bytes > l).collect()
        }
        Some(l) => sent.iter().filter(|d| encoded(d) > l).collect(),
        None => Vec::new(),
    };
    if over.is_empty() {
        over.extend(sent.iter().max_by_key(|d| d.bytes));
    }
    let named = over
        .iter()
        .map(|d| {
            format!(
                "document {} ({}, {} pages, {} as a PDF, {} in base64)",
                d.id,
                d.doc_type
                    .as_deref()
                    .map(|t| printable(t, 64))
                    .unwrap_or_else(|| "no type".into()),
                d.pages,
                crate::batch::bytes_words(d.bytes),
                crate::batch::bytes_words(encoded(d)),
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(UploadError::Permanent {
        why: format!(
            "the server refused record {} as too large ({status}): {named}. The server said: {said}. Sending it again cannot help: ask the store's administrator to raise the size it accepts for a Binary{}, then queue the batch again with `folio upload --batch {}`",
            p.record.id,
            limit
                .map(|l| {
                    let largest = over.iter().map(|d| d.bytes).max().unwrap_or(0);
                    format!(
                        " (now {}) to at least {} of PDF ({} if it counts the base64 text)",
                        crate::batch::bytes_words(l),
                        crate::batch::bytes_words(largest),
                        crate::batch::bytes_words(largest.div_ceil(3) * 4)
                    )
                })
                .unwrap_or_default(),
            p.origin.batch_id,
        ),
    })
}

/// Bytes in words: "1.7 MB", "640 KB", "12 bytes" (decimal units).
/// An OperationOutcome's diagnostics in one line, as printable text (the
/// server's words are evidence: shown, never trusted to be clean).
pub(super) fn diagnostics(body: &Value) -> String {
    body["issue"]
        .as_array()
        .map(|issues| {
            issues
                .iter()
                .map(|i| {
                    let text = i["diagnostics"]
                        .as_str()
                        .or(i["details"]["text"].as_str())
                        .unwrap_or("");
                    format!(
                        "{} {}: {text}",
                        i["severity"].as_str().unwrap_or(""),
                        i["code"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|s| !s.is_empty())
        .map(|s| printable(&s, 600))
        .unwrap_or_else(|| "no OperationOutcome given".into())
}

fn is_duplicate(body: &Value) -> bool {
    body["resourceType"] == "OperationOutcome"
        && body["issue"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["code"] == "duplicate"))
}

/// A refusal in words: 5xx may pass, 4xx will not.
fn refusal(status: StatusCode, body: &Value, what: &str) -> UploadError {
    let why = format!(
        "the server answered {status} to {what}: {}",
        diagnostics(body)
    );
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        UploadError::transient(why)
    } else {
        UploadError::Permanent {
            why: format!(
                "{why}; retrying the same content cannot help: check the record and the store's settings"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let d = parse_retry_after(&later).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("soon"), None);
    }

    fn package(sizes: &[u64]) -> RecordPackage {
        use crate::batch::manifest::{ManifestRecord, Patient};
        RecordPackage {
            origin: super::super::Origin {
                batch_id: "b-1".into(),
                batch_label: "box 7".into(),
                station: "st".into(),
                site: "site".into(),
                scanned: "2026-01-02T03:04:05Z".into(),
                audit_head: None,
            },
            record: ManifestRecord {
                id: "r-1".into(),
                patient: Patient {
                    nhs_number: None,
                    hospital_number: Some("H1".into()),
                },
                specialty: None,
                flags: Vec::new(),
                documents: Vec::new(),
            },
            documents: sizes
                .iter()
                .enumerate()
                .map(|(i, &bytes)| super::super::DocumentFile {
                    id: format!("doc-{i}"),
                    doc_type: Some("referral\u{1b}[31m".into()),
                    pdf_path: std::path::PathBuf::from("/nonexistent"),
                    sha256: String::new(),
                    sha1: String::new(),
                    bytes,
                    pages: 12,
                })
                .collect(),
            hospital_number_system: "urn:x".into(),
            resend: Vec::new(),
            mhd: Default::default(),
        }
    }

    #[test]
    fn a_size_limit_is_refused_in_words_naming_the_document() {
        let p = package(&[200_000, 1_700_000]);
        let medplum = serde_json::json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "structure",
            "details": {"text": "base64Binary exceeds 1048576 bytes \u{1b}[2J"},
            "expression": ["Bundle.entry[4].resource.data"]}]});
        for status in [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY] {
            let e = size_refusal(status, &medplum, &p, &p.documents).expect("a size refusal");
            assert!(!e.retryable());
            let m = e.to_string();
            for want in [
                "doc-1",
                "1.7 MB as a PDF",
                "2.3 MB in base64",
                "12 pages",
                "base64Binary exceeds 1048576 bytes",
                "administrator",
                "now 1.0 MB",
                "folio upload --batch b-1",
            ] {
                assert!(m.contains(want), "{want:?} in {m}");
            }
            assert!(
                !m.contains("doc-0"),
                "the small document was not refused: {m}"
            );
            assert!(
                !m.contains('\u{1b}'),
                "server and sheet text is escaped: {m}"
            );
        }
        // 413 with no OperationOutcome: the largest document is named.
        let e = size_refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            &Value::Null,
            &p,
            &p.documents,
        )
        .unwrap();
        assert!(e.to_string().contains("doc-1"), "{e}");
        // Other refusals are not about size.
        let other = serde_json::json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "required", "diagnostics": "List.extension:sourceId: 1..1 required"}]});
        assert!(size_refusal(StatusCode::UNPROCESSABLE_ENTITY, &other, &p, &p.documents).is_none());
        assert!(
            size_refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                &medplum,
                &p,
                &p.documents
            )
            .is_none()
        );
    }

    #[test]
    fn a_refused_entry_names_its_document_and_the_servers_words() {
        let p = package(&[100, 1_700_000]);
        let ok = serde_json::json!({"response": {"status": "201"}});
        let entry = |status: &str, text: &str| {
            serde_json::json!({"response": {"status": status, "outcome": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "details": {"text": text}}]}}})
        };
        assert!(refused_entry(&[ok.clone(), ok.clone(), ok.clone()], 1, &p).is_none());
        // Entry by entry, the second document's Binary refused as too large.
        let big = entry("400", "base64Binary exceeds 1048576 bytes");
        let all = [ok.clone(), ok.clone(), ok.clone(), ok.clone(), big];
        let e = refused_entry(&all, 2, &p).unwrap();
        assert!(!e.retryable());
        assert!(
            e.to_string().contains("doc-1") && e.to_string().contains("administrator"),
            "{e}"
        );
        // Another 4xx: permanent, naming the resource.
        let bad = entry(
            "422 Unprocessable Entity",
            "List.extension:sourceId missing\u{7}",
        );
        let e = refused_entry(&[bad.clone(), ok.clone(), ok.clone()], 1, &p).unwrap();
        assert!(!e.retryable());
        let m = e.to_string();
        assert!(
            m.contains("SubmissionSet List of record r-1") && m.contains("sourceId"),
            "{m}"
        );
        assert!(!m.contains('\u{7}'), "{m}");
        // The record's Provenance, after the documents.
        let prov = entry("422", "Provenance.agent missing");
        let e = refused_entry(&[ok.clone(), ok.clone(), ok.clone(), prov], 1, &p).unwrap();
        assert!(e.to_string().contains("Provenance of record r-1"), "{e}");
        // A 5xx may pass.
        let e = refused_entry(&[ok.clone(), entry("503", "busy"), ok], 1, &p).unwrap();
        assert!(e.retryable());
        assert!(
            e.to_string()
                .contains("DocumentReference of document doc-0"),
            "{e}"
        );
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact_url("https://u:p@store.example/fhir?token=abc#x"),
            "https://…@store.example/fhir?…"
        );
        assert_eq!(
            redact_url("https://store.example/fhir/"),
            "https://store.example/fhir/"
        );
        assert_eq!(
            redact_url("DocumentReference/12/_history/1"),
            "DocumentReference/12/_history/1"
        );
        assert_eq!(redact_url("not a url?token=abc"), "not a url…");
        let cfg = UploadConfig::default();
        for bad in [
            "https://user:s3cret@store.example/fhir",
            "https://user@store.example/fhir",
            "https://store.example/fhir?token=s3cret",
        ] {
            let e = FhirTarget::new(bad, &cfg).err().unwrap().to_string();
            assert!(e.contains("token_file") && !e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        let cfg = UploadConfig::default();
        assert!(FhirTarget::new("http://127.0.0.1:8080/fhir", &cfg).is_ok());
        let err = FhirTarget::new("http://store.example.org/fhir", &cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("https"), "{err}");
        let allowed = UploadConfig {
            allow_http: true,
            ..UploadConfig::default()
        };
        assert!(FhirTarget::new("http://store.example.org/fhir", &allowed).is_ok());
    }
}
