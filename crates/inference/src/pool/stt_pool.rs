//! The two concrete pools: [`SttPool`] (Whisper) and [`TtsPool`] (Piper).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{JobHandle, PoolConfig, PoolError, PoolStats, Priority, WorkerPool};
use crate::phonemize::PhonemizerConfig;
use crate::runtime::SessionOptions;
use crate::stt::{DecodeHooks, SttError, SttModel, SttWorker, TranscribeOptions, Transcript};
use crate::tts::{PiperVoice, TtsError, VoiceFiles};
use crate::vad::Vad;

/// Whisper workers sharing one [`SttModel`], each with its own state.
#[derive(Debug)]
pub struct SttPool {
    pool: WorkerPool<SttWorker>,
    model: Arc<SttModel>,
    aborted: Arc<AtomicUsize>,
    /// Decodes that asked for a beam search and got it.
    beams_granted: AtomicUsize,
    /// Decodes that asked for a beam search and were made greedy.
    beams_declined: AtomicUsize,
    /// Widest beam a live final may get (`PoolConfig::live_final_beam`).
    live_final_beam: usize,
}

impl SttPool {
    /// `config.stt_workers` workers of `config.threads_per_worker` threads,
    /// gating with `vad` when given.
    pub fn new(
        model: Arc<SttModel>,
        vad: Option<Vad>,
        config: &PoolConfig,
    ) -> Result<Self, SttError> {
        config
            .validate()
            .map_err(|e| SttError::InvalidOption(e.to_string()))?;
        let threads = config.threads_per_worker;
        let pool = WorkerPool::new("stt", config.stt_workers, config.queue_depth, |_| {
            SttWorker::new(Arc::clone(&model), threads, vad.clone())
        })?;
        Ok(Self {
            pool,
            model,
            aborted: Arc::new(AtomicUsize::new(0)),
            beams_granted: AtomicUsize::new(0),
            beams_declined: AtomicUsize::new(0),
            live_final_beam: config.live_final_beam,
        })
    }

    /// Fits a live decode to the current load. The streaming recogniser asks
    /// for a beam search for the decodes that make finals
    /// (`StreamingConfig::final_beam_size`); it is granted only when no
    /// decode is running or waiting, and then an `urgent` decode (one that
    /// makes a final) also gets every core, so a lone call's final is both
    /// more accurate and no slower. Otherwise the decode is greedy: under
    /// load the beam's extra CPU (about +60 % per final) would cost every
    /// call latency. The width is capped at `PoolConfig::live_final_beam`
    /// (1: never a beam, nothing counted).
    pub fn fit_to_load(&self, options: &mut TranscribeOptions, urgent: bool) {
        let idle = self.idle_cores();
        if let (true, Some(cores), 0) = (urgent, idle, options.threads) {
            options.threads = cores;
        }
        options.beam_size = options.beam_size.min(self.live_final_beam);
        if options.beam_size > 1 {
            if idle.is_some() {
                self.beams_granted.fetch_add(1, Ordering::Relaxed);
            } else {
                self.beams_declined.fetch_add(1, Ordering::Relaxed);
                options.beam_size = 1;
            }
        }
    }

    /// The machine's cores when no decode is running or waiting, else `None`.
    pub fn idle_cores(&self) -> Option<usize> {
        let stats = self.pool.stats();
        (stats.busy == 0 && stats.queued == 0)
            .then(|| std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Decodes that asked for a beam search ([`Self::fit_to_load`]): how
    /// many got it, and how many were made greedy because the pool was busy.
    pub fn beam_decodes(&self) -> (usize, usize) {
        (
            self.beams_granted.load(Ordering::Relaxed),
            self.beams_declined.load(Ordering::Relaxed),
        )
    }

    /// Decodes stopped early because their request was cancelled or dropped.
    pub fn aborted(&self) -> usize {
        self.aborted.load(Ordering::Relaxed)
    }

    /// The shared model.
    pub fn model(&self) -> &Arc<SttModel> {
        &self.model
    }

    /// Current load.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Queues a transcription (never blocks; [`PoolError::Busy`] when the
    /// queue is full). Dropping the returned handle aborts the decode.
    pub fn try_transcribe(
        &self,
        audio: Vec<f32>,
        options: TranscribeOptions,
    ) -> Result<JobHandle<Result<Transcript, SttError>>, PoolError> {
        self.try_transcribe_with_progress(audio, options, None)
    }

    /// Like [`try_transcribe`](Self::try_transcribe), reporting progress
    /// (percent of the audio's seek loop) to `progress` from the worker.
    pub fn try_transcribe_with_progress(
        &self,
        audio: Vec<f32>,
        options: TranscribeOptions,
        progress: Option<Arc<dyn Fn(u8) + Send + Sync>>,
    ) -> Result<JobHandle<Result<Transcript, SttError>>, PoolError> {
        self.submit(Priority::High, audio, options, progress)
    }

    /// Queues a transcription at `priority`: live partials go
    /// [`Priority::Low`], so finals and files are always taken first and a
    /// full queue sheds partials (see [`WorkerPool`]).
    pub fn try_transcribe_at(
        &self,
        priority: Priority,
        audio: Vec<f32>,
        options: TranscribeOptions,
    ) -> Result<JobHandle<Result<Transcript, SttError>>, PoolError> {
        self.submit(priority, audio, options, None)
    }

    fn submit(
        &self,
        priority: Priority,
        audio: Vec<f32>,
        options: TranscribeOptions,
        progress: Option<Arc<dyn Fn(u8) + Send + Sync>>,
    ) -> Result<JobHandle<Result<Transcript, SttError>>, PoolError> {
        let aborted = Arc::clone(&self.aborted);
        self.pool.try_submit_with(priority, move |worker, ctx| {
            let cancel = || ctx.is_cancelled();
            let hooks = DecodeHooks {
                cancel: Some(&cancel),
                progress: progress.as_deref().map(|p| p as &(dyn Fn(u8) + Sync)),
            };
            let result = worker.transcribe_with(&audio, &options, hooks);
            if matches!(result, Err(SttError::Cancelled)) {
                aborted.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
    }

    /// Stops accepting jobs and joins the workers once the queue drains.
    pub fn shutdown(self) {
        self.pool.shutdown();
    }
}

/// Piper workers, each with its own voice session.
pub type TtsPool = WorkerPool<PiperVoice>;

/// Builds a [`TtsPool`] of `config.tts_workers` copies of one voice, each
/// with its own phonemizer (with [`PhonemizerConfig::Isolated`], its own
/// espeak worker process, so workers do not share espeak's lock). Submit
/// closures with [`WorkerPool::try_submit`]; long syntheses should stop
/// between sentences once [`super::JobContext::is_cancelled`]. Each voice is
/// warmed up ([`PiperVoice::warm_up`]) before the pool is returned.
///
/// `options.intra_threads == 0` shares the cores among the workers
/// ([`tts_intra_threads`]): with one worker on a 2-core box, a synthesis
/// uses both cores (1.5× faster when the machine is idle). ONNX Runtime's
/// intra-op threads do not spin (`intra_op_spinning` off), so when the
/// cores are busy with Whisper the caller's thread simply does most of the
/// work itself instead of waiting on a starved helper.
pub fn tts_pool(
    files: &VoiceFiles,
    options: &SessionOptions,
    phonemizer: &PhonemizerConfig,
    config: &PoolConfig,
) -> Result<TtsPool, TtsError> {
    config
        .validate()
        .map_err(|e| TtsError::InvalidOption(e.to_string()))?;
    let workers = config.tts_workers.max(1);
    let options = SessionOptions {
        intra_threads: match options.intra_threads {
            0 => tts_intra_threads(workers),
            n => n,
        },
        ..options.clone()
    };
    WorkerPool::new("tts", workers, config.queue_depth, |_| {
        let voice = PiperVoice::load(files, &options, phonemizer)?;
        voice.warm_up()?;
        Ok(voice)
    })
}

/// Intra-op threads per TTS worker when the caller leaves it to the pool:
/// the machine's cores divided among `workers` (at least 1, at most 4 —
/// VITS gains little beyond that).
pub fn tts_intra_threads(workers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores / workers.max(1)).clamp(1, 4)
}
