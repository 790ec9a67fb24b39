//! A FHIR document store on 127.0.0.1 for the upload tests and benchmark: a
//! small HTTP/1.1 server on std sockets (so faults can be injected at the
//! socket: a reset in the middle of a body, a slow answer) that behaves as a
//! STRICT ITI-65 Document Recipient for IHE MHD 4.2.x Minimal
//! (`IHE.MHD.Minimal.ProvideBundle`, its SubmissionSet and DocumentReference,
//! the uniqueId and entryUUID identifier profiles; input/fsh of IHE/ITI.MHD).
//!
//! Every Bundle is checked against every constraint of those profiles
//! (cardinalities, fixed values, identifier shapes), the general rules an
//! engine applies (references resolve, contained resources are referenced,
//! fullUrls unique, no identifier is a fullUrl: an engine rewrites those) and
//! the content (base64, size, SHA-1, SHA-256, PDF header). A Bundle that
//! breaks any is answered 422 with an OperationOutcome, one issue per broken
//! constraint naming its element, and each is recorded in `State::invalid`.
//! Otherwise the transaction is applied like an engine does: every entry's
//! `request.ifNoneExist` (identifier=, _tag=) is evaluated against what is
//! stored (200 OK and nothing created on a match, 201 Created otherwise), and
//! fullUrls inside the stored resources are rewritten to `Type/id`.
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
    /// The server's id (`DocumentReference/<id>`).
    pub id: String,
    pub master_identifier: String,
    pub size: u64,
    pub sha1_b64: String,
    pub sha256: String,
    pub subject: Value,
    /// As stored: fullUrls rewritten to `Type/id`.
    pub resource: Value,
    /// How many times a Bundle created a DocumentReference with this
    /// masterIdentifier (must end at 1).
    pub creates: u32,
}

/// Any other resource as stored (a Binary without its data).
#[derive(Debug, Clone)]
pub struct StoredResource {
    pub resource_type: String,
    pub id: String,
    /// As stored: fullUrls rewritten to `Type/id`.
    pub resource: Value,
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
    /// DocumentReferences by masterIdentifier value.
    pub docs: HashMap<String, StoredDoc>,
    /// Every other resource created, in order.
    pub stored: Vec<StoredResource>,
    /// Conditional creates that matched (answered 200, nothing created), by
    /// resource type.
    pub matched: HashMap<String, u32>,
    pub posts: u32,
    /// Every broken constraint, one diagnostics text each (a correct client
    /// causes none).
    pub invalid: Vec<String>,
    /// Answer duplicates with 409 + OperationOutcome instead of conditional create.
    pub duplicates_as_409: bool,
    /// Read request bodies at most this fast (bytes/s), to make uploads slow.
    pub throttle_bytes_per_sec: Option<u64>,
    /// Bytes of Bundle bodies received so far.
    pub body_bytes: u64,
    /// The Authorization header of every request (GET or not), in order.
    pub auth_seen: Vec<Option<String>>,
    /// Binaries stored by `PUT Binary/<id>` (Folio's `binaries = "separate"`),
    /// with their data, by id.
    pub put_binaries: HashMap<String, Value>,
    /// The bytes of each document created, as decoded from its Binary, by
    /// masterIdentifier.
    pub pdfs: HashMap<String, Vec<u8>>,
    /// Keep every Bundle received (parsed, whole) in `bundles`.
    pub capture: bool,
    pub bundles: Vec<Value>,
    /// The last server-assigned id.
    pub next_id: u64,
    /// The content of every Binary as stored (in a transaction or by PUT),
    /// by id: what `GET Binary/<id>` returns.
    pub binary_data: HashMap<String, Vec<u8>>,
    /// Store this many of the next Binaries with their last bytes cut off,
    /// saying nothing (a silently broken store).
    pub truncate_binaries: u32,
    /// Answer this many of the next DocumentReferences 201 Created, then
    /// keep nothing of them (a store that loses a document after 200).
    pub lose_documents: u32,
    /// Binaries stored truncated, DocumentReferences lost, so far.
    pub truncated: u32,
    pub lost: u32,
}

impl State {
    /// Keeps a Binary's content, cut short if the store is to truncate it.
    fn keep_binary(&mut self, id: &str, mut bytes: Vec<u8>) {
        if self.truncate_binaries > 0 {
            self.truncate_binaries -= 1;
            self.truncated += 1;
            bytes.truncate(bytes.len().saturating_sub(1000).max(bytes.len() / 2));
        }
        self.binary_data.insert(id.to_string(), bytes);
    }
}

impl State {
    /// How many resources of this type were created (conditional creates
    /// that matched are not counted).
    pub fn count(&self, resource_type: &str) -> usize {
        if resource_type == "DocumentReference" {
            return self.docs.values().map(|d| d.creates as usize).sum();
        }
        self.stored
            .iter()
            .filter(|r| r.resource_type == resource_type)
            .count()
    }

    /// The stored resources of this type (DocumentReferences included).
    pub fn resources(&self, resource_type: &str) -> Vec<(String, Value)> {
        if resource_type == "DocumentReference" {
            return self
                .docs
                .values()
                .map(|d| (d.id.clone(), d.resource.clone()))
                .collect();
        }
        self.stored
            .iter()
            .filter(|r| r.resource_type == resource_type)
            .map(|r| (r.id.clone(), r.resource.clone()))
            .collect()
    }
}

pub struct FhirServer {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl FhirServer {
    /// Plain http on 127.0.0.1.
    pub fn start() -> FhirServer {
        Self::listen(None, None)
    }

    /// Plain http whose connections have a small receive buffer (`bytes`),
    /// so a slow reader (`throttle_bytes_per_sec`) holds the client back as
    /// a slow link does, rather than the kernel taking the whole body at once.
    pub fn start_with_receive_buffer(bytes: usize) -> FhirServer {
        Self::listen(None, Some(bytes))
    }

    /// https://localhost with this TLS configuration (the tests' own CA).
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> FhirServer {
        Self::listen(Some(tls), None)
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>, receive_buffer: Option<usize>) -> FhirServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        if let Some(bytes) = receive_buffer {
            // Accepted sockets inherit it, and the window follows from it.
            let v = bytes as libc::c_int;
            let rc = unsafe {
                libc::setsockopt(
                    listener.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    &v as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_RCVBUF");
        }
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

    /// POSTs a Bundle as it stands (plain http only): the status code and the
    /// answer's JSON (Null when not JSON).
    pub fn post(&self, bundle: &Value) -> (u16, Value) {
        let addr = self
            .base
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .expect("post() speaks plain http");
        let mut c = TcpStream::connect(addr).expect("connect to the test server");
        let body = bundle.to_string();
        let head = format!(
            "POST /fhir HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).expect("send");
        c.write_all(body.as_bytes()).expect("send");
        c.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).expect("read the answer");
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let body = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, body)
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

fn respond_raw(w: &mut impl Write, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nETag: W/\"1\"\r\n\r\n",
        body.len()
    );
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(body);
    let _ = w.flush();
}

/// `GET Binary/<id>` asking for the content (not for JSON): the bytes as
/// stored, or 404. None for any other request.
fn read_binary(state: &Arc<Mutex<State>>, req: &Request) -> Option<(&'static str, Vec<u8>)> {
    let (_, id) = req
        .path
        .split_once('?')
        .map_or(req.path.as_str(), |(p, _)| p)
        .rsplit_once("/Binary/")?;
    let accept = req.headers.get("accept").map(String::as_str).unwrap_or("");
    if accept.contains("json") {
        return None;
    }
    let s = state.lock().unwrap();
    Some(match s.binary_data.get(id) {
        Some(bytes) => ("200 OK", bytes.clone()),
        None => ("404 Not Found", Vec::new()),
    })
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
            state
                .lock()
                .unwrap()
                .auth_seen
                .push(req.headers.get("authorization").cloned());
            if let Some((status, pdf)) = read_binary(&state, &req) {
                respond_raw(r.get_mut(), status, "application/pdf", &pdf);
                continue;
            }
            let (status, body) = search(&state, &req.path);
            respond(r.get_mut(), status, &[], &body);
            continue;
        }
        let (fault, n) = log_post(&state, &req);
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
        if answer_fault(r.get_mut(), fault.as_ref()) {
            answered();
            continue;
        }
        let (status, answer) = match req.path.rsplit_once("/Binary/") {
            Some((_, id)) if req.method == "PUT" => put_binary(&state, id, &body),
            _ => transaction(&state, &body),
        };
        if let Some(Fault::SlowAnswer(d)) = fault {
            std::thread::sleep(d);
        }
        respond(r.get_mut(), status, &[], &answer);
        answered();
    }
}

/// Counts a POST or PUT and logs it with the fault it is to meet; returns the
/// fault and the log entry's index.
fn log_post(state: &Arc<Mutex<State>>, req: &Request) -> (Option<Fault>, usize) {
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
}

/// Answers with an injected failure if `fault` is one; says whether it did.
fn answer_fault(w: &mut impl Write, fault: Option<&Fault>) -> bool {
    match fault {
        Some(Fault::Status(code)) => respond(
            w,
            &format!("{code} Server Error"),
            &[],
            &outcome("exception", "injected failure"),
        ),
        Some(Fault::Busy(code, secs)) => respond(
            w,
            &format!("{code} Busy"),
            &[("Retry-After", secs.to_string())],
            &outcome("throttled", "busy"),
        ),
        Some(Fault::BadRequest(d)) => respond(w, "400 Bad Request", &[], &outcome("invalid", d)),
        _ => return false,
    }
    true
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

/// GET: `metadata`, or a search `[Type]?identifier=...` / `?_tag=...`.
fn search(state: &Arc<Mutex<State>>, path: &str) -> (&'static str, Value) {
    let (resource_path, query) = path.split_once('?').unwrap_or((path, ""));
    let rt = resource_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    if rt == "metadata" {
        return (
            "200 OK",
            json!({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]}),
        );
    }
    let params = match parse_query(query) {
        Ok(p) => p,
        Err(e) => return ("400 Bad Request", outcome("not-supported", &e)),
    };
    let s = state.lock().unwrap();
    let entries: Vec<Value> = s
        .resources(rt)
        .into_iter()
        .filter(|(_, r)| matches_query(r, &params))
        .map(|(id, r)| json!({"fullUrl": format!("{rt}/{id}"), "resource": r}))
        .collect();
    (
        "200 OK",
        json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries}),
    )
}

/// A search's parameters, percent-decoded; only `identifier` and `_tag` are
/// supported (as a real engine, anything else is refused, not ignored).
fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let k = percent_decode(k);
        if !matches!(k.as_str(), "identifier" | "_tag") {
            return Err(format!("unsupported search parameter {k:?}"));
        }
        out.push((k, percent_decode(v)));
    }
    Ok(out)
}

/// Splits on a separator not escaped with a backslash, then unescapes.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let last = parts.last_mut().expect("one part");
                last.push('\\');
                if let Some(n) = chars.next() {
                    last.push(n);
                }
            }
            c if c == sep => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Whether a (system, code) pair matches a token search value: `code`,
/// `system|code`, `|code` (no system) or `system|`; commas for "any of".
fn token_matches(token: &str, system: Option<&str>, code: Option<&str>) -> bool {
    split_unescaped(token, ',').iter().any(|alt| {
        let parts = split_unescaped(alt, '|');
        match parts.as_slice() {
            [c] => code == Some(unescape(c).as_str()),
            [sys, c] => {
                let (sys, c) = (unescape(sys), unescape(c));
                let sys_ok = if sys.is_empty() {
                    system.is_none()
                } else {
                    system == Some(sys.as_str())
                };
                sys_ok && (c.is_empty() || code == Some(c.as_str()))
            }
            _ => false,
        }
    })
}

/// Whether a stored resource matches every parameter.
fn matches_query(r: &Value, params: &[(String, String)]) -> bool {
    params.iter().all(|(k, v)| {
        let candidates: Vec<&Value> = match k.as_str() {
            "identifier" => {
                let mut c: Vec<&Value> = items(&r["identifier"]).collect();
                if r["resourceType"] == "DocumentReference" {
                    c.extend(items(&r["masterIdentifier"]));
                }
                c
            }
            _ => items(&r["meta"]["tag"]).collect(),
        };
        let code_key = if k == "identifier" { "value" } else { "code" };
        candidates
            .iter()
            .any(|c| token_matches(v, c["system"].as_str(), c[code_key].as_str()))
    })
}

/// The elements of a repeating element (or the one value of a single one).
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    let slice: &[Value] = match v {
        Value::Null => &[],
        Value::Array(a) => a,
        other => std::slice::from_ref(other),
    };
    slice.iter()
}

/// How many times an element occurs.
fn card(v: &Value) -> usize {
    items(v).count()
}

/// `PUT Binary/<id>`: a Binary with a client-chosen id, created or replaced
/// (its data must be a PDF in base64).
fn put_binary(state: &Arc<Mutex<State>>, id: &str, body: &[u8]) -> (&'static str, Value) {
    let r: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut why = Vec::new();
    if r["resourceType"] != "Binary" {
        why.push("Binary.resourceType: must be Binary".to_string());
    }
    if r["id"] != id {
        why.push(format!("Binary.id: {} but the URL says {id}", r["id"]));
    }
    if r["contentType"].as_str().is_none() {
        why.push("Binary.contentType: 1..1 required".into());
    }
    match r["data"].as_str().map(|d| B64.decode(d)) {
        Some(Ok(bytes)) if bytes.starts_with(b"%PDF-") => {}
        Some(Ok(_)) => why.push("Binary.data: not a PDF (no %PDF- header)".into()),
        Some(Err(e)) => why.push(format!("Binary.data: not base64: {e}")),
        None => why.push("Binary.data: 1..1 required".into()),
    }
    let mut s = state.lock().unwrap();
    if !why.is_empty() {
        s.invalid.extend(why.iter().cloned());
        return (
            "422 Unprocessable Entity",
            outcome("invalid", &why.join("; ")),
        );
    }
    if let Some(Ok(bytes)) = r["data"].as_str().map(|d| B64.decode(d)) {
        s.keep_binary(id, bytes);
    }
    let created = s.put_binaries.insert(id.to_string(), r.clone()).is_none();
    let mut stored = r;
    if let Some(m) = stored.as_object_mut() {
        m.remove("data");
    }
    if created {
        s.stored.push(StoredResource {
            resource_type: "Binary".into(),
            id: id.to_string(),
            resource: stored,
        });
        ("201 Created", json!({"resourceType": "Binary", "id": id}))
    } else {
        ("200 OK", json!({"resourceType": "Binary", "id": id}))
    }
}

/// Validates and applies a transaction Bundle atomically.
fn transaction(state: &Arc<Mutex<State>>, body: &[u8]) -> (&'static str, Value) {
    let bundle: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("not JSON: {e}");
            state.lock().unwrap().invalid.push(why.clone());
            return ("400 Bad Request", outcome("invalid", &why));
        }
    };
    {
        let mut s = state.lock().unwrap();
        if s.capture {
            s.bundles.push(bundle.clone());
        }
    }
    let held = state.lock().unwrap().put_binaries.clone();
    let (violations, checked) = check_bundle(&bundle, &held);
    if !violations.is_empty() {
        let mut s = state.lock().unwrap();
        s.invalid
            .extend(violations.iter().map(Violation::diagnostics));
        return ("422 Unprocessable Entity", violations_outcome(&violations));
    }
    apply(state, &bundle, &checked)
}

/// Applies a valid transaction: conditional creates evaluated, ids assigned,
/// fullUrls rewritten to `Type/id`, resources stored.
fn apply(state: &Arc<Mutex<State>>, bundle: &Value, checked: &Checked) -> (&'static str, Value) {
    let mut s = state.lock().unwrap();
    let entries: Vec<&Value> = items(&bundle["entry"]).collect();
    let (plan, rewrite) = match plan_entries(&mut s, &entries) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let mut responses = Vec::new();
    for (e, (rt, id, created)) in entries.iter().zip(plan) {
        let location = format!("{rt}/{id}/_history/1");
        if !created {
            *s.matched.entry(rt.clone()).or_default() += 1;
            responses.push(json!({"response": {"status": "200 OK", "location": location}}));
            continue;
        }
        let mut r = e["resource"].clone();
        if let Some(m) = r.as_object_mut() {
            m.remove("data");
            m.insert("id".into(), Value::String(id.clone()));
        }
        rewrite_strings(&mut r, &rewrite);
        if rt == "Binary"
            && let Some(bytes) = e["fullUrl"].as_str().and_then(|u| checked.bytes_of.get(u))
        {
            s.keep_binary(&id, bytes.clone());
        }
        if rt == "DocumentReference" {
            store_document(&mut s, e, r, id, checked);
        } else {
            s.stored.push(StoredResource {
                resource_type: rt.clone(),
                id: id.clone(),
                resource: r,
            });
        }
        responses.push(json!({"response": {"status": "201 Created", "location": location}}));
    }
    (
        "200 OK",
        json!({"resourceType": "Bundle", "type": "transaction-response", "entry": responses}),
    )
}

/// An entry's plan: resource type, id, and whether it is created (or matched
/// an existing resource).
type Planned = (String, String, bool);
/// A transaction refused whole: the status and its OperationOutcome.
type Refusal = (&'static str, Value);

/// What each entry of a transaction becomes (an existing resource or a new
/// one), and each fullUrl's `Type/id`; or the refusal of the whole Bundle.
fn plan_entries(
    s: &mut State,
    entries: &[&Value],
) -> Result<(Vec<Planned>, HashMap<String, String>), Refusal> {
    let mut plan: Vec<Planned> = Vec::new();
    let mut rewrite: HashMap<String, String> = HashMap::new();
    for e in entries {
        let r = &e["resource"];
        let rt = r["resourceType"].as_str().unwrap_or_default().to_string();
        if rt == "DocumentReference"
            && s.duplicates_as_409
            && let Some(mi) = r["masterIdentifier"]["value"].as_str()
            && s.docs.contains_key(mi)
        {
            return Err((
                "409 Conflict",
                outcome(
                    "duplicate",
                    &format!("a DocumentReference with masterIdentifier {mi} exists"),
                ),
            ));
        }
        let mut existing = None;
        if let Some(q) = e["request"]["ifNoneExist"].as_str() {
            existing = if_none_exist(s, &rt, q)?;
        }
        let created = existing.is_none();
        let id = existing.unwrap_or_else(|| {
            s.next_id += 1;
            s.next_id.to_string()
        });
        if let Some(url) = e["fullUrl"].as_str() {
            rewrite.insert(url.to_string(), format!("{rt}/{id}"));
        }
        plan.push((rt, id, created));
    }
    Ok((plan, rewrite))
}

/// The id of the one `rt` matching conditional-create query `q`, if any.
fn if_none_exist(s: &State, rt: &str, q: &str) -> Result<Option<String>, Refusal> {
    let params = match parse_query(q.trim_start_matches('?')) {
        Ok(p) => p,
        Err(why) => return Err(("400 Bad Request", outcome("not-supported", &why))),
    };
    let found: Vec<String> = s
        .resources(rt)
        .into_iter()
        .filter(|(_, r)| matches_query(r, &params))
        .map(|(id, _)| id)
        .collect();
    if found.len() > 1 {
        return Err((
            "412 Precondition Failed",
            outcome(
                "duplicate",
                &format!("ifNoneExist {q:?} matches {} {rt}s", found.len()),
            ),
        ));
    }
    Ok(found.into_iter().next())
}

/// Stores a created DocumentReference `r` (entry `e`) as `id`, with the PDF
/// its attachment pointed at; a second create of the same document counts.
fn store_document(s: &mut State, e: &Value, r: Value, id: String, checked: &Checked) {
    if s.lose_documents > 0 {
        s.lose_documents -= 1;
        s.lost += 1;
        return;
    }
    let a = &e["resource"]["content"][0]["attachment"];
    let url = a["url"].as_str().unwrap_or_default();
    let mi = e["resource"]["masterIdentifier"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(bytes) = checked.bytes_of.get(url) {
        s.pdfs.insert(mi.clone(), bytes.clone());
    }
    let doc = StoredDoc {
        id,
        master_identifier: mi.clone(),
        size: a["size"].as_u64().unwrap_or(0),
        sha1_b64: a["hash"].as_str().unwrap_or_default().to_string(),
        sha256: checked.sha256_of.get(url).cloned().unwrap_or_default(),
        subject: r["subject"].clone(),
        resource: r,
        creates: 1,
    };
    match s.docs.get_mut(&mi) {
        Some(d) => d.creates += 1,
        None => {
            s.docs.insert(mi, doc);
        }
    }
}

/// Replaces every string equal to a Bundle fullUrl by the stored `Type/id`
/// (what an engine does to the resources of a transaction).
fn rewrite_strings(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(to) = map.get(s.as_str()) {
                *s = to.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_strings(x, map)),
        Value::Object(m) => m.values_mut().for_each(|x| rewrite_strings(x, map)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The checker: IHE MHD 4.2.x Minimal ProvideBundle.

pub const MINIMAL_PROVIDE_BUNDLE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle";
pub const SOURCE_ID: &str = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId";
pub const DESIGNATION_TYPE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType";
pub const INTENDED_RECIPIENT: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-intendedRecipient";
pub const MHD_LIST_TYPES: &str = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes";
pub const RFC3986: &str = "urn:ietf:rfc:3986";
/// Where Folio puts the PDF's SHA-256 (hex) on the attachment.
pub const SHA256_EXTENSION: &str = "urn:folio:attachment-sha256";

/// One broken constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The OperationOutcome issue type: `required` (a minimum cardinality),
    /// `value` (a fixed value or required binding), `invariant` (a maximum
    /// cardinality, a shape, a reference).
    pub code: &'static str,
    /// The element as the profile names it, e.g. `List.extension:sourceId`.
    pub path: String,
    pub message: String,
    /// Where in the Bundle, e.g. `Bundle.entry[0]`.
    pub at: String,
}

impl Violation {
    pub fn diagnostics(&self) -> String {
        format!("{}: {} (at {})", self.path, self.message, self.at)
    }
}

fn violations_outcome(v: &[Violation]) -> Value {
    let issues: Vec<Value> = v
        .iter()
        .map(|v| {
            json!({"severity": "error", "code": v.code, "diagnostics": v.diagnostics(), "expression": [v.path]})
        })
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// The bytes of each Binary the DocumentReferences point at, by fullUrl.
#[derive(Default)]
struct Checked {
    /// SHA-256 (hex) of each Binary's decoded bytes, by fullUrl.
    sha256_of: HashMap<String, String>,
    /// Each Binary's decoded bytes, by fullUrl.
    bytes_of: HashMap<String, Vec<u8>>,
}

struct Checker<'a> {
    out: Vec<Violation>,
    at: String,
    /// Entry resources by fullUrl, with the entry index.
    by_url: HashMap<&'a str, (usize, &'a Value)>,
    /// Binaries this server already holds, by their URL `Binary/<id>`
    /// (an attachment may point at one instead of at an entry).
    stored_binaries: &'a HashMap<String, Value>,
}

impl Checker<'_> {
    fn add(&mut self, code: &'static str, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Violation {
            code,
            path: path.into(),
            message: message.into(),
            at: self.at.clone(),
        });
    }

    /// `min..max` cardinality of an element (max None: `*`).
    fn card(&mut self, path: &str, v: &Value, min: usize, max: Option<usize>) {
        let n = card(v);
        let range = format!("{min}..{}", max.map_or("*".to_string(), |m| m.to_string()));
        if n < min {
            self.add("required", path, format!("{range} required, found {n}"));
        } else if max.is_some_and(|m| n > m) {
            self.add("invariant", path, format!("{range} allowed, found {n}"));
        }
    }

    /// A fixed value of a 1..1 element.
    fn fixed(&mut self, path: &str, v: &Value, want: &str) {
        match v.as_str() {
            None => self.add(
                "required",
                path,
                format!("1..1 required with fixed value {want:?}, found none"),
            ),
            Some(got) if got != want => self.add(
                "value",
                path,
                format!("fixed value {want:?} required, found {got:?}"),
            ),
            Some(_) => {}
        }
    }

    /// A fixed value of an optional element: when present it must be `want`
    /// (`required`: present as well).
    fn fixed_if_present(&mut self, path: &str, v: &Value, want: &str, required: bool) {
        if v.is_null() && !required {
            return;
        }
        self.fixed(path, v, want)
    }

    /// The resource type a reference points at, if it can be told: `#id` (a
    /// contained resource of `container`), a fullUrl of the Bundle, or a REST
    /// URL `[base/]Type/id[/_history/v]`.
    fn target_type(&self, reference: &str, container: &Value) -> Option<String> {
        if let Some(id) = reference.strip_prefix('#') {
            return items(&container["contained"])
                .find(|c| c["id"] == id)
                .and_then(|c| c["resourceType"].as_str())
                .map(str::to_string);
        }
        if let Some((_, r)) = self.by_url.get(reference) {
            return r["resourceType"].as_str().map(str::to_string);
        }
        let path = reference.split("/_history/").next().unwrap_or("");
        let segs: Vec<&str> = path.split('/').collect();
        (segs.len() >= 2)
            .then(|| segs[segs.len() - 2])
            .filter(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))
            .map(str::to_string)
    }

    /// Whether a reference resolves inside the Bundle: a fullUrl, or `#id`
    /// of a contained resource of `container`.
    fn resolves_in_bundle(&self, reference: &str, container: &Value) -> bool {
        match reference.strip_prefix('#') {
            Some(id) => items(&container["contained"]).any(|c| c["id"] == id),
            None => self.by_url.contains_key(reference),
        }
    }

    /// A Reference element limited to `types` (a logical reference by
    /// identifier alone is accepted when its `type`, if given, is allowed);
    /// with `in_bundle`, it must resolve inside the Bundle.
    fn reference_to(
        &mut self,
        path: &str,
        reference: &Value,
        container: &Value,
        types: &[&str],
        in_bundle: bool,
    ) {
        let allowed = types.join(" or ");
        match reference["reference"].as_str() {
            Some(r) => {
                if in_bundle && !self.resolves_in_bundle(r, container) {
                    self.add(
                        "invariant",
                        path,
                        format!(
                            "reference {r:?} does not resolve: neither a fullUrl of the Bundle nor #id of a contained resource"
                        ),
                    );
                    return;
                }
                match self.target_type(r, container) {
                    Some(t) if types.contains(&t.as_str()) => {}
                    found => self.add(
                        "invariant",
                        path,
                        format!(
                            "only Reference({allowed}) allowed, {r:?} is a {}",
                            found.as_deref().unwrap_or("resource of unknown type")
                        ),
                    ),
                }
            }
            None => match reference["type"].as_str() {
                Some(t) if !types.contains(&t) => self.add(
                    "invariant",
                    path,
                    format!("only Reference({allowed}) allowed, found type {t:?}"),
                ),
                _ if in_bundle => self.add(
                    "required",
                    format!("{path}.reference"),
                    "1..1 required: the reference must resolve inside the Bundle",
                ),
                _ => {}
            },
        }
    }

    /// Elements the profile prohibits (0..0).
    fn absent(&mut self, path: &str, v: &Value) {
        self.card(path, v, 0, Some(0));
    }

    /// The general rules every resource meets: references resolve, contained
    /// resources have ids, hold none themselves and are referenced, and no
    /// identifier value is a fullUrl of the Bundle.
    fn general(&mut self, rt: &str, r: &Value) {
        let mut contained_ids = Vec::new();
        for c in items(&r["contained"]) {
            let ct = c["resourceType"].as_str().unwrap_or("resource");
            match c["id"].as_str() {
                Some(id) => contained_ids.push(id.to_string()),
                None => self.add(
                    "required",
                    format!("{rt}.contained.id"),
                    format!("1..1 required on a contained {ct}"),
                ),
            }
            if !c["contained"].is_null() {
                self.add(
                    "invariant",
                    format!("{rt}.contained.contained"),
                    "dom-2: a contained resource holds no contained resources",
                );
            }
        }
        let mut refs = Vec::new();
        references(r, rt, &mut refs);
        let mut referenced = Vec::new();
        for (path, reference) in &refs {
            if let Some(id) = reference.strip_prefix('#') {
                if id.is_empty() {
                    continue;
                }
                referenced.push(id.to_string());
                if !contained_ids.iter().any(|c| c == id) {
                    self.add(
                        "invariant",
                        path.clone(),
                        format!("reference {reference:?} does not resolve to a contained resource"),
                    );
                }
            } else if (reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:"))
                && !self.by_url.contains_key(reference)
            {
                self.add(
                    "invariant",
                    path.clone(),
                    format!("reference {reference:?} is not the fullUrl of an entry of the Bundle"),
                );
            }
        }
        for id in &contained_ids {
            if !referenced.contains(id) {
                self.add(
                    "invariant",
                    format!("{rt}.contained"),
                    format!("dom-3: contained resource #{id} is not referenced from its container"),
                );
            }
        }
        let mut ids = Vec::new();
        identifier_values(r, rt, &mut ids);
        for (path, value) in ids {
            if let Some((n, res)) = self.by_url.get(value).copied() {
                let t = res["resourceType"].as_str().unwrap_or("resource");
                self.add(
                    "invariant",
                    path,
                    format!(
                        "identifier value {value:?} is the fullUrl of Bundle.entry[{n}]: a server rewrites it to {t}/<id> and the identifier is lost"
                    ),
                );
            }
        }
    }

    /// The SubmissionSet: IHE.MHD.Minimal.SubmissionSet.
    fn submission_set(&mut self, r: &Value) {
        self.submission_set_extensions(r);
        self.submission_set_identifiers(r);
        self.submission_set_fields(r);
    }

    /// The SubmissionSet's extensions: sourceId, designationType, intendedRecipient.
    fn submission_set_extensions(&mut self, r: &Value) {
        let ext: Vec<&Value> = items(&r["extension"]).collect();
        let of = |url: &str| -> Vec<&Value> {
            ext.iter().copied().filter(|e| e["url"] == url).collect()
        };
        let source_ids = of(SOURCE_ID);
        self.card(
            "List.extension:sourceId",
            &Value::Array(source_ids.iter().map(|v| (*v).clone()).collect()),
            1,
            Some(1),
        );
        for e in &source_ids {
            self.value_only("List.extension:sourceId", e, "valueIdentifier");
            if let Some(v) = e.get("valueIdentifier") {
                let value = v["value"].as_str().unwrap_or("");
                if !value.strip_prefix("urn:oid:").is_some_and(is_oid) {
                    self.add(
                        "invariant",
                        "List.extension:sourceId.valueIdentifier.value",
                        format!("must be urn:oid: followed by an OID, found {value:?}"),
                    );
                }
            }
        }
        for (url, name, value) in [
            (DESIGNATION_TYPE, "designationType", "valueCodeableConcept"),
            (INTENDED_RECIPIENT, "intendedRecipient", "valueReference"),
        ] {
            let found = of(url);
            let path = format!("List.extension:{name}");
            self.card(
                &path,
                &Value::Array(found.iter().map(|v| (*v).clone()).collect()),
                0,
                Some(1),
            );
            for e in found {
                self.value_only(&path, e, value);
            }
        }
    }

    /// The SubmissionSet's identifiers: one uniqueId (an OID), entryUUIDs.
    fn submission_set_identifiers(&mut self, r: &Value) {
        let identifiers: Vec<&Value> = items(&r["identifier"]).collect();
        self.card("List.identifier", &r["identifier"], 2, None);
        let unique: Vec<&Value> = identifiers
            .iter()
            .copied()
            .filter(|i| i["use"] == "usual")
            .collect();
        let entry_uuid: Vec<&Value> = identifiers
            .iter()
            .copied()
            .filter(|i| i["use"] == "official")
            .collect();
        let n = unique.len();
        if n != 1 {
            let (code, word) = if n == 0 {
                ("required", "required")
            } else {
                ("invariant", "allowed")
            };
            self.add(
                code,
                "List.identifier:uniqueId",
                format!("1..1 {word} (use usual), found {n}"),
            );
        }
        for i in unique {
            self.fixed("List.identifier:uniqueId.system", &i["system"], RFC3986);
            let value = i["value"].as_str().unwrap_or("");
            if !value.strip_prefix("urn:oid:").is_some_and(is_oid) {
                self.add(
                    "invariant",
                    "List.identifier:uniqueId.value",
                    format!(
                        "mhd-startswithoid: must be urn:oid: followed by an OID, found {value:?}"
                    ),
                );
            }
        }
        if entry_uuid.is_empty() {
            self.add(
                "required",
                "List.identifier:entryUUID",
                "1..* required (use official), found 0",
            );
        }
        for i in entry_uuid {
            self.entry_uuid("List.identifier:entryUUID", i);
        }
    }

    /// The SubmissionSet's other elements and its entries.
    fn submission_set_fields(&mut self, r: &Value) {
        self.fixed("List.mode", &r["mode"], "working");
        self.fixed("List.status", &r["status"], "current");
        self.card("List.code", &r["code"], 1, Some(1));
        self.card("List.title", &r["title"], 0, Some(1));
        self.card("List.date", &r["date"], 1, Some(1));
        if let Some(d) = r["date"].as_str()
            && !is_date_time(d)
        {
            self.add(
                "invariant",
                "List.date",
                format!("not a FHIR dateTime: {d:?}"),
            );
        }
        self.card("List.subject", &r["subject"], 0, Some(1));
        if r["subject"].is_object() {
            self.reference_to("List.subject", &r["subject"], r, &["Patient"], false);
        }
        self.absent("List.encounter", &r["encounter"]);
        self.absent("List.orderedBy", &r["orderedBy"]);
        self.absent("List.emptyReason", &r["emptyReason"]);
        self.card("List.source", &r["source"], 0, Some(1));
        if r["source"].is_object() {
            self.reference_to(
                "List.source",
                &r["source"],
                r,
                &["Practitioner", "PractitionerRole", "Patient", "Device"],
                true,
            );
        }
        self.card("List.note", &r["note"], 0, Some(1));
        for e in items(&r["entry"]) {
            self.absent("List.entry.flag", &e["flag"]);
            self.absent("List.entry.deleted", &e["deleted"]);
            self.absent("List.entry.date", &e["date"]);
            self.card("List.entry.item", &e["item"], 1, Some(1));
            if e["item"].is_object() {
                self.reference_to(
                    "List.entry.item",
                    &e["item"],
                    r,
                    &["DocumentReference", "List"],
                    false,
                );
            }
        }
    }

    /// An extension whose value[x] is limited to one type.
    fn value_only(&mut self, path: &str, e: &Value, key: &str) {
        let keys: Vec<&String> = e
            .as_object()
            .map(|m| m.keys().filter(|k| k.starts_with("value")).collect())
            .unwrap_or_default();
        if keys.len() != 1 || keys[0] != key {
            self.add(
                if keys.is_empty() {
                    "required"
                } else {
                    "invariant"
                },
                format!("{path}.value[x]"),
                format!("1..1 {key} required (only that type), found {keys:?}"),
            );
        }
    }

    /// IHE.MHD.EntryUUID.Identifier.
    fn entry_uuid(&mut self, path: &str, i: &Value) {
        self.fixed(&format!("{path}.system"), &i["system"], RFC3986);
        let value = i["value"].as_str().unwrap_or("");
        if !is_uuid_urn(value) {
            self.add(
                "invariant",
                format!("{path}.value"),
                format!(
                    "mhd-startswithuuid: must be urn:uuid: followed by a UUID, found {value:?}"
                ),
            );
        }
    }

    /// IHE.MHD.Minimal.DocumentReference.
    fn document_reference(&mut self, r: &Value) {
        self.document_reference_identity(r);
        self.document_reference_subject(r);
        self.document_reference_content(r);
    }

    /// The DocumentReference's identifiers and status.
    fn document_reference_identity(&mut self, r: &Value) {
        self.absent(
            "DocumentReference.modifierExtension",
            &r["modifierExtension"],
        );
        self.card(
            "DocumentReference.masterIdentifier",
            &r["masterIdentifier"],
            1,
            Some(1),
        );
        let mi = &r["masterIdentifier"];
        if mi.is_object() {
            self.card(
                "DocumentReference.masterIdentifier.system",
                &mi["system"],
                1,
                Some(1),
            );
            self.fixed_if_present(
                "DocumentReference.masterIdentifier.use",
                &mi["use"],
                "usual",
                true,
            );
            self.card(
                "DocumentReference.masterIdentifier.value",
                &mi["value"],
                1,
                Some(1),
            );
        }
        for i in items(&r["identifier"]).filter(|i| i["use"] == "official") {
            self.entry_uuid("DocumentReference.identifier:entryUUID", i);
        }
        self.card("DocumentReference.status", &r["status"], 1, Some(1));
        if let Some(s) = r["status"].as_str()
            && !matches!(s, "current" | "superseded")
        {
            self.add(
                "value",
                "DocumentReference.status",
                format!(
                    "required binding DocumentReferenceStats (current, superseded), found {s:?}"
                ),
            );
        }
    }

    /// The DocumentReference's type, category, subject, date and authors.
    fn document_reference_subject(&mut self, r: &Value) {
        self.absent("DocumentReference.docStatus", &r["docStatus"]);
        self.card("DocumentReference.type", &r["type"], 0, Some(1));
        self.card("DocumentReference.category", &r["category"], 0, Some(1));
        self.card("DocumentReference.subject", &r["subject"], 0, Some(1));
        if r["subject"].is_object() {
            self.reference_to(
                "DocumentReference.subject",
                &r["subject"],
                r,
                &["Patient"],
                false,
            );
            let id = &r["subject"]["identifier"];
            if id["system"] == "https://fhir.nhs.uk/Id/nhs-number" {
                let nhs = id["value"].as_str().unwrap_or("");
                if nhs.len() != 10 || !nhs.bytes().all(|c| c.is_ascii_digit()) {
                    self.add(
                        "invariant",
                        "DocumentReference.subject.identifier.value",
                        format!("{nhs:?} is not an NHS number"),
                    );
                }
            }
        }
        self.card("DocumentReference.date", &r["date"], 0, Some(1));
        for a in items(&r["author"]) {
            self.reference_to(
                "DocumentReference.author",
                a,
                r,
                &[
                    "Practitioner",
                    "PractitionerRole",
                    "Organization",
                    "Device",
                    "Patient",
                    "RelatedPerson",
                    "CareTeam",
                ],
                true,
            );
        }
    }

    /// The DocumentReference's authenticator, description, content and context.
    fn document_reference_content(&mut self, r: &Value) {
        self.card(
            "DocumentReference.authenticator",
            &r["authenticator"],
            0,
            Some(1),
        );
        self.card(
            "DocumentReference.description",
            &r["description"],
            0,
            Some(1),
        );
        self.card("DocumentReference.content", &r["content"], 1, Some(1));
        for c in items(&r["content"]) {
            let a = &c["attachment"];
            self.card("DocumentReference.content.attachment", a, 1, Some(1));
            self.card(
                "DocumentReference.content.attachment.contentType",
                &a["contentType"],
                1,
                Some(1),
            );
            self.card(
                "DocumentReference.content.attachment.url",
                &a["url"],
                1,
                Some(1),
            );
            self.absent("DocumentReference.content.attachment.data", &a["data"]);
            self.card("DocumentReference.content.format", &c["format"], 0, Some(1));
        }
        let ctx = &r["context"];
        self.card(
            "DocumentReference.context.facilityType",
            &ctx["facilityType"],
            0,
            Some(1),
        );
        self.card(
            "DocumentReference.context.practiceSetting",
            &ctx["practiceSetting"],
            0,
            Some(1),
        );
        self.card(
            "DocumentReference.context.period",
            &ctx["period"],
            0,
            Some(1),
        );
        self.card(
            "DocumentReference.context.sourcePatientInfo",
            &ctx["sourcePatientInfo"],
            0,
            Some(1),
        );
    }

    /// The document's bytes: the Binary the attachment points at decodes,
    /// and matches the size, SHA-1, SHA-256 and content type given.
    fn content(&mut self, r: &Value, checked: &mut Checked) {
        let a = &r["content"][0]["attachment"];
        let Some(url) = a["url"].as_str() else {
            return;
        };
        let held = url
            .rsplit_once("/Binary/")
            .and_then(|(_, id)| self.stored_binaries.get(id));
        let Some(bin) = self.by_url.get(url).map(|(_, b)| *b).or(held) else {
            if url.starts_with("urn:") {
                self.add(
                    "invariant",
                    "DocumentReference.content.attachment.url",
                    format!("{url:?} is not the fullUrl of an entry of the Bundle"),
                );
            }
            return;
        };
        if bin["resourceType"] != "Binary" {
            self.add(
                "invariant",
                "DocumentReference.content.attachment.url",
                "must point at a Binary",
            );
            return;
        }
        if bin["contentType"] != a["contentType"] {
            self.add(
                "value",
                "DocumentReference.content.attachment.contentType",
                format!(
                    "{} but the Binary says {}",
                    a["contentType"], bin["contentType"]
                ),
            );
        }
        let Some(data) = bin["data"].as_str() else {
            self.add(
                "required",
                "Binary.data",
                "1..1 required: the document's bytes",
            );
            return;
        };
        let bytes = match B64.decode(data) {
            Ok(b) => b,
            Err(e) => {
                self.add("invariant", "Binary.data", format!("not base64: {e}"));
                return;
            }
        };
        let sha256 = self.attachment_digests(a, &bytes);
        checked.sha256_of.insert(url.to_string(), sha256);
        checked.bytes_of.insert(url.to_string(), bytes);
    }

    /// Checks attachment `a`'s size, SHA-1, SHA-256 and content type against
    /// the document's `bytes`; returns their SHA-256 (hex).
    fn attachment_digests(&mut self, a: &Value, bytes: &[u8]) -> String {
        if a["size"].as_u64() != Some(bytes.len() as u64) {
            self.add(
                "value",
                "DocumentReference.content.attachment.size",
                format!("{} but the Binary holds {} bytes", a["size"], bytes.len()),
            );
        }
        if a["hash"].as_str() != Some(&B64.encode(Sha1::digest(bytes))) {
            self.add(
                "value",
                "DocumentReference.content.attachment.hash",
                "not the SHA-1 (base64) of the Binary's bytes",
            );
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let ext: Vec<&Value> = items(&a["extension"])
            .filter(|e| e["url"] == SHA256_EXTENSION)
            .collect();
        if ext.len() != 1 || ext[0]["valueString"].as_str() != Some(&sha256) {
            self.add(
                "value",
                format!("DocumentReference.content.attachment.extension({SHA256_EXTENSION})"),
                "one, holding the SHA-256 (hex) of the Binary's bytes, required",
            );
        }
        if a["contentType"] == "application/pdf" && !bytes.starts_with(b"%PDF-") {
            self.add("value", "Binary.data", "not a PDF (no %PDF- header)");
        }
        sha256
    }
}

/// Checks a Bundle as a strict MHD Minimal Document Recipient: every broken
/// constraint, in Bundle order (none for a valid Bundle).
pub fn check(b: &Value) -> Vec<Violation> {
    check_bundle(b, &HashMap::new()).0
}

fn check_bundle(b: &Value, stored_binaries: &HashMap<String, Value>) -> (Vec<Violation>, Checked) {
    let mut checked = Checked::default();
    let mut c = Checker {
        out: Vec::new(),
        at: "Bundle".into(),
        by_url: HashMap::new(),
        stored_binaries,
    };
    if b["resourceType"] != "Bundle" {
        c.fixed("Bundle.resourceType", &b["resourceType"], "Bundle");
        return (c.out, checked);
    }
    c.bundle_header(b);
    let entries: Vec<&Value> = items(&b["entry"]).collect();
    let mut seen_urls = HashMap::new();
    let (mut submission_sets, mut patients) = (0, 0);
    let mut if_none_exist = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        c.at = format!("Bundle.entry[{n}]");
        let r = &e["resource"];
        let Some(rt) = r["resourceType"].as_str() else {
            c.add(
                "required",
                "Bundle.entry.resource",
                "1..1 required, found none",
            );
            continue;
        };
        let slice = c.entry_slice(rt, r);
        submission_sets += usize::from(slice == "SubmissionSet");
        patients += usize::from(slice == "Patient");
        c.entry_full_url(n, e, &mut seen_urls);
        if let Some(q) = c.entry_request(&e["request"], slice, rt) {
            if_none_exist.push((n, slice, q));
        }
        if rt == "Binary" {
            c.card("Binary.contentType", &r["contentType"], 1, Some(1));
        }
    }
    c.if_none_exist_urls(if_none_exist);
    c.at = "Bundle".into();
    c.bundle_counts(submission_sets, patients);
    for (n, e) in entries.iter().enumerate() {
        c.at = format!("Bundle.entry[{n}]");
        let r = &e["resource"];
        let Some(rt) = r["resourceType"].as_str() else {
            continue;
        };
        c.general(rt, r);
        match rt {
            "List" if is_list_type(r, "submissionset") => c.submission_set(r),
            "DocumentReference" => {
                c.document_reference(r);
                c.content(r, &mut checked);
            }
            _ => {}
        }
    }
    (c.out, checked)
}

/// An `ifNoneExist` search of entry `n` (of `slice`), parsed.
type Search = (usize, &'static str, Vec<(String, String)>);

impl<'a> Checker<'a> {
    /// The Bundle's profile and type.
    fn bundle_header(&mut self, b: &Value) {
        self.card("Bundle.meta.profile", &b["meta"]["profile"], 1, None);
        let profiles: Vec<&str> = items(&b["meta"]["profile"])
            .filter_map(Value::as_str)
            .collect();
        if !profiles.is_empty() && !profiles.contains(&MINIMAL_PROVIDE_BUNDLE) {
            self.add(
                "value",
                "Bundle.meta.profile",
                format!(
                    "must name {MINIMAL_PROVIDE_BUNDLE} (the profile this recipient validates), found {profiles:?}"
                ),
            );
        }
        self.fixed("Bundle.type", &b["type"], "transaction");
    }

    /// The slice of the Bundle an entry's resource `r` (of type `rt`) falls in.
    fn entry_slice(&mut self, rt: &str, r: &Value) -> &'static str {
        match rt {
            "List" if is_list_type(r, "submissionset") => "SubmissionSet",
            "List" if is_list_type(r, "folder") => "Folders",
            "List" => {
                self.add(
                    "value",
                    "List.code",
                    format!(
                        "required binding MHDlistTypesVS (folder, submissionset), found {}",
                        r["code"]
                    ),
                );
                "entry"
            }
            "DocumentReference" => "DocumentRefs",
            "Binary" => "Documents",
            "Patient" => "Patient",
            _ => "entry",
        }
    }

    /// Entry `n`'s fullUrl: present, a UUID URN, unique; recorded in `by_url`.
    fn entry_full_url(&mut self, n: usize, e: &'a Value, seen_urls: &mut HashMap<&'a str, usize>) {
        match e["fullUrl"].as_str() {
            None => self.add(
                "required",
                "Bundle.entry.fullUrl",
                "1..1 required for a create, found none",
            ),
            Some(url) => {
                if !is_uuid_urn(url) {
                    self.add(
                        "invariant",
                        "Bundle.entry.fullUrl",
                        format!(
                            "a created resource's fullUrl must be urn:uuid:<uuid>, found {url:?}"
                        ),
                    );
                }
                if let Some(first) = seen_urls.insert(url, n) {
                    self.add(
                        "invariant",
                        "Bundle.entry.fullUrl",
                        format!("bdl-7: {url:?} is also the fullUrl of Bundle.entry[{first}]"),
                    );
                }
                self.by_url.insert(url, (n, &e["resource"]));
            }
        }
    }

    /// An entry's request: a POST of its resource type; returns its
    /// `ifNoneExist` search, parsed, if it has one that parses.
    fn entry_request(
        &mut self,
        req: &Value,
        slice: &'static str,
        rt: &str,
    ) -> Option<Vec<(String, String)>> {
        self.card(&format!("Bundle.entry:{slice}.request"), req, 1, Some(1));
        if !req.is_object() {
            return None;
        }
        self.fixed(
            &format!("Bundle.entry:{slice}.request.method"),
            &req["method"],
            "POST",
        );
        if req["url"] != rt {
            self.add(
                "invariant",
                format!("Bundle.entry:{slice}.request.url"),
                format!(
                    "a create of a {rt} is POSTed to {rt:?}, found {}",
                    req["url"]
                ),
            );
        }
        let q = req["ifNoneExist"].as_str()?;
        match parse_query(q.trim_start_matches('?')) {
            Err(e) => {
                self.add(
                    "not-supported",
                    format!("Bundle.entry:{slice}.request.ifNoneExist"),
                    e,
                );
                None
            }
            Ok(params) => Some(params),
        }
    }

    /// A search for a fullUrl never matches again: stored, it is Type/id.
    fn if_none_exist_urls(&mut self, searches: Vec<Search>) {
        for (n, slice, params) in searches {
            self.at = format!("Bundle.entry[{n}]");
            for (k, v) in params {
                for token in split_unescaped(&v, ',') {
                    let value = split_unescaped(&token, '|').pop().map(|v| unescape(&v));
                    if let Some(value) = value
                        && let Some((m, _)) = self.by_url.get(value.as_str()).copied()
                    {
                        self.add(
                            "invariant",
                            format!("Bundle.entry:{slice}.request.ifNoneExist"),
                            format!(
                                "{k}={value:?} is the fullUrl of Bundle.entry[{m}]: stored, it is rewritten to Type/id, so a re-send never matches"
                            ),
                        );
                    }
                }
            }
        }
    }

    /// One SubmissionSet, at most one Patient.
    fn bundle_counts(&mut self, submission_sets: usize, patients: usize) {
        let found = submission_sets;
        if found != 1 {
            let (code, word) = if found == 0 {
                ("required", "required")
            } else {
                ("invariant", "allowed")
            };
            self.add(
                code,
                "Bundle.entry:SubmissionSet",
                format!("1..1 {word} (a List coded {MHD_LIST_TYPES}#submissionset), found {found}"),
            );
        }
        if patients > 1 {
            self.add(
                "invariant",
                "Bundle.entry:Patient",
                format!("0..1 allowed, found {patients}"),
            );
        }
    }
}

fn is_list_type(r: &Value, code: &str) -> bool {
    items(&r["code"]["coding"]).any(|c| c["system"] == MHD_LIST_TYPES && c["code"] == code)
}

/// Every `reference` string in `v`, with the path of the Reference holding it.
fn references<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("reference", Some(s)) => out.push((path.to_string(), s)),
                    ("data", _) => {}
                    _ => references(x, &format!("{path}.{k}"), out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, path, out)),
        _ => {}
    }
}

/// Every identifier value in `v` (identifier, masterIdentifier,
/// valueIdentifier, at any depth), with its path.
fn identifier_values<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "data" {
                    continue;
                }
                let p = format!("{path}.{k}");
                if matches!(
                    k.as_str(),
                    "identifier" | "masterIdentifier" | "valueIdentifier"
                ) {
                    for (n, id) in items(x).enumerate() {
                        if let Some(s) = id["value"].as_str() {
                            let p = if x.is_array() {
                                format!("{p}[{n}]")
                            } else {
                                p.clone()
                            };
                            out.push((format!("{p}.value"), s));
                        }
                    }
                }
                identifier_values(x, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| identifier_values(x, path, out)),
        _ => {}
    }
}

/// An OID as FHIR's `oid` type has it: `[0-2](\.(0|[1-9][0-9]*))+`.
pub fn is_oid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && matches!(parts[0], "0" | "1" | "2")
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// `urn:uuid:` and a UUID in lower-case hex, hyphenated (FHIR's `uuid` type).
pub fn is_uuid_urn(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    u.len() == 36
        && u.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// FHIR R4's `dateTime` (a time needs a zone).
pub fn is_date_time(s: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$",
        )
        .expect("the dateTime pattern")
    });
    RE.is_match(s)
}
