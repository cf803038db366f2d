//! ONNX Runtime bootstrap: typed errors before/after `init`, idempotency.
//! (Own test binary: it needs a process where ORT is not yet loaded.)

mod tts_support;
use tts_support as common;

use vocalis_inference::runtime::{self, RuntimeError};
use vocalis_inference::SessionOptions;

#[test]
fn init_errors_and_idempotency() {
    let model = common::voice_files().onnx;
    assert!(!runtime::is_initialized());
    assert!(matches!(
        runtime::build_session(&model, &SessionOptions::default()),
        Err(RuntimeError::NotInitialized)
    ));

    let missing = common::store_root().join("onnxruntime/does-not-exist.so");
    let err = runtime::init(&missing).unwrap_err();
    assert!(matches!(err, RuntimeError::LibraryMissing { .. }));
    assert!(
        err.to_string().contains("vocalis models pull onnxruntime"),
        "{err}"
    );
    assert!(!runtime::is_initialized());

    let lib = common::ort_library();
    runtime::init(&lib).unwrap();
    runtime::init(&lib).unwrap();
    assert!(runtime::is_initialized());

    let no_model = common::store_root().join("nope/nope.onnx");
    assert!(matches!(
        runtime::build_session(&no_model, &SessionOptions::default()),
        Err(RuntimeError::ModelMissing { .. })
    ));
    let session = runtime::build_session(&model, &SessionOptions::default()).unwrap();
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    assert!(inputs.contains(&"input"), "{inputs:?}");

    let cuda = SessionOptions {
        execution_provider: vocalis_inference::ExecutionProvider::Cuda { device_id: 0 },
        ..SessionOptions::default()
    };
    if cfg!(not(feature = "cuda")) {
        assert!(matches!(
            runtime::build_session(&model, &cuda),
            Err(RuntimeError::ProviderUnavailable("cuda"))
        ));
    }
}
