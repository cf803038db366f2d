//! The contract between the live-session [`Core`] and a wire dialect: how a
//! session ends ([`End`]), the frames a dialect reads ([`Frame`]) and writes
//! ([`Outbox`]), the [`Limits`] it runs under, and the [`Dialect`] trait.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::ws::{Message, Utf8Bytes};
use vocalis_inference::streaming::StreamEvent;

use super::{Core, Recognize, Speaker};
use crate::billing::Committed;
use crate::error::SessionClose;
use crate::session::stt_stream::SttStreamError;
use crate::store::ledger::Outcome;

/// How a live session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The client asked to stop (60db `stop`, Deepgram `CloseStream`,
    /// Twilio `stop`…): finals are flushed, outcome ok.
    Stopped,
    /// The client closed or vanished: nothing more is sent.
    ClientGone,
    /// The server ends it for this reason.
    Closed(SessionClose),
}

impl End {
    /// Whether pending audio is flushed into finals before the session ends.
    pub fn flushes(&self) -> bool {
        matches!(
            self,
            Self::Stopped
                | Self::Closed(
                    SessionClose::ShuttingDown
                        | SessionClose::IdleTimeout
                        | SessionClose::InsufficientCredits
                )
        )
    }

    /// The ledger outcome and error code.
    pub fn outcome(&self) -> (Outcome, Option<&'static str>) {
        match self {
            Self::Stopped => (Outcome::Ok, None),
            Self::ClientGone => (Outcome::Cancelled, None),
            Self::Closed(reason) => (reason.outcome(), Some(reason.code())),
        }
    }
}

impl From<SttStreamError> for End {
    fn from(error: SttStreamError) -> Self {
        Self::Closed(error.close_reason())
    }
}

/// One client data frame (control frames are the core's business).
#[derive(Debug, Clone)]
pub enum Frame {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

/// Frames to send, in order.
pub type Outbox = Vec<Message>;

/// The limits a session runs under (from the server configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A session with no audio or keep-alive for this long ends (1011).
    pub idle_timeout_ms: u64,
    /// Ping frames this often.
    pub ping_interval_ms: u64,
    /// A larger data frame ends the session (1009).
    pub max_frame_bytes: usize,
}

impl Limits {
    /// The configured limits.
    pub fn from_config(config: &crate::config::ServerConfig) -> Self {
        Self {
            idle_timeout_ms: config.idle_timeout_ms,
            ping_interval_ms: config.ping_interval_ms,
            max_frame_bytes: config.max_frame_bytes,
        }
    }
}

/// A wire dialect: translation between frames and the core, nothing more.
pub trait Dialect<R: Recognize>: Send {
    /// Handles one client frame; `Err` ends the session (frames already in
    /// `out` and events already produced are still sent first).
    fn on_frame(
        &mut self,
        core: &mut Core<R>,
        frame: Frame,
        out: &mut Outbox,
    ) -> impl Future<Output = Result<(), End>> + Send;

    /// Turns events of `channel` (of `channels`) into frames.
    fn on_events(
        &mut self,
        channel: usize,
        channels: usize,
        events: Vec<StreamEvent>,
        out: &mut Outbox,
    );

    /// The speaker of the final `on_events` is handed next for `channel`
    /// (live diarization; called before every final, `None` when unknown).
    fn on_speaker(&mut self, _channel: usize, _speaker: Option<Speaker>) {}

    /// The dialect's own background work (e.g. synthesis to send back):
    /// resolves with frames to send; pending forever when there is none.
    /// Must be cancel-safe.
    fn background(&mut self) -> impl Future<Output = Outbox> + Send {
        std::future::pending()
    }

    /// Called once at the end, before usage is committed (e.g. to commit a
    /// record of its own or stop background work).
    fn closing(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The last frames after usage is committed (`committed` is `None` when
    /// the record could not be written), and the close frame to send
    /// (`None`: just drop the connection). Not called when the client is gone.
    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)>;
}
