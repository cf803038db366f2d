//! Bounds-checked reader for CTranslate2 `model.bin` files.
//!
//! Layout (little endian, see CTranslate2's `ModelSpec._serialize` and `models::load_model`):
//! `u32 binary_version`, `string spec_name`, `u32 spec_revision` (versions >= 2),
//! `u32 num_variables`, then per variable `string name`, `u8 rank`, `rank × u32 dims`,
//! `u8 dtype_id` + `u32 num_bytes` (versions >= 4; older: `u8 item_size` + `u32 num_items`)
//! and the payload; then (versions >= 3) `u32 num_aliases` and pairs of `string alias`,
//! `string target`. A string is `u16 length` (including a trailing NUL) followed by the bytes.
//!
//! [`Ct2Model::parse`] only reads the index and seeks over payloads, so a large model is never
//! held in memory; payloads are read one variable at a time.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

/// Newest `model.bin` binary version this reader understands.
pub const MAX_BINARY_VERSION: u32 = 6;
/// Largest rank accepted for a variable.
const MAX_RANK: u8 = 8;

/// Errors from parsing or reading a CTranslate2 model.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    /// The file ended before a field could be read.
    #[error("CTranslate2 model truncated: need {need} bytes for {what} at offset {offset}, file has {len}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset of the read.
        offset: u64,
        /// Bytes needed.
        need: u64,
        /// File length.
        len: u64,
    },
    /// The binary version is not supported.
    #[error("unsupported CTranslate2 binary version {0} (supported: 2..={MAX_BINARY_VERSION})")]
    UnsupportedVersion(u32),
    /// A string has length 0, no NUL terminator, or invalid UTF-8.
    #[error("invalid string at offset {offset} in CTranslate2 model")]
    BadString {
        /// Offset of the string's length field.
        offset: u64,
    },
    /// A variable's rank is implausible.
    #[error("variable `{name}` has rank {rank} (max {MAX_RANK})")]
    BadRank {
        /// Variable name.
        name: String,
        /// Rank read.
        rank: u8,
    },
    /// Unknown dtype id.
    #[error("variable `{name}` has unknown dtype id {id}")]
    UnknownDtype {
        /// Variable name.
        name: String,
        /// Type id read.
        id: u8,
    },
    /// The payload size does not match dims × item size.
    #[error("variable `{name}` dims {dims:?} × {item} bytes ≠ payload of {num_bytes} bytes")]
    PayloadSize {
        /// Variable name.
        name: String,
        /// Dimensions.
        dims: Vec<u32>,
        /// Item size in bytes.
        item: u64,
        /// Payload size read.
        num_bytes: u64,
    },
    /// The same variable name appears twice.
    #[error("duplicate variable `{0}` in CTranslate2 model")]
    Duplicate(String),
    /// An alias targets a variable that does not exist.
    #[error("alias `{alias}` targets unknown variable `{target}`")]
    BadAlias {
        /// Alias name.
        alias: String,
        /// Target name.
        target: String,
    },
    /// Bytes remain after the alias table.
    #[error("{0} unexpected trailing bytes after the CTranslate2 alias table")]
    TrailingBytes(u64),
    /// A variable the caller needs is missing.
    #[error("CTranslate2 model has no variable `{0}`")]
    Missing(String),
    /// A variable has a dtype the caller cannot use.
    #[error("variable `{name}` has dtype {dtype:?}, expected {expected}")]
    WrongDtype {
        /// Variable name.
        name: String,
        /// Actual dtype.
        dtype: Ct2Dtype,
        /// What was expected.
        expected: &'static str,
    },
    /// I/O error while reading.
    #[error("cannot read CTranslate2 model: {0}")]
    Io(#[from] std::io::Error),
}

/// Element type of a CTranslate2 variable (CTranslate2's `DataType` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Dtype {
    /// id 0
    F32,
    /// id 1
    I8,
    /// id 2
    I16,
    /// id 3
    I32,
    /// id 4
    F16,
    /// id 5
    BF16,
}

impl Ct2Dtype {
    /// Maps a type id to a dtype.
    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Size of one element in bytes.
    pub fn size(self) -> u64 {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    fn from_item_size(size: u8) -> Option<Self> {
        match size {
            1 => Some(Self::I8),
            2 => Some(Self::I16),
            4 => Some(Self::F32),
            _ => None,
        }
    }
}

/// One variable of the index: where its payload lives in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct2Variable {
    /// Variable name, e.g. `encoder/conv1/weight`.
    pub name: String,
    /// Dimensions, outermost first (row-major).
    pub dims: Vec<u32>,
    /// Element type.
    pub dtype: Ct2Dtype,
    /// Payload offset in the file.
    pub offset: u64,
    /// Payload size in bytes.
    pub num_bytes: u64,
}

impl Ct2Variable {
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.dims.iter().map(|&d| u64::from(d)).product()
    }
}

/// Parsed index of a CTranslate2 model file.
#[derive(Debug, Clone)]
pub struct Ct2Model {
    /// Binary format version.
    pub binary_version: u32,
    /// Model spec name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Spec revision.
    pub revision: u32,
    /// Variables in file order.
    pub variables: Vec<Ct2Variable>,
    /// Alias → target pairs.
    pub aliases: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

/// Sequential reader that knows the file length and reports truncation precisely.
struct Cursor<'a, R> {
    r: &'a mut R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Cursor<'_, R> {
    fn need(&self, n: u64, what: &'static str) -> Result<(), Ct2Error> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(Ct2Error::Truncated {
                what,
                offset: self.pos,
                need: n,
                len: self.len,
            });
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Ct2Error> {
        self.need(N as u64, what)?;
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Ct2Error> {
        Ok(self.bytes::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Ct2Error> {
        Ok(u16::from_le_bytes(self.bytes(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Ct2Error> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn string(&mut self, what: &'static str) -> Result<String, Ct2Error> {
        let offset = self.pos;
        let n = u64::from(self.u16(what)?);
        if n == 0 {
            return Err(Ct2Error::BadString { offset });
        }
        self.need(n, what)?;
        let mut buf = vec![0u8; n as usize];
        self.r.read_exact(&mut buf)?;
        self.pos += n;
        if buf.pop() != Some(0) {
            return Err(Ct2Error::BadString { offset });
        }
        String::from_utf8(buf).map_err(|_| Ct2Error::BadString { offset })
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), Ct2Error> {
        self.need(n, what)?;
        self.pos += n;
        self.r.seek(SeekFrom::Start(self.pos))?;
        Ok(())
    }
}

impl Ct2Model {
    /// Parses the index of a model, seeking over payloads. Rejects truncated or malformed input.
    pub fn parse<R: Read + Seek>(r: &mut R) -> Result<Self, Ct2Error> {
        let len = r.seek(SeekFrom::End(0))?;
        r.seek(SeekFrom::Start(0))?;
        let mut c = Cursor { r, pos: 0, len };

        let binary_version = c.u32("binary version")?;
        if !(2..=MAX_BINARY_VERSION).contains(&binary_version) {
            return Err(Ct2Error::UnsupportedVersion(binary_version));
        }
        let spec = c.string("spec name")?;
        let revision = c.u32("spec revision")?;
        let count = c.u32("variable count")?;

        let mut variables = Vec::new();
        let mut index = HashMap::new();
        for _ in 0..count {
            let name = c.string("variable name")?;
            let rank = c.u8("variable rank")?;
            if rank > MAX_RANK {
                return Err(Ct2Error::BadRank { name, rank });
            }
            let mut dims = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                dims.push(c.u32("variable dims")?);
            }
            let (dtype, num_bytes) = if binary_version >= 4 {
                let id = c.u8("variable dtype")?;
                let dtype = Ct2Dtype::from_id(id).ok_or_else(|| Ct2Error::UnknownDtype {
                    name: name.clone(),
                    id,
                })?;
                (dtype, u64::from(c.u32("variable size")?))
            } else {
                let item = c.u8("variable item size")?;
                let dtype =
                    Ct2Dtype::from_item_size(item).ok_or_else(|| Ct2Error::UnknownDtype {
                        name: name.clone(),
                        id: item,
                    })?;
                (dtype, u64::from(c.u32("variable size")?) * u64::from(item))
            };
            let numel = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
            if numel.and_then(|n| n.checked_mul(dtype.size())) != Some(num_bytes) {
                return Err(Ct2Error::PayloadSize {
                    name,
                    dims,
                    item: dtype.size(),
                    num_bytes,
                });
            }
            let offset = c.pos;
            c.skip(num_bytes, "variable payload")?;
            if index.insert(name.clone(), variables.len()).is_some() {
                return Err(Ct2Error::Duplicate(name));
            }
            variables.push(Ct2Variable {
                name,
                dims,
                dtype,
                offset,
                num_bytes,
            });
        }

        let mut aliases = Vec::new();
        if binary_version >= 3 {
            let n = c.u32("alias count")?;
            for _ in 0..n {
                let alias = c.string("alias name")?;
                let target = c.string("alias target")?;
                if !index.contains_key(&target) {
                    return Err(Ct2Error::BadAlias { alias, target });
                }
                aliases.push((alias, target));
            }
        }
        if c.pos != len {
            return Err(Ct2Error::TrailingBytes(len - c.pos));
        }
        Ok(Self {
            binary_version,
            spec,
            revision,
            variables,
            aliases,
            index,
        })
    }

    /// Looks a variable up by name, following aliases.
    pub fn get(&self, name: &str) -> Option<&Ct2Variable> {
        let target = self
            .aliases
            .iter()
            .find(|(a, _)| a == name)
            .map_or(name, |(_, t)| t.as_str());
        self.index.get(target).map(|&i| &self.variables[i])
    }

    /// Like [`Ct2Model::get`] but a missing variable is an error.
    pub fn require(&self, name: &str) -> Result<&Ct2Variable, Ct2Error> {
        self.get(name)
            .ok_or_else(|| Ct2Error::Missing(name.to_owned()))
    }

    /// Reads a variable's raw payload.
    pub fn read_raw<R: Read + Seek>(r: &mut R, var: &Ct2Variable) -> Result<Vec<u8>, Ct2Error> {
        r.seek(SeekFrom::Start(var.offset))?;
        let mut buf = vec![0u8; var.num_bytes as usize];
        r.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Reads a floating-point variable (f32, f16 or bf16) as f32 values.
    pub fn read_f32<R: Read + Seek>(r: &mut R, var: &Ct2Variable) -> Result<Vec<f32>, Ct2Error> {
        let raw = Self::read_raw(r, var)?;
        Ok(match var.dtype {
            Ct2Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Ct2Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Ct2Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            dtype => {
                return Err(Ct2Error::WrongDtype {
                    name: var.name.clone(),
                    dtype,
                    expected: "float32, float16 or bfloat16",
                })
            }
        })
    }

    /// Reads an integer scalar (int8/int16/int32), e.g. `encoder/num_heads`.
    pub fn read_int_scalar<R: Read + Seek>(r: &mut R, var: &Ct2Variable) -> Result<i64, Ct2Error> {
        let raw = Self::read_raw(r, var)?;
        let wrong = || Ct2Error::WrongDtype {
            name: var.name.clone(),
            dtype: var.dtype,
            expected: "an integer scalar",
        };
        if var.numel() != 1 {
            return Err(wrong());
        }
        Ok(match var.dtype {
            Ct2Dtype::I8 => i64::from(raw[0] as i8),
            Ct2Dtype::I16 => i64::from(i16::from_le_bytes([raw[0], raw[1]])),
            Ct2Dtype::I32 => i64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            _ => return Err(wrong()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor as IoCursor;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// A valid v6 model with one f16 2×3 variable, one int16 scalar and one alias.
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        string(&mut b, "a/weight");
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&12u32.to_le_bytes());
        for v in [1.0f32, -2.0, 0.5, 0.0, 3.0, -0.25] {
            b.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
        string(&mut b, "a/num_heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&6i16.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "b/weight");
        string(&mut b, "a/weight");
        b
    }

    #[test]
    fn parses_valid_model() {
        let bytes = sample();
        let mut r = IoCursor::new(bytes);
        let m = Ct2Model::parse(&mut r).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.revision, 3);
        assert_eq!(m.variables.len(), 2);
        let w = m.get("b/weight").unwrap();
        assert_eq!(w.dims, vec![2, 3]);
        assert_eq!(w.dtype, Ct2Dtype::F16);
        let vals = Ct2Model::read_f32(&mut r, w).unwrap();
        assert_eq!(vals, vec![1.0, -2.0, 0.5, 0.0, 3.0, -0.25]);
        let h = m.require("a/num_heads").unwrap();
        assert_eq!(Ct2Model::read_int_scalar(&mut r, h).unwrap(), 6);
        assert!(matches!(m.require("nope"), Err(Ct2Error::Missing(_))));
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let err = Ct2Model::parse(&mut IoCursor::new(&bytes[..cut])).unwrap_err();
            assert!(
                matches!(err, Ct2Error::Truncated { .. }),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        let err = Ct2Model::parse(&mut IoCursor::new(b"garbage!garbage!".to_vec())).unwrap_err();
        assert!(matches!(err, Ct2Error::UnsupportedVersion(_)), "{err:?}");
        let err = Ct2Model::parse(&mut IoCursor::new(Vec::new())).unwrap_err();
        assert!(matches!(err, Ct2Error::Truncated { .. }), "{err:?}");
        // Pseudo-random bytes behind a valid version never panic.
        let mut state = 0x1234_5678u32;
        for _ in 0..200 {
            let mut b = 6u32.to_le_bytes().to_vec();
            for _ in 0..64 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                b.push(state as u8);
            }
            assert!(Ct2Model::parse(&mut IoCursor::new(b)).is_err());
        }
    }

    #[test]
    fn rejects_malformed_fields() {
        // Trailing bytes.
        let mut b = sample();
        b.push(0);
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::TrailingBytes(1))
        ));
        // Payload size not matching dims (12 → 10).
        let mut b = sample();
        let pos = b.windows(4).position(|w| w == 12u32.to_le_bytes()).unwrap();
        b[pos] = 10;
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::PayloadSize { .. })
        ));
        // Unknown dtype id (4 → 9): the dtype byte precedes the size field.
        let mut b = sample();
        b[pos - 1] = 9;
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::UnknownDtype { id: 9, .. })
        ));
        // String without NUL terminator.
        let mut b = sample();
        b[4 + 2 + 11] = b'x';
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::BadString { .. })
        ));
        // Alias to an unknown variable.
        let mut b = sample();
        let n = b.len();
        b[n - 2] = b'X';
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::BadAlias { .. })
        ));
        // Huge variable count with no data is truncation, not an allocation.
        let mut b = 6u32.to_le_bytes().to_vec();
        string(&mut b, "S");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Ct2Model::parse(&mut IoCursor::new(b)),
            Err(Ct2Error::Truncated { .. })
        ));
    }
}
