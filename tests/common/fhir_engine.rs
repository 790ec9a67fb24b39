//! A real FHIR engine for the MHD tests: Medplum's FHIR router over its
//! in-memory repository, with validation of every resource written
//! (tests/fhir_engine/server.mjs), run with Node as a child process and killed
//! when dropped. Faults are injected in front of the engine over HTTP.
//!
//! Included with `#[path = "common/fhir_engine.rs"]` by the tests that need it.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SETUP: &str =
    "run `bash installer/setup.sh` (it installs Node and the engine's npm packages)";

/// What the engine's front does to the next transaction POSTs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EngineFault {
    /// Reset the connection before the engine sees the Bundle.
    ResetBefore,
    /// Let the engine commit, then reset the connection without answering.
    ResetAfter,
    /// Let the engine commit, then never answer (the client times out).
    StallAfter,
    /// Answer this status without processing.
    Status(u16),
    /// No fault (to let POSTs through before a later fault).
    Pass,
}

/// Which requests a fault is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultOn {
    /// Transaction POSTs to the base.
    Transaction,
    /// Binary writes (`PUT Binary/<id>`, `POST Binary`).
    Binary,
}

/// How many resources of each kind the engine holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub lists: u64,
    pub document_references: u64,
    pub binaries: u64,
    pub provenances: u64,
}

/// One write request (not a GET) as the engine's front saw it.
#[derive(Debug, Clone)]
pub struct Post {
    pub method: String,
    /// The path after the base: "" for a transaction, `Binary/<id>`, ...
    pub path: String,
    /// "transaction", "binary", or None for other writes.
    pub kind: Option<String>,
    /// The fault applied ("reset-before", "stall-after", ...), if any.
    pub fault: Option<String>,
    /// The status sent: a number, or "reset" / "stalled".
    pub status: String,
    /// The engine's `response.status` of each entry, when it processed the
    /// Bundle and answered with a transaction-response.
    pub entries: Option<Vec<String>>,
    /// The engine's OperationOutcome when it refused the Bundle.
    pub outcome: Option<Value>,
}

pub struct FhirEngine {
    /// FHIR base URL, `http://127.0.0.1:<port>/fhir`.
    pub base: String,
    root: String,
    child: Child,
    /// Held open: the engine exits when it closes.
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    http: reqwest::blocking::Client,
}

fn engine_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fhir_engine")
}

impl FhirEngine {
    /// Starts an engine with Medplum's default limits.
    pub fn start() -> FhirEngine {
        FhirEngine::start_with(&[])
    }

    /// Starts an engine with extra switches for server.mjs
    /// (`--base64-max-bytes N`, `--batch-semantics`).
    pub fn start_with(args: &[&str]) -> FhirEngine {
        let dir = engine_dir();
        match Command::new("node").arg("--version").output() {
            Ok(o) if o.status.success() => {}
            _ => panic!("Node.js (`node`) is not installed: {SETUP}"),
        }
        assert!(
            dir.join("node_modules/@medplum/fhir-router/package.json")
                .exists(),
            "the FHIR engine's packages are not installed in {}: {SETUP}",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("--experimental-websocket")
            .arg(dir.join("server.mjs"))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node ({e}): {SETUP}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("listening ") {
                    let _ = tx.send(port.trim().to_string());
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the FHIR engine did not start ({SETUP} if its packages are missing):\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        FhirEngine {
            base: format!("http://127.0.0.1:{port}/fhir"),
            root: format!("http://127.0.0.1:{port}"),
            child,
            stdin,
            stderr,
            http,
        }
    }

    /// What the engine wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Queues `fault` for the next `count` transaction POSTs.
    pub fn fault(&self, fault: EngineFault, count: u32) {
        self.fault_on(FaultOn::Transaction, fault, count)
    }

    /// Queues `fault` for the next `count` requests of a kind.
    pub fn fault_on(&self, on: FaultOn, fault: EngineFault, count: u32) {
        let mut body = match fault {
            EngineFault::ResetBefore => json!({"fault": "reset-before", "count": count}),
            EngineFault::ResetAfter => json!({"fault": "reset-after", "count": count}),
            EngineFault::StallAfter => json!({"fault": "stall-after", "count": count}),
            EngineFault::Status(s) => json!({"fault": "status", "status": s, "count": count}),
            EngineFault::Pass => json!({"fault": "pass", "count": count}),
        };
        body["on"] = json!(match on {
            FaultOn::Transaction => "transaction",
            FaultOn::Binary => "binary",
        });
        let r = self
            .http
            .post(format!("{}/_control", self.root))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .expect("engine control");
        assert!(r.status().is_success(), "engine refused fault {body}");
    }

    fn control(&self, what: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/_control/{what}", self.root))
            .send()
            .expect("engine control");
        assert!(r.status().is_success(), "engine control {what}");
        serde_json::from_slice(&r.bytes().expect("engine control body"))
            .expect("engine control json")
    }

    /// How many Lists, DocumentReferences and Binaries the engine holds.
    pub fn counts(&self) -> Counts {
        let c = self.control("counts");
        Counts {
            lists: c["List"].as_u64().expect("List count"),
            document_references: c["DocumentReference"].as_u64().expect("DR count"),
            binaries: c["Binary"].as_u64().expect("Binary count"),
            provenances: c["Provenance"].as_u64().expect("Provenance count"),
        }
    }

    /// The transaction POSTs so far, in order of arrival.
    pub fn transactions(&self) -> Vec<Post> {
        self.posts()
            .into_iter()
            .filter(|p| p.kind.as_deref() == Some("transaction"))
            .collect()
    }

    /// Every write request so far, in order of arrival.
    pub fn posts(&self) -> Vec<Post> {
        self.control("log")
            .as_array()
            .expect("log is an array")
            .iter()
            .map(|p| Post {
                method: p["method"].as_str().unwrap_or_default().to_string(),
                path: p["path"].as_str().unwrap_or_default().to_string(),
                kind: p["kind"].as_str().map(str::to_string),
                fault: p["fault"].as_str().map(str::to_string),
                status: match &p["status"] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
                entries: p["entries"].as_array().map(|e| {
                    e.iter()
                        .map(|s| s.as_str().unwrap_or("?").to_string())
                        .collect()
                }),
                outcome: p.get("outcome").cloned(),
            })
            .collect()
    }

    /// `GET [base]/<path>` as FHIR JSON; panics unless 200.
    pub fn get(&self, path: &str) -> Value {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path)
        };
        let r = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/fhir+json")
            .send()
            .expect("engine GET");
        let status = r.status();
        let body: Value =
            serde_json::from_slice(&r.bytes().expect("engine body")).expect("engine answers JSON");
        assert!(status.is_success(), "GET {url}: {status} {body}");
        body
    }

    /// A search, `query` as `name=value&name=value` with values unencoded
    /// (`identifier=urn:ietf:rfc:3986|urn:uuid:...`); returns the searchset.
    pub fn search(&self, resource: &str, query: &str) -> Value {
        let mut url = reqwest::Url::parse(&format!("{}/{}", self.base, resource)).expect("url");
        {
            let mut q = url.query_pairs_mut();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                q.append_pair(k, v);
            }
        }
        let found = self.get(url.as_str());
        assert_eq!(found["type"], "searchset", "{found}");
        found
    }

    /// The resources a search finds.
    pub fn search_resources(&self, resource: &str, query: &str) -> Vec<Value> {
        self.search(resource, query)["entry"]
            .as_array()
            .map(|e| e.iter().map(|e| e["resource"].clone()).collect())
            .unwrap_or_default()
    }

    /// The bytes of a Binary, by its URL as a DocumentReference carries it
    /// (`Binary/<id>`, relative to the base, or absolute).
    pub fn read_binary(&self, url: &str) -> Vec<u8> {
        let b = self.get(url);
        assert_eq!(b["resourceType"], "Binary", "{url} is not a Binary");
        B64.decode(b["data"].as_str().expect("Binary.data"))
            .expect("Binary.data is base64")
    }
}

impl Drop for FhirEngine {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
