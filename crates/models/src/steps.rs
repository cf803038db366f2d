//! File-level conversion steps used by the store: CTranslate2 → ggml f16, and ggml f16 →
//! quantized ggml, each written atomically with a progress bar and returning the digest.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::atomic::{AtomicFile, Committed};
use crate::convert::{convert_ct2_whisper, total_output_bytes};
use crate::error::{ModelError, Result};
use crate::progress::Progress;
use crate::quant::{quantize_ggml, Quantization};

fn open(path: &Path) -> Result<BufReader<File>> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|e| ModelError::io("cannot open", path, e))
}

/// Converts a CTranslate2 Whisper `model.bin` + `vocabulary.txt` into a ggml f16 file at `dest`.
pub fn convert_file(
    model_bin: &Path,
    vocabulary: &Path,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<Committed> {
    let vocab = std::fs::read_to_string(vocabulary)
        .map_err(|e| ModelError::io("cannot read", vocabulary, e))?;
    let mut src = open(model_bin)?;
    let total = total_output_bytes(&mut src)?;
    let task = progress.task("convert", total);
    let out = AtomicFile::create(dest)?;
    let result = convert_ct2_whisper(&mut src, &vocab, out, &mut |n| task.inc(n));
    task.finish();
    let (out, _) = result?;
    out.commit()
}

/// Writes a `q`-quantized copy of the ggml model `src` to `dest`.
pub fn quantize_file(
    src: &Path,
    dest: &Path,
    q: Quantization,
    progress: &dyn Progress,
) -> Result<Committed> {
    let total = std::fs::metadata(src)
        .map_err(|e| ModelError::io("cannot read", src, e))?
        .len();
    let mut input = open(src)?;
    let task = progress.task(q.as_str(), total);
    let out = AtomicFile::create(dest)?;
    let result = quantize_ggml(&mut input, out, q, &mut |n| task.inc(n));
    task.finish();
    result?.commit()
}
