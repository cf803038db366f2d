//! Compare STT pool layouts (workers × threads) for latency and throughput.
//!
//! ```text
//! cargo run -p vocalis-inference --release --example pool_bench -- \
//!     [workers=2] [threads=1] [concurrent=8] [model=tiny.en]
//! ```
//!
//! Runs the test clips one at a time (latency) and then `concurrent` at once
//! (throughput). Results are summarised in `crates/inference/AUDIO_CTX.md`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use vocalis_inference::pool::{PoolConfig, SttPool};
use vocalis_inference::stt::{SttModel, SttModelConfig, TranscribeOptions, VadMode};

fn read_wav(path: &Path) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let mut reader = hound::WavReader::open(path)?;
    Ok(reader
        .samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<_, _>>()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let workers: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    let concurrent: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let model_name = args.next().unwrap_or_else(|| "tiny.en".into());
    let root = std::env::var_os("VOCALIS_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vocalis/models"))
        })
        .ok_or("set VOCALIS_MODELS")?;
    let model = SttModel::load(
        &root.join(&model_name).join("ggml-model.bin"),
        &SttModelConfig::default(),
    )?;
    let config = PoolConfig {
        stt_workers: workers,
        threads_per_worker: threads,
        queue_depth: concurrent,
        ..PoolConfig::default()
    };
    let pool = SttPool::new(model.into(), None, &config)?;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let clips = [
        read_wav(&data.join("fox.wav"))?,
        read_wav(&data.join("two_sentences.wav"))?,
    ];
    let options = TranscribeOptions {
        vad: VadMode::Off,
        ..TranscribeOptions::default()
    };

    // Warm-up, then sequential latency.
    pool.try_transcribe(clips[0].clone(), options.clone())?
        .wait()??;
    let mut single = Vec::new();
    for _ in 0..3 {
        for clip in &clips {
            let t0 = Instant::now();
            pool.try_transcribe(clip.clone(), options.clone())?
                .wait()??;
            single.push(t0.elapsed().as_secs_f64());
        }
    }
    single.sort_by(f64::total_cmp);

    // Throughput: `concurrent` requests at once.
    let audio_s: f64 = (0..concurrent)
        .map(|i| clips[i % 2].len() as f64 / 16_000.0)
        .sum();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..concurrent)
        .map(|i| pool.try_transcribe(clips[i % 2].clone(), options.clone()))
        .collect::<Result<_, _>>()?;
    let mut latencies = Vec::new();
    for h in handles {
        h.wait()??;
        latencies.push(t0.elapsed().as_secs_f64());
    }
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{workers} worker(s) × {threads} thread(s): single-request median {:.3} s (min {:.3}); \
         {concurrent} concurrent: {wall:.2} s wall for {audio_s:.1} s audio \
         ({:.1}× real time), mean latency {:.2} s",
        single[single.len() / 2],
        single[0],
        audio_s / wall,
        latencies.iter().sum::<f64>() / latencies.len() as f64,
    );
    pool.shutdown();
    Ok(())
}
