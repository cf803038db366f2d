//! The Rust speaker encoder against the real Python Resemblyzer: embeddings of
//! three espeak-ng clips computed once by `scripts/diarize-reference.py` and
//! stored in `tests/data/diarize/reference.json` must match (cosine >= 0.99).

mod stt_support;

use stt_support::{data_path, read_wav, require};
use vocalis_inference::diarize::{cosine, Diarizer, MODEL_FILE};

#[derive(serde::Deserialize)]
struct Reference {
    clips: Vec<Clip>,
}

#[derive(serde::Deserialize)]
struct Clip {
    wav: String,
    embedding: Vec<f32>,
    first_partial: Vec<f32>,
    partials: usize,
}

#[test]
fn embeddings_match_python_resemblyzer() {
    let model = require("resemblyzer", MODEL_FILE);
    let diarizer = Diarizer::load(model.parent().expect("model dir")).expect("load encoder");
    let text = std::fs::read_to_string(data_path("diarize/reference.json")).expect("reference");
    let reference: Reference = serde_json::from_str(&text).expect("reference json");
    assert_eq!(reference.clips.len(), 3);
    let mut embeddings = Vec::new();
    for clip in &reference.clips {
        let audio = read_wav(&format!("diarize/{}", clip.wav));
        let (embedding, partials) = diarizer.encoder().embed_utterance(&audio).expect("embed");
        assert_eq!(partials.len(), clip.partials, "{}", clip.wav);
        let first = cosine(&partials[0], &clip.first_partial);
        let whole = cosine(&embedding, &clip.embedding);
        eprintln!(
            "{}: partial cosine {first:.5}, utterance cosine {whole:.5}",
            clip.wav
        );
        assert!(first >= 0.99, "{}: first partial cosine {first}", clip.wav);
        assert!(whole >= 0.99, "{}: utterance cosine {whole}", clip.wav);
        embeddings.push(embedding);
    }
    // Different voices are not the same embedding (a constant output would pass the above
    // only if the references were constant too; this guards the test data itself).
    let cross = cosine(&reference.clips[0].embedding, &reference.clips[1].embedding);
    assert!(cross < 0.95, "reference voices too alike: {cross}");
}
