//! ggml `q8_0` quantization and the f16 → q8_0 requantizer for whisper ggml files.
//!
//! `q8_0`: blocks of 32 values, each stored as an f16 scale `d = max|x| / 127` followed by 32
//! `i8` values `round(x / d)` (computed as `x * (1/d)`, rounding half away from zero, exactly like
//! ggml's `quantize_row_q8_0_ref`). Which tensors are quantized follows whisper.cpp's
//! `examples/quantize`: every 2-D tensor except the conv biases and the positional embeddings;
//! 1-D tensors and the 3-D conv weights keep their type.

use std::fmt;
use std::io::{Read, Seek, Write};
use std::str::FromStr;

use crate::ggml::{
    GgmlError, GgmlFile, GgmlType, GgmlWriter, FTYPE_MOSTLY_Q8_0, GGML_QNT_VERSION,
    GGML_QNT_VERSION_FACTOR, QK8_0,
};

/// Supported quantization formats.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Quantization {
    /// ggml `q8_0` (8-bit, block size 32).
    #[serde(rename = "q8_0")]
    Q8_0,
}

impl Quantization {
    /// Name used on the command line and in file names (`q8_0`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
        }
    }

    /// File name of the quantized whisper model (`ggml-model-q8_0.bin`).
    pub fn file_name(self) -> String {
        format!("ggml-model-{}.bin", self.as_str())
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error parsing a quantization name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown quantization `{0}` (supported: q8_0)")]
pub struct UnknownQuantization(pub String);

impl FromStr for Quantization {
    type Err = UnknownQuantization;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "q8_0" | "q8" => Ok(Self::Q8_0),
            _ => Err(UnknownQuantization(s.to_owned())),
        }
    }
}

/// Quantizes `x` (length a multiple of 32) to q8_0 blocks appended to `out`.
pub fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    debug_assert!(x.len().is_multiple_of(QK8_0));
    out.reserve(x.len() / QK8_0 * 34);
    for block in x.chunks_exact(QK8_0) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|&v| (v * id).round() as i8 as u8));
    }
}

/// Decodes q8_0 blocks back to f32 (for tests and checks).
pub fn dequantize_q8_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 34 * QK8_0);
    for block in bytes.chunks_exact(34) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
    }
    out
}

/// Whether whisper.cpp's quantizer quantizes a tensor of this name and rank.
pub fn should_quantize(name: &str, n_dims: usize) -> bool {
    const SKIP: [&str; 4] = [
        "encoder.conv1.bias",
        "encoder.conv2.bias",
        "encoder.positional_embedding",
        "decoder.positional_embedding",
    ];
    n_dims == 2 && !SKIP.contains(&name)
}

/// Rewrites a whisper ggml file (f16 or f32 weights) as `q` into `out`, tensor by tensor.
/// `on_bytes` is called with the number of input bytes processed.
pub fn quantize_ggml<R: Read + Seek, W: Write>(
    input: &mut R,
    out: W,
    q: Quantization,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<W, GgmlError> {
    let Quantization::Q8_0 = q;
    let file = GgmlFile::parse(input)?;
    let mut header = file.header.clone();
    header.hparams.ftype = GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + FTYPE_MOSTLY_Q8_0;
    let mut w = GgmlWriter::new(out, &header)?;
    let mut buf = Vec::new();
    for t in &file.tensors {
        let data = GgmlFile::read_data(input, t)?;
        let shape = t.shape();
        if should_quantize(&t.name, t.ne.len()) {
            if !(t.ne[0] as usize).is_multiple_of(QK8_0) {
                return Err(GgmlError::Invalid(format!(
                    "tensor `{}` row length {} is not a multiple of {QK8_0}",
                    t.name, t.ne[0]
                )));
            }
            let values: Vec<f32> = match t.ttype {
                GgmlType::F16 => data
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                GgmlType::F32 => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                GgmlType::Q8_0 => {
                    return Err(GgmlError::UnsupportedType {
                        name: t.name.clone(),
                        ttype: t.ttype.id(),
                    })
                }
            };
            buf.clear();
            quantize_q8_0(&values, &mut buf);
            w.tensor(&t.name, &shape, GgmlType::Q8_0, &buf)?;
        } else {
            w.tensor(&t.name, &shape, t.ttype, &data)?;
        }
        on_bytes(t.nbytes);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_block_layout_and_error() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) * 0.01).collect();
        let mut out = Vec::new();
        quantize_q8_0(&x, &mut out);
        assert_eq!(out.len(), 2 * 34);
        let d = half::f16::from_le_bytes([out[0], out[1]]).to_f32();
        assert!((d - 0.315 / 127.0).abs() < 1e-5);
        // The extreme value maps to ±127; the f16 rounding of the scale adds ≤ 127·2⁻¹¹ steps.
        assert_eq!(out[2] as i8, -127);
        let y = dequantize_q8_0(&out);
        for (bi, (xs, ys)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
            // Each block has its own scale; the error is at most about half a step.
            let off = bi * 34;
            let step = half::f16::from_le_bytes([out[off], out[off + 1]]).to_f32();
            for (a, b) in xs.iter().zip(ys) {
                assert!((a - b).abs() <= step * 0.6, "{a} vs {b}");
            }
        }
        // An all-zero block has scale 0 and zero quants.
        let mut z = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut z);
        assert!(z.iter().all(|&b| b == 0));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        let mut x = [0f32; 32];
        x[0] = 127.0;
        x[1] = 2.5;
        x[2] = -2.5;
        let mut out = Vec::new();
        quantize_q8_0(&x, &mut out);
        assert_eq!(out[2 + 1] as i8, 3);
        assert_eq!(out[2 + 2] as i8, -3);
    }

    #[test]
    fn quantize_rules_match_whisper_cpp() {
        assert!(should_quantize("encoder.blocks.0.attn.query.weight", 2));
        assert!(should_quantize("decoder.token_embedding.weight", 2));
        assert!(!should_quantize("encoder.conv1.weight", 3));
        assert!(!should_quantize("encoder.conv1.bias", 2));
        assert!(!should_quantize("decoder.positional_embedding", 2));
        assert!(!should_quantize("encoder.blocks.0.attn.query.bias", 1));
        assert_eq!("Q8_0".parse::<Quantization>().unwrap(), Quantization::Q8_0);
        assert!("q4_0".parse::<Quantization>().is_err());
        assert_eq!(Quantization::Q8_0.file_name(), "ggml-model-q8_0.bin");
    }
}
