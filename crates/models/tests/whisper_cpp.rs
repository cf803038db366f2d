//! The converted whisper models are what whisper.cpp expects: the tensor set and shapes match
//! whisper.cpp's loader (`whisper_model_load`), and whisper.cpp (through whisper-rs) loads the
//! f16 and q8_0 files and transcribes synthetic speech. Needs `tiny.en` and `base` installed
//! (`vocalis models pull tiny.en base`); fails, naming that command, when they are not.

mod common;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use vocalis_models::convert::sinusoids;
use vocalis_models::ggml::{GgmlFile, GgmlType};
use vocalis_models::mel::mel_filters;
use vocalis_models::{quantize_file, NoProgress, Quantization, ResolvedModel};

/// Whisper dimensions from the model card, used to build the loader's expectations.
struct Dims {
    n_vocab: u64,
    state: u64,
    heads: i32,
    layers: u64,
    regular_tokens: usize,
}

const TINY_EN: Dims = Dims {
    n_vocab: 51864,
    state: 384,
    heads: 6,
    layers: 4,
    regular_tokens: 50256,
};

const BASE: Dims = Dims {
    n_vocab: 51865,
    state: 512,
    heads: 8,
    layers: 6,
    regular_tokens: 50257,
};

/// Expected `(name, row-major shape, type)` of every tensor, transcribed from whisper.cpp's
/// `whisper_model_load` (`ggml_new_tensor_*` calls, whose ne order is reversed here) and
/// `ASR_TENSOR_NAMES`. `w` is the weight type (F16 or Q8_0); conv weights stay F16, 1-D tensors,
/// conv biases and positional embeddings F32.
fn expected(d: &Dims, w: GgmlType) -> Vec<(String, Vec<u64>, GgmlType)> {
    use GgmlType::{F16, F32};
    let s = d.state;
    let mut v: Vec<(String, Vec<u64>, GgmlType)> = vec![
        ("encoder.positional_embedding".into(), vec![1500, s], F32),
        ("encoder.conv1.weight".into(), vec![s, 80, 3], F16),
        ("encoder.conv1.bias".into(), vec![s, 1], F32),
        ("encoder.conv2.weight".into(), vec![s, s, 3], F16),
        ("encoder.conv2.bias".into(), vec![s, 1], F32),
        ("encoder.ln_post.weight".into(), vec![s], F32),
        ("encoder.ln_post.bias".into(), vec![s], F32),
        ("decoder.positional_embedding".into(), vec![448, s], F32),
        (
            "decoder.token_embedding.weight".into(),
            vec![d.n_vocab, s],
            w,
        ),
        ("decoder.ln.weight".into(), vec![s], F32),
        ("decoder.ln.bias".into(), vec![s], F32),
    ];
    let block = |v: &mut Vec<(String, Vec<u64>, GgmlType)>, p: String, attn: &str| {
        v.push((format!("{p}.{attn}_ln.weight"), vec![s], F32));
        v.push((format!("{p}.{attn}_ln.bias"), vec![s], F32));
        v.push((format!("{p}.{attn}.query.weight"), vec![s, s], w));
        v.push((format!("{p}.{attn}.query.bias"), vec![s], F32));
        v.push((format!("{p}.{attn}.key.weight"), vec![s, s], w));
        v.push((format!("{p}.{attn}.value.weight"), vec![s, s], w));
        v.push((format!("{p}.{attn}.value.bias"), vec![s], F32));
        v.push((format!("{p}.{attn}.out.weight"), vec![s, s], w));
        v.push((format!("{p}.{attn}.out.bias"), vec![s], F32));
    };
    let mlp = |v: &mut Vec<(String, Vec<u64>, GgmlType)>, p: String| {
        v.push((format!("{p}.mlp_ln.weight"), vec![s], F32));
        v.push((format!("{p}.mlp_ln.bias"), vec![s], F32));
        v.push((format!("{p}.mlp.0.weight"), vec![4 * s, s], w));
        v.push((format!("{p}.mlp.0.bias"), vec![4 * s], F32));
        v.push((format!("{p}.mlp.2.weight"), vec![s, 4 * s], w));
        v.push((format!("{p}.mlp.2.bias"), vec![s], F32));
    };
    for i in 0..d.layers {
        block(&mut v, format!("encoder.blocks.{i}"), "attn");
        mlp(&mut v, format!("encoder.blocks.{i}"));
        block(&mut v, format!("decoder.blocks.{i}"), "attn");
        block(&mut v, format!("decoder.blocks.{i}"), "cross_attn");
        mlp(&mut v, format!("decoder.blocks.{i}"));
    }
    // whisper.cpp's tensor budget: 10 + 15 + 15·n_audio_layer + 24·n_text_layer is an upper bound.
    assert!(v.len() as u64 <= 25 + 39 * d.layers);
    v.sort();
    v
}

fn parse(path: &Path) -> (GgmlFile, BufReader<File>) {
    let mut r = BufReader::new(File::open(path).expect("open ggml"));
    let f = GgmlFile::parse(&mut r).expect("parse ggml");
    (f, r)
}

fn check_layout(path: &Path, d: &Dims, w: GgmlType, ftype: i32) {
    let (f, _) = parse(path);
    let hp = f.header.hparams;
    assert_eq!(
        (
            hp.n_vocab as u64,
            hp.n_audio_ctx,
            hp.n_audio_state as u64,
            hp.n_audio_head,
            hp.n_audio_layer as u64
        ),
        (d.n_vocab, 1500, d.state, d.heads, d.layers)
    );
    assert_eq!(
        (
            hp.n_text_ctx,
            hp.n_text_state as u64,
            hp.n_text_head,
            hp.n_text_layer as u64,
            hp.n_mels
        ),
        (448, d.state, d.heads, d.layers, 80)
    );
    assert_eq!(hp.ftype, ftype);
    assert_eq!(hp.is_multilingual(), d.n_vocab >= 51865);
    assert_eq!(f.header.mel, mel_filters(80));
    assert_eq!(f.header.vocab.len(), d.regular_tokens);
    assert_eq!(f.header.vocab[0], b"!");
    assert_eq!(f.header.vocab[220], b" ");
    let mut got: Vec<(String, Vec<u64>, GgmlType)> = f
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape(), t.ttype))
        .collect();
    got.sort();
    assert_eq!(got, expected(d, w));
}

fn f32s(bytes: &[u8], t: GgmlType) -> Vec<f32> {
    match t {
        GgmlType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        GgmlType::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        GgmlType::Q8_0 => vocalis_models::quant::dequantize_q8_0(bytes),
    }
}

fn tensor(path: &Path, name: &str) -> Vec<f32> {
    let (f, mut r) = parse(path);
    let t = f.tensors.iter().find(|t| t.name == name).expect(name);
    f32s(&GgmlFile::read_data(&mut r, t).expect("read"), t.ttype)
}

fn quantized(model: &ResolvedModel, dir: &Path) -> std::path::PathBuf {
    // Use the store's q8_0 file when installed; otherwise quantize the installed f16 model.
    if let Ok(p) = model.ggml(Some(Quantization::Q8_0)) {
        return p.to_owned();
    }
    let out = dir.join(Quantization::Q8_0.file_name());
    quantize_file(&model.primary, &out, Quantization::Q8_0, &NoProgress).expect("quantize");
    out
}

const SENTENCE: &str =
    "Hello world. Speech recognition works offline. This is a simple test of the system.";
const KEYS: &[&str] = &[
    "world",
    "recognition",
    "works",
    "offline",
    "simple",
    "test",
    "system",
];

#[test]
fn tiny_en_layout_matches_whisper_cpp_loader() {
    let tiny = common::require("tiny.en");
    check_layout(&tiny.primary, &TINY_EN, GgmlType::F16, 1);
    // The stored encoder embedding is Whisper's sinusoids (validates the fallback too).
    let pe = tensor(&tiny.primary, "encoder.positional_embedding");
    let reference = sinusoids(1500, 384);
    let max = pe
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max < 2e-3, "encoder positional embedding differs by {max}");
}

#[test]
fn base_layout_matches_whisper_cpp_loader() {
    let base = common::require("base");
    check_layout(&base.primary, &BASE, GgmlType::F16, 1);
}

#[test]
fn q8_0_layout_and_values() {
    let tiny = common::require("tiny.en");
    let dir = common::scratch();
    let q = quantized(&tiny, dir.path());
    check_layout(&q, &TINY_EN, GgmlType::Q8_0, 2007);
    let size = std::fs::metadata(&q).unwrap().len();
    let f16_size = std::fs::metadata(&tiny.primary).unwrap().len();
    assert!(
        size < f16_size * 6 / 10,
        "q8_0 {size} bytes vs f16 {f16_size}"
    );
    let a = tensor(&tiny.primary, "decoder.blocks.0.mlp.0.weight");
    let b = tensor(&q, "decoder.blocks.0.mlp.0.weight");
    let amax = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(err <= amax / 127.0, "max q8_0 error {err} (amax {amax})");
}

#[test]
fn whisper_cpp_transcribes_tiny_en_f16_and_q8_0() {
    let tiny = common::require("tiny.en");
    let dir = common::scratch();
    let audio = common::speech(dir.path(), SENTENCE);
    let t = common::transcribe(&tiny.primary, &audio, "en");
    eprintln!("tiny.en f16: {}", t.text);
    common::assert_words(&t.text, KEYS);
    let q = quantized(&tiny, dir.path());
    let t = common::transcribe(&q, &audio, "en");
    eprintln!("tiny.en q8_0: {}", t.text);
    common::assert_words(&t.text, KEYS);
}

#[test]
fn whisper_cpp_transcribes_base_f16_and_q8_0_with_language_detection() {
    let base = common::require("base");
    let dir = common::scratch();
    let audio = common::speech(dir.path(), SENTENCE);
    let t = common::transcribe(&base.primary, &audio, "auto");
    eprintln!("base f16 (auto): {}", t.text);
    assert_eq!(t.lang_id, 0, "base should detect English");
    common::assert_words(&t.text, KEYS);
    let q = quantized(&base, dir.path());
    let t = common::transcribe(&q, &audio, "en");
    eprintln!("base q8_0: {}", t.text);
    common::assert_words(&t.text, KEYS);
}

/// sha256 of the converter's output for the pinned sources (converter
/// `vocalis ct2-whisper-ggml 1`). A change here means the converter's output changed: bump
/// `CONVERTER_VERSION` and update these after checking the transcription tests.
const GOLDEN: &[(&str, &str, &str)] = &[
    (
        "tiny.en",
        "ggml-model.bin",
        "49b35c0f0fa5e8fe48396546d4c3308e7cc3e8a50589273a99710c76fd373fdf",
    ),
    (
        "tiny.en",
        "ggml-model-q8_0.bin",
        "d243ee7babe91b651f98b9fcffb3ea732be9e063f041dec8a0b2bc6bed25927c",
    ),
    (
        "base",
        "ggml-model.bin",
        "c0db470711f9496ec80feedb59b0916f10a0c301218e7254a61e7d3d1890dc6d",
    ),
    (
        "base",
        "ggml-model-q8_0.bin",
        "81cfccb75eb8eb4eecf9829be7448c60e3d4abcb5bdb0f00e2c8a726f7ae2f25",
    ),
];

#[test]
fn conversion_output_is_reproducible() {
    let dir = common::scratch();
    for name in ["tiny.en", "base"] {
        let model = common::require(name);
        let q = quantized(&model, dir.path());
        for (file, path) in [
            ("ggml-model.bin", model.primary.clone()),
            ("ggml-model-q8_0.bin", q),
        ] {
            let want = GOLDEN
                .iter()
                .find(|(n, f, _)| *n == name && *f == file)
                .map(|g| g.2)
                .unwrap();
            let got = vocalis_models::hash::sha256_file(&path, &mut |_| {}).unwrap();
            assert_eq!(got, want, "{name}/{file}");
        }
    }
}
