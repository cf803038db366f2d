//! The core on tokio's paused clock, without models: a scripted recogniser,
//! an in-memory socket and a minimal dialect.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vocalis_inference::streaming::StreamEvent;

use super::*;
use crate::auth::Principal;
use crate::billing::{Committed, Ledger, Prices, Service};
use crate::store::tenants::PriceOverride;
use crate::store::Store;

/// How long the fake takes to "decode" a final.
const DECODE: Duration = Duration::from_millis(300);

/// μ-law 8 kHz: one byte per sample. Each push is logged with its time;
/// `slow` frames take a second (as a paced or busy push does); `finalize`
/// yields an event one [`DECODE`] later; `finish` flushes one more.
#[derive(Default)]
struct Fake {
    bytes: usize,
    final_at: Option<Instant>,
    pushes: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl Recognize for Fake {
    async fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, SttStreamError> {
        self.pushes.lock().unwrap().push(Instant::now());
        if bytes.starts_with(b"slow") {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        self.bytes += bytes.len();
        Ok(Vec::new())
    }

    fn finalize(&mut self) {
        self.final_at = Some(Instant::now() + DECODE);
    }

    fn set_language(&mut self, _: Option<String>) {}

    async fn decoded(&mut self) -> Result<Vec<StreamEvent>, SttStreamError> {
        let Some(at) = self.final_at else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(at).await;
        self.final_at = None;
        Ok(vec![StreamEvent::SpeechStarted {
            at: self.bytes as f64,
        }])
    }

    async fn finish(&mut self) -> Vec<StreamEvent> {
        vec![StreamEvent::SpeechStarted { at: -1.0 }]
    }

    fn seconds_received(&self) -> f64 {
        self.bytes as f64 / 8000.0
    }

    fn position(&self) -> f64 {
        self.seconds_received()
    }
}

/// Text commands `open`, `finalize`, `stop`, `panic`; binary is audio.
/// Events become `event <at>`; the farewell is `bye` and a close.
struct Plain {
    pushes: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl Dialect<Fake> for Plain {
    async fn on_frame(
        &mut self,
        core: &mut Core<Fake>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match frame {
            Frame::Binary(bytes) => core.push(0, &bytes).await,
            Frame::Text(text) => match text.as_str() {
                "open" => {
                    core.open([Fake {
                        pushes: self.pushes.clone(),
                        ..Fake::default()
                    }]);
                    out.push(Message::Text("opened".into()));
                    Ok(())
                }
                "finalize" => {
                    core.finalize(None);
                    Ok(())
                }
                "keepalive" => {
                    core.touch();
                    Ok(())
                }
                "stop" => Err(End::Stopped),
                "panic" => panic!("dialect bug"),
                other => {
                    out.push(Message::Text(format!("unknown {other}").into()));
                    Ok(())
                }
            },
        }
    }

    fn on_events(&mut self, channel: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        for event in events {
            if let StreamEvent::SpeechStarted { at } = event {
                out.push(Message::Text(format!("event {channel} {at}").into()));
            }
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        let billed = committed.map_or(-1.0, |c| c.billing_summary().total_duration_seconds);
        out.push(Message::Text(format!("bye {billed}").into()));
        Some(match end {
            End::Closed(reason) => (reason.close_code(), reason.reason().to_owned()),
            _ => (1000, String::new()),
        })
    }
}

#[derive(Debug, PartialEq)]
enum Sent {
    Text(String),
    Close(u16),
}

struct FakeSocket {
    incoming: mpsc::UnboundedReceiver<Message>,
    sent: mpsc::UnboundedSender<Sent>,
}

impl Transport for FakeSocket {
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.incoming.recv().await.map(Ok)
    }

    async fn send(&mut self, message: Message) -> bool {
        let sent = match message {
            Message::Text(text) => Sent::Text(text.to_string()),
            _ => return true,
        };
        self.sent.send(sent).is_ok()
    }

    async fn close(&mut self, code: u16, _: &str) {
        let _ = self.sent.send(Sent::Close(code));
    }
}

struct Harness {
    client: Option<mpsc::UnboundedSender<Message>>,
    sent: mpsc::UnboundedReceiver<Sent>,
    store: Store,
    shutdown: CancellationToken,
    pushes: Arc<std::sync::Mutex<Vec<Instant>>>,
    session: tokio::task::JoinHandle<End>,
}

const LIMITS: Limits = Limits {
    idle_timeout_ms: 10_000,
    ping_interval_ms: 20_000,
    max_frame_bytes: 1024,
};

fn start() -> Harness {
    let store = Store::open_in_memory().unwrap();
    store.ensure_tenant("acme", None).unwrap();
    let principal = Principal {
        tenant: "acme".into(),
        key_prefix: None,
        prices: PriceOverride::default(),
    };
    let ledger = Ledger::new(Arc::new(store.clone()), Default::default());
    let prices = Prices {
        stt_per_minute: 0.006,
        tts_per_1k_characters: 0.015,
    };
    let meter = Meter::start(
        &ledger,
        prices,
        &principal,
        Service::Stt,
        "/test",
        "s1".into(),
    );
    let (client, incoming) = mpsc::unbounded_channel();
    let (sent_tx, sent) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let pushes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let core = Core::<Fake>::new(meter, LIMITS, Arc::new(Metrics::default()));
    let mut dialect = Plain {
        pushes: pushes.clone(),
    };
    let token = shutdown.clone();
    let session = tokio::spawn(async move {
        let mut socket = FakeSocket {
            incoming,
            sent: sent_tx,
        };
        core.run(&mut dialect, &mut socket, &token).await
    });
    Harness {
        client: Some(client),
        sent,
        store,
        shutdown,
        pushes,
        session,
    }
}

impl Harness {
    fn text(&self, text: &str) {
        let client = self.client.as_ref().unwrap();
        client.send(Message::Text(text.into())).unwrap();
    }

    fn audio(&self, bytes: &[u8]) {
        let client = self.client.as_ref().unwrap();
        client.send(Message::Binary(bytes.to_vec().into())).unwrap();
    }

    async fn next(&mut self) -> Sent {
        self.sent
            .recv()
            .await
            .expect("the session sent nothing more")
    }

    /// Everything sent until the session ended, and how it ended.
    async fn finish(mut self) -> (Vec<Sent>, End, Vec<crate::store::ledger::UsageRecord>) {
        let end = self.session.await.unwrap();
        let mut rest = Vec::new();
        while let Ok(sent) = self.sent.try_recv() {
            rest.push(sent);
        }
        let rows = self.store.usage_for_session("s1").unwrap();
        (rest, end, rows)
    }
}

fn text(s: &str) -> Sent {
    Sent::Text(s.to_owned())
}

#[tokio::test(start_paused = true)]
async fn decodes_are_sent_as_they_finish_and_stop_flushes_bills_and_closes() {
    let mut h = start();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    h.audio(&[0xFF; 800]);
    h.audio(&[0xFF; 800]);
    h.text("finalize");
    let asked = Instant::now();
    assert_eq!(h.next().await, text("event 0 1600"));
    assert_eq!(Instant::now() - asked, DECODE);
    h.text("stop");
    let (rest, end, rows) = h.finish().await;
    assert_eq!(end, End::Stopped);
    assert_eq!(
        rest,
        [text("event 0 -1"), text("bye 0.2"), Sent::Close(1000)]
    );
    assert_eq!(rows.len(), 1, "exactly one usage record");
    assert_eq!(rows[0].outcome.as_str(), "ok");
    assert!((rows[0].audio_seconds - 0.2).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn a_silent_session_ends_at_the_idle_timeout_and_keepalive_defers_it() {
    let mut h = start();
    let opened = Instant::now();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    tokio::time::sleep(Duration::from_secs(6)).await;
    h.text("keepalive");
    let (rest, end, rows) = h.finish().await;
    assert_eq!(Instant::now() - opened, Duration::from_secs(16));
    assert_eq!(end, End::Closed(SessionClose::IdleTimeout));
    assert_eq!(rest, [text("event 0 -1"), text("bye 0"), Sent::Close(1011)]);
    assert_eq!(rows[0].error_code.as_deref(), Some("idle_timeout"));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_goes_away_is_billed_and_sent_nothing() {
    let mut h = start();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    for _ in 0..8 {
        h.audio(&[0xFF; 1000]);
    }
    h.text("finalize");
    h.client = None;
    let (rest, end, rows) = h.finish().await;
    assert_eq!(end, End::ClientGone);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome.as_str(), "cancelled");
    assert!((rows[0].audio_seconds - 1.0).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_finals_and_closes_1001() {
    let mut h = start();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    h.audio(&[0xFF; 80]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    h.shutdown.cancel();
    let (rest, end, rows) = h.finish().await;
    assert_eq!(end, End::Closed(SessionClose::ShuttingDown));
    assert_eq!(
        rest,
        [text("event 0 -1"), text("bye 0.01"), Sent::Close(1001)]
    );
    assert_eq!(rows.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_dialect_ends_only_its_session_with_1011_and_a_record() {
    let mut h = start();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    h.text("panic");
    let (rest, end, rows) = h.finish().await;
    assert_eq!(end, End::Closed(SessionClose::Internal));
    assert_eq!(rest, [text("bye 0"), Sent::Close(1011)]);
    assert_eq!(rows[0].error_code.as_deref(), Some("internal_error"));
}

#[tokio::test(start_paused = true)]
async fn an_oversized_frame_closes_1009() {
    let h = start();
    h.audio(&[0xFF; 1025]);
    let (rest, end, rows) = h.finish().await;
    assert_eq!(end, End::Closed(SessionClose::TooBig));
    assert_eq!(rest, [text("bye 0"), Sent::Close(1009)]);
    assert_eq!(rows.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_push_holds_back_the_next_frame() {
    let mut h = start();
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    h.audio(b"slow audio");
    h.audio(b"next");
    h.text("stop");
    let pushes = h.pushes.clone();
    let (_, end, _) = h.finish().await;
    assert_eq!(end, End::Stopped);
    let pushes = pushes.lock().unwrap();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1] - pushes[0], Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn events_of_two_channels_keep_their_channel() {
    let mut h = start();
    h.text("open");
    h.text("open");
    assert_eq!(h.next().await, text("opened"));
    assert_eq!(h.next().await, text("opened"));
    h.text("finalize");
    let mut got = vec![h.next().await, h.next().await];
    got.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(got, [text("event 0 0"), text("event 1 0")]);
    h.text("stop");
    let (rest, _, _) = h.finish().await;
    assert_eq!(
        rest,
        [
            text("event 0 -1"),
            text("event 1 -1"),
            text("bye 0"),
            Sent::Close(1000)
        ]
    );
}
