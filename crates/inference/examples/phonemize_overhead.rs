//! What isolating espeak-ng in a child process costs per call: phonemizes
//! one sentence N times in process and through a worker process, and prints
//! the mean and median per call.
//!
//! ```text
//! cargo build --release -p vocalis
//! cargo run --release -p vocalis-inference --example phonemize_overhead -- \
//!     target/release/vocalis espeak-worker
//! ```

use std::time::{Duration, Instant};

use vocalis_inference::phonemize::{Phonemizer, PhonemizerConfig, WorkerCommand};

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog near the river bank, twice.";
const RUNS: usize = 100;

fn measure(phonemizer: &Phonemizer) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = phonemizer.phonemize(SENTENCE).expect("phonemize");
        times.push(start.elapsed());
        assert!(!out.is_empty());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / RUNS as u32;
    (mean, times[RUNS / 2])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: phonemize_overhead WORKER_PROGRAM [ARGS…]");
        std::process::exit(2);
    };
    let command = WorkerCommand::new(program, args);
    let start = Instant::now();
    let isolated = Phonemizer::new(&PhonemizerConfig::Isolated(command), "en-us").unwrap();
    println!("worker start (spawn + espeak init): {:?}", start.elapsed());
    let in_process = Phonemizer::new(&PhonemizerConfig::InProcess, "en-us").unwrap();
    let (mean, median) = measure(&in_process);
    println!("in process: mean {mean:?}, median {median:?} per call ({RUNS} runs)");
    let (mean, median) = measure(&isolated);
    println!("isolated:   mean {mean:?}, median {median:?} per call ({RUNS} runs)");
}
