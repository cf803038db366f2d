//! `/ws/stt` speaks 60db by default; a client whose first text frame,
//! before any session is open, is Twilio's (`{"event":…}`), a jambonz
//! `start` (`sampleRateHz`, `interimResults`, `format`) or an Asterisk
//! control frame (`MEDIA_START …`) is served in that dialect instead, on the
//! same core and usage record.

use axum::extract::ws::Message;
use vocalis_inference::streaming::StreamEvent;

use super::asterisk::Asterisk;
use super::jambonz::Jambonz;
use super::twilio::{MeterFactory, Twilio};
use crate::billing::Committed;
use crate::routes::ws_stt::dialect::SixtyDb;
use crate::server::AppState;
use crate::session::live::{Core, Dialect, End, Frame, Outbox, PoolStream};

/// The dialect a `/ws/stt` client turned out to speak.
pub(crate) enum Detected {
    /// 60db (the route's own).
    SixtyDb(SixtyDb),
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

/// A 60db session that may turn out to be another dialect.
pub(crate) struct Detecting {
    dialect: Detected,
    switch: Switch,
}

impl Detecting {
    /// Starts as 60db.
    pub(crate) fn new(sixtydb: SixtyDb, switch: Switch) -> Self {
        Self {
            dialect: Detected::SixtyDb(sixtydb),
            switch,
        }
    }

    fn detect(&mut self, core: &Core<PoolStream>, frame: &Frame) {
        let (Detected::SixtyDb(_), Frame::Text(text)) = (&self.dialect, frame) else {
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

impl Dialect<PoolStream> for Detecting {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        self.detect(core, &frame);
        match &mut self.dialect {
            Detected::SixtyDb(d) => d.on_frame(core, frame, out).await,
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
            Detected::SixtyDb(d) => d.on_events(channel, channels, events, out),
            Detected::Twilio(d) => d.on_events(channel, channels, events, out),
            Detected::Jambonz(d) => d.on_events(channel, channels, events, out),
            Detected::Asterisk(d) => d.on_events(channel, channels, events, out),
        }
    }

    fn on_speaker(&mut self, channel: usize, speaker: Option<crate::session::live::Speaker>) {
        if let Detected::SixtyDb(d) = &mut self.dialect {
            d.on_speaker(channel, speaker);
        }
    }

    async fn background(&mut self) -> Vec<Message> {
        match &mut self.dialect {
            Detected::Twilio(d) => d.background().await,
            _ => std::future::pending().await,
        }
    }

    async fn closing(&mut self) {
        if let Detected::Twilio(d) = &mut self.dialect {
            d.closing().await;
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        match &mut self.dialect {
            Detected::SixtyDb(d) => d.farewell(end, committed, out),
            Detected::Twilio(d) => d.farewell(end, committed, out),
            Detected::Jambonz(d) => d.farewell(end, committed, out),
            Detected::Asterisk(d) => d.farewell(end, committed, out),
        }
    }
}
