//! Phonemes → model input ids, exactly as piper-phonemize's `phonemes_to_ids`.
//!
//! Layout: `^ _ p1 _ p2 _ … pn _ $` — BOS, a pad, every phoneme's ids each
//! followed by a pad, then EOS. Phonemes missing from the map are skipped and
//! counted (Piper does the same and logs them).

use std::collections::HashMap;

use super::config::{BOS, EOS, PAD};

/// Result of encoding one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhonemeIds {
    /// Model input ids.
    pub ids: Vec<i64>,
    /// Phonemes skipped because the voice has no id for them.
    pub missing: Vec<char>,
}

/// Encodes `phonemes` with `id_map` (which must contain `_`, `^`, `$`).
pub fn phonemes_to_ids(phonemes: &[char], id_map: &HashMap<char, Vec<i64>>) -> PhonemeIds {
    let empty: &[i64] = &[];
    let get = |c: char| id_map.get(&c).map_or(empty, Vec::as_slice);
    let pad = get(PAD);
    let mut out = PhonemeIds {
        ids: Vec::with_capacity(phonemes.len() * 2 + 3),
        missing: Vec::new(),
    };
    out.ids.extend_from_slice(get(BOS));
    out.ids.extend_from_slice(pad);
    for &p in phonemes {
        match id_map.get(&p) {
            Some(ids) => {
                out.ids.extend_from_slice(ids);
                out.ids.extend_from_slice(pad);
            }
            None => out.missing.push(p),
        }
    }
    out.ids.extend_from_slice(get(EOS));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_pad_like_piper() {
        let map: HashMap<char, Vec<i64>> = [('_', 0), ('^', 1), ('$', 2), ('a', 14), ('b', 15)]
            .into_iter()
            .map(|(c, i)| (c, vec![i]))
            .collect();
        let out = phonemes_to_ids(&['a', 'x', 'b'], &map);
        assert_eq!(out.ids, vec![1, 0, 14, 0, 15, 0, 2]);
        assert_eq!(out.missing, vec!['x']);
    }
}
