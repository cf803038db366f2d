//! Keeps `docs/protocol.md` in step with the wire types: every message type
//! the server sends on `/ws/stt`, `/ws/health` and `/v1/listen`, and every
//! field name in it (nested ones too), must appear in the document. A wire
//! change without a doc change fails this test.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::wire::deepgram::{
    Alternative, LiveChannel, Metadata, ModelInfo, Results, ResultsMetadata, SpeechStarted,
    UtteranceEnd, Word,
};
use crate::wire::sixtydb::{
    BillingSummary, ConnectionInfo, EffectiveSttConfig, SttEncoding, SttServerMessage, WireWord,
};

const DOC: &str = include_str!("../../../../docs/protocol.md");

fn keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                // Maps keyed by data (model UUIDs) are not field names.
                if !key.contains('-') {
                    out.insert(key.clone());
                }
                keys(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn sixtydb_examples() -> Vec<SttServerMessage> {
    let summary = BillingSummary {
        session_id: "s".into(),
        total_duration_seconds: 1.0,
        billed_seconds: 1.0,
        characters: None,
        rate_per_minute: Some(0.003),
        rate_per_1k_characters: None,
        total_cost: 0.0,
        currency: "USD",
        credit_balance: Some(1.0),
    };
    vec![
        SttServerMessage::Connecting {
            message: "m",
            timestamp: 1,
        },
        SttServerMessage::ConnectionEstablished {
            connection_established: ConnectionInfo {
                service: "stt",
                tenant: "t".into(),
                credit_balance: Some(1.0),
            },
        },
        SttServerMessage::SessionStarted {
            session_id: "s".into(),
            config: EffectiveSttConfig {
                encoding: SttEncoding::Mulaw,
                sample_rate: 8000,
                utterance_end_ms: 500,
                interim_results: true,
                continuous_mode: true,
                languages: Some(vec!["en".into()]),
            },
        },
        SttServerMessage::Connected {
            session_id: "s".into(),
        },
        SttServerMessage::SpeechStarted { timestamp: 1.0 },
        SttServerMessage::Transcription {
            text: "t".into(),
            confidence: 1.0,
            language: "en".into(),
            is_final: true,
            speech_final: true,
            sentence_id: 0,
            start: 0.0,
            end: 1.0,
            words: vec![WireWord {
                word: "t".into(),
                start: 0.0,
                end: 1.0,
                confidence: 1.0,
                speaker: Some(0),
            }],
            speaker: Some(0),
        },
        SttServerMessage::TestResponse { server_time: 1 },
        SttServerMessage::ConfigUpdated { languages: None },
        SttServerMessage::SessionStopped {
            billing_summary: summary,
        },
        SttServerMessage::Error {
            code: "c",
            error: "e".into(),
        },
    ]
}

fn deepgram_examples() -> Vec<Value> {
    let model = ModelInfo {
        name: "tiny.en".into(),
        version: "0".into(),
        arch: "whisper".into(),
    };
    let results = Results {
        kind: Default::default(),
        channel_index: vec![0, 1],
        duration: 1.0,
        start: 0.0,
        is_final: true,
        speech_final: true,
        channel: LiveChannel {
            alternatives: vec![Alternative {
                transcript: "t".into(),
                confidence: 1.0,
                words: vec![Word {
                    word: "t".into(),
                    start: 0.0,
                    end: 1.0,
                    confidence: 1.0,
                    punctuated_word: Some("T".into()),
                    speaker: None,
                    speaker_confidence: None,
                }],
            }],
        },
        metadata: ResultsMetadata {
            request_id: "r".into(),
            model_info: model.clone(),
            model_uuid: "u".into(),
        },
        from_finalize: false,
    };
    let metadata = Metadata {
        kind: Default::default(),
        transaction_key: "deprecated".into(),
        request_id: "r".into(),
        sha256: "h".into(),
        created: "c".into(),
        duration: 1.0,
        channels: 1,
        models: vec!["u".into()],
        model_info: [("0000-0000".to_owned(), model)].into_iter().collect(),
        warnings: Vec::new(),
    };
    vec![
        serde_json::to_value(results).unwrap(),
        serde_json::to_value(SpeechStarted {
            kind: Default::default(),
            channel: vec![0, 1],
            timestamp: 1.0,
        })
        .unwrap(),
        serde_json::to_value(UtteranceEnd {
            kind: Default::default(),
            channel: vec![0, 1],
            last_word_end: 1.0,
        })
        .unwrap(),
        serde_json::to_value(metadata).unwrap(),
    ]
}

fn missing_from_doc(examples: &[Value]) -> Vec<String> {
    let mut missing = Vec::new();
    for example in examples {
        let kind = example["type"].as_str().unwrap_or_default();
        if !DOC.contains(&format!("\"type\":\"{kind}\"")) {
            missing.push(format!("message type `{kind}`"));
        }
        let mut names = BTreeSet::new();
        keys(example, &mut names);
        for name in names {
            if !DOC.contains(&format!("\"{name}\"")) {
                missing.push(format!("field `{name}` of `{kind}`"));
            }
        }
    }
    missing
}

#[test]
fn every_sixtydb_stt_message_and_field_is_documented() {
    let examples: Vec<Value> = sixtydb_examples()
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    let missing = missing_from_doc(&examples);
    assert!(missing.is_empty(), "docs/protocol.md lacks: {missing:?}");
}

#[test]
fn every_deepgram_live_message_and_field_is_documented() {
    let missing = missing_from_doc(&deepgram_examples());
    assert!(missing.is_empty(), "docs/protocol.md lacks: {missing:?}");
}

#[test]
fn the_check_notices_an_undocumented_field() {
    let invented = serde_json::json!({"type": "transcription", "field_nobody_documented": 1});
    assert_eq!(missing_from_doc(&[invented]).len(), 1);
}
