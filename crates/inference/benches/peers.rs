//! Peer-comparison harness (not a criterion bench): the Vocalis side of
//! `scripts/bench-peers.sh`. Loads a model once, then times inference only,
//! clip by clip, and writes JSON that `benches/peers/report.py` compares
//! with the faster-whisper / piper-tts runs of the same clips and texts.
//!
//! ```text
//! cargo bench -p vocalis-inference --bench peers -- stt CLIPS.tsv OUT.json \
//!     [model=tiny.en] [quant=f16|q8_0] [threads=2] [reps=3] [audio_ctx=auto|full|N] \
//!     [language=en] [flash_attn=0|1] [label=NAME] [retries=$BENCH_RETRIES|30]
//! cargo bench -p vocalis-inference --bench peers -- tts TEXTS.tsv OUT.json \
//!     [threads=1] [spinning=0|1] [reps=3] [silence=0] [ttfa=PARAGRAPH] [first_phrase=1|0] \
//!     [label=NAME] [retries=$BENCH_RETRIES|30]
//! ```
//!
//! `CLIPS.tsv` lines are `id<TAB>audio path<TAB>duration<TAB>reference`
//! (`refs.tsv` from `benches/clips/make-clips.sh`); `TEXTS.tsv` lines are
//! `id<TAB>text`. STT runs greedy (beam 1) with whisper.cpp's temperature
//! fallback and the VAD off, like faster-whisper with `vad_filter=False`.
//! Audio is decoded with `vocalis-audio` before the clock starts.
//!
//! The box is shared (2 cores, other builds and tests come and go), so every
//! timed call is checked for contention: if other processes used more than
//! 5% of the CPUs during it (system-wide `/proc/stat` busy time minus this
//! process's own CPU time), it is measured again after a pause, up to
//! `retries=30` times; the JSON records the attempts and whether the kept
//! measurement was clean. TTS runs
//! with no silence between sentences by default (`silence=0`), like
//! piper-tts' `synthesize`, so real-time factors compare like for like.
//! Time to first audio speaks the paragraph as `/ws/tts` does: its first
//! sentence's first clause on its own (`first_phrase=1`, the default;
//! `tts::phrase`), then the rest.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use vocalis_inference::stt::{
    AudioCtx, SttModelConfig, SttWorker, Transcribe, TranscribeOptions, VadMode,
};
use vocalis_inference::{SessionOptions, SynthesisOptions};

const USAGE: &str =
    "usage: peers stt CLIPS.tsv OUT.json [key=value…] | peers tts TEXTS.tsv OUT.json [key=value…]";

fn main() {
    // `cargo bench` appends `--bench` (and passes criterion-style flags).
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.is_empty() {
        eprintln!("peers: nothing to do ({USAGE}); scripts/bench-peers.sh drives this harness");
        return;
    }
    if args.len() < 3 {
        common::fail(USAGE);
    }
    let mut options = BTreeMap::new();
    for kv in &args[3..] {
        let Some((k, v)) = kv.split_once('=') else {
            common::fail(&format!("expected key=value, got {kv:?}\n{USAGE}"));
        };
        options.insert(k.to_string(), v.to_string());
    }
    let input = Path::new(&args[1]);
    let out = PathBuf::from(&args[2]);
    let result = match args[0].as_str() {
        "stt" => stt(input, &options),
        "tts" => tts(input, &options),
        other => common::fail(&format!("unknown mode {other:?}\n{USAGE}")),
    };
    let text = serde_json::to_string_pretty(&result).expect("JSON");
    std::fs::write(&out, text + "\n")
        .unwrap_or_else(|e| common::fail(&format!("cannot write {}: {e}", out.display())));
    eprintln!("peers: wrote {}", out.display());
}

/// Busy CPU time of the whole machine and of this process, in clock ticks.
fn cpu_ticks() -> (u64, u64) {
    let system = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_string();
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            (v.len() >= 8).then(|| v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            // after the command name: state(3) … utime(14) stime(15)
            Some(f.get(11)? + f.get(12)?)
        })
        .unwrap_or(0);
    (system, own)
}

/// One timed call, repeated until no other process used more than 5% of the
/// CPUs during it (or `retries` attempts). Returns (seconds, attempts, clean, value).
fn timed<T>(retries: usize, mut work: impl FnMut() -> T) -> (f64, usize, bool, T) {
    let cpus = std::thread::available_parallelism().map_or(2, usize::from) as f64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (sys0, own0) = cpu_ticks();
        let started = Instant::now();
        let value = work();
        let seconds = started.elapsed().as_secs_f64();
        let (sys1, own1) = cpu_ticks();
        // USER_HZ is 100 on Linux; allow 3 ticks of rounding.
        let others = sys1.saturating_sub(sys0) as f64 - own1.saturating_sub(own0) as f64;
        let clean = others <= (0.05 * seconds * 100.0 * cpus).max(3.0);
        if clean || attempt >= retries {
            return (seconds, attempt, clean, value);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// `$BENCH_RETRIES` (set by scripts/bench-peers.sh), else 30.
fn default_retries() -> usize {
    std::env::var("BENCH_RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn opt<'a>(options: &'a BTreeMap<String, String>, key: &str, default: &'a str) -> &'a str {
    options.get(key).map_or(default, String::as_str)
}

fn num(options: &BTreeMap<String, String>, key: &str, default: usize) -> usize {
    options.get(key).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| common::fail(&format!("{key}={v:?} is not a number")))
    })
}

/// Tab-separated lines, `#` comments and blank lines skipped.
fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| common::fail(&format!("cannot read {}: {e}", path.display())));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn stt(clips_tsv: &Path, o: &BTreeMap<String, String>) -> Value {
    let model_name = opt(o, "model", "tiny.en");
    let quant = match opt(o, "quant", "f16") {
        "f16" => None,
        q => Some(q),
    };
    let threads = num(o, "threads", 2);
    let reps = num(o, "reps", 3).max(1);
    let audio_ctx = match opt(o, "audio_ctx", "auto") {
        "auto" => AudioCtx::Auto,
        "full" => AudioCtx::Full,
        n => AudioCtx::Fixed(
            n.parse()
                .unwrap_or_else(|_| common::fail(&format!("audio_ctx={n:?}"))),
        ),
    };
    let language = o.get("language").cloned();

    let clips: Vec<(String, Vec<f32>, f64)> = read_tsv(clips_tsv)
        .into_iter()
        .map(|row| {
            if row.len() < 2 {
                common::fail(&format!("bad line in {}: {row:?}", clips_tsv.display()));
            }
            let audio = common::read_audio_16k(Path::new(&row[1]));
            let duration = audio.len() as f64 / 16_000.0;
            (row[0].clone(), audio, duration)
        })
        .collect();
    if clips.is_empty() {
        common::fail(&format!("no clips in {}", clips_tsv.display()));
    }

    let started = Instant::now();
    let config = SttModelConfig {
        flash_attn: opt(o, "flash_attn", "0") == "1",
        ..SttModelConfig::default()
    };
    let model = common::stt_model_with(model_name, quant, &config);
    let load_s = started.elapsed().as_secs_f64();
    let mut worker = SttWorker::new(model, threads, None)
        .unwrap_or_else(|e| common::fail(&format!("cannot create a Whisper state: {e}")));
    let options = TranscribeOptions {
        language: language.clone(),
        vad: VadMode::Off,
        audio_ctx,
        ..TranscribeOptions::default()
    };
    let retries = num(o, "retries", default_retries()).max(1);
    let mut run = |audio: &[f32]| {
        worker
            .transcribe(audio, &options)
            .unwrap_or_else(|e| common::fail(&format!("transcription failed: {e}")))
            .text()
    };

    run(&clips[0].1); // warm-up: first-use allocations, page cache
    let mut seconds = vec![Vec::with_capacity(reps); clips.len()];
    let mut texts = vec![String::new(); clips.len()];
    let (mut attempts, mut contended) = (0, 0);
    for rep in 0..reps {
        for (i, (id, audio, duration)) in clips.iter().enumerate() {
            let (s, tries, clean, text) = timed(retries, || run(audio));
            eprintln!(
                "vocalis stt rep {rep} {id}: {s:.3} s for {duration:.1} s ({:.3}x){}",
                s / duration,
                if clean { "" } else { " CONTENDED" }
            );
            attempts += tries;
            contended += usize::from(!clean);
            seconds[i].push(s);
            texts[i] = text;
        }
    }

    let label = o
        .get("label")
        .cloned()
        .unwrap_or_else(|| format!("vocalis {model_name} {} {threads}t", quant.unwrap_or("f16")));
    json!({
        "engine": "vocalis",
        "kind": "stt",
        "label": label,
        "model": model_name,
        "weights": quant.unwrap_or("f16"),
        "threads": threads,
        "reps": reps,
        "audio_ctx": format!("{audio_ctx:?}"),
        "flash_attn": config.flash_attn,
        "language": language,
        "load_s": load_s,
        "measurements": reps * clips.len(),
        "attempts": attempts,
        "contended": contended,
        "clips": clips.iter().zip(seconds).zip(texts).map(|(((id, _, duration), secs), text)| json!({
            "id": id,
            "duration_s": duration,
            "seconds": secs,
            "text": text,
        })).collect::<Vec<_>>(),
    })
}

fn tts(texts_tsv: &Path, o: &BTreeMap<String, String>) -> Value {
    let threads = num(o, "threads", 1);
    let reps = num(o, "reps", 3).max(1);
    let texts: Vec<(String, String)> = read_tsv(texts_tsv)
        .into_iter()
        .filter(|row| row.len() >= 2)
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    if texts.is_empty() {
        common::fail(&format!("no texts in {}", texts_tsv.display()));
    }
    let paragraph = opt(
        o,
        "ttfa",
        "Good morning, and welcome to the weekly update. Our team finished the new release two days ahead of schedule. Please read the notes before the meeting on Friday.",
    )
    .to_string();

    let started = Instant::now();
    let spinning = opt(o, "spinning", "0") == "1";
    let voice = common::voice_with(
        common::VOICE,
        &SessionOptions {
            intra_threads: threads,
            intra_op_spinning: spinning,
            ..SessionOptions::default()
        },
    );
    let load_s = started.elapsed().as_secs_f64();
    let rate = f64::from(voice.sample_rate());
    let silence: f32 = opt(o, "silence", "0")
        .parse()
        .unwrap_or_else(|_| common::fail("silence=SECONDS"));
    let options = SynthesisOptions {
        sentence_silence: silence,
        ..SynthesisOptions::default()
    };
    let synth = |text: &str| {
        voice
            .synthesize(text, &options)
            .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")))
            .samples
            .len() as f64
            / rate
    };
    let retries = num(o, "retries", default_retries()).max(1);
    let first_phrase = opt(o, "first_phrase", "1") == "1";

    synth(&texts[0].1); // warm-up
    let mut seconds = vec![Vec::with_capacity(reps); texts.len()];
    let mut audio_s = vec![Vec::with_capacity(reps); texts.len()];
    let mut ttfa = Vec::with_capacity(reps);
    let (mut attempts, mut contended) = (0, 0);
    for rep in 0..reps {
        for (i, (id, text)) in texts.iter().enumerate() {
            let (s, tries, clean, a) = timed(retries, || synth(text));
            eprintln!(
                "vocalis tts rep {rep} {id}: {s:.3} s for {a:.2} s of audio{}",
                if clean { "" } else { " CONTENDED" }
            );
            attempts += tries;
            contended += usize::from(!clean);
            seconds[i].push(s);
            audio_s[i].push(a);
        }
        // Time to first audio, then the rest of the stream (one measurement).
        // With `first_phrase=1`, as `/ws/tts` does: the first sentence's
        // first clause, then the rest of that sentence at the clause's gain,
        // then the other sentences.
        let (total_s, tries, clean, (first_s, first_len, samples, chunks)) = timed(retries, || {
            let started = Instant::now();
            let speak = |text: &str, options: &SynthesisOptions| {
                voice
                    .synthesize_stream(text, options)
                    .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")))
                    .map(|c| c.unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}"))))
            };
            let (head, tail, others) = split_first_phrase(&paragraph, first_phrase);
            let mut stream = speak(head, &options);
            let first = stream
                .next()
                .unwrap_or_else(|| common::fail("the stream yielded no audio"));
            let first_s = started.elapsed().as_secs_f64();
            let continued = SynthesisOptions {
                gain: Some(first.gain),
                ..options.clone()
            };
            let mut samples = first.samples.len();
            let mut chunks = 1;
            for chunk in stream
                .chain(speak(tail, &continued))
                .chain(speak(others, &options))
            {
                samples += chunk.samples.len();
                chunks += 1;
            }
            (first_s, first.samples.len(), samples, chunks)
        });
        attempts += tries;
        contended += usize::from(!clean);
        eprintln!("vocalis tts rep {rep} paragraph: first audio {first_s:.3} s, all {total_s:.3} s, {chunks} chunks");
        ttfa.push(json!({
            "first_s": first_s,
            "total_s": total_s,
            "first_audio_s": first_len as f64 / rate,
            "audio_s": samples as f64 / rate,
            "chunks": chunks,
        }));
    }

    let label = o
        .get("label")
        .cloned()
        .unwrap_or_else(|| format!("vocalis piper {threads}t"));
    json!({
        "engine": "vocalis",
        "kind": "tts",
        "label": label,
        "voice": common::VOICE,
        "threads": threads,
        "intra_op_spinning": spinning,
        "reps": reps,
        "load_s": load_s,
        "measurements": reps * (texts.len() + 1),
        "attempts": attempts,
        "contended": contended,
        "sentence_silence_s": options.sentence_silence,
        "texts": texts.iter().zip(seconds).zip(audio_s).map(|(((id, _), secs), audio)| json!({
            "id": id,
            "seconds": secs,
            "audio_s": audio,
        })).collect::<Vec<_>>(),
        "ttfa_text": paragraph,
        "ttfa_first_phrase": first_phrase,
        "ttfa": ttfa,
    })
}

/// `paragraph` as (first clause of its first sentence, the rest of that
/// sentence, the other sentences); without a cut (or `enabled` off), the
/// first sentence is the head and the tail is empty.
fn split_first_phrase(paragraph: &str, enabled: bool) -> (&str, &str, &str) {
    use vocalis_inference::tts::phrase::first_phrase_end;
    use vocalis_inference::tts::split::{next_sentence, DEFAULT_MAX_CHARS};
    let Some(first) = next_sentence(paragraph, 0, DEFAULT_MAX_CHARS) else {
        return (paragraph, "", "");
    };
    let cut = enabled
        .then(|| first_phrase_end(&paragraph[first.clone()]))
        .flatten()
        .map_or(first.end, |end| first.start + end);
    (
        &paragraph[..cut],
        &paragraph[cut..first.end],
        &paragraph[first.end..],
    )
}
