//! Loudness at the first-clause cut: the gain the whole sentence gets from
//! peak normalisation against the gains of its first clause and of the
//! rest continued at the clause's gain (`SynthesisOptions::gain`), with the
//! clause normalised on its own and capped at the voice's typical gain (what
//! `/ws/tts` does).
//!
//! ```text
//! cargo run --release -p vocalis-inference --example tts_gain_seam
//! ```

use vocalis_inference::phonemize::PhonemizerConfig;
use vocalis_inference::tts::phrase::first_phrase_end;
use vocalis_inference::{runtime, PiperVoice, SessionOptions, SynthesisOptions, VoiceFiles};

const SENTENCES: [&str; 10] = [
    "Good morning, and welcome to the weekly update.",
    "Thank you, your order left our warehouse early this morning.",
    "Well then, we shall see what the morning brings us.",
    "If you need help, please stay on the line for the next agent.",
    "Hello and welcome, this is the automated support line.",
    "Dear customer, the flight to Boston has been delayed by two hours.",
    "At the tone, please record your message after the beep.",
    "For billing questions, press one or say billing now.",
    "Yes indeed, I can help you with that reservation today.",
    "In the meantime, you can track the parcel on our website.",
];

fn gain(voice: &PiperVoice, text: &str, gain: Option<f32>) -> f32 {
    let options = SynthesisOptions {
        gain,
        ..SynthesisOptions::default()
    };
    let mut stream = voice.synthesize_stream(text, &options).unwrap();
    stream.next().unwrap().unwrap().gain
}

fn main() {
    let root = std::env::var_os("VOCALIS_MODELS").map_or_else(
        || std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vocalis/models"),
        std::path::PathBuf::from,
    );
    let library = std::fs::read_dir(root.join("onnxruntime"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so."))
        })
        .unwrap();
    runtime::init(&library).unwrap();
    let files = VoiceFiles::in_dir(&root.join("en_US-joe-medium"), "en_US-joe-medium");
    let voice = PiperVoice::load(
        &files,
        &SessionOptions::default(),
        &PhonemizerConfig::InProcess,
    )
    .unwrap();
    voice.warm_up().unwrap();
    let db = |x: f32| 20.0 * x.log10();
    let (mut own_steps, mut capped_steps) = (Vec::new(), Vec::new());
    for sentence in SENTENCES {
        let end = first_phrase_end(sentence).expect("a clause mark");
        let (head_text, rest_text) = (&sentence[..end], sentence[end..].trim());
        let whole = gain(&voice, sentence, None);
        let cap = voice.typical_gain();
        let own = gain(&voice, head_text, None);
        let own_rest = gain(&voice, rest_text, Some(own));
        let capped = gain(&voice, head_text, cap);
        let capped_rest = gain(&voice, rest_text, Some(capped));
        own_steps.push(db(own / own_rest));
        capped_steps.push(db(capped / capped_rest));
        println!(
            "{sentence:?}: whole {whole:.2}; clause alone {own:.2}, rest {own_rest:.2} (step {:.1} dB); \
             capped at {:.2}: clause {capped:.2}, rest {capped_rest:.2} (step {:.1} dB)",
            db(own / own_rest),
            cap.unwrap_or(0.0),
            db(capped / capped_rest)
        );
    }
    for (name, mut steps) in [("alone", own_steps), ("capped", capped_steps)] {
        steps.sort_by(f32::total_cmp);
        println!(
            "step at the cut, clause {name}: median {:.1} dB, max {:.1} dB",
            steps[steps.len() / 2],
            steps[steps.len() - 1]
        );
    }
}
