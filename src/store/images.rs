//! Content-addressed image files: `images/ab/cdef…` named by the SHA-256 of their
//! bytes. A file is written to a temporary name, fsynced and renamed (then the
//! folder fsynced) before any row refers to it, so a committed row never points
//! at a missing or partial file. Safe to call from many threads at once.
//!
//! At an encrypted station the same files are sealed ([`super::seal`], with
//! the file's name authenticated) and named by a keyed hash of the SHA-256
//! ([`super::keys::Keys::name_of`]), so neither their content nor whether a
//! known image is among them can be read without the station's key.

use super::StoreError;
use super::keys::Keys;
use super::seal::{SealReader, SealWriter};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder of image files under the data directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    keys: Option<Arc<Keys>>,
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file's name as sealed data knows it: its folder and its own name
/// (`ab/cdef…`), so a file moved to another place does not open.
fn sealed_name(path: &Path) -> String {
    let own = path.file_name().unwrap_or_default().to_string_lossy();
    match path.parent().and_then(Path::file_name) {
        Some(dir) => format!("{}/{own}", dir.to_string_lossy()),
        None => own.into_owned(),
    }
}

impl ImageStore {
    /// A plain image folder (no encryption).
    pub fn new(root: PathBuf) -> ImageStore {
        ImageStore { root, keys: None }
    }

    /// The image folder of a store whose database and files are in `root`.
    pub fn at(root: &Path, keys: Option<Arc<Keys>>) -> ImageStore {
        ImageStore {
            root: root.join("images"),
            keys,
        }
    }

    /// The image folder of the station in `data_dir` (refused while an
    /// encrypted station is locked).
    pub fn of_station(data_dir: &Path) -> Result<ImageStore, StoreError> {
        let (root, keys) = super::place(data_dir)?;
        Ok(ImageStore::at(&root, keys))
    }

    /// Where the image with this hash lives.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let name = match &self.keys {
            Some(k) => k.name_of(sha256),
            None => sha256.to_string(),
        };
        let (a, b) = name.split_at(2.min(name.len()));
        self.root.join(a).join(b)
    }

    /// The size on disk of a file of `bytes` bytes.
    pub fn stored_len(&self, bytes: u64) -> u64 {
        match self.keys {
            Some(_) => super::seal::sealed_len(bytes),
            None => bytes,
        }
    }

    /// Stores bytes durably and returns their SHA-256. Storing the same bytes twice
    /// is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = sha256_hex(bytes);
        self.put_as(&sha, bytes)?;
        Ok(sha)
    }

    /// Whether files here are stored as they are (not sealed).
    pub fn is_plain(&self) -> bool {
        self.keys.is_none()
    }

    /// Reads a file of this store by its path (opened, when sealed).
    pub fn read_path(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let file = File::open(path)?;
        let mut out = Vec::new();
        match &self.keys {
            None => BufReader::new(file).read_to_end(&mut out)?,
            Some(k) => SealReader::new(BufReader::new(file), k.files(), &sealed_name(path))?
                .read_to_end(&mut out)?,
        };
        Ok(out)
    }

    /// Stores bytes under the name of `sha` (their hash, but for a damaged
    /// file carried over as it was).
    pub(crate) fn put_as(&self, sha: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path_of(sha);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match &self.keys {
            None => crate::durable::write_atomic(dir, &name, |f| f.write_all(bytes))?,
            Some(k) => crate::durable::write_atomic(dir, &name, |f| {
                let mut w = SealWriter::new(BufWriter::new(f), k.files(), &sealed_name(&path))?;
                w.write_all(bytes)?;
                w.finish()?.flush()
            })?,
        };
        Ok(())
    }

    /// Reads an image back and checks it still matches its name.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(sha256);
        let mut bytes = Vec::new();
        self.reader(sha256)?
            .read_to_end(&mut bytes)
            .map_err(|e| StoreError::io(&path, e))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Damaged(format!(
                "image file {} does not match its hash: restore it from backup or rescan the page",
                path.display()
            )));
        }
        Ok(bytes)
    }

    /// Streams a stored file's content (opened, at an encrypted station).
    pub fn reader(&self, sha256: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        let path = self.path_of(sha256);
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(match &self.keys {
            None => Box::new(file),
            Some(k) => {
                let r = SealReader::new(BufReader::new(file), k.files(), &sealed_name(&path))
                    .map_err(|e| StoreError::Damaged(e.to_string()))?;
                Box::new(r)
            }
        })
    }

    /// A file to be written and then named by its content's hash
    /// ([`StagedFile::commit`]): for PDFs, streamed as they are built.
    pub fn stage(&self) -> Result<StagedFile, StoreError> {
        let mut staged = crate::durable::Staged::new(&self.root)?;
        let seal = match &self.keys {
            None => None,
            Some(k) => {
                let file = staged
                    .file()
                    .try_clone()
                    .map_err(|e| StoreError::io(&self.root, e))?;
                Some(
                    SealWriter::new(BufWriter::new(file), k.files(), STAGING)
                        .map_err(|e| StoreError::io(&self.root, e))?,
                )
            }
        };
        Ok(StagedFile {
            staged,
            seal,
            store: self.clone(),
        })
    }
}

/// The name a sealed file has while it is being written.
const STAGING: &str = "staging";

/// A file being written into the image store (see [`ImageStore::stage`]).
pub struct StagedFile {
    staged: crate::durable::Staged,
    seal: Option<SealWriter<BufWriter<File>>>,
    store: ImageStore,
}

impl Write for StagedFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.seal {
            Some(w) => w.write(data),
            None => self.staged.file().write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.seal {
            Some(w) => w.flush(),
            None => self.staged.file().flush(),
        }
    }
}

impl StagedFile {
    /// Puts the written file in place under the hash of its content.
    pub fn commit(self, sha256: &str) -> Result<(), StoreError> {
        let target = self.store.path_of(sha256);
        let Some(seal) = self.seal else {
            return Ok(self.staged.commit(&target)?);
        };
        let root = &self.store.root;
        let io_err = |e| StoreError::io(root, e);
        seal.finish().and_then(|mut w| w.flush()).map_err(io_err)?;
        // The name is known only now: sealed again under it (a second pass
        // in memory-bounded chunks), so the final file opens only there.
        let Some(k) = &self.store.keys else {
            return Ok(());
        };
        let mut staged = self.staged;
        let mut from = staged.file().try_clone().map_err(io_err)?;
        io::Seek::rewind(&mut from).map_err(io_err)?;
        let mut reader =
            SealReader::new(BufReader::new(from), k.files(), STAGING).map_err(io_err)?;
        let mut again = crate::durable::Staged::new(root)?;
        let out = again.file().try_clone().map_err(io_err)?;
        let mut w = SealWriter::new(BufWriter::new(out), k.files(), &sealed_name(&target))
            .map_err(io_err)?;
        io::copy(&mut reader, &mut w).map_err(io_err)?;
        w.finish().and_then(|mut w| w.flush()).map_err(io_err)?;
        drop(staged);
        Ok(again.commit(&target)?)
    }
}

/// Opens a file of the image store by its path, for a reader that has only
/// the path (an uploader streaming a built PDF): a file inside an unlocked
/// encrypted station is opened with its key; one inside a locked station
/// is refused, never read as if it were plain.
pub fn open_path(path: &Path) -> Result<Box<dyn Read + Send + Sync>, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    match super::keys::owner_of(path) {
        super::keys::Owner::Plain => Ok(Box::new(file)),
        super::keys::Owner::Locked(vault) => Err(super::keys::KeyError::Locked(vault).into()),
        super::keys::Owner::Unlocked(k) => Ok(Box::new(
            SealReader::new(BufReader::new(file), k.files(), &sealed_name(path))
                .map_err(|e| StoreError::Damaged(e.to_string()))?,
        )),
    }
}

/// Writes `dir/name` whole or not at all: sealed under `keys` (the name
/// authenticated, as [`open_path`] opens it) at an encrypted station, as it
/// is otherwise. For the station's other files with patient content
/// (destruction certificates).
pub fn write_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    keys: Option<&Keys>,
) -> Result<PathBuf, StoreError> {
    let path = dir.join(name);
    Ok(match keys {
        None => crate::durable::write_atomic(dir, name, |f| f.write_all(bytes))?,
        Some(k) => crate::durable::write_atomic(dir, name, |f| {
            let mut w = SealWriter::new(BufWriter::new(f), k.files(), &sealed_name(&path))?;
            w.write_all(bytes)?;
            w.finish()?.flush()
        })?,
    })
}

/// Reads a file written by [`write_file`] (opened, when sealed).
pub fn read_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    open_path(path)?
        .read_to_end(&mut out)
        .map_err(|e| StoreError::io(path, e))?;
    Ok(out)
}

/// The size on disk of the image store's file at `path` holding `bytes`
/// bytes (sealed files are longer).
pub fn stored_len_at(path: &Path, bytes: u64) -> u64 {
    match super::keys::owner_of(path) {
        super::keys::Owner::Plain => bytes,
        _ => super::seal::sealed_len(bytes),
    }
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    Ok(crate::durable::sync_dir(dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn sealed_files_hide_their_content_and_name_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::generate());
        let images = ImageStore::at(dir.path(), Some(keys.clone()));
        let page = b"a canary page image".repeat(5000);
        let sha = images.put(&page).unwrap();
        let path = images.path_of(&sha);
        assert!(!path.to_string_lossy().contains(&sha));
        let on_disk = fs::read(&path).unwrap();
        assert_eq!(on_disk.len() as u64, images.stored_len(page.len() as u64));
        assert!(!on_disk.windows(19).any(|w| w == b"a canary page image"));
        assert_eq!(images.get(&sha).unwrap(), page);
        // A PDF streamed in, named at the end.
        let mut staged = images.stage().unwrap();
        staged.write_all(b"%PDF-1.4 streamed").unwrap();
        let pdf_sha = sha256_hex(b"%PDF-1.4 streamed");
        staged.commit(&pdf_sha).unwrap();
        let mut back = String::new();
        images
            .reader(&pdf_sha)
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "%PDF-1.4 streamed");
        // Two files swapped under each other's names are refused.
        let other = images.put(b"another page").unwrap();
        let (p1, p2) = (images.path_of(&sha), images.path_of(&other));
        let (b1, b2) = (fs::read(&p1).unwrap(), fs::read(&p2).unwrap());
        fs::write(&p1, &b2).unwrap();
        fs::write(&p2, &b1).unwrap();
        for s in [&sha, &other] {
            let e = images.get(s).unwrap_err().to_string();
            assert!(e.contains("does not authenticate"), "{e}");
        }
        // No staging file is left behind.
        let loose: Vec<_> = fs::read_dir(dir.path().join("images"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        assert!(loose.is_empty(), "{loose:?}");
    }
}
