//! Grapheme-to-phoneme conversion with espeak-ng, matching piper-phonemize.
//!
//! [`phonemize`] returns sentences of IPA phoneme characters exactly as Piper
//! feeds them to its voices: espeak's IPA output per clause, Unicode-NFD
//! decomposed, `(lang)` switch flags removed, and the clause's punctuation
//! re-appended (see the private `clause` module). A new sentence starts
//! after `.`, `?`, `!` and blank lines.
//!
//! libespeak-ng can abort the whole process on hostile text (a C
//! `*** buffer overflow detected ***`, which no `catch_unwind` stops), so
//! untrusted text goes through a [`Phonemizer`] built with
//! [`PhonemizerConfig::Isolated`]: espeak runs in a persistent child process
//! (the host program's hidden subcommand calling [`worker::run_worker`]),
//! and a crash, hang or garbage answer fails only that request with
//! [`PhonemizeError::WorkerCrashed`], [`PhonemizeError::WorkerTimeout`] or
//! [`PhonemizeError::WorkerProtocol`]; the next request gets a new child.
//! [`sanitize::bound_words`] additionally bounds words before espeak sees
//! them. The in-process [`phonemize`] and [`PhonemizerConfig::InProcess`]
//! are for trusted text only (tests, benches, fuzzing).

mod clause;
mod espeak;
mod isolated;
pub mod sanitize;
pub mod worker;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

pub use sanitize::bound_words;

/// Longest text one phonemizer call accepts, in characters (callers pass
/// sentences of at most [`crate::tts::split::DEFAULT_MAX_CHARS`]).
pub const MAX_PHONEMIZE_CHARS: usize = 10_000;

/// Errors from the espeak-ng phonemizer.
#[derive(Debug, thiserror::Error)]
pub enum PhonemizeError {
    /// `espeak_Initialize` failed (usually missing espeak-ng-data).
    #[error("espeak-ng failed to initialise (code {0}); is espeak-ng-data installed?")]
    Init(i32),
    /// `espeak_SetVoiceByName` rejected the voice.
    #[error("espeak-ng has no voice named {0:?}")]
    UnknownVoice(String),
    /// espeak-ng stopped advancing through the text.
    #[error("espeak-ng did not advance through the input text")]
    Stalled,
    /// The text is longer than [`MAX_PHONEMIZE_CHARS`].
    #[error("text of {chars} characters exceeds the phonemizer limit of {max}")]
    TextTooLong {
        /// Characters in the text.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The isolated worker process could not be started.
    #[error("cannot start the espeak worker {program}: {source}")]
    WorkerSpawn {
        /// The worker program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The isolated worker died while phonemizing this text (espeak-ng
    /// aborted on it); the next request starts a new worker.
    #[error("espeak-ng crashed on this text ({status})")]
    WorkerCrashed {
        /// The worker's exit status, e.g. `signal: 6 (SIGABRT)`.
        status: String,
    },
    /// The isolated worker did not answer in time and was killed.
    #[error("espeak-ng did not finish this text within {after:?}")]
    WorkerTimeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The isolated worker answered something that is not a reply.
    #[error("espeak worker protocol error: {0}")]
    WorkerProtocol(String),
}

impl PhonemizeError {
    /// Whether the text itself is the likely cause (a crash or hang of
    /// espeak-ng on it, or its length), as opposed to a broken installation.
    pub fn is_text_fault(&self) -> bool {
        matches!(
            self,
            Self::WorkerCrashed { .. } | Self::WorkerTimeout { .. } | Self::TextTooLong { .. }
        )
    }
}

/// How to start an isolated espeak worker, and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The program; it must run [`worker::run_worker`] (e.g. `vocalis`).
    pub program: PathBuf,
    /// Its arguments (e.g. `["espeak-worker"]`).
    pub args: Vec<OsString>,
    /// Fixed part of each request's deadline ([`Self::DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Added to the deadline per character of text
    /// ([`Self::DEFAULT_TIMEOUT_PER_CHAR`]).
    pub timeout_per_char: Duration,
}

impl WorkerCommand {
    /// Default fixed deadline per request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default deadline per character (espeak needs about 2 µs).
    pub const DEFAULT_TIMEOUT_PER_CHAR: Duration = Duration::from_millis(1);

    /// `program args…` with the default deadlines.
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            timeout: Self::DEFAULT_TIMEOUT,
            timeout_per_char: Self::DEFAULT_TIMEOUT_PER_CHAR,
        }
    }

    /// The deadline for phonemizing `text`.
    pub fn deadline(&self, text: &str) -> Duration {
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        self.timeout
            .saturating_add(self.timeout_per_char.saturating_mul(chars))
    }
}

/// Where espeak-ng runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhonemizerConfig {
    /// In this process. A crash of espeak-ng kills the process: only for
    /// trusted text (the crate's own tests, benches and fuzzing).
    InProcess,
    /// In a child process per [`Phonemizer`] (so one per TTS worker): what
    /// servers and command-line tools use.
    Isolated(WorkerCommand),
}

/// An espeak voice bound to where espeak runs. `Send + Sync`; calls on one
/// phonemizer are serialised (on its child, or on espeak's global lock).
#[derive(Debug)]
pub struct Phonemizer {
    voice: String,
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    InProcess,
    Isolated(isolated::IsolatedWorker),
}

impl Phonemizer {
    /// A phonemizer for the espeak voice `voice` (e.g. `en-us`). Starts the
    /// worker (if isolated) and checks the voice exists.
    pub fn new(config: &PhonemizerConfig, voice: &str) -> Result<Self, PhonemizeError> {
        let backend = match config {
            PhonemizerConfig::InProcess => Backend::InProcess,
            PhonemizerConfig::Isolated(command) => {
                Backend::Isolated(isolated::IsolatedWorker::new(command.clone()))
            }
        };
        let phonemizer = Self {
            voice: voice.to_owned(),
            backend,
        };
        phonemizer.phonemize("")?;
        Ok(phonemizer)
    }

    /// The espeak voice.
    pub fn voice(&self) -> &str {
        &self.voice
    }

    /// Phonemizes `text` as [`phonemize`] does, where this phonemizer runs
    /// espeak. The text is passed as is: bound it with [`bound_words`] first.
    pub fn phonemize(&self, text: &str) -> Result<Vec<Vec<char>>, PhonemizeError> {
        let chars = text.chars().count();
        if chars > MAX_PHONEMIZE_CHARS {
            return Err(PhonemizeError::TextTooLong {
                chars,
                max: MAX_PHONEMIZE_CHARS,
            });
        }
        match &self.backend {
            Backend::InProcess => phonemize(text, &self.voice),
            Backend::Isolated(worker) => worker.phonemize(&self.voice, text),
        }
    }
}

/// Phonemizes `text` with the espeak voice `voice` (e.g. `en-us`) in this
/// process. Trusted text only: espeak-ng aborts the process on some inputs
/// (use a [`Phonemizer`] with [`PhonemizerConfig::Isolated`] otherwise).
///
/// Returns one `Vec<char>` of phonemes per sentence. Thread-safe: calls are
/// serialised on a process-wide lock because espeak-ng is global.
pub fn phonemize(text: &str, voice: &str) -> Result<Vec<Vec<char>>, PhonemizeError> {
    let clauses = espeak::with_engine(|engine| {
        engine.set_voice(voice)?;
        engine.clauses(text)
    })?;

    let mut sentences: Vec<Vec<char>> = Vec::new();
    let mut current: Option<Vec<char>> = None;
    for clause in clauses {
        let sentence = current.get_or_insert_with(Vec::new);
        push_without_language_flags(sentence, clause.phonemes.nfd());
        let terminator = clause::classify(&text[clause.range]);
        sentence.extend_from_slice(terminator.appended());
        if terminator.ends_sentence() {
            sentences.extend(current.take());
        }
    }
    sentences.extend(current);
    Ok(sentences)
}

/// Appends phonemes, dropping `(en)`-style language switch markers.
fn push_without_language_flags(out: &mut Vec<char>, phonemes: impl Iterator<Item = char>) {
    let mut in_flag = false;
    for c in phonemes {
        if in_flag {
            in_flag = c != ')';
        } else if c == '(' {
            in_flag = true;
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(sentence: &[char]) -> String {
        sentence.iter().collect()
    }

    #[test]
    fn hello_world_matches_piper() {
        let out = phonemize("Hello world.", "en-us").unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(s(&out[0]), "həlˈoʊ wˈɜːld.");
    }

    #[test]
    fn sentences_and_clause_punctuation() {
        let out = phonemize("Hi there, friend. How are you? Great!", "en-us").unwrap();
        let out: Vec<String> = out.iter().map(|x| s(x)).collect();
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].contains(", "), "{out:?}");
        assert!(out[0].ends_with('.'));
        assert!(out[1].ends_with('?'));
        assert!(out[2].ends_with('!'));
    }

    #[test]
    fn no_state_leaks_between_calls() {
        let a = phonemize("One. Two", "en-us").unwrap();
        let b = phonemize("One. Two", "en-us").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn unknown_voice_is_an_error() {
        assert!(matches!(
            phonemize("x", "no-such-voice-zz"),
            Err(PhonemizeError::UnknownVoice(_))
        ));
        // and a valid voice still works afterwards
        assert!(!phonemize("ok", "en-us").unwrap().is_empty());
    }

    #[test]
    fn language_flags_removed() {
        let mut out = Vec::new();
        push_without_language_flags(&mut out, "a(fr)b(en)c".chars());
        assert_eq!(out, vec!['a', 'b', 'c']);
    }

    #[test]
    fn empty_text() {
        let out = phonemize("", "en-us").unwrap();
        assert!(out.iter().all(|x| x.is_empty()));
    }
}
