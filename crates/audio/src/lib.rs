//! `vocalis-audio`: the audio plumbing of Vocalis — G.711 companding, PCM
//! conversion, sample-rate conversion, decoding of uploaded files and encoding
//! of output audio.
//!
//! Invariants: the crate performs no I/O (every function works on in-memory
//! buffers) and no input makes it panic; failures are typed errors from
//! [`error`]. Audio is mono `f32`, nominally in `[-1, 1]`, throughout.
//!
//! ```
//! use vocalis_audio::{decode_raw, encode, OutputFormat, RawEncoding};
//!
//! // 20 ms of 8 kHz μ-law silence from a phone call, to 16 kHz for ASR…
//! let audio = decode_raw(&[0xFF; 160], RawEncoding::Mulaw, 8_000, 1, 16_000).unwrap();
//! assert_eq!(audio.samples.len(), 320);
//! // …and a reply as WAV.
//! let wav = encode(&audio.samples, 16_000, OutputFormat::Wav, 16_000).unwrap();
//! assert_eq!(&wav[..4], b"RIFF");
//! ```
//!
//! # Layout
//!
//! * [`g711`] — μ-law / A-law tables and encoders (ITU-T G.711).
//! * [`pcm`] — s16le ↔ `f32`, `f32` → `i16` clipping, downmix to mono.
//! * [`mod@resample`] — [`StreamingResampler`] and one-shot [`resample()`] (rubato FFT).
//! * [`decode`] — [`decode_file`], [`decode_raw`], [`DecodedAudio`], [`DecodeLimits`].
//! * [`wav`] — RIFF/WAVE header validation and sample reading (hound).
//! * [`wav_stream`] — the header of a WAV that arrives in pieces (live streams).
//! * [`stream`] — [`StreamDecoder`]: live audio fed chunk by chunk (raw, WAV,
//!   Ogg Opus, WebM Opus, MP3, FLAC, fragmented MP4/AAC), over the private
//!   demuxers `ogg` and `webm`, the splitters [`mp3_split`], [`flac_split`]
//!   and [`mp4_split`] and the
//!   symphonia frame decoder `stream_codec`.
//! * `compressed` — MP3, FLAC, Ogg, WebM/Matroska and MP4/AAC through
//!   symphonia, Opus through libopus (private).
//! * `sink` — limit checks and chunk-by-chunk resampling shared by the decoders (private).
//! * [`mod@encode`] — [`encode()`], streaming [`AudioEncoder`], [`OutputFormat`] and MIME types.
//! * [`mp3`] — LAME-based MP3 encoding used by [`encode()`] and [`AudioEncoder`].
//! * [`mod@opus`] — libopus packet decoding/encoding and the `OpusHead` header.
//! * [`ogg_opus`] — Ogg Opus output; `flac` — FLAC output (private).
//! * [`error`] — [`PcmError`], [`ResampleError`], [`DecodeError`], [`EncodeError`].

mod compressed;
pub mod decode;
pub mod encode;
pub mod error;
mod flac;
pub mod flac_split;
pub mod g711;
pub mod mp3;
pub mod mp3_split;
pub mod mp4_split;
mod ogg;
pub mod ogg_opus;
pub mod opus;
pub mod pcm;
pub mod resample;
mod sink;
pub mod stream;
mod stream_codec;
pub mod wav;
pub mod wav_stream;
mod webm;

pub use decode::{
    decode_file, decode_file_with_limits, decode_raw, decode_raw_with_limits, DecodeLimits,
    DecodedAudio, RawEncoding,
};
pub use encode::{encode, AudioEncoder, OutputFormat, UnknownFormat};
pub use error::{DecodeError, EncodeError, PcmError, ResampleError};
pub use resample::{resample, StreamingResampler};
pub use stream::{Container, StreamDecoder, StreamInfo};
