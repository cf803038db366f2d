//! SHA-256 helpers: hashing files while reporting progress, and a writer that hashes what
//! passes through it (so a converted file's digest needs no second read).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// Lowercase hex sha256 of a file; `on_bytes` is called with each chunk's length.
pub fn sha256_file(path: &Path, on_bytes: &mut dyn FnMut(u64)) -> Result<String> {
    let mut f = File::open(path).map_err(|e| ModelError::io("cannot open", path, e))?;
    sha256_reader(&mut f, on_bytes).map_err(|e| ModelError::io("cannot read", path, e))
}

/// Lowercase hex sha256 of everything `r` yields.
pub fn sha256_reader(r: &mut dyn Read, on_bytes: &mut dyn FnMut(u64)) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        on_bytes(n as u64);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writer adapter that hashes and counts the bytes written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Returns the inner writer, the hex digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_matches_reader() {
        let data = b"hello vocalis".repeat(1000);
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (inner, digest, n) = w.finish();
        assert_eq!(inner, data);
        assert_eq!(n, data.len() as u64);
        let mut seen = 0;
        let d2 = sha256_reader(&mut &data[..], &mut |b| seen += b).unwrap();
        assert_eq!(digest, d2);
        assert_eq!(seen, data.len() as u64);
        assert_eq!(
            sha256_reader(&mut &b""[..], &mut |_| {}).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
