//! Peer-comparison harness (not a criterion bench): the Vocalis side of
//! `scripts/bench-peers.sh`. Loads a model once, then times inference only,
//! clip by clip, and writes JSON that `benches/peers/report.py` compares
//! with the faster-whisper / piper-tts runs of the same clips and texts.
//!
//! ```text
//! cargo bench -p vocalis-inference --bench peers -- stt CLIPS.tsv OUT.json \
//!     [model=tiny.en] [quant=f16|q8_0] [threads=2] [reps=3] [audio_ctx=auto|full|N] \
//!     [language=en] [label=NAME]
//! cargo bench -p vocalis-inference --bench peers -- tts TEXTS.tsv OUT.json \
//!     [threads=1] [reps=3] [silence=0] [ttfa=PARAGRAPH] [label=NAME]
//! ```
//!
//! `CLIPS.tsv` lines are `id<TAB>audio path<TAB>duration<TAB>reference`
//! (`refs.tsv` from `benches/clips/make-clips.sh`); `TEXTS.tsv` lines are
//! `id<TAB>text`. STT runs greedy (beam 1) with whisper.cpp's temperature
//! fallback and the VAD off, like faster-whisper with `vad_filter=False`.
//! Audio is decoded with `vocalis-audio` before the clock starts. TTS runs
//! with no silence between sentences by default (`silence=0`), like
//! piper-tts' `synthesize`, so real-time factors compare like for like.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use vocalis_inference::stt::{AudioCtx, SttWorker, Transcribe, TranscribeOptions, VadMode};
use vocalis_inference::SynthesisOptions;

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
    let model = common::stt_model(model_name, quant);
    let load_s = started.elapsed().as_secs_f64();
    let mut worker = SttWorker::new(model, threads, None)
        .unwrap_or_else(|e| common::fail(&format!("cannot create a Whisper state: {e}")));
    let options = TranscribeOptions {
        language: language.clone(),
        vad: VadMode::Off,
        audio_ctx,
        ..TranscribeOptions::default()
    };
    let mut run = |audio: &[f32]| {
        let started = Instant::now();
        let t = worker
            .transcribe(audio, &options)
            .unwrap_or_else(|e| common::fail(&format!("transcription failed: {e}")));
        (started.elapsed().as_secs_f64(), t.text())
    };

    run(&clips[0].1); // warm-up: first-use allocations, page cache
    let mut seconds = vec![Vec::with_capacity(reps); clips.len()];
    let mut texts = vec![String::new(); clips.len()];
    for rep in 0..reps {
        for (i, (id, audio, duration)) in clips.iter().enumerate() {
            let (s, text) = run(audio);
            eprintln!(
                "vocalis stt rep {rep} {id}: {s:.3} s for {duration:.1} s ({:.3}x)",
                s / duration
            );
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
        "language": language,
        "load_s": load_s,
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
    let voice = common::voice(common::VOICE, threads);
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
        let started = Instant::now();
        let r = voice
            .synthesize(text, &options)
            .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")));
        (
            started.elapsed().as_secs_f64(),
            r.samples.len() as f64 / rate,
        )
    };

    synth(&texts[0].1); // warm-up
    let mut seconds = vec![Vec::with_capacity(reps); texts.len()];
    let mut audio_s = vec![Vec::with_capacity(reps); texts.len()];
    let mut ttfa = Vec::with_capacity(reps);
    for rep in 0..reps {
        for (i, (id, text)) in texts.iter().enumerate() {
            let (s, a) = synth(text);
            eprintln!("vocalis tts rep {rep} {id}: {s:.3} s for {a:.2} s of audio");
            seconds[i].push(s);
            audio_s[i].push(a);
        }
        let started = Instant::now();
        let mut stream = voice
            .synthesize_stream(&paragraph, &options)
            .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")));
        let first = stream
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| common::fail("the stream yielded no audio"));
        let first_s = started.elapsed().as_secs_f64();
        let mut samples = first.samples.len();
        let mut chunks = 1;
        for chunk in stream {
            samples += chunk
                .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")))
                .samples
                .len();
            chunks += 1;
        }
        let total_s = started.elapsed().as_secs_f64();
        eprintln!("vocalis tts rep {rep} paragraph: first audio {first_s:.3} s, all {total_s:.3} s, {chunks} chunks");
        ttfa.push(json!({
            "first_s": first_s,
            "total_s": total_s,
            "first_audio_s": first.samples.len() as f64 / rate,
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
        "reps": reps,
        "load_s": load_s,
        "sentence_silence_s": options.sentence_silence,
        "texts": texts.iter().zip(seconds).zip(audio_s).map(|(((id, _), secs), audio)| json!({
            "id": id,
            "seconds": secs,
            "audio_s": audio,
        })).collect::<Vec<_>>(),
        "ttfa_text": paragraph,
        "ttfa": ttfa,
    })
}
