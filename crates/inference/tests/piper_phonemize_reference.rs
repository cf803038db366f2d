//! espeak-ng phonemization compared with Piper's own phonemizer.
//!
//! `data/piper_phonemize_reference.json` was produced by piper-phonemize 1.1.0
//! (`phonemize_espeak(text, "en-us")`), which bundles a newer espeak-ng fork
//! than the system library; the two differ only in a few secondary-stress
//! choices, so stress marks are ignored. Sentence splitting, clause
//! punctuation and every phoneme must match. Texts pass through
//! [`bound_words`] first, as every voice does, so the word bounds are shown
//! not to change ordinary text.

use vocalis_inference::phonemize::{bound_words, phonemize};

fn strip_stress(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, 'ˈ' | 'ˌ')).collect()
}

#[test]
fn matches_piper_phonemize_modulo_stress() {
    let data = include_str!("data/piper_phonemize_reference.json");
    let reference: serde_json::Value = serde_json::from_str(data).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<String> = case["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| strip_stress(s.as_str().unwrap()))
            .collect();
        let got: Vec<String> = phonemize(&bound_words(text), "en-us")
            .unwrap()
            .iter()
            .map(|s| strip_stress(&s.iter().collect::<String>()))
            .collect();
        if got != want {
            failures.push(format!("{text:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
