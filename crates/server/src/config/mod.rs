//! Server configuration: typed, with defaults, loaded from an optional TOML
//! file and validated before the server starts so a bad setting fails fast.
//!
//! Precedence (lowest to highest): built-in defaults, the TOML file, then
//! `VOCALIS_*` environment variables and command-line flags (merged by the
//! binary, which owns the command line). Limit names carry their units.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::JwtConfig;

/// Everything `vocalis serve` needs to know, with defaults for a 2-core box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Root of the model store (see `vocalis models list`).
    pub models_dir: PathBuf,
    /// Directory for durable state: tenants, keys, the usage ledger.
    pub data_dir: PathBuf,
    /// A shared PostgreSQL database (`postgres://user:password@host/db`) for
    /// tenants, keys and the usage ledger, so several replicas serve one
    /// fleet; unset: SQLite in `data_dir` (see `docs/scaling.md`).
    pub database_url: Option<String>,
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
    /// How long shutdown waits for open sessions before it drops them.
    pub shutdown_grace_ms: u64,
    /// JWT verification; API keys work without it.
    pub jwt: JwtConfig,
    /// Whisper model served (a name from `vocalis models list`).
    pub stt_model: String,
    /// Its weights: `q8_0` (default; `vocalis models pull` installs it) or
    /// `f16`.
    pub stt_weights: String,
    /// Voice used when a request names none (or an unknown one).
    pub voice: String,
    /// Whisper worker threads, each with its own decoding state.
    pub stt_workers: usize,
    /// whisper.cpp threads per Whisper worker.
    pub threads_per_worker: usize,
    /// Piper worker threads, each with its own ONNX session.
    pub tts_workers: usize,
    /// Jobs that may wait per pool before requests are refused as busy.
    pub queue_depth: usize,
    /// Widest beam search a live final gets when no other decode is
    /// running or waiting (1: live finals always decode greedily).
    pub live_final_beam: usize,
    /// A WebSocket session with no audio or keepalive for this long is closed.
    pub idle_timeout_ms: u64,
    /// Largest accepted WebSocket message.
    pub max_frame_bytes: usize,
    /// How often `/ws/health` pushes a health message.
    pub health_interval_ms: u64,
    /// How often every WebSocket route sends a Ping frame.
    pub ping_interval_ms: u64,
    /// Price of one minute of transcribed audio, USD.
    pub stt_price_per_minute: f64,
    /// Price of 1 000 synthesized characters, USD.
    pub tts_price_per_1k_characters: f64,
    /// Longest audio accepted by one REST transcription, seconds.
    pub max_audio_seconds: f64,
    /// Uploaded files decoding at once (REST transcription); one more waits
    /// up to 2 s for a slot, then is refused `503 busy`.
    pub max_concurrent_decodes: usize,
    /// Longest `input` of one `/v1/audio/speech` request, characters.
    pub max_speech_chars: usize,
    /// Outgoing email (`POST /v1/email/send`); off without `smtp_host`.
    pub email: crate::email::EmailConfig,
    /// How long a client may take to send a request's headers before the
    /// connection is closed (half-sent requests do not hold sockets).
    pub header_read_timeout_ms: u64,
    /// An HTTP keep-alive connection with no request in flight and no
    /// bytes moving for this long is closed (WebSockets are not affected).
    pub http_idle_timeout_ms: u64,
    /// Open TCP connections (HTTP and WebSocket together); one more is
    /// answered `503 server_busy` and closed.
    pub max_connections: usize,
    /// Concurrent WebSocket sessions (`/ws/stt`, `/ws/tts`, `/v1/listen`,
    /// `/ws/health`); one more is answered `503 server_busy` before upgrade.
    pub max_sessions: usize,
    /// How long `/v1/audio/speech` waits for a client that stopped reading
    /// before it abandons the synthesis.
    pub tts_write_timeout_ms: u64,
    /// Require an API key (or JWT) for `/metrics` and `/ws/health`.
    /// Off by default (compatibility); turn on when the port is public.
    pub metrics_auth: bool,
    /// Live STT: after the burst, audio is processed at most this many
    /// times faster than real time; a faster client is slowed by TCP
    /// back-pressure (see `session::pacing`).
    pub live_max_speed: f64,
    /// Live STT: seconds of audio a session may send at any speed before
    /// `live_max_speed` applies.
    pub live_burst_seconds: f64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models_dir: default_cache_dir().join("models"),
            data_dir: default_data_dir(),
            database_url: None,
            max_body_bytes: 25 * 1024 * 1024,
            shutdown_grace_ms: 10_000,
            jwt: JwtConfig::default(),
            stt_model: "tiny.en".to_owned(),
            stt_weights: "q8_0".to_owned(),
            voice: "en_US-joe-medium".to_owned(),
            stt_workers: 2,
            threads_per_worker: 1,
            tts_workers: 1,
            queue_depth: 16,
            live_final_beam: vocalis_inference::streaming::FINAL_BEAM_SIZE,
            idle_timeout_ms: 10_000,
            max_frame_bytes: 1024 * 1024,
            health_interval_ms: 5_000,
            ping_interval_ms: 20_000,
            stt_price_per_minute: 0.003,
            tts_price_per_1k_characters: 0.015,
            max_audio_seconds: 3_600.0,
            max_concurrent_decodes: 2,
            max_speech_chars: 100_000,
            email: crate::email::EmailConfig::default(),
            header_read_timeout_ms: 10_000,
            http_idle_timeout_ms: 60_000,
            max_connections: 4_096,
            max_sessions: 64,
            tts_write_timeout_ms: 30_000,
            metrics_auth: false,
            live_max_speed: crate::session::pacing::DEFAULT_SPEED,
            live_burst_seconds: crate::session::pacing::DEFAULT_BURST_S,
        }
    }
}

/// One day: the longest any timeout or interval may be (longer ones
/// overflow `Instant` arithmetic or mean "never", which is a bug).
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// `now + ms`, with `ms` capped at [`MAX_DURATION_MS`]: a deadline from a
/// setting never overflows `Instant` (validation rejects larger values;
/// this is the backstop for code paths that did not go through it).
pub fn deadline_after_ms(ms: u64) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(std::time::Duration::from_millis(ms.min(MAX_DURATION_MS)))
        .unwrap_or(now)
}

/// Checks that `value` is within `min..=max`, naming `field` otherwise.
fn check_range<T>(field: &'static str, value: T, min: T, max: T) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value < min || value > max {
        return Err(ConfigError::Invalid {
            field,
            reason: format!("{value} is outside the allowed range {min} to {max}"),
        });
    }
    Ok(())
}

/// Why a configuration could not be loaded or is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file named by `--config` / `VOCALIS_CONFIG`.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for [`ServerConfig`].
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file named by `--config` / `VOCALIS_CONFIG`.
        path: PathBuf,
        /// What the TOML parser said.
        source: Box<toml::de::Error>,
    },
    /// A setting has a value the server cannot run with.
    #[error("invalid setting `{field}`: {reason}")]
    Invalid {
        /// The setting's name as written in the TOML file.
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
}

impl ServerConfig {
    /// The engine part of the configuration.
    pub fn engine_settings(&self) -> crate::engine::EngineSettings {
        crate::engine::EngineSettings {
            stt_model: self.stt_model.clone(),
            stt_weights: self.stt_quantization(),
            voice: self.voice.clone(),
            pool: vocalis_inference::pool::PoolConfig {
                stt_workers: self.stt_workers,
                threads_per_worker: self.threads_per_worker,
                tts_workers: self.tts_workers,
                queue_depth: self.queue_depth,
                live_final_beam: self.live_final_beam,
            },
        }
    }

    /// The quantized variant `stt_weights` names (`None`: f16).
    pub fn stt_quantization(&self) -> Option<vocalis_models::Quantization> {
        match self.stt_weights.as_str() {
            "f16" => None,
            _ => Some(vocalis_models::Quantization::Q8_0),
        }
    }

    /// Loads a TOML file over the defaults.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Parses TOML text over the defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: PathBuf::new(),
            source: Box::new(source),
        })
    }

    /// Checks the values that deserialization alone cannot check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "max_body_bytes",
            self.max_body_bytes,
            1024,
            u32::MAX as usize,
        )?;
        if self.models_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                field: "models_dir",
                reason: "must not be empty".into(),
            });
        }
        if let Some(url) = &self.database_url {
            if !crate::store::backend::is_postgres_url(url.trim()) {
                return Err(ConfigError::Invalid {
                    field: "database_url",
                    reason: "must be a postgres:// or postgresql:// URL".into(),
                });
            }
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                field: "data_dir",
                reason: "must not be empty".into(),
            });
        }
        self.engine_settings()
            .pool
            .validate()
            .map_err(|e| ConfigError::Invalid {
                field: "stt_workers/threads_per_worker/tts_workers/queue_depth/live_final_beam",
                reason: e.to_string(),
            })?;
        check_range(
            "shutdown_grace_ms",
            self.shutdown_grace_ms,
            0,
            MAX_DURATION_MS,
        )?;
        check_range(
            "idle_timeout_ms",
            self.idle_timeout_ms,
            1000,
            MAX_DURATION_MS,
        )?;
        check_range(
            "ping_interval_ms",
            self.ping_interval_ms,
            100,
            MAX_DURATION_MS,
        )?;
        check_range(
            "health_interval_ms",
            self.health_interval_ms,
            100,
            MAX_DURATION_MS,
        )?;
        check_range("max_frame_bytes", self.max_frame_bytes, 1024, 1 << 30)?;
        check_range(
            "header_read_timeout_ms",
            self.header_read_timeout_ms,
            100,
            600_000,
        )?;
        check_range(
            "http_idle_timeout_ms",
            self.http_idle_timeout_ms,
            1000,
            MAX_DURATION_MS,
        )?;
        check_range("max_connections", self.max_connections, 1, 1_000_000)?;
        check_range("max_sessions", self.max_sessions, 1, 1_000_000)?;
        check_range(
            "tts_write_timeout_ms",
            self.tts_write_timeout_ms,
            100,
            3_600_000,
        )?;
        for (field, price) in [
            ("stt_price_per_minute", self.stt_price_per_minute),
            (
                "tts_price_per_1k_characters",
                self.tts_price_per_1k_characters,
            ),
        ] {
            if !price.is_finite() || price < 0.0 {
                return Err(ConfigError::Invalid {
                    field,
                    reason: format!("{price} is not a price"),
                });
            }
        }
        if !self.max_audio_seconds.is_finite() {
            return Err(ConfigError::Invalid {
                field: "max_audio_seconds",
                reason: format!("{} is not a number of seconds", self.max_audio_seconds),
            });
        }
        check_range("max_audio_seconds", self.max_audio_seconds, 1.0, 86_400.0)?;
        if !matches!(self.stt_weights.as_str(), "q8_0" | "f16") {
            return Err(ConfigError::Invalid {
                field: "stt_weights",
                reason: format!("{:?} is not one of \"q8_0\", \"f16\"", self.stt_weights),
            });
        }
        for (field, value, min, max) in [
            ("live_max_speed", self.live_max_speed, 1.0, 1_000.0),
            ("live_burst_seconds", self.live_burst_seconds, 0.0, 86_400.0),
        ] {
            if !value.is_finite() {
                return Err(ConfigError::Invalid {
                    field,
                    reason: format!("{value} is not a number"),
                });
            }
            check_range(field, value, min, max)?;
        }
        check_range("max_speech_chars", self.max_speech_chars, 1, 10_000_000)?;
        check_range(
            "max_concurrent_decodes",
            self.max_concurrent_decodes,
            1,
            1_024,
        )?;
        self.email.validate()?;
        crate::auth::JwtVerifier::from_config(&self.jwt).map_err(|e| ConfigError::Invalid {
            field: "jwt",
            reason: e.to_string(),
        })?;
        Ok(())
    }
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `$XDG_CACHE_HOME/vocalis`, or `~/.cache/vocalis`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".cache"))
        .join("vocalis")
}

/// `$XDG_DATA_HOME/vocalis`, or `~/.local/share/vocalis`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".local").join("share"))
        .join("vocalis")
}

#[cfg(test)]
mod tests;
