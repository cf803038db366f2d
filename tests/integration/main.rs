//! The one integration test binary: starts the real `vocalis` binary on
//! `127.0.0.1:0` and talks to it over real sockets, plus whole-tree checks.
//!
//! # Layout
//! - [`support`]: spawning the binary and finding its port.
//! - [`tidy`]: checks over the source tree (every module has a `//!` doc).
//! - [`auth`]: 401s for missing, wrong and revoked credentials.
//! - [`bad_files`]: FLAC bomb (peak RSS checked), broken WAV/MP3/text uploads,
//!   a 65 535-channel live WAV header: stable errors, server stays healthy.
//! - [`browser_audio`]: WebM/Opus, Ogg/Opus, MP4/M4A (AAC) and FLAC from
//!   ffmpeg on both REST routes and live `/v1/listen`; Ogg Opus and FLAC speech.
//! - [`bad_frames`]: malformed WebSocket frames, bad JWTs and a 20 MB header.
//! - [`deepgram_semantics`]: `POST /v1/listen` utterances, warnings for
//!   unsupported features, Deepgram's error body.
//! - [`credit`]: 402 without credit on every billable route, live sessions
//!   stopped where credit runs out, 503 while the ledger's disk is full.
//! - [`diarize`]: speaker labels on `/v1/listen`, `diarized_json`, VTT voice
//!   tags, multichannel and `vocalis transcribe --diarize` (two real voices).
//! - [`faults`]: vanished clients, panicking sessions, missing or damaged models.
//! - [`health`]: `/ws/health` and `/metrics`.
//! - [`hostile_text`]: text that crashes espeak-ng never kills the server.
//! - [`listen_ws`]: Deepgram-compatible live `/v1/listen` with real speech.
//! - [`long_audio`]: a file longer than Whisper's window, decoded in pieces.
//! - [`keys`]: `vocalis keys` and the first-start developer key.
//! - [`loadgen`]: `vocalis loadgen` runs (STT, listen, TTS) against the real server.
//! - [`limits`]: header timeout, connection and session caps (503
//!   `server_busy`), stalled speech clients, memory of idle WebSockets.
//! - [`security`]: secure defaults: developer key only on loopback, private
//!   data dir, no key echoed as a subprotocol, `metrics_auth`.
//! - [`telephony`]: Twilio Media Streams, jambonz custom speech (STT and
//!   TTS), FreeSWITCH mod_audio_fork and Asterisk chan_websocket clients.
//! - [`ws_stt`]: the 60db live transcription WebSocket with real speech.
//! - [`ws_tts`]: the 60db streaming synthesis WebSocket, both dialects, with Whisper checking the audio.
//! - [`openai_semantics`]: OpenAI's SSE transcription and speech streams
//!   and its error body on every error path.
//! - [`rest_email`]: `/v1/email/send` against a tiny SMTP server on 127.0.0.1.
//! - [`rest_speech`]: `/v1/audio/speech` formats, errors, chunked streaming.
//! - [`rest_transcriptions`]: `/v1/audio/transcriptions` and pre-recorded `/v1/listen`.
//! - [`shutdown`]: SIGTERM drains sessions; `kill -9` keeps billed sessions.
//! - [`hostile_live`]: huge prompts on every prompt route, a two-minute frame on `/ws/stt`.
//! - [`serve`]: the server skeleton: `/healthz`, config precedence, 404s.
//! - [`playground`]: the page at `/` (assets, CSP, developer-key hint) and `/v1/voices`.
//! - [`pg_cluster`]: a private PostgreSQL cluster for tests (shared per binary).
//! - [`postgres`]: the storage contract, the same tests on SQLite and PostgreSQL.
//! - [`deploy`]: the compose file, HAProxy config and Kubernetes manifests parse and agree.
//! - [`scale_out`]: two replicas on one PostgreSQL: shared keys, credit and
//!   usage, concurrent debits, revocation, a PostgreSQL restart mid-session.

mod auth;
mod bad_files;
mod bad_frames;
mod browser_audio;
mod credit;
mod deepgram_semantics;
mod deploy;
mod diarize;
mod faults;
mod health;
mod hostile_live;
mod hostile_text;
mod keys;
mod limits;
mod listen_ws;
mod loadgen;
mod long_audio;
mod openai_semantics;
mod pg_cluster;
mod playground;
mod postgres;
mod rest_email;
mod rest_speech;
mod rest_transcriptions;
mod scale_out;
mod security;
mod serve;
mod shutdown;
mod support;
mod telephony;
mod tidy;
mod ws_stt;
mod ws_tts;
