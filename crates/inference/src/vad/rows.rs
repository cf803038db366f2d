//! Whole-audio speech probabilities in parallel rows.
//!
//! Run one window at a time, Silero spends most of its ~0.07 ms per window on
//! ONNX Runtime's per-run overhead, not on arithmetic. A whole recording need
//! not be read in one pass, though: it is cut into rows that are advanced
//! together as one ONNX batch, one run per step, and the rows can be split
//! between sessions on several threads.
//!
//! Each row starts from a fresh recurrent state, so it first re-reads the
//! second before its share ([`WARM_WINDOWS`]) and drops those probabilities;
//! by then the state has settled and the row's probabilities match a single
//! pass closely (speech boundaries within a frame or two), not exactly.
//! [`super::VadStream`] stays sequential and exact.

use super::{SileroModel, VadError, FRAME_SAMPLES};

/// Windows re-read (and dropped) at the start of every row but the first.
pub const WARM_WINDOWS: usize = 32;
/// A row's share of the audio when there is enough for several (2 s).
const ROW_WINDOWS: usize = 64;
/// At most this many rows in one batch.
const MAX_ROWS: usize = 16;

/// Where one row starts reading and which of its probabilities it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    /// First window read (warm-up included).
    first: usize,
    /// First window kept.
    keep: usize,
}

/// Rows for `windows` windows, and the steps each runs.
fn plan(windows: usize) -> (Vec<Row>, usize) {
    let count = windows.div_ceil(ROW_WINDOWS).clamp(1, MAX_ROWS);
    let share = windows.div_ceil(count);
    let rows: Vec<Row> = (0..count)
        .map(|r| {
            let keep = r * share;
            Row {
                first: keep.saturating_sub(WARM_WINDOWS),
                keep,
            }
        })
        .collect();
    let steps = if count == 1 {
        windows
    } else {
        share + WARM_WINDOWS
    };
    (rows, steps)
}

/// The speech probability of every 512-sample window of `audio` (the last
/// partial window zero-padded), read in rows split over up to `threads`
/// sessions.
pub fn probabilities(
    model: &SileroModel,
    audio: &[f32],
    threads: usize,
) -> Result<Vec<f32>, VadError> {
    let windows = audio.len().div_ceil(FRAME_SAMPLES);
    if windows == 0 {
        return Ok(Vec::new());
    }
    let (rows, steps) = plan(windows);
    let firsts: Vec<usize> = rows.iter().map(|r| r.first).collect();
    let mut read: Vec<Vec<f32>> = (0..rows.len()).map(|_| Vec::with_capacity(steps)).collect();
    let groups = threads.clamp(1, rows.len());
    if groups == 1 {
        model.run_rows(audio, &firsts, steps, &mut read)?;
    } else {
        let per = rows.len().div_ceil(groups);
        std::thread::scope(|scope| {
            let handles: Vec<_> = firsts
                .chunks(per)
                .zip(read.chunks_mut(per))
                .map(|(firsts, out)| scope.spawn(move || model.run_rows(audio, firsts, steps, out)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        })?;
    }
    let mut probs = Vec::with_capacity(windows);
    for (r, (row, got)) in rows.iter().zip(&read).enumerate() {
        let end = rows.get(r + 1).map_or(windows, |next| next.keep);
        let skip = row.keep - row.first;
        probs.extend(got.iter().skip(skip).take(end - row.keep));
    }
    Ok(probs)
}

/// Every window's probability in one sequential pass (one row from window
/// 0): exactly what a [`super::VadStream`] fed the same audio computes.
pub fn sequential(model: &SileroModel, audio: &[f32]) -> Result<Vec<f32>, VadError> {
    let windows = audio.len().div_ceil(FRAME_SAMPLES);
    let mut read = vec![Vec::with_capacity(windows)];
    model.run_rows(audio, &[0], windows, &mut read)?;
    Ok(read.pop().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cover_every_window_once() {
        for windows in [1, 63, 64, 65, 250, 312, 2219, 100_000] {
            let (rows, steps) = plan(windows);
            assert!(rows.len() <= MAX_ROWS);
            assert_eq!(rows[0], Row { first: 0, keep: 0 });
            for (r, row) in rows.iter().enumerate() {
                let end = rows.get(r + 1).map_or(windows, |n| n.keep);
                assert!(row.keep <= end, "{windows}: {rows:?}");
                // Every kept window is read within the row's steps.
                assert!(end - row.first <= steps, "{windows}: {rows:?} {steps}");
                if r > 0 {
                    assert_eq!(row.keep - row.first, WARM_WINDOWS.min(row.keep));
                }
            }
        }
    }
}
