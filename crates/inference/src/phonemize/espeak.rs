//! Minimal safe wrapper over espeak-ng's C API (text → IPA, clause by clause).
//!
//! espeak-ng keeps all of its state in globals (selected voice, decoder,
//! one-character look-ahead between clauses) and is not thread-safe, so the
//! engine lives behind a process-wide [`Mutex`] and can only be reached
//! through [`with_engine`]. Each call to [`Engine::clauses`] runs espeak to
//! the end of its input, so no look-ahead state leaks into the next text.
//!
//! Only `espeak_Initialize`, `espeak_SetVoiceByName` and
//! `espeak_TextToPhonemes` are used; they exist in every espeak-ng release
//! (Debian 12 ships 1.51, which lacks piper's
//! `espeak_TextToPhonemesWithTerminator`, see [`super::clause`]).

// FFI into libespeak-ng is inherently unsafe; every unsafe block is confined to
// this module and wrapped by the safe `Engine` API below.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::Mutex;

use super::PhonemizeError;

mod ffi {
    use std::ffi::{c_char, c_int, c_void};

    /// `AUDIO_OUTPUT_SYNCHRONOUS` from `speak_lib.h` (enum value 2).
    pub(super) const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
    /// `espeakINITIALIZE_DONT_EXIT`: return errors instead of calling `exit()`.
    pub(super) const INITIALIZE_DONT_EXIT: c_int = 0x8000;
    /// `espeakCHARS_UTF8`.
    pub(super) const CHARS_UTF8: c_int = 1;
    /// Phoneme mode bit 1: IPA output (as UTF-8).
    pub(super) const PHONEMES_IPA: c_int = 0x02;
    /// `EE_OK`.
    pub(super) const EE_OK: c_int = 0;

    #[link(name = "espeak-ng")]
    unsafe extern "C" {
        pub(super) fn espeak_Initialize(
            output: c_int,
            buflength: c_int,
            path: *const c_char,
            options: c_int,
        ) -> c_int;
        pub(super) fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
        pub(super) fn espeak_TextToPhonemes(
            textptr: *mut *const c_void,
            textmode: c_int,
            phonememode: c_int,
        ) -> *const c_char;
    }
}

/// One clause as espeak-ng delimited it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawClause {
    /// IPA phonemes espeak produced for the clause (no punctuation).
    pub phonemes: String,
    /// Byte range of the input text that makes up this clause, including its
    /// terminating punctuation and following whitespace. Ranges of successive
    /// clauses tile the input.
    pub range: std::ops::Range<usize>,
}

/// Handle to the initialised espeak-ng library; only reachable while holding
/// the global lock (see [`with_engine`]).
pub(crate) struct Engine {
    voice: Option<String>,
}

static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);

/// Runs `f` with exclusive access to espeak-ng, initialising it on first use.
pub(crate) fn with_engine<R>(
    f: impl FnOnce(&mut Engine) -> Result<R, PhonemizeError>,
) -> Result<R, PhonemizeError> {
    // A panic inside `f` cannot leave espeak half-way through a text (clauses()
    // never panics mid-loop), so a poisoned lock is safe to reuse.
    let mut guard = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        // SAFETY: called with the global lock held; a null path selects the
        // default data directory (or $ESPEAK_DATA_PATH).
        let rate = unsafe {
            ffi::espeak_Initialize(
                ffi::AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                std::ptr::null(),
                ffi::INITIALIZE_DONT_EXIT,
            )
        };
        if rate <= 0 {
            return Err(PhonemizeError::Init(rate));
        }
        *guard = Some(Engine { voice: None });
    }
    match guard.as_mut() {
        Some(engine) => f(engine),
        None => Err(PhonemizeError::Init(-1)),
    }
}

impl Engine {
    /// Selects an espeak voice (e.g. `en-us`); cached so repeated calls are free.
    pub(crate) fn set_voice(&mut self, voice: &str) -> Result<(), PhonemizeError> {
        if self.voice.as_deref() == Some(voice) {
            return Ok(());
        }
        let name =
            CString::new(voice).map_err(|_| PhonemizeError::UnknownVoice(voice.to_owned()))?;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { ffi::espeak_SetVoiceByName(name.as_ptr()) };
        if rc != ffi::EE_OK {
            self.voice = None;
            return Err(PhonemizeError::UnknownVoice(voice.to_owned()));
        }
        self.voice = Some(voice.to_owned());
        Ok(())
    }

    /// Converts `text` to IPA clause by clause, running espeak to the end of
    /// the input. NUL bytes are treated as spaces.
    pub(crate) fn clauses(&mut self, text: &str) -> Result<Vec<RawClause>, PhonemizeError> {
        let owned = CString::new(text.replace('\0', " ")).unwrap_or_default();
        let bytes = owned.as_bytes();
        let base = owned.as_ptr() as usize;
        let mut out = Vec::new();
        let mut ptr: *const c_void = owned.as_ptr().cast();
        let mut start = 0usize;
        // Every call consumes at least one byte; the bound only guards against
        // a misbehaving library.
        let mut budget = bytes.len() + 2;
        while !ptr.is_null() {
            if budget == 0 {
                return Err(PhonemizeError::Stalled);
            }
            budget -= 1;
            // SAFETY: `ptr` points into `owned` (NUL-terminated, alive for the
            // whole loop); espeak advances it within the buffer or sets it to
            // null at the end. The returned string is copied before the next call.
            let raw =
                unsafe { ffi::espeak_TextToPhonemes(&mut ptr, ffi::CHARS_UTF8, ffi::PHONEMES_IPA) };
            let phonemes = if raw.is_null() {
                String::new()
            } else {
                // SAFETY: espeak returns a NUL-terminated static buffer.
                unsafe { CStr::from_ptr(raw as *const c_char) }
                    .to_string_lossy()
                    .into_owned()
            };
            let end = if ptr.is_null() {
                bytes.len()
            } else {
                let offset = (ptr as usize).wrapping_sub(base);
                if offset > bytes.len() {
                    return Err(PhonemizeError::Stalled);
                }
                // espeak has read one character of the next clause (it keeps
                // it internally and replays it on the next call).
                overshoot_start(text, offset).max(start)
            };
            out.push(RawClause {
                phonemes,
                range: start..end,
            });
            start = end;
        }
        Ok(out)
    }
}

/// Start of the last character before byte `offset` (its look-ahead character).
fn overshoot_start(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let mut i = offset.saturating_sub(1);
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overshoot_handles_multibyte() {
        let s = "ab. Éc";
        // offset just after 'É' (2 bytes)
        let off = s.find('c').unwrap();
        assert_eq!(overshoot_start(s, off), s.find('É').unwrap());
        assert_eq!(overshoot_start(s, 0), 0);
    }
}
