//! `--tts`: N concurrent `/ws/tts` sessions each synthesising a paragraph
//! as 8 kHz μ-law, measuring time to first audio and the underruns a
//! real-time player (a jitter buffer started at the first audio) would hear.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use super::report::Percentiles;

/// The paragraph every session speaks (several sentences, about 15 s).
pub const PARAGRAPH: &str =
    "Thank you for calling the support line. Your order left our warehouse \
this morning and should arrive on Thursday. If you need to change the delivery address, \
please say change address now. For anything else, stay on the line and the next agent \
will be with you shortly.";

/// Upper bound on messages read from one session.
const MAX_MESSAGES: usize = 100_000;

/// One TTS session.
#[derive(Debug, Clone, Serialize)]
pub struct TtsSession {
    /// Session number.
    pub index: usize,
    /// Refused (HTTP 503 at the upgrade, or close 1013).
    pub rejected: bool,
    /// Problems (server errors, unexpected closes, timeouts).
    pub errors: Vec<String>,
    /// From sending the text to the first audio frame, seconds.
    pub time_to_first_audio_s: Option<f64>,
    /// From sending the text to `flushed`, seconds.
    pub time_to_flushed_s: Option<f64>,
    /// Audio received, seconds.
    pub audio_s: f64,
    /// Times the simulated player ran dry.
    pub underruns: usize,
    /// Total time it waited for audio after the first, seconds.
    pub underrun_s: f64,
}

/// The `--tts` part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct TtsReport {
    /// Concurrent sessions.
    pub sessions_count: usize,
    /// Characters of the paragraph.
    pub characters: usize,
    /// Time to first audio over the sessions that got audio.
    pub time_to_first_audio_s: Percentiles,
    /// Sessions whose player ran dry at least once.
    pub sessions_with_underruns: usize,
    /// Underruns over all sessions.
    pub underruns: usize,
    /// Sessions with errors.
    pub sessions_with_errors: usize,
    /// Rejected sessions.
    pub rejections: usize,
    /// Server CPU seconds during the run (`null` without `--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// Every session.
    pub sessions: Vec<TtsSession>,
}

impl TtsReport {
    /// Aggregates the sessions.
    pub fn new(sessions: Vec<TtsSession>, cpu_s: Option<f64>) -> Self {
        Self {
            sessions_count: sessions.len(),
            characters: PARAGRAPH.chars().count(),
            time_to_first_audio_s: Percentiles::of(
                sessions
                    .iter()
                    .filter_map(|s| s.time_to_first_audio_s)
                    .collect(),
            ),
            sessions_with_underruns: sessions.iter().filter(|s| s.underruns > 0).count(),
            underruns: sessions.iter().map(|s| s.underruns).sum(),
            sessions_with_errors: sessions.iter().filter(|s| !s.errors.is_empty()).count(),
            rejections: sessions.iter().filter(|s| s.rejected).count(),
            server_cpu_s: cpu_s,
            sessions,
        }
    }
}

/// The real-time player: audio plays from the first frame on; it runs dry
/// when less audio has arrived than wall time has passed (minus the time it
/// already waited).
#[derive(Debug, Default)]
struct Player {
    first: Option<Instant>,
    received_s: f64,
    stalled_s: f64,
    underruns: usize,
}

impl Player {
    fn push(&mut self, now: Instant, seconds: f64) {
        let first = *self.first.get_or_insert(now);
        let played = (now - first).as_secs_f64() - self.stalled_s;
        if played > self.received_s + 1e-3 {
            self.underruns += 1;
            self.stalled_s += played - self.received_s;
        }
        self.received_s += seconds;
    }
}

/// Runs one TTS session against `base_url` (`ws://host:port`).
pub async fn run_tts(index: usize, base_url: String, key: String, drain: Duration) -> TtsSession {
    let mut out = TtsSession {
        index,
        rejected: false,
        errors: Vec::new(),
        time_to_first_audio_s: None,
        time_to_flushed_s: None,
        audio_s: 0.0,
        underruns: 0,
        underrun_s: 0.0,
    };
    let url = format!("{base_url}/ws/tts?apiKey={key}");
    let mut socket = match tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    {
        Err(_) => {
            out.errors.push("connect timed out".into());
            return out;
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            out.rejected = response.status().as_u16() == 503;
            out.errors
                .push(format!("upgrade refused: HTTP {}", response.status()));
            return out;
        }
        Ok(Err(error)) => {
            out.errors.push(format!("connect failed: {error}"));
            return out;
        }
        Ok(Ok((socket, _))) => socket,
    };
    let messages = [
        json!({"type": "start", "config": {"encoding": "mulaw", "sample_rate": 8000}}),
        json!({"type": "text", "text": PARAGRAPH}),
        json!({"type": "flush"}),
    ];
    let sent_at = Instant::now();
    for message in messages {
        if let Err(error) = socket.send(Message::Text(message.to_string().into())).await {
            out.errors.push(format!("send: {error}"));
            return out;
        }
    }
    let deadline = sent_at + drain;
    let mut player = Player::default();
    let mut stopped = false;
    for _ in 0..MAX_MESSAGES {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                out.errors.push("no close within the drain timeout".into());
                break;
            }
            Ok(None) => {
                out.errors
                    .push("connection ended without a close frame".into());
                break;
            }
            Ok(Some(Err(error))) => {
                out.errors.push(format!("read: {error}"));
                break;
            }
            Ok(Some(Ok(message))) => message,
        };
        let now = Instant::now();
        match message {
            Message::Binary(audio) => {
                out.time_to_first_audio_s
                    .get_or_insert((now - sent_at).as_secs_f64());
                player.push(now, audio.len() as f64 / 8000.0);
            }
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match value["type"].as_str() {
                    Some("flushed") if !stopped => {
                        out.time_to_flushed_s = Some((now - sent_at).as_secs_f64());
                        stopped = true;
                        let stop = json!({"type": "stop"}).to_string();
                        if let Err(error) = socket.send(Message::Text(stop.into())).await {
                            out.errors.push(format!("send stop: {error}"));
                            break;
                        }
                    }
                    Some("error") => out.errors.push(format!("server error: {}", value["code"])),
                    _ => {}
                }
            }
            Message::Close(frame) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                if code == 1013 {
                    out.rejected = true;
                }
                if code != 1000 {
                    out.errors.push(format!("closed {code}"));
                }
                break;
            }
            _ => {}
        }
    }
    if out.time_to_flushed_s.is_none() {
        out.errors.push("no flushed".into());
    }
    out.audio_s = player.received_s;
    out.underruns = player.underruns;
    out.underrun_s = player.stalled_s;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_player_runs_dry_only_when_audio_arrives_later_than_it_plays() {
        let mut player = Player::default();
        let start = Instant::now();
        player.push(start, 1.0);
        player.push(start + Duration::from_millis(900), 1.0);
        assert_eq!(player.underruns, 0);
        // 2 s of audio; at 2.5 s the player has waited 0.5 s.
        player.push(start + Duration::from_millis(2500), 1.0);
        assert_eq!(player.underruns, 1);
        assert!(
            (player.stalled_s - 0.5).abs() < 1e-6,
            "{}",
            player.stalled_s
        );
        player.push(start + Duration::from_millis(3400), 1.0);
        assert_eq!(player.underruns, 1);
    }
}
