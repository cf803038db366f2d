//! `/ws/stt` speaks 60db by default; a client whose first text frame,
//! before any session is open, is Twilio's (`{"event":…}`), a jambonz
//! `start` (`sampleRateHz`, `interimResults`, `format`) or an Asterisk
//! control frame (`MEDIA_START …`) is served in that dialect instead, on the
//! same core and usage record. `WS /v1/listen` speaks Deepgram by default
//! and switches to Twilio only when the session's very first frame is
//! Twilio's `connected` or `start` event (a bridge forwarding Twilio's
//! socket with its Deepgram key), never on a Deepgram client's frames.

use axum::extract::ws::Message;
use vocalis_inference::streaming::StreamEvent;

use super::asterisk::Asterisk;
use super::jambonz::Jambonz;
use super::twilio::{MeterFactory, Twilio};
use crate::billing::Committed;
use crate::routes::ws_stt::dialect::SixtyDb;
use crate::server::AppState;
use crate::session::live::{Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::wire::twilio::Inbound;

/// The dialect a client turned out to speak.
pub(crate) enum Detected<D = SixtyDb> {
    /// The route's own (60db on `/ws/stt`, Deepgram on `/v1/listen`).
    Own(D),
    /// Twilio Media Streams.
    Twilio(Box<Twilio>),
    /// jambonz custom STT.
    Jambonz(Jambonz),
    /// Asterisk chan_websocket.
    Asterisk(Asterisk),
}

/// What a switch to another dialect needs.
pub(crate) struct Switch {
    state: AppState,
    tts_meter: Option<MeterFactory>,
}

impl Switch {
    /// Switching within `state`; `tts_meter` bills Twilio playback.
    pub(crate) fn new(state: AppState, tts_meter: MeterFactory) -> Self {
        Self {
            state,
            tts_meter: Some(tts_meter),
        }
    }
}

/// Which other dialects a route recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// `/ws/stt`: Twilio, jambonz or Asterisk, from any text frame before
    /// the session opens.
    Any,
    /// `/v1/listen`: Twilio only, from the first frame, when it is Twilio's
    /// `connected` or `start` (Deepgram's own frames carry `type`, never
    /// `event`).
    TwilioFirst,
}

/// A session in the route's own dialect that may turn out to be another.
pub(crate) struct Detecting<D = SixtyDb> {
    dialect: Detected<D>,
    switch: Switch,
    policy: Policy,
    /// Whether a frame has been seen (for [`Policy::TwilioFirst`]).
    seen_frame: bool,
}

impl<D> Detecting<D> {
    /// Starts in `own` (60db on `/ws/stt`); Twilio, jambonz and Asterisk
    /// are recognised.
    pub(crate) fn new(own: D, switch: Switch) -> Self {
        Self {
            dialect: Detected::Own(own),
            switch,
            policy: Policy::Any,
            seen_frame: false,
        }
    }

    /// Starts in `own` (Deepgram on `/v1/listen`) and switches to Twilio
    /// when the first frame is Twilio's `connected` or `start` event.
    pub(crate) fn twilio_first(own: D, switch: Switch) -> Self {
        Self {
            policy: Policy::TwilioFirst,
            ..Self::new(own, switch)
        }
    }

    fn detect(&mut self, core: &Core<PoolStream>, frame: &Frame) {
        let first = !std::mem::replace(&mut self.seen_frame, true);
        let (Detected::Own(_), Frame::Text(text)) = (&self.dialect, frame) else {
            return;
        };
        if core.is_open() {
            return;
        }
        let state = &self.switch.state;
        let (engines, metrics, pacer) = (
            state.engines.clone(),
            state.metrics.clone(),
            state.live_pacer(),
        );
        if self.policy == Policy::TwilioFirst {
            if first && twilio_opening(text) {
                if let Some(tts_meter) = self.switch.tts_meter.take() {
                    tracing::info!("client speaks Twilio Media Streams");
                    self.dialect =
                        Detected::Twilio(Box::new(Twilio::new(engines, metrics, pacer, tts_meter)));
                }
            }
            return;
        }
        if crate::wire::twilio::looks_like(text) {
            if let Some(tts_meter) = self.switch.tts_meter.take() {
                tracing::info!("client speaks Twilio Media Streams");
                self.dialect =
                    Detected::Twilio(Box::new(Twilio::new(engines, metrics, pacer, tts_meter)));
            }
        } else if crate::wire::jambonz::looks_like(text) {
            tracing::info!("client speaks jambonz");
            self.dialect = Detected::Jambonz(Jambonz::new(engines, metrics, pacer));
        } else if crate::wire::asterisk::looks_like(text) {
            tracing::info!("client speaks Asterisk chan_websocket");
            self.dialect = Detected::Asterisk(Asterisk::new(engines, metrics, pacer, None));
        }
    }
}

/// Whether `text` is Twilio's `connected` or `start` event.
fn twilio_opening(text: &str) -> bool {
    matches!(
        serde_json::from_str::<Inbound>(text),
        Ok(Inbound::Connected { .. } | Inbound::Start { .. })
    )
}

impl<D: Dialect<PoolStream> + Send> Dialect<PoolStream> for Detecting<D> {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        self.detect(core, &frame);
        match &mut self.dialect {
            Detected::Own(d) => d.on_frame(core, frame, out).await,
            Detected::Twilio(d) => d.on_frame(core, frame, out).await,
            Detected::Jambonz(d) => d.on_frame(core, frame, out).await,
            Detected::Asterisk(d) => d.on_frame(core, frame, out).await,
        }
    }

    fn on_events(
        &mut self,
        channel: usize,
        channels: usize,
        events: Vec<StreamEvent>,
        out: &mut Outbox,
    ) {
        match &mut self.dialect {
            Detected::Own(d) => d.on_events(channel, channels, events, out),
            Detected::Twilio(d) => d.on_events(channel, channels, events, out),
            Detected::Jambonz(d) => d.on_events(channel, channels, events, out),
            Detected::Asterisk(d) => d.on_events(channel, channels, events, out),
        }
    }

    fn on_speaker(&mut self, channel: usize, speaker: Option<crate::session::live::Speaker>) {
        if let Detected::Own(d) = &mut self.dialect {
            d.on_speaker(channel, speaker);
        }
    }

    async fn background(&mut self) -> Vec<Message> {
        match &mut self.dialect {
            Detected::Own(d) => d.background().await,
            Detected::Twilio(d) => d.background().await,
            _ => std::future::pending().await,
        }
    }

    async fn closing(&mut self) {
        match &mut self.dialect {
            Detected::Own(d) => d.closing().await,
            Detected::Twilio(d) => d.closing().await,
            _ => {}
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        match &mut self.dialect {
            Detected::Own(d) => d.farewell(end, committed, out),
            Detected::Twilio(d) => d.farewell(end, committed, out),
            Detected::Jambonz(d) => d.farewell(end, committed, out),
            Detected::Asterisk(d) => d.farewell(end, committed, out),
        }
    }
}
