//! Wire types: the JSON messages of each protocol, exactly as clients see
//! them. Engine types (transcripts, audio chunks) are converted into these at
//! the edge and never serialized directly.
//!
//! # Layout
//! - [`asterisk`], [`audiofork`], [`jambonz`], [`twilio`]: telephony platforms'
//!   frames (Asterisk chan_websocket, FreeSWITCH mod_audio_fork, jambonz
//!   custom speech, Twilio Media Streams).
//! - [`deepgram`]: Deepgram `/v1/listen` parameters, pre-recorded and live messages.
//! - [`email`]: the gateway's `/v1/email/send` body and answer.
//! - [`openai`]: OpenAI audio API requests and transcription answers.
//! - [`sixtydb`]: the 60db-style `/ws/stt` and `/ws/tts` messages.
//! - [`sixtydb_tts`]: the 60db-style `/ws/tts` messages (session and context dialects).
//! - [`subtitles`]: SRT and WebVTT rendering.

pub mod asterisk;
pub mod audiofork;
pub mod deepgram;
#[cfg(test)]
mod doc_check;
pub mod email;
pub mod jambonz;
pub mod openai;
pub mod sixtydb;
pub mod sixtydb_tts;
pub mod subtitles;
pub mod twilio;
