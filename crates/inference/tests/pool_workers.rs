//! Worker pools: busy queue, cancellation, real STT/TTS round trips.

mod stt_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stt_support::*;
use vocalis_inference::pool::{tts_pool, PoolConfig, PoolError, SttPool, WorkerPool};
use vocalis_inference::runtime::SessionOptions;
use vocalis_inference::stt::wer::word_error_rate;
use vocalis_inference::stt::{AudioCtx, SttError, TranscribeOptions, VadMode};
use vocalis_inference::tts::{SynthesisOptions, VoiceFiles};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two minutes of speech decoded with the full window: many seconds of work.
fn long_job() -> (Vec<f32>, TranscribeOptions) {
    let clip = read_wav("two_sentences.wav");
    let audio = (0..12).flat_map(|_| clip.iter().copied()).collect();
    let options = TranscribeOptions {
        vad: VadMode::Off,
        audio_ctx: AudioCtx::Full,
        ..TranscribeOptions::default()
    };
    (audio, options)
}

fn one_worker_pool(queue_depth: usize) -> SttPool {
    let config = PoolConfig {
        stt_workers: 1,
        threads_per_worker: 1,
        queue_depth,
        ..PoolConfig::default()
    };
    SttPool::new(whisper("tiny.en"), Some(vad()), &config).unwrap()
}

#[test]
fn transcribes_through_the_pool() {
    let pool = SttPool::new(whisper("tiny.en"), Some(vad()), &PoolConfig::default()).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            pool.try_transcribe(read_wav("fox.wav"), TranscribeOptions::default())
                .unwrap()
        })
        .collect();
    for h in handles {
        let t = h.wait().unwrap().unwrap();
        assert!(word_error_rate(FOX, &t.text()) <= 0.1, "{}", t.text());
    }
    assert_eq!(pool.stats().completed, 3);
    pool.shutdown();
}

#[test]
fn full_queue_is_busy_immediately() {
    let pool = one_worker_pool(1);
    let (audio, options) = long_job();
    let running = pool.try_transcribe(audio.clone(), options.clone()).unwrap();
    wait_until("the first job to start", || pool.stats().busy == 1);
    let queued = pool.try_transcribe(audio.clone(), options.clone()).unwrap();
    // `try_transcribe` never blocks: a full queue is an error at once.
    let err = pool.try_transcribe(audio, options).unwrap_err();
    assert!(
        matches!(err, PoolError::Busy { queue_depth: 1, .. }),
        "{err}"
    );
    drop(queued);
    drop(running);
}

#[test]
fn dropping_the_handle_aborts_a_running_job() {
    let pool = one_worker_pool(4);
    let (audio, options) = long_job();
    let running = pool.try_transcribe(audio, options).unwrap();
    wait_until("the job to start", || pool.stats().busy == 1);
    // Past the (non-abortable) mel spectrogram, inside the encoder/decoder.
    std::thread::sleep(Duration::from_millis(500));
    drop(running);
    // The decode is aborted (not run to its end) and the worker serves the
    // next request.
    let next = pool
        .try_transcribe(read_wav("fox.wav"), TranscribeOptions::default())
        .unwrap();
    wait_until("the dropped decode to abort", || pool.aborted() == 1);
    let t = next.wait().unwrap().unwrap();
    assert!(word_error_rate(FOX, &t.text()) <= 0.1);
}

/// A live final's beam search is granted, with every core, only while the
/// pool is idle; with a decode running it is made greedy, and both are
/// counted.
#[test]
fn a_beam_is_granted_only_on_an_idle_pool() {
    let pool = one_worker_pool(4);
    let asked = TranscribeOptions {
        beam_size: 5,
        ..TranscribeOptions::default()
    };
    let mut idle = asked.clone();
    pool.fit_to_load(&mut idle, true);
    assert_eq!(idle.beam_size, 5);
    assert!(idle.threads >= 1, "an idle pool's final gets every core");
    let mut partial = TranscribeOptions::default();
    pool.fit_to_load(&mut partial, false);
    assert_eq!(
        (partial.beam_size, partial.threads),
        (1, 0),
        "partials untouched"
    );

    let (audio, options) = long_job();
    let running = pool.try_transcribe(audio, options).unwrap();
    let mut busy = asked.clone();
    pool.fit_to_load(&mut busy, true);
    assert_eq!(
        (busy.beam_size, busy.threads),
        (1, 0),
        "greedy, own threads"
    );
    assert_eq!(pool.beam_decodes(), (1, 1));
    drop(running);
}

/// `live_final_beam` caps the width a live final asks for; at 1 the beam
/// is off: greedy, and neither granted nor declined is counted.
#[test]
fn the_beam_is_capped_by_live_final_beam() {
    let pool_with = |live_final_beam| {
        let config = PoolConfig {
            stt_workers: 1,
            live_final_beam,
            ..PoolConfig::default()
        };
        SttPool::new(whisper("tiny.en"), None, &config).unwrap()
    };
    let asked = || TranscribeOptions {
        beam_size: 5,
        ..TranscribeOptions::default()
    };
    let narrow = pool_with(3);
    let mut options = asked();
    narrow.fit_to_load(&mut options, true);
    assert_eq!(options.beam_size, 3);
    assert_eq!(narrow.beam_decodes(), (1, 0));
    let off = pool_with(1);
    let mut options = asked();
    off.fit_to_load(&mut options, true);
    assert_eq!(options.beam_size, 1);
    assert_eq!(off.beam_decodes(), (0, 0));
    assert!(PoolConfig {
        live_final_beam: 0,
        ..PoolConfig::default()
    }
    .validate()
    .is_err());
}

#[test]
fn explicit_cancel_reports_cancelled_and_queued_jobs_are_skipped() {
    let pool = one_worker_pool(4);
    let (audio, options) = long_job();
    let running = pool.try_transcribe(audio.clone(), options.clone()).unwrap();
    wait_until("the job to start", || pool.stats().busy == 1);
    let queued = pool.try_transcribe(audio, options).unwrap();
    drop(queued);
    // Past the (non-abortable) mel spectrogram of the 2 min input.
    std::thread::sleep(Duration::from_millis(500));
    running.cancel();
    // `Cancelled` (not a transcript) proves the decode stopped early.
    let r = running.wait().unwrap();
    assert!(matches!(r, Err(SttError::Cancelled)), "{r:?}");
    assert_eq!(pool.aborted(), 1);
    wait_until("the queued job to be skipped", || pool.stats().skipped == 1);
}

#[test]
fn generic_pool_answers_and_survives_panics() {
    let pool = WorkerPool::new("test", 2, 4, |i| Ok::<_, ()>(i * 10)).unwrap();
    let a = pool.try_submit(|state, _| *state + 1).unwrap();
    let b = pool.try_submit(|_, _| -> usize { panic!("boom") }).unwrap();
    assert!(matches!(b.wait(), Err(PoolError::Lost)));
    let v = a.wait().unwrap();
    assert!(v == 1 || v == 11);
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    let c = pool
        .try_submit(move |_, ctx| {
            f.store(ctx.is_cancelled(), Ordering::Relaxed);
            7
        })
        .unwrap();
    assert_eq!(c.wait().unwrap(), 7);
    assert!(!flag.load(Ordering::Relaxed));
    pool.shutdown();
}

#[test]
fn tts_pool_synthesises() {
    init_runtime();
    let name = "en_US-joe-medium";
    let files = VoiceFiles::in_dir(&store_root().join(name), name);
    assert!(
        files.onnx.is_file(),
        "voice missing at {}: run `vocalis models pull {name}`",
        files.onnx.display()
    );
    let pool = tts_pool(
        &files,
        &SessionOptions::default(),
        &vocalis_inference::phonemize::PhonemizerConfig::InProcess,
        &PoolConfig::default(),
    )
    .unwrap();
    let h = pool
        .try_submit(|voice, _| voice.synthesize("Hello there.", &SynthesisOptions::default()))
        .unwrap();
    let audio = h.wait().unwrap().unwrap();
    assert!(audio.samples.len() > 5_000);
}
