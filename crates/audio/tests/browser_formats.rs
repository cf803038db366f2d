//! Browser and phone audio made by real encoders at test time: ffmpeg's
//! libopus in WebM (Chrome's `MediaRecorder`) and Ogg (Firefox), `opusenc`,
//! ffmpeg's AAC in MP4 and M4A (Safari, phones). Files decode through
//! [`decode_file`]; WebM and Ogg streams also decode chunk by chunk through
//! [`StreamDecoder`], and so do MP3 (libmp3lame, with its Xing/LAME tag or
//! piped), FLAC (written to a file or piped, so STREAMINFO has no totals)
//! and fragmented MP4 with AAC (Safari's `MediaRecorder` timeslices);
//! truncated and corrupted copies give typed errors or
//! the audio before the damage, never a panic. Opus and FLAC output is
//! checked by ffmpeg and by this crate's own decoder.
//!
//! These tests fail loudly when ffmpeg or opusenc is missing (the project's
//! setup installs both).

use std::f64::consts::PI;
use std::path::Path;
use std::process::Command;

use vocalis_audio::{decode_file, encode, Container, DecodeError, OutputFormat, StreamDecoder};

const RATE: u32 = 16_000;
const SECONDS: f64 = 2.0;
const FREQ: f64 = 440.0;

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("could not run `{program}` ({e}); the project's setup installs ffmpeg and opus-tools")
    });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn tone(rate: u32) -> Vec<f32> {
    let n = (f64::from(rate) * SECONDS) as usize;
    (0..n)
        .map(|i| (0.5 * (2.0 * PI * FREQ * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Power of `x` at `freq` Hz (Goertzel), normalised by length.
fn power_at(x: &[f32], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

fn assert_tone(x: &[f32], rate: u32, what: &str) {
    let p = power_at(x, rate, FREQ);
    for other in [FREQ * 0.5, FREQ * 1.5, FREQ * 2.0, 1_234.0] {
        let q = power_at(x, rate, other);
        assert!(
            p > 100.0 * q,
            "{what}: {FREQ} Hz power {p:e} vs {other} Hz {q:e}"
        );
    }
}

/// The tone as WAV plus the browser formats made from it: `(name, bytes)`.
fn fixtures(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let wav = dir.join("tone.wav");
    std::fs::write(
        &wav,
        encode(&tone(RATE), RATE, OutputFormat::Wav, RATE).unwrap(),
    )
    .unwrap();
    let input = path_str(&wav);
    let mut out = Vec::new();
    for (name, args) in [
        ("webm", &["-c:a", "libopus", "-f", "webm"][..]),
        ("ogg", &["-c:a", "libopus", "-f", "ogg"][..]),
        ("mp4", &["-c:a", "aac", "-f", "mp4"][..]),
        ("m4a", &["-c:a", "aac", "-f", "ipod"][..]),
        ("mp3", &["-c:a", "libmp3lame", "-f", "mp3"][..]),
        ("flac", &["-c:a", "flac", "-f", "flac"][..]),
    ] {
        let target = dir.join(format!("tone.{name}"));
        let mut all = vec!["-hide_banner", "-loglevel", "error", "-y", "-i", input];
        all.extend_from_slice(args);
        all.push(path_str(&target));
        run("ffmpeg", &all);
        out.push((name, std::fs::read(&target).unwrap()));
    }
    let opus = dir.join("tone.opus");
    run("opusenc", &["--quiet", input, path_str(&opus)]);
    out.push(("opusenc", std::fs::read(&opus).unwrap()));
    out
}

/// WebM the way `MediaRecorder` streams it: written to a pipe, so the
/// segment and clusters have unknown sizes.
fn live_webm(dir: &Path) -> Vec<u8> {
    let wav = dir.join("live.wav");
    std::fs::write(
        &wav,
        encode(&tone(RATE), RATE, OutputFormat::Wav, RATE).unwrap(),
    )
    .unwrap();
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i", path_str(&wav)])
        .args(["-c:a", "libopus", "-f", "webm", "-live", "1", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn browser_and_phone_files_decode_to_the_tone() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in fixtures(dir.path()) {
        let audio = decode_file(&bytes, None, RATE).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate, RATE);
        // AAC keeps its encoder priming (symphonia ignores MP4 edit lists).
        let slack = if name.starts_with("m") { 0.15 } else { 0.05 };
        assert!(
            (audio.duration_s - SECONDS).abs() < slack,
            "{name}: {} s",
            audio.duration_s
        );
        // Skip codec start-up; the steady tone must dominate.
        assert_tone(&audio.samples[4_000..28_000], RATE, name);
    }
}

fn stream(bytes: &[u8], chunk: usize) -> Result<(Vec<f32>, Container, u32, u16), DecodeError> {
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece, &mut out)?;
    }
    let info = decoder.info().expect("header seen");
    Ok((out, info.container, info.sample_rate, info.channels))
}

#[test]
fn live_webm_and_ogg_streams_decode_chunk_by_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let all = fixtures(dir.path());
    let ogg = &all.iter().find(|(n, _)| *n == "ogg").unwrap().1;
    let opusenc = &all.iter().find(|(n, _)| *n == "opusenc").unwrap().1;
    let webm = &all.iter().find(|(n, _)| *n == "webm").unwrap().1;
    let live = live_webm(dir.path());
    for (name, bytes, container) in [
        ("ogg", ogg, Container::Ogg),
        ("opusenc", opusenc, Container::Ogg),
        ("webm", webm, Container::WebM),
        ("live webm", &live, Container::WebM),
    ] {
        let (whole, kind, rate, channels) = stream(bytes, bytes.len()).unwrap();
        assert_eq!((kind, rate, channels), (container, RATE, 1), "{name}");
        for chunk in [1, 7, 160, 4_096] {
            let (pieces, ..) = stream(bytes, chunk).unwrap();
            assert_eq!(pieces, whole, "{name} in {chunk}-byte chunks");
        }
        let seconds = whole.len() as f64 / f64::from(RATE);
        assert!((seconds - SECONDS).abs() < 0.1, "{name}: {seconds} s");
        assert_tone(&whole[4_000..28_000], RATE, name);
    }
    // WAV streams through the same decoder.
    let wav = encode(&tone(8_000), 8_000, OutputFormat::Wav, 8_000).unwrap();
    let (samples, kind, rate, _) = stream(&wav, 33).unwrap();
    assert_eq!((kind, rate, samples.len()), (Container::Wav, 8_000, 16_000));
}

/// ffmpeg's encoding of the tone, written to a pipe.
fn piped(dir: &Path, args: &[&str]) -> Vec<u8> {
    let wav = dir.join("piped.wav");
    std::fs::write(
        &wav,
        encode(&tone(RATE), RATE, OutputFormat::Wav, RATE).unwrap(),
    )
    .unwrap();
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i", path_str(&wav)])
        .args(args)
        .arg("-")
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn stream_to_end(bytes: &[u8], chunk: usize) -> (Vec<f32>, Container, u32, u16) {
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece, &mut out).unwrap();
    }
    decoder.finish(&mut out).unwrap();
    let info = decoder.info().expect("header seen");
    (out, info.container, info.sample_rate, info.channels)
}

#[test]
fn live_mp3_and_flac_streams_decode_chunk_by_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let all = fixtures(dir.path());
    let file = |name: &str| all.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    for (name, bytes, container) in [
        ("mp3 file", file("mp3"), Container::Mp3),
        (
            "piped mp3",
            piped(dir.path(), &["-c:a", "libmp3lame", "-f", "mp3"]),
            Container::Mp3,
        ),
        ("flac file", file("flac"), Container::Flac),
        (
            "piped flac",
            piped(dir.path(), &["-c:a", "flac", "-f", "flac"]),
            Container::Flac,
        ),
    ] {
        let (whole, kind, rate, channels) = stream_to_end(&bytes, bytes.len());
        assert_eq!((kind, rate, channels), (container, RATE, 1), "{name}");
        for chunk in [1, 7, 160, 4_096] {
            let (pieces, ..) = stream_to_end(&bytes, chunk);
            assert_eq!(pieces, whole, "{name} in {chunk}-byte chunks");
        }
        // The same samples as the file decoder (which also trims MP3's
        // encoder delay, and its padding, unknown to a live stream).
        let decoded = decode_file(&bytes, None, RATE).unwrap().samples;
        let len = decoded.len().min(whole.len());
        assert!(
            whole.len() - len < 1_152,
            "{name}: {} vs {}",
            whole.len(),
            decoded.len()
        );
        let error = whole[..len]
            .iter()
            .zip(&decoded[..len])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(error < 1e-3, "{name}: max difference {error}");
        let seconds = whole.len() as f64 / f64::from(RATE);
        assert!((seconds - SECONDS).abs() < 0.1, "{name}: {seconds} s");
        assert_tone(&whole[4_000..28_000], RATE, name);
    }
    // Stereo MPEG-1 at 44.1 kHz keeps its rate and channels.
    let stereo = piped(
        dir.path(),
        &[
            "-ac",
            "2",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-f",
            "mp3",
        ],
    );
    let (samples, kind, rate, channels) = stream_to_end(&stereo, 999);
    assert_eq!((kind, rate, channels), (Container::Mp3, 44_100, 2));
    let seconds = samples.len() as f64 / 2.0 / 44_100.0;
    assert!((seconds - SECONDS).abs() < 0.1, "{seconds} s");
}

/// Fragmented MP4 with AAC the way Safari's `MediaRecorder` sends it: an
/// empty `moov`, then a `moof` + `mdat` per timeslice.
fn fragmented_mp4(dir: &Path) -> Vec<u8> {
    piped(
        dir,
        &[
            "-c:a",
            "aac",
            "-f",
            "mp4",
            "-movflags",
            "empty_moov+default_base_moof",
            "-frag_duration",
            "250000",
        ],
    )
}

#[test]
fn live_fragmented_mp4_decodes_chunk_by_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let one_fragment = piped(
        dir.path(),
        &[
            "-c:a",
            "aac",
            "-f",
            "mp4",
            "-movflags",
            "frag_keyframe+empty_moov",
        ],
    );
    for (name, bytes) in [
        ("timeslices", fragmented_mp4(dir.path())),
        ("one fragment", one_fragment),
    ] {
        let (whole, kind, rate, channels) = stream_to_end(&bytes, bytes.len());
        assert_eq!((kind, rate, channels), (Container::Mp4, RATE, 1), "{name}");
        for chunk in [1, 7, 160, 4_096] {
            let (pieces, ..) = stream_to_end(&bytes, chunk);
            assert_eq!(pieces, whole, "{name} in {chunk}-byte chunks");
        }
        // The same samples as the file decoder (both keep AAC's priming).
        let decoded = decode_file(&bytes, None, RATE).unwrap().samples;
        let len = decoded.len().min(whole.len());
        assert!(
            len + 1_024 >= whole.len().max(decoded.len()),
            "{name}: {} vs {}",
            whole.len(),
            decoded.len()
        );
        let error = whole[..len]
            .iter()
            .zip(&decoded[..len])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(error < 1e-3, "{name}: max difference {error}");
        let seconds = whole.len() as f64 / f64::from(RATE);
        assert!((seconds - SECONDS).abs() < 0.15, "{name}: {seconds} s");
        assert_tone(&whole[4_000..28_000], RATE, name);
    }
    // An MP4 that is not fragmented is refused by name, not misread.
    let all = fixtures(dir.path());
    let plain = &all.iter().find(|(n, _)| *n == "mp4").unwrap().1;
    let mut decoder = StreamDecoder::sniffing(RATE);
    let error = plain
        .chunks(1_000)
        .find_map(|piece| decoder.push(piece, &mut Vec::new()).err())
        .expect("refused");
    assert!(error.to_string().contains("not fragmented"), "{error}");
}

#[test]
fn damaged_containers_are_typed_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = fixtures(dir.path());
    all.push(("live webm", live_webm(dir.path())));
    all.push(("fragmented mp4", fragmented_mp4(dir.path())));
    for (name, bytes) in &all {
        // A header cut short is an error, not audio.
        assert!(
            decode_file(&bytes[..40], None, RATE).is_err(),
            "{name} header"
        );
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 5] {
            let _ = decode_file(&bytes[..cut], None, RATE);
            let _ = stream(&bytes[..cut], 512);
        }
        let mut flipped = bytes.clone();
        for i in (64..flipped.len()).step_by(97) {
            flipped[i] ^= 0x5A;
        }
        let _ = decode_file(&flipped, None, RATE);
        let mut decoder = StreamDecoder::sniffing(RATE);
        let mut out = Vec::new();
        for piece in flipped.chunks(300) {
            if decoder.push(piece, &mut out).is_err() {
                break;
            }
        }
        assert!(out.len() <= 3 * RATE as usize, "{name}: {}", out.len());
    }
    // Not a stream at all, and errors are final.
    let mut decoder = StreamDecoder::sniffing(RATE);
    let mut out = Vec::new();
    assert!(matches!(
        decoder.push(b"ID3\x04 definitely not a live container", &mut out),
        Err(DecodeError::Unsupported { .. })
    ));
    assert!(decoder.push(b"OggS", &mut out).is_err());
    // An Ogg stream of another codec names it.
    let vorbis = dir.path().join("tone.oga");
    let wav = dir.path().join("tone.wav");
    run(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-y",
            "-i",
            path_str(&wav),
            "-c:a",
            "libvorbis",
            path_str(&vorbis),
        ],
    );
    let error = stream(&std::fs::read(&vorbis).unwrap(), 1_000).unwrap_err();
    assert!(error.to_string().contains("Vorbis"), "{error}");
}

/// A small deterministic generator (no test depends on a random seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

#[test]
fn mutated_containers_never_panic_and_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = fixtures(dir.path());
    all.push(("live webm", live_webm(dir.path())));
    all.push(("fragmented mp4", fragmented_mp4(dir.path())));
    let mut rng = Lcg(0x5EED);
    for (name, bytes) in &all {
        for round in 0..150 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + rng.next(8) {
                let at = rng.next(mutated.len());
                match rng.next(4) {
                    0 => mutated[at] = rng.next(256) as u8,
                    1 => mutated[at] ^= 1 << rng.next(8),
                    2 => mutated.insert(at, rng.next(256) as u8),
                    _ => mutated.truncate(at.max(1)),
                }
            }
            if let Ok(audio) = decode_file(&mutated, None, RATE) {
                assert!(
                    audio.samples.iter().all(|s| s.is_finite()),
                    "{name} round {round}"
                );
            }
            let mut decoder = StreamDecoder::sniffing(RATE);
            let mut out = Vec::new();
            let chunk = 1 + rng.next(2_000);
            for piece in mutated.chunks(chunk) {
                if decoder.push(piece, &mut out).is_err() {
                    break;
                }
                assert!(decoder.buffered() <= vocalis_audio::stream::MAX_BUFFERED_BYTES);
            }
            assert!(out.iter().all(|s| s.is_finite()), "{name} round {round}");
            // Opus packets may be corrupted into longer ones, never beyond 120 ms each.
            assert!(
                out.len() <= 20 * RATE as usize,
                "{name} round {round}: {}",
                out.len()
            );
        }
    }
}

#[test]
fn opus_and_flac_output_round_trip_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    for (format, rate, ext) in [
        (OutputFormat::Opus, 48_000, "opus"),
        (OutputFormat::Opus, 24_000, "opus"),
        (OutputFormat::Flac, 22_050, "flac"),
    ] {
        let bytes = encode(&tone(RATE), RATE, format, rate).unwrap();
        let file = dir.path().join(format!("out.{ext}"));
        std::fs::write(&file, &bytes).unwrap();
        let back = dir.path().join("back.wav");
        run(
            "ffmpeg",
            &[
                "-loglevel",
                "error",
                "-y",
                "-i",
                path_str(&file),
                "-ar",
                "16000",
                path_str(&back),
            ],
        );
        let theirs = decode_file(&std::fs::read(&back).unwrap(), None, RATE).unwrap();
        let ours = decode_file(&bytes, None, RATE).unwrap();
        for (who, audio) in [("ffmpeg", &theirs), ("vocalis", &ours)] {
            assert!(
                (audio.duration_s - SECONDS).abs() < 0.03,
                "{format} {rate} via {who}: {} s",
                audio.duration_s
            );
            assert_tone(
                &audio.samples[4_000..28_000],
                RATE,
                &format!("{format} via {who}"),
            );
        }
    }
    assert_eq!(
        OutputFormat::Opus.mime_type(48_000),
        "audio/ogg; codecs=opus"
    );
    assert_eq!(OutputFormat::Flac.mime_type(22_050), "audio/flac");
    assert!(!OutputFormat::Opus.supports_rate(22_050));
    assert!(matches!(
        encode(&[0.0; 10], RATE, OutputFormat::Opus, 22_050),
        Err(vocalis_audio::EncodeError::UnsupportedOpusRate { rate: 22_050 })
    ));
    // Empty input still makes valid, empty streams.
    for format in [OutputFormat::Opus, OutputFormat::Flac] {
        let bytes = encode(&[], RATE, format, RATE).unwrap();
        assert!(!bytes.is_empty(), "{format}");
    }
}
