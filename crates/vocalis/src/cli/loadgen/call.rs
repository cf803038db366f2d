//! One simulated phone call on `/ws/stt` (60db) or `WS /v1/listen`
//! (Deepgram): connect, stream 20 ms μ-law frames at real-time pace while
//! reading transcripts, end the stream, read until the server closes; then
//! match partials and finals to the utterances by their stream timestamps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use super::clips::{Call, FRAME_BYTES};
use super::report::SessionReport;

/// Which live route the calls use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// `/ws/stt`, the 60db protocol.
    Stt,
    /// `WS /v1/listen`, the Deepgram protocol.
    Listen,
}

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Sessions connected and not yet finished.
    pub running: AtomicUsize,
    /// Finals received.
    pub finals: AtomicUsize,
    /// Sessions rejected (503 / 1013).
    pub rejected: AtomicUsize,
}

/// What one call needs.
pub struct CallPlan {
    /// Session number within its step.
    pub index: usize,
    /// The route.
    pub route: Route,
    /// `ws://host:port` without a path.
    pub base_url: String,
    /// The API key.
    pub key: String,
    /// The audio and its utterances.
    pub call: Arc<Call>,
    /// How long to wait for the server to close after the audio ended.
    pub drain: Duration,
}

/// A finals or partial transcript with its stream timestamps.
struct Transcript {
    at: Instant,
    is_final: bool,
    start: f64,
    end: f64,
    text: String,
}

/// How long the upgrade and the `/ws/stt` handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on messages read from one session.
const MAX_MESSAGES: usize = 100_000;
/// A final covers an utterance when it ends at most this much before the utterance's audio.
const COVER_SLACK_S: f64 = 0.5;
/// A transcript further than this from every utterance belongs to none.
const ASSIGN_GAP_S: f64 = 1.0;

/// Runs one call; never panics on server behaviour, every step is bounded in time.
pub async fn run_call(plan: CallPlan, progress: Arc<Progress>) -> SessionReport {
    let mut report = SessionReport::new(plan.index, &plan.call);
    let url = match plan.route {
        Route::Stt => format!("{}/ws/stt?apiKey={}", plan.base_url, plan.key),
        Route::Listen => format!(
            "{}/v1/listen?encoding=mulaw&sample_rate=8000&interim_results=true&apiKey={}",
            plan.base_url, plan.key
        ),
    };
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url)).await;
    let mut socket = match connected {
        Err(_) => return report.failed("connect timed out".into()),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            if status == 503 {
                progress.rejected.fetch_add(1, Ordering::Relaxed);
                report.rejected = true;
            }
            return report.failed(format!("upgrade refused: HTTP {status}"));
        }
        Ok(Err(error)) => return report.failed(format!("connect failed: {error}")),
        Ok(Ok((socket, _))) => socket,
    };
    progress.running.fetch_add(1, Ordering::Relaxed);
    let result = stream_call(&plan, &mut socket, &mut report, &progress).await;
    progress.running.fetch_sub(1, Ordering::Relaxed);
    if let Err(error) = result {
        report.error = Some(error);
    }
    report
}

async fn stream_call(
    plan: &CallPlan,
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    report: &mut SessionReport,
    progress: &Progress,
) -> Result<(), String> {
    let stop = match plan.route {
        Route::Stt => {
            let start = serde_json::json!({"type": "start", "languages": ["en"],
                "config": {"encoding": "mulaw", "sample_rate": 8000, "interim_results": true}});
            socket
                .send(Message::Text(start.to_string().into()))
                .await
                .map_err(|e| format!("send start: {e}"))?;
            wait_for_session_started(socket).await?;
            r#"{"type":"stop"}"#
        }
        Route::Listen => r#"{"type":"CloseStream"}"#,
    };
    let (mut sink, mut stream) = socket.split();
    let call = Arc::clone(&plan.call);
    let sender = async move {
        let mut sent = Vec::with_capacity(call.audio.len() / FRAME_BYTES);
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        for frame in call.audio.chunks(FRAME_BYTES) {
            ticker.tick().await;
            let now = Instant::now();
            if let Err(error) = sink.send(Message::Binary(frame.to_vec().into())).await {
                return (sink, sent, Some(format!("send audio: {error}")));
            }
            sent.push(now);
        }
        let error = sink
            .send(Message::Text(stop.into()))
            .await
            .err()
            .map(|e| format!("send stop: {e}"));
        (sink, sent, error)
    };
    let deadline = Instant::now() + Duration::from_secs_f64(plan.call.seconds()) + plan.drain;
    let reader = async {
        let mut transcripts = Vec::new();
        let mut close = None;
        let mut errors = Vec::new();
        let mut timed_out = false;
        for _ in 0..MAX_MESSAGES {
            let next = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => {
                    timed_out = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    errors.push(format!("read: {error}"));
                    break;
                }
                Ok(Some(Ok(message))) => message,
            };
            match next {
                Message::Text(text) => {
                    let Ok(value) = serde_json::from_str::<Value>(&text) else {
                        errors.push("a message that is not JSON".into());
                        continue;
                    };
                    if let Some(t) = parse_transcript(plan.route, &value) {
                        if t.is_final {
                            progress.finals.fetch_add(1, Ordering::Relaxed);
                        }
                        transcripts.push(t);
                    } else if value["type"] == "error" {
                        errors.push(format!("server error: {}", value["code"]));
                    }
                }
                Message::Close(frame) => {
                    close = Some(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                    break;
                }
                _ => {}
            }
        }
        (transcripts, close, errors, timed_out)
    };
    let ((_sink, sent, send_error), (transcripts, close, errors, timed_out)) =
        tokio::join!(sender, reader);
    report.errors = errors;
    if let Some(error) = send_error {
        report.errors.push(error);
    }
    if timed_out {
        report
            .errors
            .push("the server did not close in time".into());
    }
    if let Some((code, reason)) = &close {
        report.close_code = Some(*code);
        if *code == 1013 {
            report.rejected = true;
            progress.rejected.fetch_add(1, Ordering::Relaxed);
        } else if *code != 1000 {
            report.errors.push(format!("closed {code} {reason}"));
        }
    } else if !timed_out {
        report
            .errors
            .push("connection ended without a close frame".into());
    }
    score(plan, &sent, &transcripts, report);
    Ok(())
}

/// Reads the `/ws/stt` greeting up to `session_started`.
async fn wait_for_session_started(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<(), String> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    for _ in 0..16 {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Err("no session_started within 10 s".into()),
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match value["type"].as_str() {
                    Some("session_started") => return Ok(()),
                    Some("error") => return Err(format!("server error: {}", value["code"])),
                    _ => {}
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                return Err(format!("closed {code} before session_started"));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(error))) => return Err(format!("read: {error}")),
            Ok(None) => return Err("closed before session_started".into()),
        }
    }
    Err("no session_started in the first 16 messages".into())
}

/// A transcript from a `/ws/stt` `transcription` or a `/v1/listen` `Results`.
fn parse_transcript(route: Route, value: &Value) -> Option<Transcript> {
    let at = Instant::now();
    match route {
        Route::Stt if value["type"] == "transcription" => Some(Transcript {
            at,
            is_final: value["is_final"].as_bool()?,
            start: value["start"].as_f64()?,
            end: value["end"].as_f64()?,
            text: value["text"].as_str()?.trim().to_owned(),
        }),
        Route::Listen if value["type"] == "Results" => {
            let start = value["start"].as_f64()?;
            Some(Transcript {
                at,
                is_final: value["is_final"].as_bool()?,
                start,
                end: start + value["duration"].as_f64()?,
                text: value["channel"]["alternatives"][0]["transcript"]
                    .as_str()?
                    .trim()
                    .to_owned(),
            })
        }
        _ => None,
    }
    .filter(|t| !t.text.is_empty())
}

/// The utterance a transcript belongs to: the one it overlaps most, or the
/// nearest within [`ASSIGN_GAP_S`].
fn assign(call: &Call, start: f64, end: f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, u) in call.utterances.iter().enumerate() {
        // Overlap when positive, minus the gap when not.
        let score = end.min(u.end_s()) - start.max(u.start_s());
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((i, score));
        }
    }
    best.filter(|&(_, score)| score > -ASSIGN_GAP_S)
        .map(|(i, _)| i)
}

/// Final latency, first partial, missing finals and WER per utterance.
fn score(
    plan: &CallPlan,
    sent: &[Instant],
    transcripts: &[Transcript],
    report: &mut SessionReport,
) {
    let call = &plan.call;
    let mut finals: Vec<&Transcript> = transcripts.iter().filter(|t| t.is_final).collect();
    finals.sort_by(|a, b| a.start.total_cmp(&b.start));
    report.finals = finals.len();
    report.partials = transcripts.len() - finals.len();
    report.hypothesis = finals
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    report.wer = Some(vocalis_inference::stt::wer::word_error_rate(
        &report.reference,
        &report.hypothesis,
    ));
    let mut missing = 0;
    for (k, (span, out)) in call
        .utterances
        .iter()
        .zip(report.utterances.iter_mut())
        .enumerate()
    {
        let mine: Vec<&Transcript> = transcripts
            .iter()
            .filter(|t| assign(call, t.start, t.end) == Some(k))
            .collect();
        let (Some(onset), Some(last)) = (
            sent.get(span.first_frame),
            span.end_frame.checked_sub(1).and_then(|f| sent.get(f)),
        ) else {
            // The audio of this utterance was never (fully) sent.
            missing += 1;
            continue;
        };
        let my_finals: Vec<&&Transcript> = mine.iter().filter(|t| t.is_final).collect();
        out.hypothesis = {
            let mut texts: Vec<&&Transcript> = my_finals.clone();
            texts.sort_by(|a, b| a.start.total_cmp(&b.start));
            texts
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let covering = my_finals
            .iter()
            .filter(|t| t.end >= span.end_s() - COVER_SLACK_S)
            .map(|t| t.at)
            .min()
            .or_else(|| my_finals.iter().map(|t| t.at).max());
        match covering {
            Some(at) => out.final_latency_s = Some(seconds_between(*last, at)),
            None => missing += 1,
        }
        out.first_partial_s = mine
            .iter()
            .filter(|t| !t.is_final && t.at >= *onset)
            .map(|t| t.at)
            .min()
            .map(|at| seconds_between(*onset, at));
    }
    report.missing_finals = missing;
}

/// `to − from` in seconds, negative when `to` came first.
fn seconds_between(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64()
    } else {
        -(from - to).as_secs_f64()
    }
}
