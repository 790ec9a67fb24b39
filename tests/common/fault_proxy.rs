//! A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1, for the tests of a
//! client's retries against a real server behind it (an S3 server such as
//! radosgw). Plain std sockets and one thread per connection.
//!
//! Every request is forwarded unchanged (the Host header included: SigV4
//! signs it) except that the upstream is asked to close after each answer;
//! the client's own connection is kept alive. A fault queued with
//! [`FaultProxy::fault`] replaces the forwarding for the next requests that
//! match: an injected S3-style error, a reset before anything reaches the
//! server, or a reset after the server has acted and answered (the answer
//! never reaches the client). Resets are real TCP resets (SO_LINGER 0).
//! Bodies are streamed: Content-Length, chunked and, for answers, until EOF;
//! `Expect: 100-continue` is honoured (the upstream's 100 relayed, or one sent
//! by the proxy when the upstream stays silent for a second).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Which requests a queued fault applies to.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    Any,
    /// The method, e.g. "PUT" (ASCII case ignored).
    Method(&'static str),
    /// The request target contains this, e.g. "partNumber=" or "uploads".
    Query(&'static str),
    /// Both.
    MethodQuery(&'static str, &'static str),
}

impl Matcher {
    fn matches(&self, method: &str, target: &str) -> bool {
        match *self {
            Matcher::Any => true,
            Matcher::Method(m) => method.eq_ignore_ascii_case(m),
            Matcher::Query(q) => target.contains(q),
            Matcher::MethodQuery(m, q) => method.eq_ignore_ascii_case(m) && target.contains(q),
        }
    }
}

/// What happens to a matching request.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with an S3 error body (`SlowDown` for 503,
    /// `InternalError` for 500, ...) without forwarding.
    Status(u16),
    /// Read the request head, then reset the connection; nothing forwarded.
    ResetBefore,
    /// Forward the request and read the server's whole answer (so it has
    /// acted), then reset the client's connection instead of answering.
    ResetAfter,
    /// Forward as usual (lets some matching requests through before a later
    /// fault in the queue).
    Pass,
}

/// One request as the proxy saw it.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub target: String,
    /// The status the client got; None when its connection was reset.
    pub status: Option<u16>,
    /// The fault applied (`Fault`'s Debug form, e.g. "Status(503)",
    /// "ResetAfter"); None when forwarded as usual (`Fault::Pass` included).
    pub fault: Option<String>,
}

struct Queued {
    on: Matcher,
    fault: Fault,
    left: u32,
}

struct Shared {
    upstream: String,
    faults: Mutex<VecDeque<Queued>>,
    log: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The first queued fault matching, consumed; `Pass` when none does.
    fn take_fault(&self, method: &str, target: &str) -> Fault {
        let mut q = lock(&self.faults);
        let Some(i) = q.iter().position(|e| e.on.matches(method, target)) else {
            return Fault::Pass;
        };
        let fault = q[i].fault;
        q[i].left -= 1;
        if q[i].left == 0 {
            q.remove(i);
        }
        fault
    }

    /// Logged before the client sees the outcome, so a test reading the log
    /// after its call returned finds the entry.
    fn record(&self, req: &Head, status: Option<u16>, fault: Fault) {
        let (method, target) = req.method_target();
        lock(&self.log).push(Seen {
            method: method.to_string(),
            target: target.to_string(),
            status,
            fault: (fault != Fault::Pass).then(|| format!("{fault:?}")),
        });
    }
}

/// The proxy; stops accepting when dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[allow(dead_code)]
impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`
    /// ("127.0.0.1:PORT").
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault proxy: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("fault proxy: local address")
            .port();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            faults: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || accept_loop(listener, s))
            .expect("fault proxy: spawn the accept thread");
        FaultProxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queues `fault` for the next `count` requests matching `on`. A request
    /// consumes the first queued entry it matches, in the order queued.
    pub fn fault(&self, on: Matcher, fault: Fault, count: u32) {
        if count > 0 {
            lock(&self.shared.faults).push_back(Queued {
                on,
                fault,
                left: count,
            });
        }
    }

    /// How many queued faults are still to be consumed.
    pub fn pending(&self) -> u32 {
        lock(&self.shared.faults).iter().map(|q| q.left).sum()
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept thread up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(conn) = conn else { continue };
        let s = shared.clone();
        let _ = std::thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || serve(conn, &s));
    }
}

/// What to do with the client's connection after an exchange.
enum Next {
    KeepAlive,
    Close,
    Reset,
}

fn serve(client: TcpStream, shared: &Shared) {
    let _ = client.set_nodelay(true);
    let Ok(writer) = client.try_clone() else {
        return;
    };
    let mut r = BufReader::with_capacity(1 << 16, client);
    loop {
        let req = match read_head(&mut r) {
            Ok(Some(h)) if !shared.stop.load(Ordering::SeqCst) => h,
            _ => return,
        };
        match exchange(&mut r, &writer, &req, shared) {
            Ok(Next::KeepAlive) => continue,
            Ok(Next::Close) => return close_gracefully(&writer, &mut r),
            Ok(Next::Reset) | Err(_) => return reset(&writer),
        }
    }
}

fn exchange(
    r: &mut BufReader<TcpStream>,
    client: &TcpStream,
    req: &Head,
    shared: &Shared,
) -> io::Result<Next> {
    let body = request_body(req)?;
    let (method, target) = req.method_target();
    match shared.take_fault(method, target) {
        Fault::ResetBefore => {
            shared.record(req, None, Fault::ResetBefore);
            Ok(Next::Reset)
        }
        Fault::Status(code) => injected(r, client, req, body, code, shared),
        fault => forward(r, client, req, body, fault, shared),
    }
}

/// Answers `code` without forwarding. The body is read first unless the
/// client waits for a 100 Continue (then the connection is closed after).
fn injected(
    r: &mut BufReader<TcpStream>,
    mut client: &TcpStream,
    req: &Head,
    body: Body,
    code: u16,
    shared: &Shared,
) -> io::Result<Next> {
    let expect = req.expects_continue();
    if !expect {
        relay_body(r, &mut io::sink(), body)?;
    }
    let keep = !expect && req.keep_alive();
    shared.record(req, Some(code), Fault::Status(code));
    let head_only = req.method_target().0.eq_ignore_ascii_case("HEAD");
    client.write_all(&error_response(code, head_only, keep))?;
    Ok(if keep { Next::KeepAlive } else { Next::Close })
}

fn forward(
    r: &mut BufReader<TcpStream>,
    mut client: &TcpStream,
    req: &Head,
    body: Body,
    fault: Fault,
    shared: &Shared,
) -> io::Result<Next> {
    let Ok(up) = TcpStream::connect(&shared.upstream) else {
        shared.record(req, Some(502), fault);
        client.write_all(&error_response(502, false, false))?;
        return Ok(Next::Close);
    };
    let _ = up.set_nodelay(true);
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut ur = BufReader::with_capacity(1 << 16, up.try_clone()?);
    let mut uw = up;
    uw.write_all(req.forwarded(&[("Connection", "close")]).as_bytes())?;
    // A final answer before the body was sent (to an Expect, or after the
    // server stopped reading it): the client's connection cannot be reused.
    let mut early = None;
    if req.expects_continue() {
        early = await_continue(&mut ur, client)?;
    }
    if early.is_none()
        && let Err(e) = relay_body(r, &mut uw, body)
    {
        let _ = uw.set_read_timeout(Some(Duration::from_secs(5)));
        early = Some(read_final_head(&mut ur).map_err(|_| e)?);
    }
    let resp = match early {
        Some(ref h) => h.clone(),
        None => read_final_head(&mut ur)?,
    };
    let status = resp.status()?;
    let rbody = response_body(&resp, status, req.method_target().0)?;
    if fault == Fault::ResetAfter {
        let _ = relay_body(&mut ur, &mut io::sink(), rbody);
        shared.record(req, None, fault);
        return Ok(Next::Reset);
    }
    let keep = early.is_none() && req.keep_alive() && !matches!(rbody, Body::UntilEof);
    shared.record(req, Some(status), fault);
    let connection = if keep { "keep-alive" } else { "close" };
    client.write_all(resp.forwarded(&[("Connection", connection)]).as_bytes())?;
    relay_body(&mut ur, &mut client, rbody)?;
    Ok(if keep { Next::KeepAlive } else { Next::Close })
}

/// After the head went upstream with `Expect: 100-continue`: relays the
/// upstream's 100 Continue (or sends one when it says nothing for a second)
/// and returns None, or returns the final answer it gave instead.
fn await_continue(
    ur: &mut BufReader<TcpStream>,
    mut client: &TcpStream,
) -> io::Result<Option<Head>> {
    ur.get_ref()
        .set_read_timeout(Some(Duration::from_secs(1)))?;
    let answered = match ur.fill_buf() {
        Ok([]) => return Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => true,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => return Err(e),
    };
    ur.get_ref()
        .set_read_timeout(Some(Duration::from_secs(120)))?;
    if answered {
        let head = read_head(ur)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        if head.status()? >= 200 {
            return Ok(Some(head));
        }
    }
    client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    Ok(None)
}

/// The next non-1xx answer (interim ones are dropped: a 100 that comes after
/// the body is of no use to the client).
fn read_final_head(ur: &mut BufReader<TcpStream>) -> io::Result<Head> {
    loop {
        let head = read_head(ur)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        if head.status()? >= 200 {
            return Ok(head);
        }
    }
}

/// A request or response head: the start line and the header lines as sent.
#[derive(Debug, Clone)]
struct Head {
    start: String,
    headers: Vec<String>,
}

const HOP_BY_HOP: [&str; 3] = ["connection", "keep-alive", "proxy-connection"];

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Whether a comma-separated header holds `token` (ASCII case ignored).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers.iter().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case(name)
                    && v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
            })
        })
    }

    fn method_target(&self) -> (&str, &str) {
        let mut it = self.start.split_ascii_whitespace();
        (it.next().unwrap_or(""), it.next().unwrap_or(""))
    }

    fn status(&self) -> io::Result<u16> {
        self.start
            .split_ascii_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("status line {:?}", self.start)))
    }

    fn keep_alive(&self) -> bool {
        if self.start.ends_with("HTTP/1.0") {
            self.has_token("Connection", "keep-alive")
        } else {
            !self.has_token("Connection", "close")
        }
    }

    fn expects_continue(&self) -> bool {
        self.get("Expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }

    /// The head as received, hop-by-hop headers replaced by `extra`.
    fn forwarded(&self, extra: &[(&str, &str)]) -> String {
        let mut s = format!("{}\r\n", self.start);
        for l in &self.headers {
            let name = l.split_once(':').map_or("", |(k, _)| k.trim());
            if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                s.push_str(l);
                s.push_str("\r\n");
            }
        }
        for (k, v) in extra {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("fault proxy: bad {what}"),
    )
}

/// One line with its line end; an error past 16 KiB or at EOF mid-line.
fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.take(16 << 10).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(if line.is_empty() {
            io::ErrorKind::UnexpectedEof.into()
        } else {
            bad("line (too long or cut)")
        });
    }
    Ok(line)
}

/// The next head; None at a clean EOF before it.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = String::new();
    // Empty lines before a request line are ignored (RFC 9112 2.2).
    while start.is_empty() {
        match read_line(r) {
            Ok(l) => start = String::from_utf8_lossy(&l).trim_end().to_string(),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let mut headers = Vec::new();
    loop {
        let l = read_line(r)?;
        let l = String::from_utf8_lossy(&l)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if l.is_empty() {
            return Ok(Some(Head { start, headers }));
        }
        if headers.len() > 200 {
            return Err(bad("head (too many headers)"));
        }
        headers.push(l);
    }
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Length(u64),
    Chunked,
    UntilEof,
}

fn content_length(h: &Head) -> io::Result<Option<u64>> {
    h.get("Content-Length")
        .map(|v| v.parse().map_err(|_| bad("Content-Length")))
        .transpose()
}

fn request_body(h: &Head) -> io::Result<Body> {
    if h.has_token("Transfer-Encoding", "chunked") {
        return Ok(Body::Chunked);
    }
    Ok(match content_length(h)? {
        Some(n) if n > 0 => Body::Length(n),
        _ => Body::None,
    })
}

fn response_body(h: &Head, status: u16, method: &str) -> io::Result<Body> {
    if method.eq_ignore_ascii_case("HEAD") || status < 200 || status == 204 || status == 304 {
        return Ok(Body::None);
    }
    if h.has_token("Transfer-Encoding", "chunked") {
        return Ok(Body::Chunked);
    }
    Ok(match content_length(h)? {
        Some(0) => Body::None,
        Some(n) => Body::Length(n),
        None => Body::UntilEof,
    })
}

/// Copies a body as it comes (chunked framing kept).
fn relay_body(r: &mut impl BufRead, w: &mut impl Write, body: Body) -> io::Result<()> {
    match body {
        Body::None => {}
        Body::Length(n) => copy_exact(r, w, n)?,
        Body::Chunked => relay_chunked(r, w)?,
        Body::UntilEof => {
            io::copy(r, w)?;
        }
    }
    w.flush()
}

fn copy_exact(r: &mut impl BufRead, w: &mut impl Write, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), w)?;
    if copied < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("fault proxy: body cut after {copied} of {n} bytes"),
        ));
    }
    Ok(())
}

fn relay_chunked(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<()> {
    loop {
        let line = read_line(r)?;
        w.write_all(&line)?;
        let text = String::from_utf8_lossy(&line);
        let hex = text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(hex, 16).map_err(|_| bad("chunk size"))?;
        if size == 0 {
            break;
        }
        copy_exact(r, w, size)?;
        let end = read_line(r)?;
        if end != b"\r\n" && end != b"\n" {
            return Err(bad("chunk end"));
        }
        w.write_all(&end)?;
    }
    // Trailers, up to the empty line.
    loop {
        let line = read_line(r)?;
        w.write_all(&line)?;
        if line == b"\r\n" || line == b"\n" {
            return Ok(());
        }
    }
}

/// An injected answer: S3's error document.
fn error_response(code: u16, head_only: bool, keep: bool) -> Vec<u8> {
    let (reason, s3_code) = match code {
        400 => ("Bad Request", "BadRequest"),
        403 => ("Forbidden", "AccessDenied"),
        404 => ("Not Found", "NoSuchKey"),
        408 => ("Request Timeout", "RequestTimeout"),
        409 => ("Conflict", "OperationAborted"),
        429 => ("Too Many Requests", "SlowDown"),
        500 => ("Internal Server Error", "InternalError"),
        502 => ("Bad Gateway", "BadGateway"),
        503 => ("Service Unavailable", "SlowDown"),
        504 => ("Gateway Timeout", "GatewayTimeout"),
        _ => ("Error", "InternalError"),
    };
    let body = if code < 200 || code == 204 || code == 304 {
        String::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code>\
             <Message>injected</Message><RequestId>fault-proxy</RequestId></Error>"
        )
    };
    let connection = if keep { "keep-alive" } else { "close" };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nx-amz-request-id: fault-proxy\r\nConnection: {connection}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Closes after an answer: what the client may still send is read and
/// dropped (for up to 2 s), so that closing does not turn into a reset that
/// could destroy the answer before the client reads it.
fn close_gracefully(client: &TcpStream, r: &mut BufReader<TcpStream>) {
    let _ = client.shutdown(Shutdown::Write);
    let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = io::copy(r, &mut io::sink());
}

/// Closes with a TCP reset rather than an orderly close (the other handle on
/// the socket is dropped by the caller right after).
fn reset(client: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
