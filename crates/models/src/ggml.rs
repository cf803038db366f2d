//! Reader and writer for whisper.cpp's legacy ggml model file.
//!
//! Layout (all little endian, `i32` unless noted), as read by whisper.cpp's `whisper_model_load`:
//! magic `0x67676d6c`; hparams `n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
//! n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype`;
//! mel filters `n_mel, n_fft` + `n_mel × n_fft` f32; vocabulary `n` + `n × (u32 len, bytes)`;
//! then tensors until EOF: `n_dims, name_len, ttype`, `n_dims × ne` (innermost first), name,
//! data. `ftype` is `qnt_version * 1000 + ggml_ftype` for quantized files.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::mel::MelFilters;

/// `"ggml"` magic.
pub const GGML_MAGIC: u32 = 0x6767_6d6c;
/// `GGML_QNT_VERSION` written into the ftype of quantized files.
pub const GGML_QNT_VERSION: i32 = 2;
/// `GGML_QNT_VERSION_FACTOR`.
pub const GGML_QNT_VERSION_FACTOR: i32 = 1000;
/// `GGML_FTYPE_MOSTLY_F16`.
pub const FTYPE_MOSTLY_F16: i32 = 1;
/// `GGML_FTYPE_MOSTLY_Q8_0`.
pub const FTYPE_MOSTLY_Q8_0: i32 = 7;
/// Block size of `q8_0`.
pub const QK8_0: usize = 32;
/// Bytes of one `q8_0` block (f16 scale + 32 × i8).
pub const Q8_0_BLOCK_BYTES: usize = 2 + QK8_0;

/// Errors reading or writing ggml files.
#[derive(Debug, thiserror::Error)]
pub enum GgmlError {
    /// Wrong magic number.
    #[error("not a ggml model (magic {0:#010x})")]
    BadMagic(u32),
    /// File ended inside a field.
    #[error("ggml model truncated while reading {0}")]
    Truncated(&'static str),
    /// A header value is out of range.
    #[error("invalid ggml model: {0}")]
    Invalid(String),
    /// Tensor type id not handled here.
    #[error("tensor `{name}` has unsupported ggml type {ttype}")]
    UnsupportedType {
        /// Tensor name.
        name: String,
        /// Type id.
        ttype: i32,
    },
    /// I/O error.
    #[error("ggml I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Tensor element types used by whisper models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GgmlType {
    /// `GGML_TYPE_F32` (0).
    F32,
    /// `GGML_TYPE_F16` (1).
    F16,
    /// `GGML_TYPE_Q8_0` (8).
    Q8_0,
}

impl GgmlType {
    /// ggml type id.
    pub fn id(self) -> i32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 8,
        }
    }

    /// Type for an id, if supported.
    pub fn from_id(id: i32) -> Option<Self> {
        match id {
            0 => Some(Self::F32),
            1 => Some(Self::F16),
            8 => Some(Self::Q8_0),
            _ => None,
        }
    }

    /// Bytes needed for `n` elements (`n` must be a multiple of 32 for q8_0).
    pub fn nbytes(self, n: u64) -> u64 {
        match self {
            Self::F32 => n * 4,
            Self::F16 => n * 2,
            Self::Q8_0 => n / QK8_0 as u64 * Q8_0_BLOCK_BYTES as u64,
        }
    }
}

/// Whisper hyperparameters of the ggml header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperHparams {
    /// Vocabulary size (rows of the token embedding).
    pub n_vocab: i32,
    /// Encoder context (1500).
    pub n_audio_ctx: i32,
    /// Encoder width.
    pub n_audio_state: i32,
    /// Encoder heads.
    pub n_audio_head: i32,
    /// Encoder layers.
    pub n_audio_layer: i32,
    /// Decoder context (448).
    pub n_text_ctx: i32,
    /// Decoder width.
    pub n_text_state: i32,
    /// Decoder heads.
    pub n_text_head: i32,
    /// Decoder layers.
    pub n_text_layer: i32,
    /// Mel bands (80, or 128 for large-v3).
    pub n_mels: i32,
    /// Stored ftype (`qnt_version * 1000 + ftype`).
    pub ftype: i32,
}

impl WhisperHparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    /// Whether whisper.cpp treats the model as multilingual (`n_vocab >= 51865`).
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }
}

/// Everything before the tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct GgmlHeader {
    /// Hyperparameters.
    pub hparams: WhisperHparams,
    /// Mel filterbank.
    pub mel: MelFilters,
    /// Byte strings of the regular (non-special) tokens.
    pub vocab: Vec<Vec<u8>>,
}

/// Location and shape of one tensor in a ggml file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgmlTensorInfo {
    /// Tensor name, e.g. `encoder.blocks.0.attn.query.weight`.
    pub name: String,
    /// ggml dims, innermost first (`ne[0]` = row length).
    pub ne: Vec<i32>,
    /// Element type.
    pub ttype: GgmlType,
    /// Data offset in the file.
    pub offset: u64,
    /// Data size in bytes.
    pub nbytes: u64,
}

impl GgmlTensorInfo {
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.ne.iter().map(|&d| d as u64).product()
    }

    /// Shape in row-major order (outermost first), as PyTorch would print it.
    pub fn shape(&self) -> Vec<u64> {
        self.ne.iter().rev().map(|&d| d as u64).collect()
    }
}

/// Writes a ggml whisper model: header first, then tensors one by one.
pub struct GgmlWriter<W: Write> {
    w: W,
}

impl<W: Write> GgmlWriter<W> {
    /// Writes the header and returns the writer positioned at the first tensor.
    pub fn new(mut w: W, header: &GgmlHeader) -> Result<Self, GgmlError> {
        w.write_all(&GGML_MAGIC.to_le_bytes())?;
        for v in header.hparams.fields() {
            w.write_all(&v.to_le_bytes())?;
        }
        let mel = &header.mel;
        if mel.data.len() != mel.n_mel * mel.n_fft {
            return Err(GgmlError::Invalid("mel filter size mismatch".into()));
        }
        w.write_all(&i32_of(mel.n_mel)?.to_le_bytes())?;
        w.write_all(&i32_of(mel.n_fft)?.to_le_bytes())?;
        for v in &mel.data {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&i32_of(header.vocab.len())?.to_le_bytes())?;
        for tok in &header.vocab {
            w.write_all(&u32::try_from(tok.len()).map_err(too_big)?.to_le_bytes())?;
            w.write_all(tok)?;
        }
        Ok(Self { w })
    }

    /// Writes one tensor. `shape` is row-major (outermost first); `data` is already encoded.
    pub fn tensor(
        &mut self,
        name: &str,
        shape: &[u64],
        ttype: GgmlType,
        data: &[u8],
    ) -> Result<(), GgmlError> {
        let numel: u64 = shape.iter().product();
        if ttype.nbytes(numel) != data.len() as u64 {
            return Err(GgmlError::Invalid(format!(
                "tensor `{name}`: {} bytes for shape {shape:?} as {ttype:?}",
                data.len()
            )));
        }
        self.w.write_all(&i32_of(shape.len())?.to_le_bytes())?;
        self.w.write_all(&i32_of(name.len())?.to_le_bytes())?;
        self.w.write_all(&ttype.id().to_le_bytes())?;
        for &d in shape.iter().rev() {
            self.w
                .write_all(&i32::try_from(d).map_err(too_big)?.to_le_bytes())?;
        }
        self.w.write_all(name.as_bytes())?;
        self.w.write_all(data)?;
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, GgmlError> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn too_big<E>(_: E) -> GgmlError {
    GgmlError::Invalid("value does not fit in the ggml header".into())
}

fn i32_of(v: usize) -> Result<i32, GgmlError> {
    i32::try_from(v).map_err(too_big)
}

/// A parsed ggml file: header plus the tensor index (data stays on disk).
#[derive(Debug, Clone)]
pub struct GgmlFile {
    /// Header.
    pub header: GgmlHeader,
    /// Tensors in file order.
    pub tensors: Vec<GgmlTensorInfo>,
}

fn read_i32<R: Read>(r: &mut R, what: &'static str) -> Result<i32, GgmlError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(|e| eof(e, what))?;
    Ok(i32::from_le_bytes(b))
}

fn eof(e: std::io::Error, what: &'static str) -> GgmlError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        GgmlError::Truncated(what)
    } else {
        GgmlError::Io(e)
    }
}

fn checked_len(v: i32, max: i64, what: &str) -> Result<usize, GgmlError> {
    if v < 0 || i64::from(v) > max {
        return Err(GgmlError::Invalid(format!("{what} = {v}")));
    }
    Ok(v as usize)
}

impl GgmlFile {
    /// Parses header and tensor index, seeking over tensor data.
    pub fn parse<R: Read + Seek>(r: &mut R) -> Result<Self, GgmlError> {
        let len = r.seek(SeekFrom::End(0))?;
        r.seek(SeekFrom::Start(0))?;
        let magic = read_i32(r, "magic")? as u32;
        if magic != GGML_MAGIC {
            return Err(GgmlError::BadMagic(magic));
        }
        let mut f = [0i32; 11];
        for v in &mut f {
            *v = read_i32(r, "hparams")?;
        }
        let hparams = WhisperHparams {
            n_vocab: f[0],
            n_audio_ctx: f[1],
            n_audio_state: f[2],
            n_audio_head: f[3],
            n_audio_layer: f[4],
            n_text_ctx: f[5],
            n_text_state: f[6],
            n_text_head: f[7],
            n_text_layer: f[8],
            n_mels: f[9],
            ftype: f[10],
        };
        let n_mel = checked_len(read_i32(r, "mel rows")?, 1024, "n_mel")?;
        let n_fft = checked_len(read_i32(r, "mel cols")?, 65536, "n_fft")?;
        if r.stream_position()? + (n_mel * n_fft * 4) as u64 > len {
            return Err(GgmlError::Truncated("mel filters"));
        }
        let mut raw = vec![0u8; n_mel * n_fft * 4];
        r.read_exact(&mut raw).map_err(|e| eof(e, "mel filters"))?;
        let data = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mel = MelFilters { n_mel, n_fft, data };
        let n_tok = checked_len(read_i32(r, "vocab size")?, 1 << 20, "vocab size")?;
        let mut vocab = Vec::with_capacity(n_tok);
        for _ in 0..n_tok {
            let l = checked_len(read_i32(r, "token length")?, 1 << 16, "token length")?;
            let mut t = vec![0u8; l];
            r.read_exact(&mut t).map_err(|e| eof(e, "token"))?;
            vocab.push(t);
        }
        let mut pos = r.stream_position()?;
        let mut tensors = Vec::new();
        while pos < len {
            let n_dims = checked_len(read_i32(r, "tensor n_dims")?, 4, "n_dims")?;
            let name_len = checked_len(read_i32(r, "tensor name length")?, 4096, "name length")?;
            let tt = read_i32(r, "tensor type")?;
            let mut ne = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                ne.push(
                    checked_len(read_i32(r, "tensor dims")?, i64::from(i32::MAX), "ne")? as i32,
                );
            }
            let mut name = vec![0u8; name_len];
            r.read_exact(&mut name).map_err(|e| eof(e, "tensor name"))?;
            let name = String::from_utf8(name)
                .map_err(|_| GgmlError::Invalid("tensor name is not UTF-8".into()))?;
            let ttype = GgmlType::from_id(tt).ok_or_else(|| GgmlError::UnsupportedType {
                name: name.clone(),
                ttype: tt,
            })?;
            let numel: u64 = ne.iter().map(|&d| d as u64).product();
            let nbytes = ttype.nbytes(numel);
            let offset = r.stream_position()?;
            if offset + nbytes > len {
                return Err(GgmlError::Truncated("tensor data"));
            }
            pos = offset + nbytes;
            r.seek(SeekFrom::Start(pos))?;
            tensors.push(GgmlTensorInfo {
                name,
                ne,
                ttype,
                offset,
                nbytes,
            });
        }
        Ok(Self {
            header: GgmlHeader {
                hparams,
                mel,
                vocab,
            },
            tensors,
        })
    }

    /// Reads one tensor's raw data.
    pub fn read_data<R: Read + Seek>(r: &mut R, t: &GgmlTensorInfo) -> Result<Vec<u8>, GgmlError> {
        r.seek(SeekFrom::Start(t.offset))?;
        let mut buf = vec![0u8; t.nbytes as usize];
        r.read_exact(&mut buf).map_err(|e| eof(e, "tensor data"))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn header() -> GgmlHeader {
        GgmlHeader {
            hparams: WhisperHparams {
                n_vocab: 3,
                n_audio_ctx: 2,
                n_audio_state: 4,
                n_audio_head: 1,
                n_audio_layer: 1,
                n_text_ctx: 2,
                n_text_state: 4,
                n_text_head: 1,
                n_text_layer: 1,
                n_mels: 2,
                ftype: FTYPE_MOSTLY_F16,
            },
            mel: MelFilters {
                n_mel: 2,
                n_fft: 3,
                data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            },
            vocab: vec![b"a".to_vec(), Vec::new(), b" b".to_vec()],
        }
    }

    #[test]
    fn write_then_parse() {
        let mut w = GgmlWriter::new(Vec::new(), &header()).unwrap();
        w.tensor("x.weight", &[2, 3], GgmlType::F32, &[0u8; 24])
            .unwrap();
        w.tensor("y", &[32], GgmlType::Q8_0, &[1u8; 34]).unwrap();
        assert!(w.tensor("bad", &[2], GgmlType::F16, &[0u8; 3]).is_err());
        let bytes = w.finish().unwrap();
        let f = GgmlFile::parse(&mut Cursor::new(&bytes)).unwrap();
        assert_eq!(f.header, header());
        assert_eq!(f.tensors.len(), 2);
        assert_eq!(f.tensors[0].ne, vec![3, 2]);
        assert_eq!(f.tensors[0].shape(), vec![2, 3]);
        assert_eq!(f.tensors[1].ttype, GgmlType::Q8_0);
        assert_eq!(f.tensors[1].nbytes, 34);
        // A cut inside any field is an error; a cut between tensors yields fewer tensors.
        for cut in 0..bytes.len() {
            if let Ok(f) = GgmlFile::parse(&mut Cursor::new(&bytes[..cut])) {
                assert!(f.tensors.len() < 2, "cut {cut}");
            }
        }
    }
}
