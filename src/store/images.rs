//! Content-addressed image files: `images/ab/cdef…` named by the SHA-256 of their
//! bytes. A file is written to a temporary name, fsynced and renamed (then the
//! folder fsynced) before any row refers to it, so a committed row never points
//! at a missing or partial file. Safe to call from many threads at once.

use super::StoreError;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of image files under the data directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ImageStore {
    pub fn new(root: PathBuf) -> ImageStore {
        ImageStore { root }
    }

    /// Where the image with this hash lives.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let (a, b) = sha256.split_at(2.min(sha256.len()));
        self.root.join(a).join(b)
    }

    /// Stores bytes durably and returns their SHA-256. Storing the same bytes twice
    /// is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().unwrap_or(&self.root);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        crate::durable::write_atomic(dir, &name, |f| f.write_all(bytes))?;
        Ok(sha)
    }

    /// Reads an image back and checks it still matches its name.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(sha256);
        let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Damaged(format!(
                "image file {} does not match its hash: restore it from backup or rescan the page",
                path.display()
            )));
        }
        Ok(bytes)
    }
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    Ok(crate::durable::sync_dir(dir)?)
}
