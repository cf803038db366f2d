//! Wire types: the JSON messages of each protocol, exactly as clients see
//! them. Engine types (transcripts, audio chunks) are converted into these at
//! the edge and never serialized directly.
//!
//! # Layout
//! - [`sixtydb`]: the 60db-style `/ws/stt` and `/ws/tts` messages.
//! - [`subtitles`]: SRT and WebVTT rendering.

pub mod sixtydb;
pub mod subtitles;
