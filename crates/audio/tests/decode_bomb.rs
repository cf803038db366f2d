//! Decompression bombs: `data/flac_bomb_384k.flac` is a 310 KB FLAC whose
//! STREAMINFO leaves the length unknown, made of 20 800 constant frames of
//! 65 535 samples at 384 kHz — about 3 550 s of audio, 5.5 GB as `f32` at
//! the source rate. Decoding must stop at [`DecodeLimits`] with memory
//! bounded by the *output*, which this binary measures with a counting
//! global allocator (a memory assertion, not a timing one).
//!
//! The fixture is checked in (the fuzz corpus and the server's integration
//! tests use it too); [`flac_bomb`] is the generator it was made with, and a
//! test keeps the two identical.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use vocalis_audio::{decode_file, decode_file_with_limits, DecodeError, DecodeLimits};

const FIXTURE: &[u8] = include_bytes!("data/flac_bomb_384k.flac");

/// Counts live heap bytes and the peak since the last [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

// A global allocator cannot be written without `unsafe`; no crate in the
// tree measures peak heap use.
// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as alloc-then-free: a moving realloc holds both blocks.
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this binary run one at a time so each peak is its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the peak heap growth during it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

const MIB: usize = 1024 * 1024;

fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, &b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// FLAC's UTF-8-like frame number (enough for `n < 0x10000`).
fn coded_number(n: u32) -> Vec<u8> {
    match n {
        0..0x80 => vec![n as u8],
        0x80..0x800 => vec![0xC0 | (n >> 6) as u8, 0x80 | (n & 0x3F) as u8],
        _ => vec![
            0xE0 | (n >> 12) as u8,
            0x80 | ((n >> 6) & 0x3F) as u8,
            0x80 | (n & 0x3F) as u8,
        ],
    }
}

/// A mono 16-bit 384 kHz FLAC with `frames` constant frames of 65 535
/// samples (value 0x1000, 0.125) and total_samples = 0 ("unknown").
fn flac_bomb(frames: u32) -> Vec<u8> {
    const RATE: u64 = 384_000;
    const BLOCK: u16 = 65_535;
    let mut out = b"fLaC".to_vec();
    // Last metadata block, STREAMINFO, 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    out.extend_from_slice(&BLOCK.to_be_bytes());
    out.extend_from_slice(&BLOCK.to_be_bytes());
    // Frame sizes unknown.
    out.extend_from_slice(&[0; 6]);
    // rate (20 bits) | channels - 1 (3) | bits - 1 (5) | total samples (36) = 0.
    out.extend_from_slice(&((RATE << 44) | (15 << 36)).to_be_bytes());
    out.extend_from_slice(&[0; 16]); // no MD5
    for n in 0..frames {
        // Fixed blocking; block size in 16 bits after the number; rate from
        // STREAMINFO; mono; 16-bit.
        let mut frame = vec![0xFF, 0xF8, 0x70, 0x08];
        frame.extend(coded_number(n));
        frame.extend_from_slice(&(BLOCK - 1).to_be_bytes());
        frame.push(crc8(&frame));
        // CONSTANT subframe, no wasted bits, value 0x1000.
        frame.extend_from_slice(&[0x00, 0x10, 0x00]);
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend(frame);
    }
    out
}

#[test]
fn fixture_is_the_generated_bomb() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(FIXTURE.len(), 309_866);
    assert!(FIXTURE == flac_bomb(20_800).as_slice());
}

#[test]
fn a_short_bomb_decodes_exactly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 100 frames: 17 s at 384 kHz, within every default limit.
    let bytes = flac_bomb(100);
    let (audio, peak) = peak_during(|| decode_file(&bytes, Some("flac"), 16_000));
    let audio = audio.unwrap();
    assert_eq!(audio.source_rate, 384_000);
    assert_eq!(audio.source_channels, 1);
    assert!((audio.duration_s - 6_553_500.0 / 384_000.0).abs() < 1e-9);
    assert_eq!(audio.samples.len(), 273_063); // round(6 553 500 / 24)
    let settled = &audio.samples[1_000..audio.samples.len() - 1_000];
    assert!(settled.iter().all(|s| (s - 0.125).abs() < 1e-3));
    // 1.1 MB of output; source-rate buffering would be 26 MB.
    assert!(peak < 8 * MIB, "peak heap {} MiB", peak / MIB);
}

#[test]
fn the_bomb_stops_at_the_source_sample_cap_with_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let limits = DecodeLimits::default();
    assert_eq!(limits.max_source_samples, 345_600_000);
    let (result, peak) = peak_during(|| decode_file(FIXTURE, Some("flac"), 16_000));
    // 345.6 M mono samples last 900 s at 384 kHz: the cap as a duration.
    match result {
        Err(DecodeError::TooLong { duration_s, max_s }) => {
            assert_eq!(max_s, 900.0);
            assert!(duration_s > 900.0 && duration_s < 900.2, "{duration_s}");
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    // The output stops at 900 s × 16 kHz × 4 bytes = 55 MiB; a growing Vec
    // briefly holds its old and new buffers (up to 3× its length, counted
    // as alloc-then-free). At the source rate it would have been 1.3 GiB at
    // 900 s, and 5.5 GB for the whole stream.
    assert!(peak < 192 * MIB, "peak heap {} MiB", peak / MIB);
}

#[test]
fn the_bomb_stops_at_the_duration_limit_with_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // No sample cap: only the duration limit, reached after 60 s of 384 kHz
    // source, stops it; memory still follows the 8 kHz output.
    let limits = DecodeLimits {
        max_duration_s: 60.0,
        max_source_samples: u64::MAX,
    };
    let (result, peak) =
        peak_during(|| decode_file_with_limits(FIXTURE, Some("flac"), 8_000, &limits));
    assert!(
        matches!(result, Err(DecodeError::TooLong { max_s, .. }) if max_s == 60.0),
        "{result:?}"
    );
    // 60 s × 8 kHz × 4 bytes = 1.9 MB of output; the source would be 92 MB.
    assert!(peak < 16 * MIB, "peak heap {} MiB", peak / MIB);
}
