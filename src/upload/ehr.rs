//! The on-demand worklist's network side: the EHR's upcoming appointments
//! (`[worklist]`), read as FHIR R4 `Appointment` searches with the patients
//! and locations included, page by page through `next` links; and, for each
//! patient, whether the central store already holds documents for them (a
//! `DocumentReference` search by subject identifier, when the store is a
//! FHIR server that answers it). Reading only: nothing is written to the EHR.
//!
//! The same rules as uploads: https (or http to this machine), the site's CA
//! and client certificate, no redirects, a token from the environment or a
//! file, never from the URL; a `next` link is followed only to the configured
//! server, so the token goes nowhere else. What the servers say is evidence:
//! kept as it came in the list, printed only through
//! [`crate::batch::printable`].

use super::fhir::{self, bearer_token, checked_url, client, diagnostics};
use super::{UploadConfig, UploadError};
use crate::batch::printable;
use crate::batch::worklist::{self, NHS_SYSTEM, WorkItem};
use reqwest::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use time::{OffsetDateTime, UtcOffset};

/// The most of one answer read (a page of a hundred appointments with their
/// patients is well under a megabyte).
const MAX_PAGE_BYTES: usize = 8 << 20;
/// Pages followed at most per search: a server whose `next` links never end
/// is stopped, in words.
pub const MAX_PAGES: usize = 100;
/// Patients looked up in the central store at most per fetch.
const MAX_STORE_LOOKUPS: usize = 300;
/// Appointments asked for per page.
const PAGE_SIZE: u32 = 100;

/// `[worklist]` in `config.toml`: where the EHR is and which clinics this
/// station scans for.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorklistConfig {
    /// The EHR's FHIR R4 base URL (may differ from the document store's).
    pub fhir_url: String,
    /// The clinics served, as Location references (`Location/<id>`).
    pub locations: Vec<String>,
    /// Clinicians served, as references (`Practitioner/<id>`,
    /// `PractitionerRole/<id>`), for clinics the EHR files under a person.
    pub practitioners: Vec<String>,
    /// Working days ahead to list, today counting as the first.
    pub horizon_working_days: u32,
    /// Hours before an appointment its record must be in the store.
    pub lead_hours: u32,
    /// Minutes between fetches while the station runs.
    pub refresh_minutes: u32,
    /// Bearer token for the EHR (or `FOLIO_WORKLIST_TOKEN`, or `token_file`).
    pub token: Option<String>,
    /// A file holding the EHR's token (readable by the station's user only).
    pub token_file: Option<PathBuf>,
    /// Ask the central store (when it is a FHIR server) which patients it
    /// already holds documents for.
    pub check_store: bool,
}

impl Default for WorklistConfig {
    fn default() -> Self {
        WorklistConfig {
            fhir_url: String::new(),
            locations: Vec::new(),
            practitioners: Vec::new(),
            horizon_working_days: 3,
            lead_hours: 2,
            refresh_minutes: 10,
            token: None,
            token_file: None,
            check_store: true,
        }
    }
}

impl std::fmt::Debug for WorklistConfig {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorklistConfig")
            .field("fhir_url", &fhir::redact_url(&self.fhir_url))
            .field("locations", &self.locations)
            .field("practitioners", &self.practitioners)
            .field("horizon_working_days", &self.horizon_working_days)
            .field("lead_hours", &self.lead_hours)
            .field("refresh_minutes", &self.refresh_minutes)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("token_file", &self.token_file)
            .field("check_store", &self.check_store)
            .finish()
    }
}

/// A reference the search sends as it is: `Type/id` with a FHIR id.
fn reference_ok(r: &str, types: &[&str]) -> bool {
    r.split_once('/').is_some_and(|(t, id)| {
        types.contains(&t)
            && (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    })
}

impl WorklistConfig {
    /// Every setting that cannot work, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.fhir_url.trim().is_empty() {
            out.push("worklist.fhir_url is not set (the EHR's FHIR R4 https address)".into());
        }
        if self.locations.is_empty() && self.practitioners.is_empty() {
            out.push("[worklist] names no clinic: set `locations = [\"Location/<id>\"]` or `practitioners = [\"Practitioner/<id>\"]`".into());
        }
        for l in &self.locations {
            if !reference_ok(l, &["Location"]) {
                out.push(format!(
                    "worklist.locations: '{}' is not a reference like \"Location/abc-123\"",
                    printable(l, 80)
                ));
            }
        }
        for p in &self.practitioners {
            if !reference_ok(p, &["Practitioner", "PractitionerRole"]) {
                out.push(format!(
                    "worklist.practitioners: '{}' is not a reference like \"Practitioner/abc-123\"",
                    printable(p, 80)
                ));
            }
        }
        let ranges = [
            ("horizon_working_days", self.horizon_working_days, 1, 20),
            ("lead_hours", self.lead_hours, 0, 168),
            ("refresh_minutes", self.refresh_minutes, 1, 1440),
        ];
        for (name, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                out.push(format!("worklist.{name} = {v} is outside {lo} to {hi}"));
            }
        }
        out
    }

    pub fn lead(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.lead_hours))
    }
}

/// Why the list could not be fetched, in the operator's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the worklist is not set up: {0}")]
    Config(String),
    #[error("cannot reach the EHR: {0}")]
    Unreachable(String),
    #[error(
        "the EHR at {0} refused Folio's credentials (401 Unauthorized): set a valid token in FOLIO_WORKLIST_TOKEN or `token_file` under [worklist]"
    )]
    Unauthorized(String),
    #[error(
        "the EHR at {0} does not let this station read appointments (403 Forbidden): ask its administrators for read access to Appointment, Patient and Location"
    )]
    Forbidden(String),
    #[error("the EHR at {url} answered {status}: {words}")]
    Refused {
        url: String,
        status: u16,
        words: String,
    },
    #[error("the EHR at {url} sent an answer Folio cannot read: {why}")]
    Malformed { url: String, why: String },
}

/// The list as fetched, with what the store said of each patient.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fetched {
    pub items: Vec<WorkItem>,
    /// Appointments left out for want of a start or a patient.
    pub skipped: usize,
    /// Searchset pages read.
    pub pages: usize,
    /// By NHS number: whether the central store holds documents for them
    /// (absent: not asked, or it could not say).
    pub in_store: BTreeMap<String, bool>,
    /// Why the store was not asked, or stopped answering, in words.
    pub store_note: Option<String>,
    /// Said to the operator (a token file others can read).
    pub warnings: Vec<String>,
}

/// The station's local offset from UTC at `at` (the system's time zone,
/// read through jiff: `time`'s own lookup refuses in a threaded process).
pub fn local_offset(at: OffsetDateTime) -> UtcOffset {
    let tz = jiff::tz::TimeZone::system();
    jiff::Timestamp::from_second(at.unix_timestamp())
        .ok()
        .and_then(|t| UtcOffset::from_whole_seconds(tz.to_offset(t).seconds()).ok())
        .unwrap_or(UtcOffset::UTC)
}

/// The clinics' upcoming appointments from `now` to the horizon, read from
/// the EHR, and what the central store holds for each patient.
pub fn fetch(
    wl: &WorklistConfig,
    upload: &UploadConfig,
    now: OffsetDateTime,
) -> Result<Fetched, FetchError> {
    if let Some(p) = wl.problems().into_iter().next() {
        return Err(FetchError::Config(p));
    }
    let cfg_err = |e: UploadError| FetchError::Config(e.to_string());
    let mut base = checked_url(
        &wl.fhir_url,
        upload,
        "EHR's FHIR URL",
        "put the token in FOLIO_WORKLIST_TOKEN, or `token_file` under [worklist]",
    )
    .map_err(cfg_err)?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let idle = Duration::from_secs(upload.timeout_secs.clamp(1, 120));
    let http = client(upload, idle).map_err(cfg_err)?;
    let mut warnings = Vec::new();
    let token = bearer_token(
        "FOLIO_WORKLIST_TOKEN",
        wl.token_file.as_deref(),
        wl.token.as_deref(),
        &mut warnings,
    )
    .map_err(cfg_err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Config(format!("cannot start the network runtime: {e}")))?;
    let ehr = Server {
        base,
        http: http.clone(),
        token,
        idle,
    };
    let end = worklist::horizon_end(now, local_offset(now), wl.horizon_working_days);
    let mut pages = Vec::new();
    for search in searches(wl, now, end) {
        rt.block_on(ehr.search(&search, &mut pages))?;
    }
    let (items, skipped) =
        worklist::read_searchset(&pages, wl.lead()).map_err(|e| FetchError::Malformed {
            url: ehr.shown(),
            why: e.0,
        })?;
    let mut fetched = Fetched {
        pages: pages.len(),
        items,
        skipped,
        warnings,
        ..Fetched::default()
    };
    if wl.check_store {
        rt.block_on(store_lookups(upload, http, idle, &mut fetched));
    }
    Ok(fetched)
}

/// The Appointment searches: one by location, one by practitioner (each
/// list an OR), from `now` to `end`, patients and locations included.
fn searches(wl: &WorklistConfig, now: OffsetDateTime, end: OffsetDateTime) -> Vec<String> {
    let rfc = |t: OffsetDateTime| {
        t.replace_nanosecond(0)
            .unwrap_or(t)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let common = format!(
        "date=ge{}&date=lt{}&_include=Appointment:patient&_include=Appointment:location&_count={PAGE_SIZE}",
        enc(&rfc(now)),
        enc(&rfc(end))
    );
    let mut out = Vec::new();
    if !wl.locations.is_empty() {
        out.push(format!(
            "Appointment?location={}&{common}",
            enc(&wl.locations.join(","))
        ));
    }
    if !wl.practitioners.is_empty() {
        out.push(format!(
            "Appointment?actor={}&{common}",
            enc(&wl.practitioners.join(","))
        ));
    }
    out
}

/// A query value, percent-encoded (`+` in an offset, `|`, `/`, `,`, `:`).
fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// One FHIR server, read with a token.
struct Server {
    base: Url,
    http: Client,
    token: Option<String>,
    idle: Duration,
}

/// What a GET brought back.
enum Answer {
    Json(Value),
    Status(StatusCode, Value),
}

impl Server {
    fn shown(&self) -> String {
        fhir::redact_url(self.base.as_str())
    }

    /// The first page of `query` and every page its `next` links lead to,
    /// added to `pages`.
    async fn search(&self, query: &str, pages: &mut Vec<Value>) -> Result<(), FetchError> {
        let mut url = self.base.join(query).map_err(|e| FetchError::Malformed {
            url: self.shown(),
            why: format!("cannot build the search: {e}"),
        })?;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = match self.get(&url).await? {
                Answer::Json(v) => v,
                Answer::Status(s, body) => return Err(self.refusal(s, &body)),
            };
            let next = worklist::next_link(&page).map(str::to_string);
            pages.push(page);
            let Some(next) = next else {
                return Ok(());
            };
            url = self.next_url(&next)?;
            if !seen.insert(url.to_string()) {
                return Err(self.malformed("its next link leads back to a page already read"));
            }
        }
        Err(self.malformed(&format!(
            "its answer goes on for more than {MAX_PAGES} pages; narrow the clinics or the horizon under [worklist]"
        )))
    }

    /// A `next` link, followed only to the configured server.
    fn next_url(&self, next: &str) -> Result<Url, FetchError> {
        let url = self.base.join(next).map_err(|e| {
            self.malformed(&format!(
                "its next link '{}' is not a URL ({e})",
                printable(&fhir::redact_url(next), 120)
            ))
        })?;
        if url.origin() != self.base.origin() {
            return Err(self.malformed(&format!(
                "its next link points to another server ({}); Folio sends its token only to the configured address",
                printable(&fhir::redact_url(next), 120)
            )));
        }
        Ok(url)
    }

    fn malformed(&self, why: &str) -> FetchError {
        FetchError::Malformed {
            url: self.shown(),
            why: why.to_string(),
        }
    }

    fn refusal(&self, status: StatusCode, body: &Value) -> FetchError {
        match status {
            StatusCode::UNAUTHORIZED => FetchError::Unauthorized(self.shown()),
            StatusCode::FORBIDDEN => FetchError::Forbidden(self.shown()),
            s if s.is_redirection() => self.malformed(&format!(
                "it answered {s}, sending Folio elsewhere: Folio does not follow redirects; set worklist.fhir_url to the EHR's own address"
            )),
            s => FetchError::Refused {
                url: self.shown(),
                status: s.as_u16(),
                words: diagnostics(body),
            },
        }
    }

    /// GETs `url` as FHIR JSON: its JSON when 2xx, else the status and the
    /// body (Null when not JSON).
    async fn get(&self, url: &Url) -> Result<Answer, FetchError> {
        let mut req = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/fhir+json")
            .timeout(self.idle);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let unreachable = |e: reqwest::Error| {
            FetchError::Unreachable(fhir::network_failure(&self.shown(), e).to_string())
        };
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let mut raw = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if raw.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(self.malformed(&format!(
                    "one page is larger than {} MiB",
                    MAX_PAGE_BYTES >> 20
                )));
            }
            raw.extend_from_slice(&chunk);
        }
        let json = serde_json::from_slice::<Value>(&raw);
        match (status.is_success(), json) {
            (true, Ok(v)) => Ok(Answer::Json(v)),
            (true, Err(_)) => {
                let kind = resp_kind(&raw);
                Err(self.malformed(&format!(
                    "it is not FHIR JSON ({kind}); check worklist.fhir_url is the FHIR base, not a web page"
                )))
            }
            (false, json) => Ok(Answer::Status(status, json.unwrap_or(Value::Null))),
        }
    }
}

/// What a non-JSON answer looks like, in a few words.
fn resp_kind(raw: &[u8]) -> String {
    let head = String::from_utf8_lossy(&raw[..raw.len().min(200)]).to_string();
    if raw.is_empty() {
        "an empty answer".into()
    } else if head.trim_start().starts_with('<') {
        "an HTML or XML page".into()
    } else {
        format!("it begins '{}'", printable(head.trim(), 40))
    }
}

/// Asks the central store, patient by patient, whether it holds documents
/// for them; a store that cannot say is noted, not an error: the list
/// stands without it.
async fn store_lookups(upload: &UploadConfig, http: Client, idle: Duration, f: &mut Fetched) {
    let Some(url) = &upload.fhir_url else {
        f.store_note =
            Some("The central store is not a FHIR server, so it was not asked who it holds".into());
        return;
    };
    let setup = || -> Result<Server, UploadError> {
        let mut base = checked_url(url, upload, "FHIR URL", "see [upload]")?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let token = bearer_token(
            "FOLIO_UPLOAD_TOKEN",
            upload.token_file.as_deref(),
            upload.token.as_deref(),
            &mut Vec::new(),
        )?;
        Ok(Server {
            base,
            http,
            token,
            idle,
        })
    };
    let store = match setup() {
        Ok(s) => s,
        Err(e) => {
            f.store_note = Some(format!("The central store was not asked: {e}"));
            return;
        }
    };
    let mut numbers: Vec<String> = f
        .items
        .iter()
        .filter_map(|i| i.nhs_number.clone())
        .collect();
    numbers.sort();
    numbers.dedup();
    for nhs in numbers.into_iter().take(MAX_STORE_LOOKUPS) {
        let query = format!(
            "DocumentReference?subject:identifier={}&_count=1",
            enc(&format!("{NHS_SYSTEM}|{nhs}"))
        );
        let answer = match store.base.join(&query) {
            Ok(u) => store.get(&u).await,
            Err(e) => Err(store.malformed(&e.to_string())),
        };
        match answer {
            Ok(Answer::Json(v)) if v["resourceType"] == "Bundle" => {
                let held = v["total"].as_u64().is_some_and(|n| n > 0)
                    || v["entry"].as_array().is_some_and(|e| !e.is_empty());
                f.in_store.insert(nhs, held);
            }
            Ok(Answer::Json(_)) => {
                f.store_note = Some("The central store's answer to a search by patient was not a Bundle; not asked further".into());
                return;
            }
            Ok(Answer::Status(s, body)) => {
                f.store_note = Some(match s.as_u16() {
                    400 | 404 | 405 | 501 => format!(
                        "The central store does not answer searches by patient ({s}: {}), so it was not asked who it holds",
                        diagnostics(&body)
                    ),
                    _ => format!(
                        "The central store answered {s} to a search by patient: {}; not asked further",
                        diagnostics(&body)
                    ),
                });
                return;
            }
            Err(e) => {
                f.store_note = Some(format!(
                    "The central store was not asked further: {}",
                    e.to_string().replace("the EHR", "the store")
                ));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_config() -> WorklistConfig {
        WorklistConfig {
            fhir_url: "https://ehr.example.nhs.uk/fhir".into(),
            locations: vec!["Location/cardio-1".into()],
            ..WorklistConfig::default()
        }
    }

    #[test]
    fn settings_are_checked_in_words() {
        assert!(ok_config().problems().is_empty());
        let bad = WorklistConfig {
            fhir_url: String::new(),
            locations: vec!["Location/a b".into(), "Patient/x".into()],
            practitioners: vec!["Practitioner/\u{1b}[31m".into()],
            horizon_working_days: 0,
            lead_hours: 500,
            ..ok_config()
        };
        let p = bad.problems().join("\n");
        for want in [
            "fhir_url is not set",
            "'Location/a b' is not a reference",
            "'Patient/x' is not a reference",
            "horizon_working_days = 0",
            "lead_hours = 500",
        ] {
            assert!(p.contains(want), "{want} in {p}");
        }
        assert!(!p.contains('\u{1b}'), "{p}");
        let none = WorklistConfig {
            locations: vec![],
            ..ok_config()
        };
        assert!(none.problems()[0].contains("names no clinic"));
        let token = WorklistConfig {
            token: Some("s3cret".into()),
            ..ok_config()
        };
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn searches_ask_for_the_horizon_by_location_and_by_practitioner() {
        let wl = WorklistConfig {
            practitioners: vec!["Practitioner/dr-1".into()],
            locations: vec!["Location/a".into(), "Location/b".into()],
            ..ok_config()
        };
        let now = time::macros::datetime!(2026-12-07 09:30:00.123 +00:00);
        let end = time::macros::datetime!(2026-12-10 00:00 +00:00);
        let s = searches(&wl, now, end);
        assert_eq!(s.len(), 2);
        assert!(
            s[0].starts_with("Appointment?location=Location%2Fa%2CLocation%2Fb&date=ge2026-12-07T09%3A30%3A00Z&date=lt2026-12-10T00%3A00%3A00Z&_include=Appointment:patient&_include=Appointment:location"),
            "{}",
            s[0]
        );
        assert!(s[1].starts_with("Appointment?actor=Practitioner%2Fdr-1&"));
    }

    #[test]
    fn a_credential_in_the_url_or_plain_http_elsewhere_is_refused() {
        let upload = UploadConfig::default();
        for (url, want) in [
            (
                "https://me:pw@ehr.example/fhir",
                "credentials do not belong in a URL",
            ),
            ("https://ehr.example/fhir?token=x", "has a query"),
            ("http://ehr.example/fhir", "plain http"),
        ] {
            let wl = WorklistConfig {
                fhir_url: url.into(),
                ..ok_config()
            };
            let e = fetch(&wl, &upload, OffsetDateTime::now_utc()).unwrap_err();
            let s = e.to_string();
            assert!(matches!(e, FetchError::Config(_)), "{s}");
            assert!(s.contains(want), "{s}");
            assert!(!s.contains("pw") && !s.contains("token=x"), "{s}");
        }
    }

    #[test]
    fn a_next_link_is_followed_only_to_the_configured_server() {
        let ehr = Server {
            base: Url::parse("https://ehr.example.nhs.uk/fhir/").unwrap(),
            http: Client::new(),
            token: Some("t".into()),
            idle: Duration::from_secs(1),
        };
        let same = ehr
            .next_url("https://ehr.example.nhs.uk/fhir?_getpages=abc&_getpagesoffset=3")
            .unwrap();
        assert_eq!(same.query(), Some("_getpages=abc&_getpagesoffset=3"));
        assert_eq!(
            ehr.next_url("Appointment?page=2").unwrap().as_str(),
            "https://ehr.example.nhs.uk/fhir/Appointment?page=2",
            "a relative link is the server's own"
        );
        for elsewhere in [
            "https://evil.example/fhir?_getpages=abc",
            "http://ehr.example.nhs.uk/fhir?_getpages=abc",
            "https://ehr.example.nhs.uk:8443/fhir?page=2",
        ] {
            let e = ehr.next_url(elsewhere).unwrap_err().to_string();
            assert!(e.contains("points to another server"), "{e}");
            assert!(!e.contains("_getpages=abc"), "its query is not shown: {e}");
        }
    }

    #[test]
    fn an_answer_that_is_not_json_is_described_in_a_few_escaped_words() {
        assert_eq!(resp_kind(b""), "an empty answer");
        assert_eq!(
            resp_kind(b"  <!DOCTYPE html><title>Sign in"),
            "an HTML or XML page"
        );
        let truncated = resp_kind(b"{\x1b[2J\"resourceType\": \"Bundle\", \"entry\": [{\"full");
        assert!(truncated.starts_with("it begins '{"), "{truncated}");
        assert!(
            !truncated.contains('\u{1b}') && truncated.chars().count() < 60,
            "{truncated}"
        );
    }
}
