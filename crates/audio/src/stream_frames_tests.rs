//! Unit tests of [`super::StreamDecoder`] on MP3 (LAME, through this
//! crate's encoder) and FLAC (flacenc) streams: every chunking gives the
//! same samples as one push, and those match the whole-file decode; ID3v2
//! tags, junk and metadata blocks are passed over; damage is survived or
//! a typed error, never a panic or unbounded buffering.

use super::*;
use crate::{decode_file, encode, OutputFormat};

const RATE: u32 = 16_000;

/// Two seconds of a gliding tone (so misaligned samples cannot match).
fn tone() -> Vec<f32> {
    (0..2 * RATE as usize)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            (2.0 * std::f32::consts::PI * (300.0 + 200.0 * t) * t).sin() * 0.5
        })
        .collect()
}

fn chunked(bytes: &[u8], sizes: &mut dyn FnMut() -> usize) -> (Vec<f32>, Option<StreamInfo>) {
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = at.saturating_add(sizes().max(1)).min(bytes.len());
        decoder.push(&bytes[at..end], &mut out).unwrap();
        assert!(decoder.buffered() <= MAX_BUFFERED_BYTES);
        at = end;
    }
    decoder.finish(&mut out).unwrap();
    (out, decoder.info())
}

/// A deterministic generator of chunk sizes.
fn lcg(seed: u64, below: usize) -> impl FnMut() -> usize {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        1 + ((state >> 33) as usize) % below
    }
}

/// Every chunking gives the one-push samples.
fn assert_chunking_invariant(bytes: &[u8], container: Container) -> Vec<f32> {
    let (whole, info) = chunked(bytes, &mut || usize::MAX);
    let info = info.expect("format known");
    assert_eq!(
        (info.container, info.sample_rate, info.channels),
        (container, RATE, 1)
    );
    for size in [1, 2, 3, 5, 417, 4_096] {
        assert_eq!(chunked(bytes, &mut || size).0, whole, "{size}-byte chunks");
    }
    for seed in 1..4 {
        assert_eq!(
            chunked(bytes, &mut lcg(seed, 3_000)).0,
            whole,
            "seed {seed}"
        );
    }
    whole
}

/// Close to the file decoder's samples over `len` (both at the source rate).
fn assert_close(stream: &[f32], file: &[f32], len: usize) {
    assert!(
        stream.len() >= len && file.len() >= len,
        "{} {} {len}",
        stream.len(),
        file.len()
    );
    let error: f32 = stream[..len]
        .iter()
        .zip(&file[..len])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(error < 1e-3, "max difference {error}");
}

fn id3_tag(body: usize) -> Vec<u8> {
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend((0..4).rev().map(|i| ((body >> (7 * i)) & 0x7F) as u8));
    tag.extend(std::iter::repeat_n(0xFF, body));
    tag
}

#[test]
fn mp3_in_any_chunks_matches_the_file_decode() {
    let mp3 = encode(&tone(), RATE, OutputFormat::Mp3, RATE).unwrap();
    let whole = assert_chunking_invariant(&mp3, Container::Mp3);
    let file = decode_file(&mp3, Some("audio/mpeg"), RATE).unwrap().samples;
    assert!(
        whole.len().abs_diff(file.len()) < 1_152,
        "{} vs {}",
        whole.len(),
        file.len()
    );
    assert_close(&whole, &file, whole.len().min(file.len()));

    // A 3 000-byte ID3v2 tag of sync-like bytes, then junk between frames.
    let mut tagged = id3_tag(3_000);
    tagged.extend_from_slice(&mp3);
    assert_eq!(chunked(&tagged, &mut lcg(9, 700)).0, whole);
    let second = mp3_split::parse_header(&mp3).unwrap().len;
    let mut junk = mp3[..second].to_vec();
    junk.extend_from_slice(&[0xFF, 0xFB, 0x00, 0x12, 0x34]);
    junk.extend_from_slice(&mp3[second..]);
    let (skipped, _) = chunked(&junk, &mut lcg(3, 100));
    assert!(
        skipped.len() + 2 * 1_152 >= whole.len(),
        "{}",
        skipped.len()
    );

    // Not MP3 at all after a valid first header: refused after the junk limit.
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut noise = mp3[..4].to_vec();
    noise.resize(mp3_split::MAX_JUNK_BYTES + 10, 0x55);
    assert!(matches!(
        decoder.push(&noise, &mut Vec::new()),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn flac_in_any_chunks_matches_the_file_decode() {
    let flac = encode(&tone(), RATE, OutputFormat::Flac, RATE).unwrap();
    let whole = assert_chunking_invariant(&flac, Container::Flac);
    let file = decode_file(&flac, Some("audio/flac"), RATE)
        .unwrap()
        .samples;
    assert_eq!(whole.len(), file.len());
    assert_close(&whole, &file, file.len());

    // Without `finish`, the last frame waits for a next header that never comes.
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut out = Vec::new();
    decoder.push(&flac, &mut out).unwrap();
    assert!(out.len() < whole.len());
    assert!(decoder.push(&[], &mut out).is_ok());

    // A picture block before the audio streams past; STREAMINFO stays first.
    let mut with_picture = flac[..4 + 4 + 34].to_vec();
    with_picture[4] &= 0x7F; // STREAMINFO no longer the last block
    with_picture.extend_from_slice(&[0x86, 0x01, 0x00, 0x00]); // last, PICTURE, 64 KiB
    with_picture.extend(std::iter::repeat_n(0xFF, 0x1_0000));
    let frames_at = 4
        + 4
        + 34
        + if flac[4] & 0x80 == 0 {
            skip_blocks(&flac[42..])
        } else {
            0
        };
    with_picture.extend_from_slice(&flac[frames_at..]);
    assert_eq!(chunked(&with_picture, &mut lcg(5, 5_000)).0, whole);

    // A damaged frame is dropped; the rest still decodes.
    let mut damaged = flac.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x41;
    let (survived, _) = chunked(&damaged, &mut lcg(7, 1_000));
    assert!(
        survived.len() >= whole.len() - 2 * 4_096,
        "{}",
        survived.len()
    );
    assert!(survived.len() <= whole.len());
}

/// Bytes of the metadata blocks after STREAMINFO.
fn skip_blocks(bytes: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let len = (usize::from(bytes[at + 1]) << 16)
            | (usize::from(bytes[at + 2]) << 8)
            | usize::from(bytes[at + 3]);
        let last = bytes[at] & 0x80 != 0;
        at += 4 + len;
        if last {
            return at;
        }
    }
}

#[test]
fn flac_and_mp3_refusals_and_bounds() {
    let flac = encode(&tone(), RATE, OutputFormat::Flac, RATE).unwrap();
    // Metadata that does not start with STREAMINFO.
    let mut bad = b"fLaC\x84\x00\x00\x04abcd".to_vec();
    bad.extend_from_slice(&flac[4..]);
    let mut decoder = StreamDecoder::sniffing(RATE);
    assert!(decoder.push(&bad, &mut Vec::new()).is_err());
    // Errors are final, also for finish.
    assert!(decoder.finish(&mut Vec::new()).is_err());
    // A frame that never ends is refused once over the buffer limit.
    let mut endless = flac[..42].to_vec();
    endless[4] |= 0x80;
    let first_frame = flac
        .windows(2)
        .skip(42)
        .position(|w| w == [0xFF, 0xF8])
        .map(|p| p + 42)
        .unwrap();
    endless.extend_from_slice(&flac[first_frame..first_frame + 16]);
    endless.resize(MAX_BUFFERED_BYTES + 100_000, 0x00);
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut refused = false;
    for piece in endless.chunks(65_536) {
        if decoder.push(piece, &mut Vec::new()).is_err() {
            refused = true;
            break;
        }
        assert!(decoder.buffered() <= MAX_BUFFERED_BYTES);
    }
    assert!(refused);
    // Sniffing waits for a whole ID3v2 header, and rejects a false one.
    let mut decoder = StreamDecoder::sniffing(RATE);
    assert!(decoder.push(b"ID3\x04\x00", &mut Vec::new()).is_ok());
    assert!(decoder.info().is_none());
    let mut decoder = StreamDecoder::sniffing(RATE);
    assert!(matches!(
        decoder.push(b"ID3\x04 not a tag", &mut Vec::new()),
        Err(DecodeError::Unsupported { .. })
    ));
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A `moov` with one sound track whose sample entry is `format`.
fn moov(format: &[u8; 4], fragmented: bool) -> Vec<u8> {
    let mut tkhd = vec![0; 12];
    tkhd.extend_from_slice(&1u32.to_be_bytes());
    let mut hdlr = vec![0; 8];
    hdlr.extend_from_slice(b"soun");
    let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stsd.extend(mp4_box(format, &[0; 28]));
    let stbl = mp4_box(b"stbl", &mp4_box(b"stsd", &stsd));
    let mut mdia = mp4_box(b"hdlr", &hdlr);
    mdia.extend(mp4_box(b"minf", &stbl));
    let mut trak = mp4_box(b"tkhd", &tkhd);
    trak.extend(mp4_box(b"mdia", &mdia));
    let mut body = mp4_box(b"trak", &trak);
    if fragmented {
        body.extend(mp4_box(b"mvex", &[]));
    }
    mp4_box(b"moov", &body)
}

fn mp4_error(bytes: &[u8], chunk: usize) -> DecodeError {
    let mut decoder = StreamDecoder::sniffing(RATE);
    bytes
        .chunks(chunk)
        .find_map(|piece| {
            let result = decoder.push(piece, &mut Vec::new()).err();
            assert!(decoder.buffered() <= MAX_BUFFERED_BYTES);
            result
        })
        .expect("refused")
}

#[test]
fn mp4_refusals_are_named_and_bounded() {
    let ftyp = mp4_box(b"ftyp", b"iso5\0\0\0\0");
    // Another codec in the sound track.
    let mut opus = ftyp.clone();
    opus.extend(moov(b"Opus", true));
    let error = mp4_error(&opus, 3);
    assert!(error.to_string().contains("`Opus`"), "{error}");
    // Samples indexed only in the moov (no mvex): not fragmented.
    let mut plain = ftyp.clone();
    plain.extend(moov(b"mp4a", false));
    assert!(mp4_error(&plain, 10).to_string().contains("live MP4 audio"));
    let mut early = ftyp.clone();
    early.extend(mp4_box(b"mdat", &[0; 100]));
    assert!(mp4_error(&early, 10).to_string().contains("not fragmented"));
    // A moov over the limit is refused from its header, never buffered.
    let mut huge = ftyp.clone();
    huge.extend_from_slice(&((mp4_split::MAX_BOX_BYTES + 9) as u32).to_be_bytes());
    huge.extend_from_slice(b"moov");
    huge.resize(3 << 20, 0);
    assert!(matches!(
        mp4_error(&huge, 65_536),
        DecodeError::Unsupported { .. }
    ));
    // A large free box streams past unbuffered; the stream waits for its moov.
    let mut free = ftyp.clone();
    free.extend(mp4_box(b"free", &vec![0; 3 << 20]));
    let mut decoder = StreamDecoder::sniffing(RATE);
    for piece in free.chunks(100_000) {
        decoder.push(piece, &mut Vec::new()).unwrap();
        assert!(decoder.buffered() < 16);
    }
    assert!(decoder.info().is_none());
}
