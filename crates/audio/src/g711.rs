//! ITU-T G.711 μ-law and A-law companding (8-bit codes ↔ 16-bit linear PCM).
//!
//! Decoding uses 256-entry tables built at compile time from the classic Sun
//! `g711.c` expansion formulas (the same values `sox` produces), so every code
//! decodes to the reconstruction level defined by G.711.
//!
//! Two families of encoders are provided, because the 16-bit → 14-bit (μ-law)
//! or 13-bit (A-law) reduction that precedes the G.711 segment coder is not
//! part of the standard and implementations differ:
//!
//! * [`linear_to_mulaw`] / [`linear_to_alaw`] — the classic reference
//!   behaviour: μ-law uses `BIAS = 0x84` and `CLIP = 32635` on the two's
//!   complement magnitude (CCITT / Sun `linear2ulaw`); A-law uses the ITU-T
//!   G.191 STL convention (one's complement magnitude for negative samples,
//!   truncation to 13 bits) and the `0x55` even-bit inversion. This is what
//!   the crate's encoders use.
//! * [`linear_to_mulaw_rounded`] / [`linear_to_alaw_rounded`] — first round
//!   the sample to the nearest 14-bit (μ-law) / 13-bit (A-law) value, then
//!   apply the segment coder. This is bit-exact with `sox -e u-law` /
//!   `sox -e a-law` (with dithering disabled).
//!
//! Both families agree on every input that is an exact multiple of the
//! truncation step (4 for μ-law, 8 for A-law) and differ by at most one
//! quantisation step elsewhere. All functions are total: no input panics.
//!
//! μ-law has two codes for zero (`0xFF` = +0 and `0x7F` = −0); both decode to
//! `0`, and encoding `0` yields `0xFF`, so `0x7F` is the only code that does
//! not survive `encode(decode(c))`.

/// μ-law bias added to the magnitude before segment search (16-bit domain).
const MULAW_BIAS: u32 = 0x84;
/// Largest magnitude the μ-law encoder represents before clipping (16-bit domain).
const MULAW_CLIP: u32 = 32_635;
/// μ-law magnitude clip in the 14-bit domain (`sox`'s `ULAW_CLIP`).
const MULAW_CLIP_14: u32 = 8_159;
/// μ-law bias in the 14-bit domain (`0x84 >> 2`).
const MULAW_BIAS_14: u32 = 33;

/// Decodes one μ-law code to 16-bit linear PCM (Sun `ulaw2linear`).
const fn mulaw_expand(code: u8) -> i16 {
    let u = !code;
    let t = ((((u & 0x0F) as i32) << 3) + MULAW_BIAS as i32) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (MULAW_BIAS as i32 - t) as i16
    } else {
        (t - MULAW_BIAS as i32) as i16
    }
}

/// Decodes one A-law code to 16-bit linear PCM (Sun `alaw2linear`).
const fn alaw_expand(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_expand(i as u8)
        } else {
            mulaw_expand(i as u8)
        };
        i += 1;
    }
    table
}

/// μ-law code → 16-bit linear sample, indexed by code.
pub static MULAW_TO_LINEAR: [i16; 256] = build_table(false);
/// A-law code → 16-bit linear sample, indexed by code.
pub static ALAW_TO_LINEAR: [i16; 256] = build_table(true);

/// Decodes one μ-law code to a 16-bit linear sample.
#[inline]
pub fn mulaw_to_linear(code: u8) -> i16 {
    MULAW_TO_LINEAR[usize::from(code)]
}

/// Decodes one A-law code to a 16-bit linear sample.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

/// G.711 μ-law segment coder on a 14-bit magnitude (`0..=8192`).
#[inline]
fn mulaw_code_14(magnitude: u32, negative: bool) -> u8 {
    // The biased magnitude lies in 33..=8192. Sun's coder maps 8192 (segment
    // "8") to the maximum code, which is what clamping to 0x1FFF produces, so
    // the segment (exponent) is always 0..=7 and the mantissa fits in 4 bits.
    let biased = (magnitude.min(MULAW_CLIP_14) + MULAW_BIAS_14).min(0x1FFF);
    let seg = (31 - biased.leading_zeros()).saturating_sub(5);
    let mantissa = (biased >> (seg + 1)) & 0x0F;
    let code = ((seg << 4) | mantissa) as u8;
    if negative {
        code ^ 0x7F
    } else {
        code ^ 0xFF
    }
}

/// G.711 A-law segment coder on a 13-bit magnitude (`0..=4095`).
#[inline]
fn alaw_code_13(magnitude: u32, negative: bool) -> u8 {
    let m = magnitude.min(0x0FFF);
    // Segment 0 covers 0..32, segment s >= 1 covers [16 << s, 32 << s).
    let seg = if m < 32 {
        0
    } else {
        (31 - m.leading_zeros()) - 4
    };
    let quant = (m >> seg.max(1)) & 0x0F;
    let code = ((seg << 4) | quant) as u8;
    if negative {
        code ^ 0x55
    } else {
        code ^ 0xD5
    }
}

/// Encodes a 16-bit linear sample to μ-law (classic `BIAS 0x84` / `CLIP 32635`).
#[inline]
pub fn linear_to_mulaw(sample: i16) -> u8 {
    let negative = sample < 0;
    // |x| clipped to CLIP, plus BIAS, is < 2^15; dropping the two low bits of
    // that value is exactly the 14-bit segment coder applied to |x| >> 2.
    let magnitude = i32::from(sample).unsigned_abs().min(MULAW_CLIP);
    mulaw_code_14(magnitude >> 2, negative)
}

/// Encodes a 16-bit linear sample to A-law (ITU-T G.191 / Sun 13-bit coder).
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let negative = sample < 0;
    // One's complement magnitude (`!x == -x - 1`) never overflows for i16::MIN.
    let magnitude = if negative { !sample } else { sample } as u32;
    alaw_code_13(magnitude >> 3, negative)
}

/// Encodes to μ-law after rounding to the nearest 14-bit value (bit-exact with `sox`).
#[inline]
pub fn linear_to_mulaw_rounded(sample: i16) -> u8 {
    let p = ((i32::from(sample) + 2) >> 2).min(0x1FFF);
    mulaw_code_14(p.unsigned_abs(), p < 0)
}

/// Encodes to A-law after rounding to the nearest 13-bit value (bit-exact with `sox`).
#[inline]
pub fn linear_to_alaw_rounded(sample: i16) -> u8 {
    let p = ((i32::from(sample) + 4) >> 3).min(0x0FFF);
    let negative = p < 0;
    let magnitude = if negative { !p } else { p } as u32;
    alaw_code_13(magnitude, negative)
}

/// Decodes a μ-law byte stream to 16-bit linear samples.
pub fn decode_mulaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| mulaw_to_linear(c)).collect()
}

/// Decodes an A-law byte stream to 16-bit linear samples.
pub fn decode_alaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| alaw_to_linear(c)).collect()
}

/// Decodes a μ-law byte stream to `f32` samples in `[-1, 1)` (`x / 32768`).
pub fn decode_mulaw_f32(codes: &[u8]) -> Vec<f32> {
    codes
        .iter()
        .map(|&c| f32::from(mulaw_to_linear(c)) / 32_768.0)
        .collect()
}

/// Decodes an A-law byte stream to `f32` samples in `[-1, 1)` (`x / 32768`).
pub fn decode_alaw_f32(codes: &[u8]) -> Vec<f32> {
    codes
        .iter()
        .map(|&c| f32::from(alaw_to_linear(c)) / 32_768.0)
        .collect()
}

/// Encodes 16-bit linear samples to μ-law bytes with [`linear_to_mulaw`].
pub fn encode_mulaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| linear_to_mulaw(s)).collect()
}

/// Encodes 16-bit linear samples to A-law bytes with [`linear_to_alaw`].
pub fn encode_alaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| linear_to_alaw(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// μ-law reference from the G.711 segment table: 14-bit magnitude,
    /// decision thresholds of the 8 biased segments, written independently of
    /// the bit tricks used above.
    fn ref_mulaw_14(magnitude: i32, negative: bool) -> u8 {
        // Segment end points in the biased 14-bit domain (Sun `seg_uend` + 1).
        const SEG_END: [i32; 8] = [0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000];
        let biased = magnitude.min(8159) + 33;
        let mut seg = 0;
        while seg < 8 && biased >= SEG_END[seg] {
            seg += 1;
        }
        let mask = if negative { 0x7F } else { 0xFF };
        if seg >= 8 {
            return 0x7F ^ mask;
        }
        let step = 2 << seg; // quantisation step of this segment (14-bit units)
        let mantissa = (biased - SEG_END[seg] / 2) / step;
        (((seg as i32) << 4 | mantissa) as u8) ^ mask
    }

    fn ref_alaw_13(magnitude: i32, negative: bool) -> u8 {
        const SEG_END: [i32; 8] = [0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000];
        let mut seg = 0;
        while seg < 8 && magnitude >= SEG_END[seg] {
            seg += 1;
        }
        let mask = if negative { 0x55 } else { 0xD5 };
        if seg >= 8 {
            return 0x7F ^ mask;
        }
        let (start, step) = if seg == 0 {
            (0, 2)
        } else {
            (SEG_END[seg] / 2, 1 << seg)
        };
        let quant = (magnitude - start) / step;
        (((seg as i32) << 4 | quant) as u8) ^ mask
    }

    fn ref_mulaw_classic(x: i16) -> u8 {
        let x = i32::from(x);
        ref_mulaw_14(x.abs() / 4, x < 0)
    }

    fn ref_alaw_classic(x: i16) -> u8 {
        let x = i32::from(x);
        if x >= 0 {
            ref_alaw_13(x / 8, false)
        } else {
            ref_alaw_13((-x - 1) / 8, true)
        }
    }

    fn ref_mulaw_rounded(x: i16) -> u8 {
        let p = ((f64::from(x) / 4.0 + 0.5).floor() as i32).min(8191);
        ref_mulaw_14(p.abs(), p < 0)
    }

    fn ref_alaw_rounded(x: i16) -> u8 {
        let p = ((f64::from(x) / 8.0 + 0.5).floor() as i32).min(4095);
        if p >= 0 {
            ref_alaw_13(p, false)
        } else {
            ref_alaw_13(-p - 1, true)
        }
    }

    #[test]
    fn mulaw_decode_table_known_values() {
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0xFE), 8);
        assert_eq!(mulaw_to_linear(0x7E), -8);
        assert_eq!(mulaw_to_linear(0xF0), 120);
        assert_eq!(mulaw_to_linear(0xEF), 132);
        // Sign symmetry: c and c ^ 0x80 decode to opposite values.
        for c in 0..=255u8 {
            assert_eq!(
                mulaw_to_linear(c),
                -mulaw_to_linear(c ^ 0x80),
                "code {c:#04x}"
            );
        }
    }

    #[test]
    fn alaw_decode_table_known_values() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0x00), -5504);
        assert_eq!(alaw_to_linear(0x80), 5504);
        for c in 0..=255u8 {
            assert_eq!(
                alaw_to_linear(c),
                -alaw_to_linear(c ^ 0x80),
                "code {c:#04x}"
            );
        }
    }

    #[test]
    fn decode_tables_are_monotonic_per_sign() {
        // Sorting all 256 decoded values must give 255 distinct μ-law levels
        // (two zeros) and 256 distinct A-law levels.
        let mut mu: Vec<i16> = MULAW_TO_LINEAR.to_vec();
        mu.sort_unstable();
        mu.dedup();
        assert_eq!(mu.len(), 255);
        let mut a: Vec<i16> = ALAW_TO_LINEAR.to_vec();
        a.sort_unstable();
        a.dedup();
        assert_eq!(a.len(), 256);
    }

    #[test]
    fn all_codes_round_trip() {
        for c in 0..=255u8 {
            let mu = linear_to_mulaw(mulaw_to_linear(c));
            let mu_r = linear_to_mulaw_rounded(mulaw_to_linear(c));
            if c == 0x7F {
                // Negative zero re-encodes as positive zero, as in G.711 implementations.
                assert_eq!(mu, 0xFF);
                assert_eq!(mu_r, 0xFF);
            } else {
                assert_eq!(mu, c, "μ-law code {c:#04x}");
                assert_eq!(mu_r, c, "μ-law rounded code {c:#04x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c, "A-law code {c:#04x}");
            assert_eq!(
                linear_to_alaw_rounded(alaw_to_linear(c)),
                c,
                "A-law rounded {c:#04x}"
            );
        }
    }

    #[test]
    fn every_i16_matches_reference_encoders() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_mulaw(x), ref_mulaw_classic(x), "μ-law x={x}");
            assert_eq!(linear_to_alaw(x), ref_alaw_classic(x), "A-law x={x}");
            assert_eq!(
                linear_to_mulaw_rounded(x),
                ref_mulaw_rounded(x),
                "μ-law rounded x={x}"
            );
            assert_eq!(
                linear_to_alaw_rounded(x),
                ref_alaw_rounded(x),
                "A-law rounded x={x}"
            );
        }
    }

    #[test]
    fn classic_mulaw_matches_bias_clip_formula() {
        // The textbook CCITT formulation with BIAS 0x84 / CLIP 32635 and an
        // exponent lookup, checked against the fast path for every input.
        fn textbook(x: i16) -> u8 {
            let mut s = i32::from(x);
            let sign = if s < 0 { 0x80 } else { 0 };
            if s < 0 {
                s = -s;
            }
            s = s.min(32635) + 0x84;
            let mut exponent = 7;
            let mut mask = 0x4000;
            while s & mask == 0 && exponent > 0 {
                exponent -= 1;
                mask >>= 1;
            }
            let mantissa = (s >> (exponent + 3)) & 0x0F;
            !((sign | (exponent << 4) | mantissa) as u8)
        }
        for x in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_mulaw(x), textbook(x), "x={x}");
        }
    }

    #[test]
    fn encoding_error_is_bounded_by_segment_step() {
        for x in i16::MIN..=i16::MAX {
            let xi = i32::from(x);
            let mu = i32::from(mulaw_to_linear(linear_to_mulaw(x)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(x)));
            // Largest μ-law step is 1024 and largest A-law step is 1024; the
            // clipped extremes are at most ~650 (μ) / ~520 (A) away.
            assert!((mu - xi).abs() <= 1024, "μ x={x} got {mu}");
            assert!((a - xi).abs() <= 1024, "A x={x} got {a}");
        }
    }

    #[test]
    fn classic_and_rounded_agree_on_exact_lattice() {
        for x in (i16::MIN..=i16::MAX).step_by(4) {
            assert_eq!(linear_to_mulaw(x), linear_to_mulaw_rounded(x), "x={x}");
        }
        for x in (i16::MIN..=i16::MAX).step_by(8) {
            assert_eq!(linear_to_alaw(x), linear_to_alaw_rounded(x), "x={x}");
        }
    }

    #[test]
    fn slice_helpers() {
        let pcm = [0i16, 1000, -1000, i16::MAX, i16::MIN];
        let mu = encode_mulaw(&pcm);
        let a = encode_alaw(&pcm);
        assert_eq!(decode_mulaw(&mu).len(), pcm.len());
        assert_eq!(decode_alaw(&a).len(), pcm.len());
        let f = decode_mulaw_f32(&mu);
        assert!(f.iter().all(|v| (-1.0..1.0).contains(v)));
        let f = decode_alaw_f32(&a);
        assert!(f.iter().all(|v| (-1.0..1.0).contains(v)));
    }
}
