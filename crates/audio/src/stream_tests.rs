//! Unit tests of [`super::StreamDecoder`] on hand-built Ogg and WebM
//! streams: packets spanning pages, oversized packets dropped, other tracks
//! skipped without buffering, laced and oversized blocks refused.

use super::*;
use crate::opus::OpusPacketEncoder;
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

fn head() -> Vec<u8> {
    let mut h = b"OpusHead\x01\x01".to_vec();
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&16_000u32.to_le_bytes());
    h.extend_from_slice(&[0, 0, 0]);
    h
}

/// One second of 20 ms Opus packets at 16 kHz.
fn packets() -> Vec<Vec<u8>> {
    let tone: Vec<f32> = (0..16_000)
        .map(|i| ((i as f32) * 0.17).sin() * 0.5)
        .collect();
    let mut encoder = OpusPacketEncoder::new(16_000).unwrap();
    let mut out = Vec::new();
    encoder.push(&tone, |p| out.push(p.to_vec())).unwrap();
    out
}

fn decode_all(bytes: &[u8], chunk: usize) -> Result<(Vec<f32>, Option<StreamInfo>), DecodeError> {
    let mut decoder = StreamDecoder::sniffing(16_000);
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece, &mut out)?;
        assert!(decoder.buffered() <= MAX_BUFFERED_BYTES);
    }
    Ok((out, decoder.info()))
}

#[test]
fn ogg_packets_across_pages_and_oversized_tags() {
    let mut writer = PacketWriter::new(Vec::new());
    writer
        .write_packet(head(), 7, PacketWriteEndInfo::EndPage, 0)
        .unwrap();
    // 100 KB of tags: spans pages, over MAX_PACKET_BYTES, dropped.
    let mut tags = b"OpusTags".to_vec();
    tags.resize(100_000, b'x');
    writer
        .write_packet(tags, 7, PacketWriteEndInfo::EndPage, 0)
        .unwrap();
    let packets = packets();
    let count = packets.len();
    for (i, packet) in packets.into_iter().enumerate() {
        let end = if i + 1 == count {
            PacketWriteEndInfo::EndStream
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        writer
            .write_packet(packet, 7, end, (i as u64 + 1) * 960)
            .unwrap();
    }
    let bytes = writer.into_inner();
    let (whole, info) = decode_all(&bytes, bytes.len()).unwrap();
    assert_eq!(whole.len(), 16_000);
    assert_eq!(info.unwrap().container, Container::Ogg);
    assert_eq!(decode_all(&bytes, 13).unwrap().0, whole);
    // Pages after the end of the stream are ignored.
    let mut twice = bytes.clone();
    twice.extend_from_slice(&bytes[..200]);
    assert_eq!(decode_all(&twice, 500).unwrap().0.len(), 16_000);
    // A page that does not start with `OggS` is a lost sync.
    let mut broken = bytes.clone();
    let second_page = 27 + 1 + 19;
    broken[second_page] = b'X';
    assert!(matches!(
        decode_all(&broken, 1_000),
        Err(DecodeError::Malformed { .. })
    ));
}

/// An EBML element with an 8-byte size (or the unknown size).
fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.push(0x01);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

fn unknown(id: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out
}

fn block(track: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x80 | track, 0, 0, flags];
    body.extend_from_slice(payload);
    el(&[0xA3], &body)
}

fn webm_header() -> Vec<u8> {
    let mut out = el(&[0x1A, 0x45, 0xDF, 0xA3], &el(&[0x42, 0x82], b"webm"));
    out.extend(unknown(&[0x18, 0x53, 0x80, 0x67]));
    let mut video = el(&[0xD7], &[1]);
    video.extend(el(&[0x83], &[1]));
    video.extend(el(&[0x86], b"V_VP8"));
    let mut audio = el(&[0xD7], &[2]);
    audio.extend(el(&[0x83], &[2]));
    audio.extend(el(&[0x86], b"A_OPUS"));
    audio.extend(el(&[0x63, 0xA2], &head()));
    let mut tracks = el(&[0xAE], &video);
    tracks.extend(el(&[0xAE], &audio));
    out.extend(el(&[0x16, 0x54, 0xAE, 0x6B], &tracks));
    out.extend(unknown(&[0x1F, 0x43, 0xB6, 0x75]));
    out.extend(el(&[0xE7], &[0]));
    out
}

#[test]
fn webm_audio_track_among_video_with_unknown_sizes() {
    let mut bytes = webm_header();
    for packet in packets() {
        bytes.extend(block(1, 0x80, &[0x55; 3_000])); // video
        bytes.extend(block(2, 0x80, &packet));
    }
    let (whole, info) = decode_all(&bytes, bytes.len()).unwrap();
    assert_eq!(whole.len(), 16_000);
    assert_eq!(info.unwrap().container, Container::WebM);
    assert_eq!(decode_all(&bytes, 7).unwrap().0, whole);
}

#[test]
fn webm_limits_and_refusals() {
    // A huge video block streams past without being buffered.
    let mut bytes = webm_header();
    let mut big = vec![0x81, 0, 0, 0x80];
    big.resize(8 << 20, 0);
    bytes.extend(el(&[0xA3], &big));
    assert!(decode_all(&bytes, 64 * 1024).is_ok());
    // An audio block over MAX_ELEMENT_BYTES is refused before it is buffered.
    let mut bytes = webm_header();
    let mut big = vec![0x82, 0, 0, 0x80];
    big.resize(2 << 20, 0);
    bytes.extend(el(&[0xA3], &big));
    assert!(matches!(
        decode_all(&bytes, 4_096),
        Err(DecodeError::Unsupported { .. })
    ));
    // Laced blocks are refused.
    let mut bytes = webm_header();
    bytes.extend(block(2, 0x82, &[1, 2, 3]));
    assert!(matches!(
        decode_all(&bytes, 100),
        Err(DecodeError::Unsupported { .. })
    ));
    // A leaf of unknown size, and a stream that is not EBML at its start.
    let mut bytes = webm_header();
    bytes.extend(unknown(&[0xA3]));
    assert!(decode_all(&bytes, 100).is_err());
    // Vorbis in WebM is named.
    let mut bytes = webm_header();
    let at = bytes.windows(6).position(|w| w == b"A_OPUS").unwrap();
    bytes[at..at + 6].copy_from_slice(b"A_VORB");
    let error = decode_all(&bytes, 100).unwrap_err();
    assert!(error.to_string().contains("live WebM audio"), "{error}");
}
