//! Unit tests of the model store (layout, receipts, pull decisions).

use super::*;

#[test]
fn downloads_sit_beside_the_root() {
    assert_eq!(
        downloads_for(Path::new("/home/u/.cache/vocalis/models")),
        PathBuf::from("/home/u/.cache/vocalis/downloads")
    );
    assert_eq!(downloads_for(Path::new("/")), PathBuf::from("/downloads"));
}

#[test]
fn missing_model_errors_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path().join("models"));
    let err = store.resolve("tiny.en").unwrap_err();
    assert!(matches!(err, ModelError::NotInstalled { .. }));
    assert!(
        err.to_string().contains("vocalis models pull tiny.en"),
        "{err}"
    );
    assert!(matches!(
        store.resolve("nope"),
        Err(ModelError::UnknownModel { .. })
    ));
    assert!(store.list().unwrap().is_empty());
    // Unknown names fail before any download.
    let err = store
        .pull(
            &["nope".into()],
            &PullOptions::default(),
            &crate::NoProgress,
        )
        .unwrap_err();
    assert!(matches!(err, ModelError::UnknownModel { .. }));
}

#[test]
fn damaged_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path().join("models"));
    let spec = store.manifest().get("silero-vad").unwrap().clone();
    let mdir = store.model_dir("silero-vad");
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(mdir.join("silero_vad.onnx"), b"abc").unwrap();
    let mut r = Receipt::new(&spec, None);
    r.files.insert(
        "silero_vad.onnx".into(),
        ReceiptFile {
            sha256: spec.sources[0].files[0].sha256.clone(),
            bytes: 3,
        },
    );
    r.save(&mdir).unwrap();
    // Sizes match, so resolve passes; verify hashes and reports corruption.
    let ok = store.resolve("silero-vad").unwrap();
    assert_eq!(ok.primary, mdir.join("silero_vad.onnx"));
    let err = store.verify("silero-vad", &crate::NoProgress).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("vocalis models pull silero-vad"));
    std::fs::write(mdir.join("silero_vad.onnx"), b"abcd").unwrap();
    let listed = store.list().unwrap();
    assert!(matches!(listed[0].status, InstallStatus::Damaged(_)));
    assert!(matches!(
        store.resolve("silero-vad"),
        Err(ModelError::Corrupt { .. })
    ));
}
