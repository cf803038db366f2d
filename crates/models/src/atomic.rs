//! Atomic file creation: write into a temporary file in the destination directory, then rename
//! it over the final name, so readers never observe a partially written model file.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{ModelError, Result};
use crate::hash::HashingWriter;

/// Prefix of temporary files (removed by the next pull if a pull was interrupted).
pub(crate) const TEMP_PREFIX: &str = ".vocalis-tmp-";

/// A file being written; becomes visible at `dest` only after [`AtomicFile::commit`].
pub struct AtomicFile {
    dest: PathBuf,
    writer: HashingWriter<BufWriter<NamedTempFile>>,
}

/// Digest and size of a committed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Final path.
    pub path: PathBuf,
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

impl AtomicFile {
    /// Starts writing `dest` (its directory is created if needed).
    pub fn create(dest: &Path) -> Result<Self> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| ModelError::io("cannot create directory", dir, e))?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        // Temporary files are private (0600) by default; installed models are shared files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| ModelError::io("cannot create temporary file in", dir, e))?;
        Ok(Self {
            dest: dest.to_owned(),
            writer: HashingWriter::new(BufWriter::with_capacity(1 << 20, tmp)),
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<Committed> {
        let dest = self.dest;
        let (buf, sha256, bytes) = self.writer.finish();
        let tmp = buf
            .into_inner()
            .map_err(|e| ModelError::io("cannot write", &dest, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| ModelError::io("cannot sync", &dest, e))?;
        tmp.persist(&dest)
            .map_err(|e| ModelError::io("cannot rename into", &dest, e.error))?;
        Ok(Committed {
            path: dest,
            sha256,
            bytes,
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<Committed> {
    let mut f = AtomicFile::create(dest)?;
    f.write_all(bytes)
        .map_err(|e| ModelError::io("cannot write", dest, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_makes_file_visible() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/x.bin");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"abc").unwrap();
        assert!(!dest.exists());
        let c = f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert_eq!(c.bytes, 3);
        // Dropping an uncommitted file leaves nothing behind.
        drop(AtomicFile::create(&dir.path().join("y.bin")).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
