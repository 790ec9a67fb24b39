//! A real S3 server for the upload tests: a throwaway single-node Ceph cluster
//! (one monitor, one in-memory OSD, radosgw) on 127.0.0.1, all its state in a
//! temporary folder, started by tests/common/ceph_node.sh and stopped when
//! dropped. Needs Debian's radosgw, ceph-mon, ceph-osd and ceph-common
//! (`bash installer/setup.sh --tests`). Starts in about 3 s.
//!
//! What radosgw (Ceph 16, Debian 12) does that a client must allow for:
//! path-style addressing only; every signed request must carry
//! `x-amz-content-sha256` (`UNSIGNED-PAYLOAD` is accepted); the body of
//! CompleteMultipartUpload has an empty `<ETag>` (HEAD the object for it);
//! `If-None-Match: *` is honoured on PutObject (412) but ignored on
//! CompleteMultipartUpload.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

const SETUP: &str =
    "run `bash installer/setup.sh --tests` (it installs radosgw, ceph-mon, ceph-osd, ceph-common)";

pub struct CephNode {
    /// `http://127.0.0.1:<port>`, path-style.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// The zonegroup's name ("default"); radosgw accepts any region in a signature.
    pub region: String,
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("common")
        .join("ceph_node.sh")
}

impl CephNode {
    /// A node with Ceph's default minimum multipart part size (5 MiB).
    pub fn start() -> CephNode {
        CephNode::start_with(&[])
    }

    /// A node whose multipart parts (but the last) may be as small as `bytes`.
    pub fn start_with_min_part_size(bytes: u64) -> CephNode {
        CephNode::start_with(&[("CEPH_NODE_MIN_PART_SIZE", bytes.to_string())])
    }

    /// A node started with extra environment for ceph_node.sh.
    pub fn start_with(env: &[(&str, String)]) -> CephNode {
        let dir = tempfile::Builder::new()
            .prefix("ceph-")
            .tempdir()
            .expect("tempdir for the Ceph node");
        let mut cmd = Command::new("bash");
        cmd.arg(script())
            .arg("start")
            .arg(dir.path())
            // The daemons die with this process even if it never drops the node.
            .env("CEPH_NODE_OWNER_PID", std::process::id().to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script().display()));
        if !out.status.success() {
            panic!(
                "the Ceph node did not start ({:?}; {SETUP} if Ceph is missing):\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env_file = dir.path().join("env");
        let text = std::fs::read_to_string(&env_file)
            .unwrap_or_else(|e| panic!("{}: {e}", env_file.display()));
        let get = |key: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {key} in {}:\n{text}", env_file.display()))
                .to_string()
        };
        CephNode {
            endpoint: get("S3_ENDPOINT"),
            access_key: get("S3_ACCESS_KEY"),
            secret_key: get("S3_SECRET_KEY"),
            region: get("S3_REGION"),
            dir,
        }
    }

    /// The node's folder (config, logs in `log/`).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// radosgw's log so far, for a failing test's message.
    pub fn rgw_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log").join("rgw.log")).unwrap_or_default()
    }
}

impl Drop for CephNode {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
