//! A FHIR document store on 127.0.0.1 for the upload tests and benchmark: a
//! small HTTP/1.1 server on std sockets (so faults can be injected at the
//! socket: a reset in the middle of a body, a slow answer) that accepts ITI-65
//! transaction Bundles, validates each strictly, stores DocumentReferences by
//! masterIdentifier (conditional create), and answers searches by identifier.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do to the next Bundle POSTed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Status(u16),
    /// 503 or 429 with Retry-After seconds.
    Busy(u16, u64),
    /// Read half the body, then reset the connection.
    ResetMidBody,
    /// Store the Bundle, then answer only after this long.
    SlowAnswer(Duration),
    /// 400 with an OperationOutcome carrying this diagnostic.
    BadRequest(String),
}

/// A document as stored.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub master_identifier: String,
    pub size: u64,
    pub sha1_b64: String,
    pub sha256: String,
    pub subject: Value,
    pub resource: Value,
    /// How many times a Bundle created it (must end at 1).
    pub creates: u32,
}

/// One Bundle POSTed: when it arrived, the fault it met and when it was answered.
#[derive(Debug, Clone)]
pub struct Post {
    pub arrived: Instant,
    pub fault: Option<Fault>,
    /// When the answer (or the reset) went out.
    pub answered: Option<Instant>,
}

#[derive(Default)]
pub struct State {
    /// Every POST in order of arrival.
    pub post_log: Vec<Post>,
    pub faults: VecDeque<Fault>,
    pub docs: HashMap<String, StoredDoc>,
    pub binaries: u64,
    pub lists: HashMap<String, u32>,
    pub posts: u32,
    /// Validation failures (a correct client causes none).
    pub invalid: Vec<String>,
    /// Answer duplicates with 409 + OperationOutcome instead of conditional create.
    pub duplicates_as_409: bool,
    /// Read request bodies at most this fast (bytes/s), to make uploads slow.
    pub throttle_bytes_per_sec: Option<u64>,
    /// Bytes of Bundle bodies received so far.
    pub body_bytes: u64,
    pub auth_seen: Vec<Option<String>>,
    /// The bytes of each document created, as decoded from its Binary, by
    /// masterIdentifier.
    pub pdfs: HashMap<String, Vec<u8>>,
}

pub struct FhirServer {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl FhirServer {
    /// Plain http on 127.0.0.1.
    pub fn start() -> FhirServer {
        Self::listen(None)
    }

    /// https://localhost with this TLS configuration (the tests' own CA).
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> FhirServer {
        Self::listen(Some(tls))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> FhirServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let base = match tls {
            Some(_) => format!("https://localhost:{port}/fhir"),
            None => format!("http://127.0.0.1:{port}/fhir"),
        };
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, tls) = (s.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve(conn, s),
                    Some(cfg) => {
                        if let Ok(c) = rustls::ServerConnection::new(cfg) {
                            serve(rustls::StreamOwned::new(c, conn), s)
                        }
                    }
                });
            }
        });
        FhirServer { base, state }
    }

    pub fn fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

fn read_head(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some(Request {
        method,
        path,
        headers,
    })
}

/// A connection the server speaks HTTP over, plain or TLS.
trait Conn: Read + Write {
    /// Drops the connection abruptly (a TCP reset where possible).
    fn reset(self);
}

impl Conn for TcpStream {
    fn reset(self) {
        reset(self)
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn reset(self) {
        reset(self.sock)
    }
}

fn respond(w: &mut impl Write, status: &str, extra: &[(&str, String)], body: &Value) {
    let text = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n",
        text.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
}

fn outcome(code: &str, diagnostics: &str) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]})
}

/// Closes with a TCP reset rather than an orderly close.
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

fn serve(stream: impl Conn, state: Arc<Mutex<State>>) {
    let mut r = BufReader::with_capacity(1 << 16, stream);
    while let Some(req) = read_head(&mut r) {
        let len: u64 = req
            .headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if req.method == "GET" {
            let body = search(&state, &req.path);
            respond(r.get_mut(), "200 OK", &[], &body);
            continue;
        }
        let (fault, n) = {
            let mut s = state.lock().unwrap();
            s.posts += 1;
            s.auth_seen.push(req.headers.get("authorization").cloned());
            let fault = s.faults.pop_front();
            s.post_log.push(Post {
                arrived: Instant::now(),
                fault: fault.clone(),
                answered: None,
            });
            (fault, s.post_log.len() - 1)
        };
        let answered = || state.lock().unwrap().post_log[n].answered = Some(Instant::now());
        if fault == Some(Fault::ResetMidBody) {
            let mut half = vec![0u8; (len / 2) as usize];
            let _ = r.read_exact(&mut half);
            r.into_inner().reset();
            answered();
            return;
        }
        let throttle = state.lock().unwrap().throttle_bytes_per_sec;
        let Some(body) = read_body(&mut r, len, throttle, &state) else {
            return;
        };
        match fault {
            Some(Fault::Status(code)) => {
                respond(
                    r.get_mut(),
                    &format!("{code} Server Error"),
                    &[],
                    &outcome("exception", "injected failure"),
                );
                answered();
                continue;
            }
            Some(Fault::Busy(code, secs)) => {
                respond(
                    r.get_mut(),
                    &format!("{code} Busy"),
                    &[("Retry-After", secs.to_string())],
                    &outcome("throttled", "busy"),
                );
                answered();
                continue;
            }
            Some(Fault::BadRequest(d)) => {
                respond(r.get_mut(), "400 Bad Request", &[], &outcome("invalid", &d));
                answered();
                continue;
            }
            _ => {}
        }
        let (status, answer) = transaction(&state, &body);
        if let Some(Fault::SlowAnswer(d)) = fault {
            std::thread::sleep(d);
        }
        respond(r.get_mut(), status, &[], &answer);
        answered();
    }
}

fn read_body(
    r: &mut impl Read,
    len: u64,
    throttle: Option<u64>,
    state: &Arc<Mutex<State>>,
) -> Option<Vec<u8>> {
    let mut body = Vec::with_capacity(len as usize);
    let mut buf = vec![0u8; 64 * 1024];
    while (body.len() as u64) < len {
        let want = buf.len().min((len - body.len() as u64) as usize);
        let n = r.read(&mut buf[..want]).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
        state.lock().unwrap().body_bytes += n as u64;
        if let Some(bps) = throttle {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / bps as f64));
        }
    }
    Some(body)
}

fn search(state: &Arc<Mutex<State>>, path: &str) -> Value {
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let wanted = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("identifier="))
        .map(percent_decode)
        .unwrap_or_default();
    let value = wanted
        .rsplit_once('|')
        .map(|(_, v)| v.to_string())
        .unwrap_or(wanted);
    let s = state.lock().unwrap();
    let entries: Vec<Value> = s
        .docs
        .get(&value)
        .map(|d| json!({"fullUrl": format!("DocumentReference/{}", d.master_identifier.trim_start_matches("urn:uuid:")), "resource": d.resource}))
        .into_iter()
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Validates and applies a transaction Bundle atomically.
fn transaction(state: &Arc<Mutex<State>>, body: &[u8]) -> (&'static str, Value) {
    let bundle: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return invalid(state, format!("not JSON: {e}")),
    };
    let checked = match validate(&bundle) {
        Ok(c) => c,
        Err(e) => return invalid(state, e),
    };
    let mut s = state.lock().unwrap();
    let mut responses = Vec::new();
    for entry in bundle["entry"].as_array().unwrap() {
        let r = &entry["resource"];
        let status = match r["resourceType"].as_str().unwrap() {
            "DocumentReference" => {
                let mi = r["masterIdentifier"]["value"].as_str().unwrap().to_string();
                match s.docs.get(&mi) {
                    Some(_) if s.duplicates_as_409 => {
                        return (
                            "409 Conflict",
                            outcome(
                                "duplicate",
                                &format!("a DocumentReference with masterIdentifier {mi} exists"),
                            ),
                        );
                    }
                    Some(_) => "200 OK".to_string(),
                    None => {
                        let a = &r["content"][0]["attachment"];
                        let doc = StoredDoc {
                            master_identifier: mi.clone(),
                            size: a["size"].as_u64().unwrap(),
                            sha1_b64: a["hash"].as_str().unwrap().to_string(),
                            sha256: checked.sha256_of[a["url"].as_str().unwrap()].clone(),
                            subject: r["subject"].clone(),
                            resource: r.clone(),
                            creates: 1,
                        };
                        let url = a["url"].as_str().unwrap();
                        s.pdfs.insert(mi.clone(), checked.bytes_of[url].clone());
                        s.docs.insert(mi, doc);
                        "201 Created".to_string()
                    }
                }
            }
            "Binary" => {
                s.binaries += 1;
                "201 Created".into()
            }
            "List" => {
                let id = r["identifier"][0]["value"].as_str().unwrap().to_string();
                *s.lists.entry(id).or_default() += 1;
                "201 Created".into()
            }
            _ => "200 OK".into(),
        };
        let rt = r["resourceType"].as_str().unwrap();
        responses.push(json!({"response": {"status": status, "location": format!("{rt}/{}/_history/1", uuid_tail(entry["fullUrl"].as_str().unwrap()))}}));
    }
    (
        "200 OK",
        json!({"resourceType": "Bundle", "type": "transaction-response", "entry": responses}),
    )
}

fn uuid_tail(full_url: &str) -> &str {
    full_url.trim_start_matches("urn:uuid:")
}

fn invalid(state: &Arc<Mutex<State>>, why: String) -> (&'static str, Value) {
    state.lock().unwrap().invalid.push(why.clone());
    ("400 Bad Request", outcome("invalid", &why))
}

struct Checked {
    /// SHA-256 (hex) of each Binary's decoded bytes, by fullUrl.
    sha256_of: HashMap<String, String>,
    /// Each Binary's decoded bytes, by fullUrl.
    bytes_of: HashMap<String, Vec<u8>>,
}

/// The strict checks: resource types, references resolving inside the Bundle,
/// base64, size and hash matching the bytes, a PDF header.
fn validate(b: &Value) -> Result<Checked, String> {
    if b["resourceType"] != "Bundle" || b["type"] != "transaction" {
        return Err("not a transaction Bundle".into());
    }
    let entries = b["entry"].as_array().ok_or("no entries")?;
    let mut by_url: HashMap<&str, &Value> = HashMap::new();
    for e in entries {
        let url = e["fullUrl"].as_str().ok_or("entry without fullUrl")?;
        if !url.starts_with("urn:uuid:") || uuid::Uuid::parse_str(&url[9..]).is_err() {
            return Err(format!("fullUrl {url} is not a urn:uuid"));
        }
        let rt = e["resource"]["resourceType"]
            .as_str()
            .ok_or("entry without resource")?;
        if !["List", "DocumentReference", "Binary", "Device"].contains(&rt) {
            return Err(format!("unexpected resource type {rt}"));
        }
        if e["request"]["method"] != "POST" || e["request"]["url"] != rt {
            return Err(format!("entry {url}: request must be POST {rt}"));
        }
        if by_url.insert(url, &e["resource"]).is_some() {
            return Err(format!("fullUrl {url} twice"));
        }
    }
    let of_type = |t: &'static str| {
        entries
            .iter()
            .filter(move |e| e["resource"]["resourceType"] == t)
    };
    let resolves = |r: &Value, t: &str| -> Result<(), String> {
        let u = r.as_str().ok_or("reference missing")?;
        match by_url.get(u) {
            Some(res) if res["resourceType"] == t => Ok(()),
            _ => Err(format!(
                "reference {u} does not resolve to a {t} in the Bundle"
            )),
        }
    };
    let lists: Vec<_> = of_type("List").collect();
    if lists.len() != 1 {
        return Err("exactly one SubmissionSet List expected".into());
    }
    let list = &lists[0]["resource"];
    if list["code"]["coding"][0]["code"] != "submissionset" || list["status"] != "current" {
        return Err("the List is not a current submissionset".into());
    }
    resolves(&list["source"]["reference"], "Device")?;
    let items = list["entry"].as_array().ok_or("List without entries")?;
    for i in items {
        resolves(&i["item"]["reference"], "DocumentReference")?;
    }
    let mut sha256_of = HashMap::new();
    let mut bytes_of = HashMap::new();
    let docs: Vec<_> = of_type("DocumentReference").collect();
    if docs.is_empty() || docs.len() != items.len() {
        return Err("the List must name every DocumentReference".into());
    }
    for d in docs {
        let r = &d["resource"];
        let mi = r["masterIdentifier"]["value"].as_str().unwrap_or("");
        if !mi.starts_with("urn:uuid:") || r["status"] != "current" {
            return Err(format!(
                "DocumentReference {mi}: masterIdentifier urn:uuid and status current required"
            ));
        }
        let sys = r["subject"]["identifier"]["system"].as_str().unwrap_or("");
        if r["subject"]["identifier"]["value"]
            .as_str()
            .unwrap_or("")
            .is_empty()
            || sys.is_empty()
        {
            return Err(format!(
                "DocumentReference {mi}: subject identifier missing"
            ));
        }
        if sys == "https://fhir.nhs.uk/Id/nhs-number" {
            let nhs = r["subject"]["identifier"]["value"].as_str().unwrap();
            if nhs.len() != 10 || !nhs.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("{nhs} is not an NHS number"));
            }
        }
        if r["type"]["coding"][0]["code"].as_str().is_none() || r["date"].as_str().is_none() {
            return Err(format!("DocumentReference {mi}: type and date required"));
        }
        resolves(&r["author"][0]["reference"], "Device")?;
        let a = &r["content"][0]["attachment"];
        if a["contentType"] != "application/pdf" {
            return Err("attachment must be application/pdf".into());
        }
        let bin_url = a["url"].as_str().ok_or("attachment url missing")?;
        resolves(&a["url"], "Binary")?;
        let data = by_url[bin_url]["data"]
            .as_str()
            .ok_or("Binary without data")?;
        let bytes = B64
            .decode(data)
            .map_err(|e| format!("Binary {bin_url}: bad base64: {e}"))?;
        if a["size"].as_u64() != Some(bytes.len() as u64) {
            return Err(format!(
                "attachment size {} but {} bytes",
                a["size"],
                bytes.len()
            ));
        }
        if a["hash"].as_str() != Some(&B64.encode(Sha1::digest(&bytes))) {
            return Err("attachment hash is not the SHA-1 of the bytes".into());
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if a["extension"][0]["valueString"].as_str() != Some(&sha256) {
            return Err("attachment SHA-256 extension does not match".into());
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err("the Binary is not a PDF".into());
        }
        sha256_of.insert(bin_url.to_string(), sha256);
        bytes_of.insert(bin_url.to_string(), bytes);
    }
    Ok(Checked {
        sha256_of,
        bytes_of,
    })
}
