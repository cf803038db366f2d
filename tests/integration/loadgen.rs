//! `vocalis loadgen` against the real server: a short two-call run on
//! `/ws/stt` and a one-call run on `/v1/listen` produce a JSON report with
//! finals, sane WER and no errors, and an SVG plot; a `--ramp` starts with
//! the call alone and reports a capacity consistent with its steps; `--tts` reports time to
//! first audio; remote targets are refused without `--allow-remote`.
//! Nothing here asserts on speed: latencies are only checked to be present.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{vocalis, ServerProcess};

/// Runs `vocalis loadgen ARGS… --out <dir>/report.json` (the key comes from
/// the server's data dir, like a developer's first run) and parses the report.
fn loadgen(data: &Path, server: &ServerProcess, args: &[&str]) -> Value {
    let out = data.join("report.json");
    let output: Output = vocalis(data)
        .arg("loadgen")
        .args(["--url", &format!("ws://{}", server.addr)])
        .args(["--server-pid", &server.pid().to_string()])
        .args(["--stagger-ms", "200"])
        .arg("--out")
        .arg(&out)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run vocalis loadgen");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loadgen failed:\n{stderr}");
    let text = std::fs::read_to_string(&out).expect("the report is written");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report JSON: {e}\n{text}"))
}

fn assert_clean_session(session: &Value) {
    assert_eq!(session["error"], Value::Null, "{session:#}");
    assert_eq!(
        session["errors"].as_array().map(Vec::len),
        Some(0),
        "{session:#}"
    );
    assert_eq!(session["rejected"], false, "{session:#}");
    assert_eq!(session["close_code"], 1000, "{session:#}");
    assert!(session["finals"].as_u64().unwrap() >= 1, "{session:#}");
    assert_eq!(session["missing_finals"], 0, "{session:#}");
    for utterance in session["utterances"].as_array().unwrap() {
        assert!(utterance["final_latency_s"].is_f64(), "{session:#}");
    }
    let wer = session["wer"].as_f64().expect("a WER");
    assert!((0.0..1.0).contains(&wer), "{session:#}");
}

#[test]
fn two_calls_on_ws_stt_and_one_on_listen_report_finals_wer_and_a_plot() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let plot = data.path().join("capacity.svg");
    let report = loadgen(
        data.path(),
        &server,
        &[
            "--calls",
            "2",
            "--utterances",
            "1",
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    assert_eq!(report["route"], "stt");
    assert_eq!(report["capacity"], Value::Null, "no ramp, no capacity");
    assert_eq!(report["server"]["type"], "health", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    let step = &steps[0];
    assert_eq!(step["calls"], 2);
    let sessions = step["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    sessions.iter().for_each(assert_clean_session);
    // Session 0 speaks with the Piper voice: Whisper must get it nearly right.
    let first = &sessions[0]["utterances"][0];
    assert!(
        first["voice"].as_str().unwrap().starts_with("piper:"),
        "{first:#}"
    );
    assert!(
        sessions[0]["wer"].as_f64().unwrap() <= 0.3,
        "{:#}",
        sessions[0]
    );
    // Session 1 speaks with an espeak-ng voice: the clip set has both.
    let second = sessions[1]["utterances"][0]["voice"].as_str().unwrap();
    assert!(second.starts_with("espeak:"), "{second}");
    assert_eq!(step["rejections"], 0);
    assert_eq!(step["sessions_with_errors"], 0);
    assert_eq!(step["final_latency_s"]["count"], 2, "{step:#}");
    assert!(step["final_latency_s"]["p95"].is_f64(), "{step:#}");
    assert!(step["server_cpu_s"].as_f64().unwrap() > 0.0, "{step:#}");
    let svg = std::fs::read_to_string(&plot).expect("the plot is written");
    assert!(
        svg.starts_with("<svg") && svg.contains("p95 final"),
        "{svg}"
    );

    let listen = loadgen(
        data.path(),
        &server,
        &["--route", "listen", "--calls", "1", "--utterances", "1"],
    );
    assert_eq!(listen["route"], "listen");
    let sessions = listen["steps"][0]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_clean_session(&sessions[0]);
    assert!(
        sessions[0]["wer"].as_f64().unwrap() <= 0.3,
        "{:#}",
        sessions[0]
    );
}

#[test]
fn ramp_starts_with_one_call_alone_and_reports_a_consistent_capacity() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let plot = data.path().join("ramp.svg");
    // One sentence in one voice: a single distinct call, so the ramp's
    // one-call step (every distinct call alone) is one short call.
    let report = loadgen(
        data.path(),
        &server,
        &[
            "--ramp",
            "--ramp-steps",
            "2",
            "--sentences",
            "1",
            "--utterances",
            "1",
            "--voices",
            "piper:en_US-joe-medium",
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    assert_eq!(report["distinct_calls"], 1, "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[0]["calls"], 1, "the ramp starts alone: {report:#}");
    assert_eq!(steps[0]["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(steps[0]["solo_wer"], steps[0]["wer"], "{:#}", steps[0]);
    assert!(steps.len() <= 2, "{report:#}");
    // Every step is judged against the same call alone.
    for step in steps {
        assert!(step["solo_wer"].is_f64(), "{step:#}");
        assert!(step["slo_ok"].is_boolean(), "{step:#}");
        assert_eq!(step["rounds"], 1, "one distinct call: one round per step");
        assert_eq!(
            step["slo_ok"],
            step["slo_failures"].as_array().unwrap().is_empty(),
            "{step:#}"
        );
    }
    // The ramp stops at the first failing step; capacity is the last passing N.
    let passing: Vec<u64> = steps
        .iter()
        .take_while(|s| s["slo_ok"] == true)
        .map(|s| s["calls"].as_u64().unwrap())
        .collect();
    assert_eq!(
        report["capacity"].as_u64(),
        passing.last().copied(),
        "{report:#}"
    );
    if passing.len() < steps.len() {
        assert_eq!(passing.len() + 1, steps.len(), "stops at the first failure");
    }
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn tts_run_reports_time_to_first_audio_and_underruns() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let report = loadgen(data.path(), &server, &["--tts", "--calls", "1"]);
    let tts = &report["tts"];
    assert_eq!(tts["sessions_count"], 1, "{report:#}");
    assert_eq!(tts["sessions_with_errors"], 0, "{tts:#}");
    assert_eq!(tts["rejections"], 0, "{tts:#}");
    let session = &tts["sessions"][0];
    assert!(
        session["time_to_first_audio_s"].as_f64().unwrap() > 0.0,
        "{tts:#}"
    );
    assert!(session["time_to_flushed_s"].is_f64(), "{tts:#}");
    assert!(session["audio_s"].as_f64().unwrap() > 5.0, "{tts:#}");
    assert!(session["underruns"].is_u64(), "{tts:#}");
    assert!(tts["time_to_first_audio_s"]["p50"].is_f64(), "{tts:#}");
}

#[test]
fn remote_targets_are_refused_without_allow_remote() {
    let data = tempfile::tempdir().unwrap();
    let output = vocalis(data.path())
        .args([
            "loadgen",
            "--url",
            "ws://192.0.2.1:8080",
            "--key",
            "sk_test",
        ])
        .output()
        .expect("run vocalis loadgen");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
