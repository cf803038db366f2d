//! Protocol-independent parts of live sessions, shared by the 60db
//! `/ws/stt` and the Deepgram `/v1/listen` WebSocket routes.
//!
//! # Layout
//! - [`live`]: the dialect-free live STT session core (channels, billing,
//!   idle, back-pressure, shutdown) that every live STT route adapts.
//! - [`audio_input`]: wire audio (μ-law, A-law, s16le at any supported rate)
//!   to mono 16 kHz f32, with the seconds received counted for billing.
//! - [`pacing`]: how far ahead of real time a live client's audio may run.
//! - [`socket`]: clean closes, JSON frames and keep-alive pings (used by
//!   every WebSocket route).
//! - [`stt_stream`]: a streaming recognizer driven from async code, its
//!   Whisper decodes running on the worker pool.

pub mod audio_input;
pub mod live;
pub mod pacing;
pub mod socket;
pub mod stt_stream;
