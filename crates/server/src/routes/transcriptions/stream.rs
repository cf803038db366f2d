//! `stream=true` on `/v1/audio/transcriptions`: the transcript as OpenAI's
//! server-sent events, `transcript.text.delta` as the text is recognised
//! and `transcript.text.done` with the whole text.
//!
//! The audio is cut at the VAD's pauses into pieces of about
//! [`STREAM_PIECE_S`] (one piece when shorter), decoded on the pool, as
//! many at once as workers are idle (each with its encoder window sized to
//! it); when only one is, in order, each piece with the previous piece's
//! text as prompt. Each piece's segments go out as deltas (after the
//! first, with the space that joins them, so the deltas add up to the done
//! text) as soon as it and every piece before it are decoded. An error
//! before the first piece is decoded is an ordinary HTTP error; a later
//! one is one `event: error` with OpenAI's error body and no `done`. The
//! usage record is written once, when the stream ends (also when the
//! client goes away). `stream` is honoured with `response_format` `json` or
//! `text` (or none), as OpenAI's streaming is; `false` (or absent) answers
//! as before.

use std::collections::VecDeque;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use vocalis_inference::stt::chunks::{plan_balanced, MAX_CHUNK_S};
use vocalis_inference::stt::{context_tail, TranscribeOptions, Transcript};

use super::stt::{decoded, idle_workers, piece, share_cores, speech_regions, submit, PieceJob};
use crate::error::{ApiError, Dialect};
use crate::routes::rest::RequestMeter;
use crate::server::AppState;
use crate::store::ledger::Outcome;
use crate::wire::openai::{
    sse_data, sse_error, ResponseFormat, TranscriptionStreamEvent, EVENT_STREAM,
};

/// About how long each piece of a streamed transcription is, seconds: audio
/// up to this long is one piece (one delta after the whole decode); longer
/// audio gives about `duration / STREAM_PIECE_S` pieces cut at pauses.
pub(crate) const STREAM_PIECE_S: f64 = 10.0;
/// Events buffered for a slow client.
const EVENT_BUFFER: usize = 32;

/// Whether `stream` asks for events with `format` (`Err` when it cannot be
/// given with that format, or is not a boolean).
pub(super) fn wanted(stream: Option<&str>, format: ResponseFormat) -> Result<bool, ApiError> {
    let on = match stream.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::InvalidPayload(format!(
                "`stream` must be true or false, got `{other}`"
            )))
        }
    };
    if on
        && !matches!(
            format,
            ResponseFormat::Json | ResponseFormat::Text | ResponseFormat::Deepgram
        )
    {
        return Err(ApiError::InvalidPayload(
            "`stream=true` is available with response_format `json` or `text`".into(),
        ));
    }
    Ok(on)
}

/// The deltas of one piece's `transcript`, appended to `text` (the text so
/// far), joined as `Transcript::text` joins segments.
fn deltas(transcript: &Transcript, text: &mut String) -> Vec<TranscriptionStreamEvent> {
    transcript
        .segments
        .iter()
        .filter(|s| !s.text.is_empty())
        .map(|s| {
            let delta = if text.is_empty() {
                s.text.clone()
            } else {
                format!(" {}", s.text)
            };
            text.push_str(&delta);
            TranscriptionStreamEvent::Delta { delta }
        })
        .collect()
}

/// The events of a finished transcript.
#[cfg(test)]
fn events(transcript: &Transcript) -> Vec<TranscriptionStreamEvent> {
    let mut text = String::new();
    let mut events = deltas(transcript, &mut text);
    events.push(TranscriptionStreamEvent::Done { text });
    events
}

/// The pieces of a streamed track and how they are decoded.
struct Plan {
    track: Vec<f32>,
    pieces: Vec<(f64, f64)>,
    /// Pieces decoding at once.
    window: usize,
    options: TranscribeOptions,
    /// The caller's prompt (each piece's, after the previous piece's text
    /// when decoding in order).
    prompt: Option<String>,
}

impl Plan {
    /// Queues piece `i`, after a piece whose text was `previous`.
    fn submit(&self, state: &AppState, i: usize, previous: &str) -> Result<PieceJob, ApiError> {
        let (start, end) = self.pieces[i];
        let mut options = self.options.clone();
        if self.window == 1 && !previous.is_empty() {
            let context = context_tail(previous);
            options.initial_prompt = Some(match &self.prompt {
                Some(prompt) => format!("{context} {prompt}"),
                None => context.to_owned(),
            });
        }
        submit(state, piece(&self.track, start, end), options)
    }
}

/// Starts the streamed transcription of `track` (`duration_s` long): waits
/// for the first piece (so early failures are HTTP errors), then hands the
/// usage record in `meter` to the task that streams the rest.
pub(super) async fn start(
    state: &AppState,
    meter: &mut RequestMeter,
    track: Vec<f32>,
    mut options: TranscribeOptions,
    duration_s: f64,
) -> Result<Response, ApiError> {
    let wanted = (duration_s / STREAM_PIECE_S).ceil().max(1.0) as usize;
    let (track, pieces) = if wanted > 1 {
        match speech_regions(state, track).await? {
            (track, Some(regions)) => {
                let pieces = plan_balanced(&regions, duration_s, wanted, MAX_CHUNK_S);
                (track, pieces)
            }
            (track, None) => (track, vec![(0.0, duration_s)]),
        }
    } else {
        (track, vec![(0.0, duration_s)])
    };
    let window = idle_workers(state).min(pieces.len());
    share_cores(state, &mut options, window);
    let plan = Plan {
        track,
        pieces,
        window,
        prompt: options.initial_prompt.clone(),
        options,
    };
    let mut pending = VecDeque::with_capacity(window);
    for i in 0..window {
        pending.push_back(plan.submit(state, i, "")?);
    }
    let first = pending.pop_front().map(|job| async { decoded(job.await) });
    let first = match first {
        Some(job) => job.await?,
        None => return Err(ApiError::Internal("no piece to decode".into())),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(EVENT_BUFFER);
    let stream = Stream {
        state: state.clone(),
        meter: meter.hand_over(),
        plan,
        pending,
        tx,
        duration_s,
    };
    state.tasks.spawn(stream.run(first));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, std::io::Error>(frame), rx))
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The rest of a streamed transcription, after its first piece.
struct Stream {
    state: AppState,
    meter: RequestMeter,
    plan: Plan,
    /// Decodes under way, in piece order (the next piece first).
    pending: VecDeque<PieceJob>,
    tx: mpsc::Sender<Bytes>,
    duration_s: f64,
}

/// How a stream ended.
enum End {
    Done,
    Failed(ApiError),
    ClientGone,
}

impl Stream {
    async fn run(mut self, first: Transcript) {
        let mut text = String::new();
        let mut sent_s = 0.0;
        let end = self.send_all(first, &mut text, &mut sent_s).await;
        let (mut meter, state) = (self.meter, self.state);
        match end {
            End::Done => {
                meter.add_audio_seconds(self.duration_s);
                state.metrics.add_stt_audio(self.duration_s);
                meter.ok().await;
            }
            End::Failed(error) => {
                meter.add_audio_seconds(sent_s);
                let _ = self
                    .tx
                    .send(sse_error(&error.body(Dialect::OpenAi, meter.id())))
                    .await;
                meter.failed(&error).await;
            }
            End::ClientGone => {
                meter.add_audio_seconds(sent_s);
                meter
                    .commit(Outcome::Cancelled, Some("client_closed"))
                    .await;
            }
        }
    }

    /// Sends every piece's deltas in order, then `done`.
    async fn send_all(&mut self, first: Transcript, text: &mut String, sent_s: &mut f64) -> End {
        let mut next = self.plan.window;
        let mut transcript = first;
        for i in 0..self.plan.pieces.len() {
            if i > 0 {
                let Some(job) = self.pending.pop_front() else {
                    return End::Failed(ApiError::Internal("a piece was not queued".into()));
                };
                transcript = tokio::select! {
                    result = job => match decoded(result) {
                        Ok(transcript) => transcript,
                        Err(error) => return End::Failed(error),
                    },
                    () = self.tx.closed() => return End::ClientGone,
                };
            }
            if next < self.plan.pieces.len() {
                // Keep the workers busy before sending.
                if self.plan.options.language.is_none() {
                    self.plan.options.language = transcript.language.as_ref().map(|l| l.0.clone());
                }
                match self.plan.submit(&self.state, next, &transcript.text()) {
                    Ok(job) => self.pending.push_back(job),
                    Err(error) => return End::Failed(error),
                }
                next += 1;
            }
            for event in deltas(&transcript, text) {
                if self.tx.send(sse_data(&event)).await.is_err() {
                    return End::ClientGone;
                }
            }
            let (start, end) = self.plan.pieces[i];
            *sent_s += end - start;
        }
        let done = TranscriptionStreamEvent::Done { text: text.clone() };
        if self.tx.send(sse_data(&done)).await.is_err() {
            return End::ClientGone;
        }
        End::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vocalis_inference::stt::Segment;

    fn segment(text: &str) -> Segment {
        Segment {
            start: 0.0,
            end: 1.0,
            text: text.into(),
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
        }
    }

    #[test]
    fn deltas_add_up_to_the_text() {
        let transcript = Transcript {
            segments: vec![segment("Hello there."), segment(""), segment("Goodbye.")],
            words: vec![],
            language: Some(("en".into(), 1.0)),
            duration_s: 2.0,
        };
        let events = events(&transcript);
        assert_eq!(events.len(), 3);
        let mut joined = String::new();
        for event in &events[..2] {
            match event {
                TranscriptionStreamEvent::Delta { delta } => joined.push_str(delta),
                other => panic!("not a delta: {other:?}"),
            }
        }
        let TranscriptionStreamEvent::Done { text } = &events[2] else {
            panic!("no done event");
        };
        assert_eq!(&joined, text);
        assert_eq!(text, &transcript.text());
    }

    #[test]
    fn stream_needs_json_or_text() {
        assert!(!wanted(None, ResponseFormat::Json).unwrap());
        assert!(!wanted(Some("false"), ResponseFormat::Srt).unwrap());
        assert!(wanted(Some("true"), ResponseFormat::Text).unwrap());
        assert!(wanted(Some("True"), ResponseFormat::Deepgram).unwrap());
        assert!(wanted(Some("true"), ResponseFormat::VerboseJson).is_err());
        assert!(wanted(Some("maybe"), ResponseFormat::Json).is_err());
    }
}
