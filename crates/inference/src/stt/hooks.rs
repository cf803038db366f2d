//! Cancellation and progress callbacks for `whisper_full`.
//!
//! whisper-rs' "safe" closure setters leak the boxed closure on every call
//! and its abort trampoline reads the box with the wrong type, so this module
//! installs its own `extern "C"` trampolines instead. This is the only
//! `unsafe` code of the STT side; it is sound because:
//!
//! * the user-data pointer refers to a [`HookData`] on the stack of
//!   [`full_with_hooks`], which outlives the `whisper_full` call it is
//!   handed to (the params are consumed by that call and never reused);
//! * the callbacks only take `&` references to `Sync` closures, so being
//!   invoked from a ggml worker thread is fine;
//! * panics are caught before they can unwind into C.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use whisper_rs::{FullParams, WhisperError, WhisperState, WhisperSysContext, WhisperSysState};

/// Callbacks polled while whisper.cpp works.
#[derive(Clone, Copy, Default)]
pub struct DecodeHooks<'a> {
    /// Returns `true` to abort. Polled between ggml graph computations (a few
    /// times per encoder/decoder pass), so aborts take effect within
    /// milliseconds.
    pub cancel: Option<&'a (dyn Fn() -> bool + Sync)>,
    /// Receives progress in percent (0–100) of the audio's seek loop.
    pub progress: Option<&'a (dyn Fn(u8) + Sync)>,
}

impl std::fmt::Debug for DecodeHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeHooks")
            .field("cancel", &self.cancel.is_some())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

struct HookData<'a> {
    hooks: DecodeHooks<'a>,
}

unsafe extern "C" fn abort_trampoline(user_data: *mut c_void) -> bool {
    // SAFETY: `user_data` is the `HookData` installed by `full_with_hooks`,
    // alive for the whole `whisper_full` call.
    let data = unsafe { &*(user_data as *const HookData<'_>) };
    match data.hooks.cancel {
        Some(cancel) => catch_unwind(AssertUnwindSafe(cancel)).unwrap_or(true),
        None => false,
    }
}

unsafe extern "C" fn progress_trampoline(
    _ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    progress: c_int,
    user_data: *mut c_void,
) {
    // SAFETY: as in `abort_trampoline`.
    let data = unsafe { &*(user_data as *const HookData<'_>) };
    if let Some(report) = data.hooks.progress {
        let pct = progress.clamp(0, 100) as u8;
        let _ = catch_unwind(AssertUnwindSafe(|| report(pct)));
    }
}

/// Runs `whisper_full` on `state` with `hooks` installed.
pub(crate) fn full_with_hooks(
    state: &mut WhisperState,
    mut params: FullParams<'_, '_>,
    audio: &[f32],
    hooks: DecodeHooks<'_>,
) -> Result<(), WhisperError> {
    let data = HookData { hooks };
    let ptr = &data as *const HookData<'_> as *mut c_void;
    // SAFETY: see the module docs; `data` outlives `state.full`, which
    // consumes `params`, so the pointer cannot be used after it returns.
    unsafe {
        if data.hooks.cancel.is_some() {
            params.set_abort_callback(Some(abort_trampoline));
            params.set_abort_callback_user_data(ptr);
        }
        if data.hooks.progress.is_some() {
            params.set_progress_callback(Some(progress_trampoline));
            params.set_progress_callback_user_data(ptr);
        }
    }
    // `data` lives until the end of this function, i.e. past `full`.
    state.full(params, audio)
}
