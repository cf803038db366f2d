//! The output file's tensor list: every whisper.cpp tensor, its shape and
//! type, and where its values come from in the CTranslate2 model (the
//! mapping in the parent module's documentation).

use super::*;

/// Where an output tensor's values come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// Rows `rows` of a CTranslate2 variable (all rows if `None`).
    Var {
        name: String,
        rows: Option<Range<u64>>,
    },
    /// Whisper's sinusoidal encoder embedding.
    Sinusoids { length: u64, channels: u64 },
}

/// One tensor of the output file.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub(super) name: String,
    pub(super) shape: Vec<u64>,
    pub(super) ttype: GgmlType,
    pub(super) src: Source,
}

/// Builds the output tensor list in whisper.cpp's naming, with shapes derived from `hp`.
pub(super) fn plan(m: &Ct2Model, hp: &WhisperHparams) -> Vec<Planned> {
    let d = hp.n_audio_state as u64;
    let td = hp.n_text_state as u64;
    let mut out = Vec::new();
    let var = |name: &str| Source::Var {
        name: name.to_owned(),
        rows: None,
    };
    let rows = |name: &str, r: Range<u64>| Source::Var {
        name: name.to_owned(),
        rows: Some(r),
    };
    let mut push = |name: String, shape: Vec<u64>, src: Source| {
        let ttype = if shape.len() < 2
            || name.ends_with("conv1.bias")
            || name.ends_with("conv2.bias")
            || name.ends_with("positional_embedding")
        {
            GgmlType::F32
        } else {
            GgmlType::F16
        };
        out.push(Planned {
            name,
            shape,
            ttype,
            src,
        });
    };

    let pe_src = if m.get("encoder/position_encodings/encodings").is_some() {
        var("encoder/position_encodings/encodings")
    } else {
        Source::Sinusoids {
            length: hp.n_audio_ctx as u64,
            channels: d,
        }
    };
    push(
        "encoder.positional_embedding".into(),
        vec![hp.n_audio_ctx as u64, d],
        pe_src,
    );
    let n_mels = hp.n_mels as u64;
    push(
        "encoder.conv1.weight".into(),
        vec![d, n_mels, 3],
        var("encoder/conv1/weight"),
    );
    push(
        "encoder.conv1.bias".into(),
        vec![d, 1],
        var("encoder/conv1/bias"),
    );
    push(
        "encoder.conv2.weight".into(),
        vec![d, d, 3],
        var("encoder/conv2/weight"),
    );
    push(
        "encoder.conv2.bias".into(),
        vec![d, 1],
        var("encoder/conv2/bias"),
    );

    // Linear layer (weight + bias) with optional row range of a fused source.
    let linear = |push: &mut dyn FnMut(String, Vec<u64>, Source),
                  dst: String,
                  src: String,
                  r: Range<u64>,
                  cols: u64,
                  with_bias: bool| {
        let n = r.end - r.start;
        push(
            format!("{dst}.weight"),
            vec![n, cols],
            rows(&format!("{src}/weight"), r.clone()),
        );
        if with_bias {
            push(
                format!("{dst}.bias"),
                vec![n],
                rows(&format!("{src}/bias"), r),
            );
        }
    };
    let norm =
        |push: &mut dyn FnMut(String, Vec<u64>, Source), dst: String, src: String, w: u64| {
            push(
                format!("{dst}.weight"),
                vec![w],
                var(&format!("{src}/gamma")),
            );
            push(format!("{dst}.bias"), vec![w], var(&format!("{src}/beta")));
        };

    for i in 0..hp.n_audio_layer {
        let s = format!("encoder/layer_{i}");
        let t = format!("encoder.blocks.{i}");
        let sa = format!("{s}/self_attention/linear_0");
        linear(
            &mut push,
            format!("{t}.attn.query"),
            sa.clone(),
            0..d,
            d,
            true,
        );
        linear(
            &mut push,
            format!("{t}.attn.key"),
            sa.clone(),
            d..2 * d,
            d,
            false,
        );
        linear(
            &mut push,
            format!("{t}.attn.value"),
            sa,
            2 * d..3 * d,
            d,
            true,
        );
        let o = format!("{s}/self_attention/linear_1");
        linear(&mut push, format!("{t}.attn.out"), o, 0..d, d, true);
        norm(
            &mut push,
            format!("{t}.attn_ln"),
            format!("{s}/self_attention/layer_norm"),
            d,
        );
        linear(
            &mut push,
            format!("{t}.mlp.0"),
            format!("{s}/ffn/linear_0"),
            0..4 * d,
            d,
            true,
        );
        linear(
            &mut push,
            format!("{t}.mlp.2"),
            format!("{s}/ffn/linear_1"),
            0..d,
            4 * d,
            true,
        );
        norm(
            &mut push,
            format!("{t}.mlp_ln"),
            format!("{s}/ffn/layer_norm"),
            d,
        );
    }
    norm(
        &mut push,
        "encoder.ln_post".into(),
        "encoder/layer_norm".into(),
        d,
    );

    push(
        "decoder.positional_embedding".into(),
        vec![hp.n_text_ctx as u64, td],
        var("decoder/position_encodings/encodings"),
    );
    push(
        "decoder.token_embedding.weight".into(),
        vec![hp.n_vocab as u64, td],
        var("decoder/embeddings/weight"),
    );
    for i in 0..hp.n_text_layer {
        let s = format!("decoder/layer_{i}");
        let t = format!("decoder.blocks.{i}");
        let sa = format!("{s}/self_attention/linear_0");
        linear(
            &mut push,
            format!("{t}.attn.query"),
            sa.clone(),
            0..td,
            td,
            true,
        );
        linear(
            &mut push,
            format!("{t}.attn.key"),
            sa.clone(),
            td..2 * td,
            td,
            false,
        );
        linear(
            &mut push,
            format!("{t}.attn.value"),
            sa,
            2 * td..3 * td,
            td,
            true,
        );
        let o = format!("{s}/self_attention/linear_1");
        linear(&mut push, format!("{t}.attn.out"), o, 0..td, td, true);
        norm(
            &mut push,
            format!("{t}.attn_ln"),
            format!("{s}/self_attention/layer_norm"),
            td,
        );
        let q = format!("{s}/attention/linear_0");
        linear(
            &mut push,
            format!("{t}.cross_attn.query"),
            q,
            0..td,
            td,
            true,
        );
        let kv = format!("{s}/attention/linear_1");
        linear(
            &mut push,
            format!("{t}.cross_attn.key"),
            kv.clone(),
            0..td,
            td,
            false,
        );
        linear(
            &mut push,
            format!("{t}.cross_attn.value"),
            kv,
            td..2 * td,
            td,
            true,
        );
        let o = format!("{s}/attention/linear_2");
        linear(&mut push, format!("{t}.cross_attn.out"), o, 0..td, td, true);
        norm(
            &mut push,
            format!("{t}.cross_attn_ln"),
            format!("{s}/attention/layer_norm"),
            td,
        );
        linear(
            &mut push,
            format!("{t}.mlp.0"),
            format!("{s}/ffn/linear_0"),
            0..4 * td,
            td,
            true,
        );
        linear(
            &mut push,
            format!("{t}.mlp.2"),
            format!("{s}/ffn/linear_1"),
            0..td,
            4 * td,
            true,
        );
        norm(
            &mut push,
            format!("{t}.mlp_ln"),
            format!("{s}/ffn/layer_norm"),
            td,
        );
    }
    norm(
        &mut push,
        "decoder.ln".into(),
        "decoder/layer_norm".into(),
        td,
    );
    out
}
