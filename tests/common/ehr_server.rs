//! A hospital EHR on 127.0.0.1 for the tests of the on-demand worklist: a
//! small FHIR R4 server on std sockets (HTTP/1.1, one request per connection,
//! `Connection: close`) answering `Appointment` searches as HAPI does
//! (searchset Bundles, `_include`d Patients and Locations, `_getpages`
//! paging over a result set remembered at search time), `DocumentReference`
//! searches by `subject:identifier`, reads (`Type/id`) and `metadata`.
//!
//! Every request is recorded first; then a bearer token is checked (401 with
//! `WWW-Authenticate: Bearer`), then a fault is applied, then the request is
//! routed. Include it with `#[path = "common/ehr_server.rs"] mod ehr_server;`.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The resources the EHR holds.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub appointments: Vec<Value>,
    pub patients: Vec<Value>,
    pub locations: Vec<Value>,
    pub document_references: Vec<Value>,
}

/// What to answer to every request (after the token check) until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EhrFault {
    /// This status, with an OperationOutcome body.
    Status(u16),
    /// 200, `text/html`: a login page (a proxy or SSO in the way).
    NotJson,
    /// 200, `application/fhir+json`: a Patient, not a searchset Bundle.
    NotASearchset,
}

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Raw, as sent (still percent-encoded).
    pub path_and_query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl Request {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    /// The query's parameters, decoded, in order (repeats kept).
    pub fn params(&self) -> Vec<(String, String)> {
        parse_query(self.path_and_query.split_once('?').map_or("", |(_, q)| q))
    }
}

/// A result set remembered for `_getpages`: each match with the resources it
/// `_include`s (`Type/id`, resource), as they were at search time.
type Snapshot = Vec<(Value, Vec<(String, Value)>)>;

struct State {
    data: Dataset,
    token: Option<String>,
    fault: Option<EhrFault>,
    page_size: usize,
    document_search: bool,
    requests: Vec<Request>,
    searches: HashMap<String, Arc<Snapshot>>,
}

pub struct EhrServer {
    origin: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl EhrServer {
    /// Listens on 127.0.0.1 (a free port) and serves `data`.
    pub fn start(data: Dataset) -> EhrServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            data,
            token: None,
            fault: None,
            page_size: 3,
            document_search: true,
            requests: Vec::new(),
            searches: HashMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, o, halt) = (state.clone(), origin.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, o) = (s.clone(), o.clone());
                std::thread::spawn(move || serve(conn, &s, &o));
            }
        });
        EhrServer {
            origin,
            state,
            stop,
            port,
        }
    }

    /// `http://127.0.0.1:PORT/fhir` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("{}/fhir", self.origin)
    }

    /// Some: every request without `Authorization: Bearer <t>` is answered 401.
    pub fn set_token(&self, t: Option<&str>) {
        self.state.lock().unwrap().token = t.map(str::to_string);
    }

    /// Applies to every request until cleared with None.
    pub fn set_fault(&self, f: Option<EhrFault>) {
        self.state.lock().unwrap().fault = f;
    }

    /// Matches per page (default 3); a smaller `_count` in the request wins.
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n;
    }

    /// False: a `subject:identifier` search of DocumentReference is refused
    /// (400, OperationOutcome `not-supported`). Default true.
    pub fn set_document_search_supported(&self, yes: bool) {
        self.state.lock().unwrap().document_search = yes;
    }

    /// Changes the resources (searches already paged keep their snapshot).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.lock().unwrap().data)
    }

    /// Every request seen, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for EhrServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

// ---------------------------------------------------------------- HTTP ----

/// An answer: status, content type, extra headers, body.
struct Answer {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

const FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: FHIR_JSON,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn outcome(status: u16, code: &str, diagnostics: &str) -> Answer {
        Answer::json(status, &outcome(code, diagnostics))
    }
}

fn outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Reads one request (head and any body), answers it and closes.
fn serve(conn: TcpStream, state: &Mutex<State>, origin: &str) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return;
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers: HashMap<String, String> = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    // Drain any body, so closing does not reset the connection under the answer.
    let len: u64 = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut (&mut r).take(len.min(1 << 24)), &mut std::io::sink());
    let req = Request {
        method,
        path_and_query: target,
        authorization: headers.get("authorization").cloned(),
    };
    let answer = answer(state, origin, req);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        reason(answer.status),
        answer.content_type,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let w = r.get_mut();
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(&answer.body);
    let _ = w.flush();
}

/// Records, checks the token, applies the fault, routes.
fn answer(state: &Mutex<State>, origin: &str, req: Request) -> Answer {
    let mut s = state.lock().unwrap();
    s.requests.push(req.clone());
    if let Some(t) = &s.token {
        let given = req.authorization.as_deref().unwrap_or("");
        let ok = given
            .split_once(' ')
            .is_some_and(|(scheme, v)| scheme.eq_ignore_ascii_case("bearer") && v.trim() == t);
        if !ok {
            let mut a = Answer::outcome(
                401,
                "login",
                "Authentication required: a valid bearer token",
            );
            a.headers.push(("WWW-Authenticate", "Bearer".into()));
            return a;
        }
    }
    match s.fault.clone() {
        Some(EhrFault::Status(code)) => {
            return Answer::outcome(code, "exception", &format!("Fault injected: HTTP {code}"));
        }
        Some(EhrFault::NotJson) => {
            return Answer {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: LOGIN_PAGE.as_bytes().to_vec(),
            };
        }
        Some(EhrFault::NotASearchset) => {
            return Answer::json(200, &json!({"resourceType": "Patient", "id": "x"}));
        }
        None => {}
    }
    if req.method != "GET" {
        let mut a = Answer::outcome(
            405,
            "not-supported",
            &format!("{} is not allowed here", req.method),
        );
        a.headers.push(("Allow", "GET".into()));
        return a;
    }
    route(&mut s, origin, &req)
}

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in - Trust Single Sign-On</title></head>\n<body><h1>Sign in</h1><form method=\"post\" action=\"/login\">\n<input name=\"username\"><input name=\"password\" type=\"password\">\n<button>Sign in</button></form></body></html>\n";

fn route(s: &mut State, origin: &str, req: &Request) -> Answer {
    let params = req.params();
    let path = req.path().trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/fhir") else {
        return not_found(req);
    };
    let segments: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match segments.as_slice() {
        [] if params.iter().any(|(k, _)| k == "_getpages") => get_pages(s, origin, req, &params),
        ["metadata"] => Answer::json(200, &capability_statement()),
        ["Appointment"] => search_appointments(s, origin, req, &params),
        ["DocumentReference"] => search_documents(s, origin, req, &params),
        [t, id] => match resources_of(&s.data, t).and_then(|v| find(v, id)) {
            Some(r) => Answer::json(200, r),
            None => not_found(req),
        },
        _ => not_found(req),
    }
}

fn not_found(req: &Request) -> Answer {
    Answer::outcome(
        404,
        "not-found",
        &format!("Unknown resource or operation: {}", req.path()),
    )
}

fn resources_of<'a>(d: &'a Dataset, resource_type: &str) -> Option<&'a [Value]> {
    match resource_type {
        "Appointment" => Some(&d.appointments),
        "Patient" => Some(&d.patients),
        "Location" => Some(&d.locations),
        "DocumentReference" => Some(&d.document_references),
        _ => None,
    }
}

fn find<'a>(resources: &'a [Value], id: &str) -> Option<&'a Value> {
    resources.iter().find(|r| r["id"] == id)
}

fn capability_statement() -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01T00:00:00Z",
        "kind": "instance",
        "software": {"name": "Fixture EHR", "version": "1.0"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "resource": [
                {"type": "Appointment", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchInclude": ["Appointment:patient", "Appointment:location", "Appointment:actor"],
                 "searchParam": [
                    {"name": "date", "type": "date"}, {"name": "location", "type": "reference"},
                    {"name": "actor", "type": "reference"}, {"name": "status", "type": "token"}]},
                {"type": "Patient", "interaction": [{"code": "read"}]},
                {"type": "Location", "interaction": [{"code": "read"}]},
                {"type": "DocumentReference", "interaction": [{"code": "read"}, {"code": "search-type"}]}
            ]
        }]
    })
}

// --------------------------------------------------------------- query ----

/// `a=b&c=d`, percent-decoded (`+` is a space, as in forms).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every value of parameter `name`, split at commas (OR), per occurrence.
fn values<'a>(params: &'a [(String, String)], name: &str) -> Vec<Vec<&'a str>> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.split(',').map(str::trim).collect())
        .collect()
}

fn count_param(params: &[(String, String)]) -> Option<usize> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == "_count")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// One `date` condition: start must compare to `at` so.
struct DateBound {
    prefix: &'static str,
    /// The instant, or for a bare date, the start of that day (UTC).
    at: OffsetDateTime,
    /// For a bare date, the start of the next day.
    end: Option<OffsetDateTime>,
}

fn date_bound(v: &str) -> Option<DateBound> {
    let (prefix, rest) = ["ge", "gt", "le", "lt", "eq"]
        .iter()
        .find_map(|p| v.strip_prefix(p).map(|r| (*p, r)))
        .unwrap_or(("eq", v));
    if let Ok(at) = OffsetDateTime::parse(rest, &Rfc3339) {
        return Some(DateBound {
            prefix,
            at,
            end: None,
        });
    }
    let day = time::Date::parse(
        rest,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let at = day.midnight().assume_utc();
    Some(DateBound {
        prefix,
        at,
        end: Some(at + time::Duration::days(1)),
    })
}

impl DateBound {
    fn holds(&self, start: OffsetDateTime) -> bool {
        let end = self.end.unwrap_or(self.at);
        match self.prefix {
            "ge" => start >= self.at,
            "gt" => start > end || (self.end.is_some() && start >= end),
            "lt" => start < self.at,
            "le" => start <= self.at || (self.end.is_some() && start < end),
            _ if self.end.is_some() => start >= self.at && start < end,
            _ => start == self.at,
        }
    }
}

fn start_of(r: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(r["start"].as_str()?, &Rfc3339).ok()
}

/// A reference search value as a `Type/id` (own base stripped; a bare id
/// gets `resource_type`).
fn normalise_ref(v: &str, base: &str, resource_type: &str) -> String {
    let v = v
        .strip_prefix(base)
        .map_or(v, |r| r.trim_start_matches('/'));
    if v.contains('/') {
        v.to_string()
    } else {
        format!("{resource_type}/{v}")
    }
}

fn actor_refs(r: &Value) -> Vec<&str> {
    r["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .collect()
}

// --------------------------------------------------------- Appointment ----

fn search_appointments(
    s: &mut State,
    origin: &str,
    req: &Request,
    params: &[(String, String)],
) -> Answer {
    let base = format!("{origin}/fhir");
    let mut bounds = Vec::new();
    for group in values(params, "date") {
        for v in group {
            match date_bound(v) {
                Some(b) => bounds.push(b),
                None => {
                    return Answer::outcome(
                        400,
                        "processing",
                        &format!("Invalid date/time format: \"{v}\""),
                    );
                }
            }
        }
    }
    let ref_filter = |name: &str, rt: &str| -> Vec<HashSet<String>> {
        values(params, name)
            .into_iter()
            .map(|g| g.iter().map(|v| normalise_ref(v, &base, rt)).collect())
            .collect()
    };
    let locations = ref_filter("location", "Location");
    let actors = ref_filter("actor", "Practitioner");
    let statuses = values(params, "status");
    let mut matches: Vec<&Value> = s
        .data
        .appointments
        .iter()
        .filter(|a| {
            let refs = actor_refs(a);
            let start = start_of(a);
            bounds.iter().all(|b| start.is_some_and(|t| b.holds(t)))
                && locations
                    .iter()
                    .all(|g| refs.iter().any(|r| g.contains(*r)))
                && actors.iter().all(|g| refs.iter().any(|r| g.contains(*r)))
                && statuses
                    .iter()
                    .all(|g| g.contains(&a["status"].as_str().unwrap_or("")))
        })
        .collect();
    matches.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                start_of(r).is_none(),
                start_of(r),
                r["id"].as_str().unwrap_or("").to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let includes: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "_include")
        .map(|(_, v)| v.as_str())
        .collect();
    let snapshot: Snapshot = matches
        .into_iter()
        .map(|a| (a.clone(), included(&s.data, a, &includes)))
        .collect();
    let count = count_param(params).map_or(s.page_size, |c| c.min(s.page_size));
    let id = uuid::Uuid::new_v4().to_string();
    let snapshot = Arc::new(snapshot);
    s.searches.insert(id.clone(), snapshot.clone());
    Answer::json(200, &page(origin, req, &snapshot, &id, 0, count))
}

/// The Patients and Locations appointment `a` brings in with `includes`.
fn included(d: &Dataset, a: &Value, includes: &[&str]) -> Vec<(String, Value)> {
    let wanted = |rt: &str| {
        includes.iter().any(|i| {
            *i == "Appointment:actor"
                || *i == "*"
                || (rt == "Patient" && *i == "Appointment:patient")
                || (rt == "Location" && *i == "Appointment:location")
        })
    };
    let mut out = Vec::new();
    for r in actor_refs(a) {
        let Some((rt, id)) = r.split_once('/') else {
            continue;
        };
        if !wanted(rt) {
            continue;
        }
        if let Some(res) = resources_of(d, rt).and_then(|v| find(v, id)) {
            out.push((format!("{rt}/{id}"), res.clone()));
        }
    }
    out
}

/// One page of a remembered result set, as HAPI gives it.
fn page(
    origin: &str,
    req: &Request,
    set: &Snapshot,
    id: &str,
    offset: usize,
    count: usize,
) -> Value {
    let base = format!("{origin}/fhir");
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let end = (offset + count).min(set.len());
    let here = set.get(offset..end).unwrap_or(&[]);
    for (a, _) in here {
        entries.push(json!({
            "fullUrl": format!("{base}/Appointment/{}", a["id"].as_str().unwrap_or("")),
            "resource": a,
            "search": {"mode": "match"}
        }));
    }
    for (key, r) in here.iter().flat_map(|(_, inc)| inc) {
        if seen.insert(key.clone()) {
            entries.push(json!({
                "fullUrl": format!("{base}/{key}"),
                "resource": r,
                "search": {"mode": "include"}
            }));
        }
    }
    let link = |offset: usize| {
        format!(
            "{base}?_getpages={id}&_getpagesoffset={offset}&_count={count}&_bundletype=searchset"
        )
    };
    let mut links =
        vec![json!({"relation": "self", "url": format!("{origin}{}", req.path_and_query)})];
    if count > 0 && end < set.len() {
        links.push(json!({"relation": "next", "url": link(end)}));
    }
    if offset > 0 && count > 0 {
        links.push(json!({"relation": "previous", "url": link(offset.saturating_sub(count))}));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": OffsetDateTime::now_utc().format(&Rfc3339).unwrap()},
        "type": "searchset",
        "total": set.len(),
        "link": links,
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

/// `GET /fhir?_getpages=<id>&_getpagesoffset=<n>&_count=<n>`.
fn get_pages(s: &mut State, origin: &str, req: &Request, params: &[(String, String)]) -> Answer {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let id = get("_getpages").unwrap_or("");
    let Some(set) = s.searches.get(id).cloned() else {
        return Answer::outcome(
            410,
            "processing",
            &format!("Search ID \"{id}\" does not exist and may have expired"),
        );
    };
    let offset = get("_getpagesoffset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let count = count_param(params).unwrap_or(s.page_size);
    Answer::json(200, &page(origin, req, &set, id, offset, count))
}

// --------------------------------------------------- DocumentReference ----

fn search_documents(
    s: &mut State,
    origin: &str,
    req: &Request,
    params: &[(String, String)],
) -> Answer {
    let wanted = params
        .iter()
        .find(|(k, _)| k == "subject:identifier")
        .map(|(_, v)| v.clone());
    if wanted.is_some() && !s.document_search {
        return Answer::outcome(
            400,
            "not-supported",
            "Unknown search parameter \"subject:identifier\"",
        );
    }
    let matches: Vec<&Value> = s
        .data
        .document_references
        .iter()
        .filter(|d| match &wanted {
            None => true,
            Some(w) => {
                let id = &d["subject"]["identifier"];
                let value = id["value"].as_str().unwrap_or("");
                let system = id["system"].as_str().unwrap_or("");
                match w.split_once('|') {
                    Some((sys, val)) => sys == system && val == value,
                    None => w == value,
                }
            }
        })
        .collect();
    let summary_count = params.iter().any(|(k, v)| k == "_summary" && v == "count");
    let count = if summary_count {
        0
    } else {
        count_param(params).unwrap_or(10)
    };
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": OffsetDateTime::now_utc().format(&Rfc3339).unwrap()},
        "type": "searchset",
        "total": matches.len(),
        "link": [{"relation": "self", "url": format!("{origin}{}", req.path_and_query)}],
    });
    let entries: Vec<Value> = matches
        .iter()
        .take(count)
        .map(|d| {
            json!({
                "fullUrl": format!("{origin}/fhir/DocumentReference/{}", d["id"].as_str().unwrap_or("")),
                "resource": d,
                "search": {"mode": "match"}
            })
        })
        .collect();
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    Answer::json(200, &bundle)
}

// -------------------------------------------------------------- dataset ----

pub const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const MRN_SYSTEM: &str = "https://trust.example.nhs.uk/Id/mrn";

/// A clinic day as the EHR holds it, relative to `now` (all times UTC,
/// RFC 3339 with `Z`, whole seconds: `now`'s fraction is dropped). Every
/// resource has `meta.versionId` "1" and `meta.lastUpdated` (now - 7 days).
///
/// Locations (`Location/<id>`, `name`):
///
/// | id          | name                   |
/// |-------------|------------------------|
/// | loc-cardio  | Cardiology Outpatients |
/// | loc-derm    | Dermatology Clinic     |
/// | loc-other   | Orthopaedics           |
///
/// Patients (`identifier` lists the MRN ([`MRN_SYSTEM`], "RX000xxxx") FIRST,
/// then the NHS number ([`NHS_SYSTEM`]); `name[]` official: family, given):
///
/// | id    | NHS number               | official name    | notes                                  |
/// |-------|--------------------------|------------------|----------------------------------------|
/// | pat-a | 9434765919 (valid)       | SMITH, Alice     |                                        |
/// | pat-b | 0898889693 (valid)       | O'BRIEN, Seán    | non-ASCII; has a DocumentReference     |
/// | pat-c | none (MRN RX0001234 only)| NOVAK, Piotr     | no NHS number identifier at all        |
/// | pat-d | 9434765918 (BAD check)   | KHAN, Farah      | wrong check digit                      |
/// | pat-e | 4010232137 (valid)       | JONES, Tom       | name[0] is use "nickname" (JONES, Tommy)|
///
/// Appointments (each with participants `Patient/..`, `Location/..`, status
/// "accepted"; `end` = start + 20 min; `serviceType[0].text` = the specialty):
///
/// | id       | status    | start      | patient | location   | other actor          |
/// |----------|-----------|------------|---------|------------|----------------------|
/// | apt-1001 | booked    | now + 2 h  | pat-a   | loc-cardio |                      |
/// | apt-1002 | booked    | now + 26 h | pat-b   | loc-cardio |                      |
/// | apt-1003 | cancelled | now + 3 h  | pat-e   | loc-cardio |                      |
/// | apt-1004 | booked    | now + 5 h  | pat-c   | loc-derm   |                      |
/// | apt-1005 | arrived   | now + 1 h  | pat-d   | loc-derm   |                      |
/// | apt-1006 | booked    | now + 4 h  | pat-e   | loc-other  | Practitioner/dr-jones|
/// | apt-1007 | booked    | now + 30 d | pat-a   | loc-cardio |                      |
/// | apt-1008 | noshow    | now - 2 h  | pat-b   | loc-derm   |                      |
///
/// In start order: 1008, 1005, 1001, 1003, 1006, 1004, 1002, 1007.
/// `location=Location/loc-cardio,Location/loc-derm` matches 7 (all but 1006).
///
/// DocumentReferences: `doc-2001`, status current, subject.identifier =
/// pat-b's NHS number (0898889693), one PDF attachment (url `Binary/bin-2001`).
pub fn clinic_day(now: OffsetDateTime) -> Dataset {
    let now = now.to_offset(UtcOffset::UTC).replace_nanosecond(0).unwrap();
    let meta = json!({"versionId": "1", "lastUpdated": rfc3339(now - time::Duration::days(7))});
    let locations: Vec<Value> = [
        ("loc-cardio", "Cardiology Outpatients"),
        ("loc-derm", "Dermatology Clinic"),
        ("loc-other", "Orthopaedics"),
    ]
    .iter()
    .map(|(id, name)| {
        json!({"resourceType": "Location", "id": id, "meta": meta, "status": "active",
               "name": name, "mode": "instance"})
    })
    .collect();
    let mut patients: Vec<Value> = PEOPLE.iter().map(|p| patient(&meta, p)).collect();
    // pat-e: a nickname listed before the official name.
    patients[4]["name"].as_array_mut().unwrap().insert(
        0,
        json!({"use": "nickname", "family": "JONES", "given": ["Tommy"]}),
    );
    let appointments = ROWS
        .iter()
        .map(|row| appointment(&meta, now, row, &patients, &locations))
        .collect();
    let document_references = vec![json!({
        "resourceType": "DocumentReference", "id": "doc-2001", "meta": meta,
        "status": "current",
        "type": {"text": "Scanned health record"},
        "subject": {"identifier": {"system": NHS_SYSTEM, "value": "0898889693"}},
        "date": rfc3339(now - time::Duration::days(40)),
        "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/bin-2001",
                                     "title": "Scanned record"}}]
    })];
    Dataset {
        appointments,
        patients,
        locations,
        document_references,
    }
}

/// id, NHS number, MRN, family, given, gender, birth date.
type Person = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
const PEOPLE: [Person; 5] = [
    ("pat-a", Some("9434765919"), "RX0001001", "SMITH", "Alice", "female", "1962-03-14"),
    ("pat-b", Some("0898889693"), "RX0001002", "O'BRIEN", "Seán", "male", "1978-11-02"),
    ("pat-c", None, "RX0001234", "NOVAK", "Piotr", "male", "1990-07-21"),
    ("pat-d", Some("9434765918"), "RX0001004", "KHAN", "Farah", "female", "1985-01-30"),
    ("pat-e", Some("4010232137"), "RX0001005", "JONES", "Tom", "male", "1955-09-09"),
];

const HOUR: i64 = 3600;

/// id, status, start less now (seconds), patient id, location id.
type Row = (&'static str, &'static str, i64, &'static str, &'static str);

#[rustfmt::skip]
const ROWS: [Row; 8] = [
    ("apt-1001", "booked", 2 * HOUR, "pat-a", "loc-cardio"),
    ("apt-1002", "booked", 26 * HOUR, "pat-b", "loc-cardio"),
    ("apt-1003", "cancelled", 3 * HOUR, "pat-e", "loc-cardio"),
    ("apt-1004", "booked", 5 * HOUR, "pat-c", "loc-derm"),
    ("apt-1005", "arrived", HOUR, "pat-d", "loc-derm"),
    ("apt-1006", "booked", 4 * HOUR, "pat-e", "loc-other"),
    ("apt-1007", "booked", 30 * 24 * HOUR, "pat-a", "loc-cardio"),
    ("apt-1008", "noshow", -2 * HOUR, "pat-b", "loc-derm"),
];

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn appointment(
    meta: &Value,
    now: OffsetDateTime,
    row: &Row,
    patients: &[Value],
    locations: &[Value],
) -> Value {
    let (id, status, offset, pat, loc) = *row;
    let start = now + time::Duration::seconds(offset);
    let patient_name = find(patients, pat).map(|x| {
        let o = official(x);
        format!(
            "{}, {}",
            o["family"].as_str().unwrap_or(""),
            o["given"][0].as_str().unwrap_or("")
        )
    });
    let location_name = find(locations, loc).map(|x| x["name"].clone());
    let mut participants = vec![
        json!({"actor": {"reference": format!("Patient/{pat}"), "display": patient_name},
               "required": "required", "status": "accepted"}),
        json!({"actor": {"reference": format!("Location/{loc}"), "display": location_name},
               "required": "required", "status": "accepted"}),
    ];
    if id == "apt-1006" {
        participants.push(
            json!({"actor": {"reference": "Practitioner/dr-jones", "display": "Dr R Jones"},
                                 "required": "required", "status": "accepted"}),
        );
    }
    let mut a = json!({
        "resourceType": "Appointment", "id": id, "meta": meta, "status": status,
        "serviceType": [{"text": specialty(loc)}],
        "description": format!("{} outpatient appointment", specialty(loc)),
        "start": rfc3339(start), "end": rfc3339(start + time::Duration::minutes(20)),
        "minutesDuration": 20,
        "created": rfc3339(now - time::Duration::days(21)),
        "participant": participants,
    });
    if status == "cancelled" {
        a["cancelationReason"] = json!({"text": "Patient cancelled"});
    }
    a
}

fn specialty(loc: &str) -> &'static str {
    match loc {
        "loc-cardio" => "Cardiology",
        "loc-derm" => "Dermatology",
        _ => "Trauma and Orthopaedics",
    }
}

fn official(p: &Value) -> &Value {
    p["name"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["use"] == "official"))
        .unwrap_or(&Value::Null)
}

fn patient(meta: &Value, &(id, nhs, mrn, family, given, gender, birth): &Person) -> Value {
    let mut identifiers = vec![json!({"system": MRN_SYSTEM, "value": mrn})];
    if let Some(n) = nhs {
        identifiers.push(json!({"system": NHS_SYSTEM, "value": n}));
    }
    json!({
        "resourceType": "Patient", "id": id, "meta": meta,
        "identifier": identifiers,
        "active": true,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
    })
}
