//! CTranslate2 Whisper (`WhisperSpec`) → whisper.cpp ggml f16 converter.
//!
//! Tensor mapping (CTranslate2 → whisper.cpp):
//! - `encoder/conv{1,2}/{weight,bias}` → `encoder.conv{1,2}.{weight,bias}` (bias reshaped to `[n, 1]`)
//! - `encoder/position_encodings/encodings` → `encoder.positional_embedding` (computed with
//!   Whisper's `sinusoids()` if absent)
//! - `*/layer_N/self_attention/linear_0` (fused QKV, `3d × d`) → `attn.{query,key,value}`;
//!   the key bias is dropped (Whisper has none; a key bias cannot change attention anyway)
//! - `*/layer_N/self_attention/linear_1` → `attn.out`; `…/self_attention/layer_norm` → `attn_ln`
//! - `decoder/layer_N/attention/linear_0` → `cross_attn.query`; `…/linear_1` (fused KV) →
//!   `cross_attn.{key,value}`; `…/linear_2` → `cross_attn.out`; `…/layer_norm` → `cross_attn_ln`
//! - `*/layer_N/ffn/linear_{0,1}` → `mlp.{0,2}`; `…/ffn/layer_norm` → `mlp_ln`
//! - `encoder/layer_norm` → `encoder.ln_post`; `decoder/layer_norm` → `decoder.ln`
//! - `decoder/embeddings/weight` → `decoder.token_embedding.weight` (the output projection is
//!   tied to it); `decoder/position_encodings/encodings` → `decoder.positional_embedding`
//!
//! `gamma`/`beta` become `weight`/`bias`. Types follow whisper.cpp's converter: 1-D tensors,
//! conv biases and positional embeddings f32, everything else f16. The file is written tensor by
//! tensor; only one source tensor is in memory at a time.

use std::io::{Read, Seek, Write};
use std::ops::Range;

use crate::bpe::{BpeDecodeError, ByteDecoder};
use crate::ct2::{Ct2Dtype, Ct2Error, Ct2Model, Ct2Variable};
use crate::ggml::{GgmlError, GgmlHeader, GgmlType, GgmlWriter, WhisperHparams, FTYPE_MOSTLY_F16};
use crate::mel::mel_filters;

mod plan;

use plan::{plan, Planned, Source};

/// Identifies the converter; stored in receipts so a converter change triggers re-conversion.
pub const CONVERTER_VERSION: &str = "vocalis ct2-whisper-ggml 1";

/// Special token that ends the regular BPE vocabulary.
const END_OF_TEXT: &str = "<|endoftext|>";
/// Whisper's encoder context when CTranslate2 does not store the positional embedding.
const DEFAULT_AUDIO_CTX: u32 = 1500;

/// Errors of the CTranslate2 → ggml conversion.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The model is not a Whisper model.
    #[error("CTranslate2 model spec is `{0}`, expected `WhisperSpec`")]
    NotWhisper(String),
    /// A tensor has an unexpected shape.
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    Shape {
        /// CTranslate2 name.
        name: String,
        /// Expected dims.
        expected: Vec<u64>,
        /// Actual dims.
        actual: Vec<u64>,
    },
    /// A tensor is not floating point.
    #[error("tensor `{name}` has dtype {dtype:?}; only float32/float16/bfloat16 models can be converted (int8-quantized CTranslate2 models cannot)")]
    Dtype {
        /// CTranslate2 name.
        name: String,
        /// Its dtype.
        dtype: Ct2Dtype,
    },
    /// The vocabulary does not fit the model.
    #[error("vocabulary: {0}")]
    Vocab(String),
    /// A token could not be byte-decoded.
    #[error("vocabulary: {0}")]
    Token(#[from] BpeDecodeError),
    /// Reading the source failed.
    #[error(transparent)]
    Ct2(#[from] Ct2Error),
    /// Writing the output failed.
    #[error(transparent)]
    Ggml(#[from] GgmlError),
}

/// Summary of a finished conversion.
#[derive(Debug, Clone)]
pub struct Converted {
    /// Header hyperparameters written.
    pub hparams: WhisperHparams,
    /// Number of regular tokens written to the vocabulary section.
    pub n_tokens: usize,
    /// Number of tensors written.
    pub n_tensors: usize,
}

fn dims(v: &Ct2Variable) -> Vec<u64> {
    v.dims.iter().map(|&d| u64::from(d)).collect()
}

fn count_layers(m: &Ct2Model, side: &str) -> u64 {
    (0..)
        .take_while(|i| {
            m.get(&format!("{side}/layer_{i}/self_attention/linear_0/weight"))
                .is_some()
        })
        .count() as u64
}

fn heads<R: Read + Seek>(
    m: &Ct2Model,
    r: &mut R,
    side: &str,
    width: u64,
) -> Result<u64, ConvertError> {
    match m.get(&format!("{side}/num_heads")) {
        Some(v) => Ok(Ct2Model::read_int_scalar(r, v)?.max(1) as u64),
        // Older specs do not store it; every Whisper size uses 64-dim heads.
        None => Ok((width / 64).max(1)),
    }
}

fn to_i32(v: u64, what: &str) -> Result<i32, ConvertError> {
    i32::try_from(v).map_err(|_| ConvertError::Vocab(format!("{what} {v} too large")))
}

/// Reads hyperparameters from tensor shapes (and `num_heads` scalars).
fn hparams<R: Read + Seek>(m: &Ct2Model, r: &mut R) -> Result<WhisperHparams, ConvertError> {
    let conv1 = dims(m.require("encoder/conv1/weight")?);
    let emb = dims(m.require("decoder/embeddings/weight")?);
    let dec_pe = dims(m.require("decoder/position_encodings/encodings")?);
    if conv1.len() != 3 || emb.len() != 2 || dec_pe.len() != 2 {
        return Err(ConvertError::Shape {
            name: "encoder/conv1/weight".into(),
            expected: vec![0, 0, 3],
            actual: conv1,
        });
    }
    let n_audio_ctx = match m.get("encoder/position_encodings/encodings") {
        Some(v) => u64::from(*v.dims.first().unwrap_or(&0)),
        None => u64::from(DEFAULT_AUDIO_CTX),
    };
    let (state, text_state) = (conv1[0], emb[1]);
    Ok(WhisperHparams {
        n_vocab: to_i32(emb[0], "n_vocab")?,
        n_audio_ctx: to_i32(n_audio_ctx, "n_audio_ctx")?,
        n_audio_state: to_i32(state, "n_audio_state")?,
        n_audio_head: to_i32(heads(m, r, "encoder", state)?, "n_audio_head")?,
        n_audio_layer: to_i32(count_layers(m, "encoder"), "n_audio_layer")?,
        n_text_ctx: to_i32(dec_pe[0], "n_text_ctx")?,
        n_text_state: to_i32(text_state, "n_text_state")?,
        n_text_head: to_i32(heads(m, r, "decoder", text_state)?, "n_text_head")?,
        n_text_layer: to_i32(count_layers(m, "decoder"), "n_text_layer")?,
        n_mels: to_i32(conv1[1], "n_mels")?,
        ftype: FTYPE_MOSTLY_F16,
    })
}

/// Whisper's `sinusoids(length, channels)` positional embedding, computed in f32 like PyTorch.
pub fn sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let inc = (10000f64.ln() / (half.saturating_sub(1).max(1)) as f64) as f32;
    let inv: Vec<f32> = (0..half).map(|i| (-inc * i as f32).exp()).collect();
    let mut out = Vec::with_capacity(length * channels);
    for t in 0..length {
        let row: Vec<f32> = inv.iter().map(|&v| t as f32 * v).collect();
        out.extend(row.iter().map(|x| x.sin()));
        out.extend(row.iter().map(|x| x.cos()));
    }
    out
}

/// Splits `vocabulary.txt` into lines and byte-decodes the regular tokens (those before
/// `<|endoftext|>`); special tokens are recreated by whisper.cpp from `n_vocab`.
pub fn decode_vocabulary(text: &str, n_vocab: usize) -> Result<Vec<Vec<u8>>, ConvertError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.len() != n_vocab {
        return Err(ConvertError::Vocab(format!(
            "{} tokens in vocabulary.txt but the embedding has {n_vocab} rows",
            lines.len()
        )));
    }
    let n_regular = lines
        .iter()
        .position(|&l| l == END_OF_TEXT)
        .ok_or_else(|| ConvertError::Vocab(format!("no {END_OF_TEXT} token")))?;
    let dec = ByteDecoder::new();
    lines[..n_regular]
        .iter()
        .map(|t| dec.decode(t).map_err(ConvertError::from))
        .collect()
}

fn encode(values: &[f32], ttype: GgmlType) -> Vec<u8> {
    match ttype {
        GgmlType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        GgmlType::Q8_0 => {
            let mut out = Vec::new();
            crate::quant::quantize_q8_0(values, &mut out);
            out
        }
    }
}

/// Reads the planned tensor's data from the source and encodes it as `p.ttype`.
fn load<R: Read + Seek>(m: &Ct2Model, r: &mut R, p: &Planned) -> Result<Vec<u8>, ConvertError> {
    let (name, rows) = match &p.src {
        Source::Sinusoids { length, channels } => {
            let v = sinusoids(*length as usize, *channels as usize);
            return Ok(encode(&v, p.ttype));
        }
        Source::Var { name, rows } => (name, rows),
    };
    let v = m.require(name)?;
    if !matches!(v.dtype, Ct2Dtype::F32 | Ct2Dtype::F16 | Ct2Dtype::BF16) {
        return Err(ConvertError::Dtype {
            name: v.name.clone(),
            dtype: v.dtype,
        });
    }
    let src_dims = dims(v);
    let numel: u64 = p.shape.iter().product();
    let shape_err = || ConvertError::Shape {
        name: v.name.clone(),
        expected: p.shape.clone(),
        actual: src_dims.clone(),
    };
    // Select a row range of the source (rows = first dim).
    let sub = match rows {
        Some(r) => {
            let total_rows = *src_dims.first().ok_or_else(shape_err)?;
            let row_elems: u64 = src_dims[1..].iter().product();
            if r.end > total_rows || (r.end - r.start) * row_elems != numel {
                return Err(shape_err());
            }
            let item = v.dtype.size();
            Ct2Variable {
                name: v.name.clone(),
                dims: Vec::new(),
                dtype: v.dtype,
                offset: v.offset + r.start * row_elems * item,
                num_bytes: numel * item,
            }
        }
        None => {
            // Same element count and same dims up to the conv-bias `[n] → [n, 1]` reshape.
            let squeeze = |s: &[u64]| s.iter().copied().filter(|&x| x != 1).collect::<Vec<_>>();
            if v.numel() != numel || squeeze(&src_dims) != squeeze(&p.shape) {
                return Err(shape_err());
            }
            v.clone()
        }
    };
    if p.ttype == GgmlType::F16 && sub.dtype == Ct2Dtype::F16 {
        return Ok(Ct2Model::read_raw(r, &sub)?);
    }
    let values = Ct2Model::read_f32(r, &sub)?;
    Ok(encode(&values, p.ttype))
}

/// Converts a CTranslate2 Whisper model to a ggml f16 file written to `out`.
///
/// `on_bytes` receives the number of output data bytes after each tensor (for progress bars);
/// [`total_output_bytes`] gives the total to expect.
pub fn convert_ct2_whisper<R: Read + Seek, W: Write>(
    model_bin: &mut R,
    vocabulary: &str,
    out: W,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(W, Converted), ConvertError> {
    let m = Ct2Model::parse(model_bin)?;
    if m.spec != "WhisperSpec" {
        return Err(ConvertError::NotWhisper(m.spec.clone()));
    }
    let hp = hparams(&m, model_bin)?;
    let vocab = decode_vocabulary(vocabulary, hp.n_vocab as usize)?;
    let n_tokens = vocab.len();
    let header = GgmlHeader {
        hparams: hp,
        mel: mel_filters(hp.n_mels as usize),
        vocab,
    };
    let mut w = GgmlWriter::new(out, &header)?;
    let planned = plan(&m, &hp);
    for p in &planned {
        let data = load(&m, model_bin, p)?;
        w.tensor(&p.name, &p.shape, p.ttype, &data)?;
        on_bytes(data.len() as u64);
    }
    let out = w.finish()?;
    Ok((
        out,
        Converted {
            hparams: hp,
            n_tokens,
            n_tensors: planned.len(),
        },
    ))
}

/// Total tensor bytes [`convert_ct2_whisper`] will write for this model (for progress bars).
pub fn total_output_bytes<R: Read + Seek>(model_bin: &mut R) -> Result<u64, ConvertError> {
    let m = Ct2Model::parse(model_bin)?;
    let hp = hparams(&m, model_bin)?;
    Ok(plan(&m, &hp)
        .iter()
        .map(|p| p.ttype.nbytes(p.shape.iter().product()))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoids_match_whisper_formula() {
        let s = sinusoids(3, 8);
        assert_eq!(s.len(), 24);
        // Row 0: sin(0)=0 ×4, cos(0)=1 ×4.
        assert_eq!(&s[..8], &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        // Row 1, channel 0: sin(1); channel 3: sin(1e-4) (timescale 10000^-(3/3)).
        assert!((s[8] - 1f32.sin()).abs() < 1e-6);
        assert!((s[8 + 3] - 1e-4).abs() < 1e-7);
        assert!((s[8 + 4] - 1f32.cos()).abs() < 1e-6);
    }

    #[test]
    fn vocabulary_stops_at_end_of_text() {
        let text = "a\nĠb\n\n<|endoftext|>\n<|startoftranscript|>\n";
        let v = decode_vocabulary(text, 5).unwrap();
        assert_eq!(v, vec![b"a".to_vec(), b" b".to_vec(), Vec::new()]);
        assert!(matches!(
            decode_vocabulary(text, 6),
            Err(ConvertError::Vocab(_))
        ));
        assert!(matches!(
            decode_vocabulary("a\nb\n", 2),
            Err(ConvertError::Vocab(_))
        ));
        assert!(matches!(
            decode_vocabulary("日\n<|endoftext|>\n", 2),
            Err(ConvertError::Token(_))
        ));
    }
}
