//! The isolated phonemizer against real child processes.
//!
//! This binary has no libtest harness (`harness = false`) because it is also
//! its own espeak worker: run with `--espeak-worker` it serves the worker
//! protocol with the real espeak-ng code ([`worker::run_worker`]), exactly as
//! `vocalis espeak-worker` does. Without it, it runs the tests below (all, or
//! those whose name contains one of the arguments). Hostile text here is
//! sent *raw* (no [`bound_words`]) to prove a real espeak-ng abort costs one
//! request only.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use vocalis_inference::phonemize::{
    bound_words, phonemize, worker, PhonemizeError, Phonemizer, PhonemizerConfig, WorkerCommand,
    MAX_PHONEMIZE_CHARS,
};

const WORKER_FLAG: &str = "--espeak-worker";

fn real_worker() -> PhonemizerConfig {
    let exe = std::env::current_exe().expect("test binary path");
    PhonemizerConfig::Isolated(WorkerCommand::new(exe, [WORKER_FLAG]))
}

fn sh(script: &str) -> WorkerCommand {
    WorkerCommand::new("sh", ["-c", script])
}

fn hostile(pairs: usize) -> String {
    format!("Hello {} world.", "s'".repeat(pairs))
}

fn phonemize_isolated_matches_in_process() {
    let isolated = Phonemizer::new(&real_worker(), "en-us").unwrap();
    let text = "Hello world. It's James's rock'n'roll, isn't it? Twenty-one!";
    let want = phonemize(text, "en-us").unwrap();
    for _ in 0..3 {
        assert_eq!(isolated.phonemize(text).unwrap(), want);
    }
    assert!(matches!(
        Phonemizer::new(&real_worker(), "no-such-voice-zz"),
        Err(PhonemizeError::UnknownVoice(_))
    ));
}

fn phonemize_isolated_raw_hostile_text_crashes_only_its_request() {
    let isolated = Phonemizer::new(&real_worker(), "en-us").unwrap();
    let hello = isolated.phonemize("Hello world.").unwrap();
    // The raw string makes libespeak-ng abort (`*** buffer overflow
    // detected ***`): the worker dies, the request gets a typed error...
    match isolated.phonemize(&hostile(100)) {
        Err(PhonemizeError::WorkerCrashed { status }) => {
            assert!(status.contains("signal"), "{status}");
        }
        other => panic!("expected WorkerCrashed, got {other:?}"),
    }
    // ...and the next request on the same phonemizer gets a new worker.
    assert_eq!(isolated.phonemize("Hello world.").unwrap(), hello);
    // Bounded words never reach the crash.
    for pairs in [80, 100, 300] {
        let text = hostile(pairs);
        let out = isolated.phonemize(&bound_words(&text)).unwrap();
        assert!(!out.is_empty(), "{pairs}");
    }
    assert_eq!(isolated.phonemize("Hello world.").unwrap(), hello);
}

fn phonemize_isolated_aborting_worker_is_a_typed_error() {
    let dying = PhonemizerConfig::Isolated(sh("kill -ABRT $$"));
    match Phonemizer::new(&dying, "en-us") {
        Err(PhonemizeError::WorkerCrashed { status }) => {
            assert!(status.contains("6"), "{status}");
        }
        other => panic!("expected WorkerCrashed, got {other:?}"),
    }
    // A good worker right after still works.
    let good = Phonemizer::new(&real_worker(), "en-us").unwrap();
    assert!(!good.phonemize("ok").unwrap().is_empty());
}

fn phonemize_isolated_silent_worker_times_out() {
    let mut command = sh("exec sleep 60");
    command.timeout = Duration::from_millis(200);
    command.timeout_per_char = Duration::ZERO;
    match Phonemizer::new(&PhonemizerConfig::Isolated(command), "en-us") {
        Err(PhonemizeError::WorkerTimeout { after }) => {
            assert_eq!(after, Duration::from_millis(200));
        }
        other => panic!("expected WorkerTimeout, got {other:?}"),
    }
}

fn phonemize_isolated_garbage_is_a_protocol_error() {
    let garbage = PhonemizerConfig::Isolated(sh("printf xxxxxxxx; exec cat >/dev/null"));
    assert!(matches!(
        Phonemizer::new(&garbage, "en-us"),
        Err(PhonemizeError::WorkerProtocol(_))
    ));
    let missing = WorkerCommand::new("/nonexistent/vocalis-espeak-worker", ["x"]);
    assert!(matches!(
        Phonemizer::new(&PhonemizerConfig::Isolated(missing), "en-us"),
        Err(PhonemizeError::WorkerSpawn { .. })
    ));
}

fn phonemize_text_longer_than_the_limit_is_refused() {
    let isolated = Phonemizer::new(&real_worker(), "en-us").unwrap();
    let long = "word ".repeat(MAX_PHONEMIZE_CHARS / 5 + 1);
    match isolated.phonemize(&long) {
        Err(e @ PhonemizeError::TextTooLong { .. }) => assert!(e.is_text_fault()),
        other => panic!("expected TextTooLong, got {other:?}"),
    }
}

fn phonemize_fuzz_seeds_survive_the_bounds() {
    use vocalis_inference::normalize::normalize_text;
    use vocalis_inference::tts::split::{sentences, DEFAULT_MAX_CHARS};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/phonemize");
    let isolated = Phonemizer::new(&real_worker(), "en-us").unwrap();
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/phonemize") {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for sentence in sentences(&normalize_text(&text), DEFAULT_MAX_CHARS) {
            let result = isolated.phonemize(&bound_words(sentence));
            assert!(
                result.is_ok(),
                "{}: {sentence:?}: {result:?}",
                path.display()
            );
        }
        seeds += 1;
    }
    assert!(seeds >= 10, "{seeds} seeds in {}", dir.display());
}

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "phonemize_isolated_matches_in_process",
        phonemize_isolated_matches_in_process,
    ),
    (
        "phonemize_isolated_raw_hostile_text_crashes_only_its_request",
        phonemize_isolated_raw_hostile_text_crashes_only_its_request,
    ),
    (
        "phonemize_isolated_aborting_worker_is_a_typed_error",
        phonemize_isolated_aborting_worker_is_a_typed_error,
    ),
    (
        "phonemize_isolated_silent_worker_times_out",
        phonemize_isolated_silent_worker_times_out,
    ),
    (
        "phonemize_isolated_garbage_is_a_protocol_error",
        phonemize_isolated_garbage_is_a_protocol_error,
    ),
    (
        "phonemize_fuzz_seeds_survive_the_bounds",
        phonemize_fuzz_seeds_survive_the_bounds,
    ),
    (
        "phonemize_text_longer_than_the_limit_is_refused",
        phonemize_text_longer_than_the_limit_is_refused,
    ),
];

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == WORKER_FLAG) {
        return match worker::run_worker() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("espeak worker: {error}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in selected {
        let ok = catch_unwind(AssertUnwindSafe(test)).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    if failed.is_empty() {
        println!("\ntest result: ok.");
        std::process::ExitCode::SUCCESS
    } else {
        println!("\ntest result: FAILED. failures: {failed:?}");
        std::process::ExitCode::FAILURE
    }
}
