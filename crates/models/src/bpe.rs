//! GPT-2 byte-level BPE alphabet: the reversible map between raw bytes and the printable
//! unicode characters that `vocabulary.txt` (and `vocab.json`) use to spell tokens.
//!
//! Printable Latin-1 bytes (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) map to themselves; the other 68
//! bytes map, in increasing byte order, to U+0100, U+0101, … (so a space is `Ġ`, a newline `Ċ`).

use std::collections::HashMap;

/// Error decoding a token spelled in the GPT-2 alphabet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {token:?} contains {ch:?}, which is not in the GPT-2 byte alphabet")]
pub struct BpeDecodeError {
    /// The token.
    pub token: String,
    /// The offending character.
    pub ch: char,
}

fn is_printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// Byte → character table (index = byte).
pub fn byte_encoder() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        table[usize::from(b)] = if is_printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{FFFD}');
            next += 1;
            c
        };
    }
    table
}

/// Decodes GPT-2 token spellings back to bytes.
#[derive(Debug, Clone)]
pub struct ByteDecoder {
    map: HashMap<char, u8>,
}

impl Default for ByteDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ByteDecoder {
    /// Builds the inverse of [`byte_encoder`].
    pub fn new() -> Self {
        let map = byte_encoder()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        Self { map }
    }

    /// Decodes one token.
    pub fn decode(&self, token: &str) -> Result<Vec<u8>, BpeDecodeError> {
        token
            .chars()
            .map(|ch| {
                self.map.get(&ch).copied().ok_or_else(|| BpeDecodeError {
                    token: token.to_owned(),
                    ch,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_all_256_bytes() {
        let enc = byte_encoder();
        let dec = ByteDecoder::new();
        let all: Vec<u8> = (0..=255).collect();
        let spelled: String = all.iter().map(|&b| enc[usize::from(b)]).collect();
        assert_eq!(dec.decode(&spelled).unwrap(), all);
        // The encoding is injective.
        let mut chars: Vec<char> = enc.to_vec();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 256);
    }

    #[test]
    fn known_spellings() {
        let enc = byte_encoder();
        assert_eq!(enc[usize::from(b' ')], 'Ġ');
        assert_eq!(enc[usize::from(b'\n')], 'Ċ');
        assert_eq!(enc[0], 'Ā');
        assert_eq!(enc[usize::from(b'a')], 'a');
        assert_eq!(enc[0xAD], '\u{143}');
        let dec = ByteDecoder::new();
        assert_eq!(dec.decode("Ġhello").unwrap(), b" hello");
        // "é" as UTF-8 is C3 A9, spelled "Ã©".
        assert_eq!(dec.decode("Ã©").unwrap(), "é".as_bytes());
        assert_eq!(dec.decode("").unwrap(), b"");
        assert!(dec.decode("日").is_err());
    }
}
