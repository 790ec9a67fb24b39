//! Files that appear whole or not at all, written one way everywhere that
//! needs it (page images, built PDFs, exports, deliveries to a folder,
//! printed control sheets): a temporary name in the target's folder, the
//! content, fsync, rename over the target, fsync of the folder (so the rename
//! survives a power cut). A reader never sees a partial file; a crash leaves
//! at most a `.folio-tmp-…` file beside it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The prefix of temporary files, for anyone cleaning up after a crash.
pub const TMP_PREFIX: &str = ".folio-tmp-";

/// An IO failure and the path it happened at.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct PathError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> PathError + '_ {
    move |source| PathError {
        path: path.to_path_buf(),
        source,
    }
}

/// A file being written under a temporary name, until [`Staged::commit`]
/// puts it in place (dropped uncommitted, it is removed).
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dir: PathBuf,
}

impl Staged {
    /// A new temporary file in `dir` (created if missing).
    pub fn new(dir: &Path) -> Result<Staged, PathError> {
        std::fs::create_dir_all(dir).map_err(at(dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(dir)
            .map_err(at(dir))?;
        Ok(Staged {
            tmp,
            dir: dir.to_path_buf(),
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Syncs the file, renames it to `target` (on the same file system: a
    /// folder beside or below the one it was made in, created if missing)
    /// and syncs the target's folder.
    pub fn commit(self, target: &Path) -> Result<(), PathError> {
        self.tmp.as_file().sync_all().map_err(at(&self.dir))?;
        // A bare file name's parent is "": the current folder.
        let folder = match target.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => &self.dir,
        }
        .to_path_buf();
        std::fs::create_dir_all(&folder).map_err(at(&folder))?;
        self.tmp.persist(target).map_err(|e| at(target)(e.error))?;
        sync_dir(&folder)
    }
}

/// Writes `dir/name` whole or not at all with what `write` writes; returns
/// the file's path.
pub fn write_atomic(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<PathBuf, PathError> {
    let mut staged = Staged::new(dir)?;
    write(staged.file()).map_err(at(dir))?;
    let target = dir.join(name);
    staged.commit(&target)?;
    Ok(target)
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), PathError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_appears_whole_and_a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        let path = write_atomic(&sub, "x.txt", |f| f.write_all(b"hello")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        // Replaced whole.
        write_atomic(&sub, "x.txt", |f| f.write_all(b"bye")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"bye");
        // A failing writer: the old file stays, no temporary is left.
        let e = write_atomic(&sub, "x.txt", |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("the source broke"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("the source broke"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"bye");
        let names: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.txt")]);
    }

    #[test]
    fn a_staged_file_is_named_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staged::new(dir.path()).unwrap();
        s.file().write_all(b"content").unwrap();
        let target = dir.path().join("ab/cdef");
        s.commit(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"content");
    }
}
