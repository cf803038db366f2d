//! Checking an installed model against its receipt: provenance, sizes and
//! sha256 of every recorded file.

use super::*;

impl ModelStore {
    /// Full check: provenance plus sha256 of every recorded file.
    pub(super) fn verified(
        &self,
        spec: &ModelSpec,
        r: &Receipt,
        dir: &Path,
        progress: &dyn Progress,
    ) -> bool {
        let problem = Self::outdated_reason(spec, r).or_else(|| {
            r.files
                .iter()
                .find_map(|(name, f)| hash_check(&dir.join(name), f, progress).err())
        });
        match problem {
            Some(why) => {
                progress.message(&format!("{}: {why}; reinstalling", spec.name));
                false
            }
            None => true,
        }
    }

    /// Like [`ModelStore::resolve`], but also hashes every file against the receipt.
    pub fn verify(&self, name: &str, progress: &dyn Progress) -> Result<ResolvedModel> {
        let resolved = self.resolve(name)?;
        let receipt =
            Receipt::load(&resolved.dir, name)?.ok_or_else(|| ModelError::NotInstalled {
                name: name.to_owned(),
                detail: String::new(),
                fix: pull_command(name, None),
            })?;
        for (n, f) in &receipt.files {
            let path = resolved.dir.join(n);
            hash_check(&path, f, progress).map_err(|reason| ModelError::Corrupt {
                name: name.to_owned(),
                path,
                reason,
                fix: pull_command(name, None),
            })?;
        }
        Ok(resolved)
    }
}

pub(super) fn size_check(path: &Path, bytes: u64) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == bytes => Ok(()),
        Ok(m) => Err(format!("size {} bytes, expected {bytes}", m.len())),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

pub(super) fn hash_check(
    path: &Path,
    f: &ReceiptFile,
    progress: &dyn Progress,
) -> std::result::Result<(), String> {
    size_check(path, f.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let task = progress.task("verify", f.bytes);
    let got = sha256_file(path, &mut |n| task.inc(n));
    task.finish();
    match got {
        Ok(h) if h == f.sha256 => Ok(()),
        Ok(h) => Err(format!(
            "{}: sha256 {h}, expected {}",
            path.display(),
            f.sha256
        )),
        Err(e) => Err(e.to_string()),
    }
}
