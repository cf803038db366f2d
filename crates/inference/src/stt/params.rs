//! Building whisper.cpp `FullParams` without per-request leaks.
//!
//! whisper-rs' `set_language` leaks a `CString` on every call. Parameters
//! are therefore cloned from templates built once per (language, strategy)
//! and cached for the life of the process: the leak is bounded by the number
//! of distinct keys (≈100 languages × a few strategies), not by requests.
//! Prompts go in as token ids (`set_tokens`, borrowed) for the same reason.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use whisper_rs::{FullParams, SamplingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    /// `None` keeps whisper.cpp's built-in "en" (no allocation at all).
    language: Option<&'static str>,
    beam_size: i32,
    best_of: i32,
}

type Templates = HashMap<Key, FullParams<'static, 'static>>;

fn templates() -> &'static Mutex<Templates> {
    static TEMPLATES: OnceLock<Mutex<Templates>> = OnceLock::new();
    TEMPLATES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Base parameters for `language` (a `&'static` code from
/// `whisper_rs::get_lang_str`; "en" and `None` use the default), beam width
/// (1 = greedy) and `best_of`.
pub(crate) fn base_params(
    language: Option<&'static str>,
    beam_size: usize,
    best_of: usize,
) -> FullParams<'static, 'static> {
    let key = Key {
        language: language.filter(|l| *l != "en"),
        beam_size: beam_size.clamp(1, 8) as i32,
        best_of: best_of.clamp(1, 8) as i32,
    };
    let mut cache = templates().lock().unwrap_or_else(|p| p.into_inner());
    cache
        .entry(key)
        .or_insert_with(|| {
            let strategy = if key.beam_size > 1 {
                SamplingStrategy::BeamSearch {
                    beam_size: key.beam_size,
                    patience: -1.0,
                }
            } else {
                SamplingStrategy::Greedy {
                    best_of: key.best_of,
                }
            };
            let mut p = FullParams::new(strategy);
            if let Some(lang) = key.language {
                p.set_language(Some(lang));
            }
            p.set_print_progress(false);
            p.set_print_realtime(false);
            p.set_print_timestamps(false);
            p.set_print_special(false);
            // Each request stands alone: never condition on the previous
            // request's text left in the (reused) state.
            p.set_no_context(true);
            p
        })
        .clone()
}
