"""Turns the JSON results of scripts/bench-peers.sh into Markdown tables.

    python report.py RESULTS_DIR        # writes RESULTS_DIR/peers.md and RESULTS_DIR/summary.json

WER: jiwer over the whole clip set (corpus-level: all errors / all reference
words) after the same normalisation on both sides: lower case, punctuation
(including apostrophes and hyphens) removed, whitespace collapsed. Times are
the median of the repetitions per clip; totals are sums of those medians.
Ratios are Vocalis / peer: below 1 means Vocalis took less time.
"""

import json
import os
import re
import statistics
import sys

import jiwer


def load(d, name):
    path = os.path.join(d, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def norm(text):
    text = text.lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def refs_of(path):
    refs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 4:
                refs[cols[0]] = cols[3]
    return refs


def wer(refs, pairs):
    """pairs: [(clip id, hypothesis)] -> WER % over the set."""
    r = [norm(refs[cid]) for cid, _ in pairs]
    h = [norm(hyp) for _, hyp in pairs]
    return 100.0 * jiwer.wer(r, h)


def med(xs):
    return statistics.median(xs)


def fmt_ratio(x):
    return f"{x:.2f}×"


def checks(run):
    """'clean/measurements (attempts)': measurements free of contention by other processes."""
    n = run.get("measurements")
    if n is None:
        return "–"
    return f"{n - run['contended']}/{n} ({run['attempts']})"


def stt_summary(run, refs):
    clips = run["clips"]
    total = sum(med(c["seconds"]) for c in clips)
    audio = sum(c["duration_s"] for c in clips)
    return {
        "label": run["label"],
        "total_s": total,
        "audio_s": audio,
        "rtf": total / audio,
        "wer": wer(refs, [(c["id"], c["text"]) for c in clips]),
        "load_s": run.get("load_s"),
        "checks": checks(run),
        "per_clip": {c["id"]: (med(c["seconds"]), c["duration_s"], c["text"]) for c in clips},
    }


def stt_section(title, note, runs, baseline, refs, out, summary, key):
    runs = [r for r in runs if r is not None]
    if baseline is None or not runs:
        out.append(f"### {title}\n\n(not run)\n")
        return
    base = stt_summary(baseline, refs)
    sums = [stt_summary(r, refs) for r in runs]
    out.append(f"### {title}\n")
    if note:
        out.append(note + "\n")
    out.append("| engine | inference s (total) | RTF | WER % | time ratio vs faster-whisper | model load s | clean (attempts) |")
    out.append("|---|---|---|---|---|---|---|")
    for s in sums + [base]:
        ratio = s["total_s"] / base["total_s"]
        out.append(
            f"| {s['label']} | {s['total_s']:.2f} | {s['rtf']:.3f} | {s['wer']:.1f} | "
            f"{fmt_ratio(ratio) if s is not base else '1.00× (baseline)'} | {s['load_s']:.2f} | {s['checks']} |"
        )
    out.append("")
    header = "| clip | audio s | " + " | ".join(f"{s['label']} s" for s in sums) + f" | {base['label']} s | " + " | ".join(
        f"ratio {s['label']}" for s in sums
    ) + " |"
    out.append(header)
    out.append("|" + "---|" * (3 + 2 * len(sums)))
    for cid, (bs, dur, _) in base["per_clip"].items():
        cells = [f"{s['per_clip'][cid][0]:.3f}" for s in sums if cid in s["per_clip"]]
        ratios = [fmt_ratio(s["per_clip"][cid][0] / bs) for s in sums if cid in s["per_clip"]]
        out.append(f"| {cid} | {dur:.1f} | " + " | ".join(cells) + f" | {bs:.3f} | " + " | ".join(ratios) + " |")
    out.append("")
    summary[key] = {
        "baseline": {k: v for k, v in base.items() if k != "per_clip"},
        "vocalis": [{k: v for k, v in s.items() if k != "per_clip"} | {"ratio": s["total_s"] / base["total_s"]} for s in sums],
    }
    # Transcripts that differ from the reference (for the honest-notes section).
    out.append("<details><summary>transcripts</summary>\n")
    out.append("| clip | engine | transcript |")
    out.append("|---|---|---|")
    for cid in base["per_clip"]:
        out.append(f"| {cid} | reference | {refs[cid]} |")
        for s in sums + [base]:
            if cid in s["per_clip"]:
                out.append(f"| {cid} | {s['label']} | {s['per_clip'][cid][2]} |")
    out.append("\n</details>\n")


def tts_summary(run):
    texts = run["texts"]
    total = sum(med(t["seconds"]) for t in texts)
    audio = sum(med(t["audio_s"]) for t in texts)
    return {
        "label": run["label"],
        "total_s": total,
        "audio_s": audio,
        "rtf": total / audio,
        "ttfa_s": med([x["first_s"] for x in run["ttfa"]]),
        "paragraph_s": med([x["total_s"] for x in run["ttfa"]]),
        "load_s": run.get("load_s"),
        "checks": checks(run),
    }


def tts_section(rows, out, summary):
    """rows: [(run, baseline run or None)]; Vocalis rows are compared with their baseline."""
    out.append(
        "| engine | synthesis s (total) | audio s | RTF (s per s of audio) | first audio, 3-sentence paragraph, s "
        "| whole paragraph s | time ratio vs piper-tts | first-audio ratio | load s | clean (attempts) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for run, base in rows:
        if run is None:
            continue
        s = tts_summary(run)
        if base is not None:
            b = tts_summary(base)
            ratio = fmt_ratio(s["total_s"] / b["total_s"]) + f" (vs {b['label']})"
            first = fmt_ratio(s["ttfa_s"] / b["ttfa_s"])
            ratios.append({"vocalis": s, "piper_tts": b, "ratio": s["total_s"] / b["total_s"], "ttfa_ratio": s["ttfa_s"] / b["ttfa_s"]})
        else:
            ratio, first = "baseline", "–"
        out.append(
            f"| {s['label']} | {s['total_s']:.2f} | {s['audio_s']:.1f} | {s['rtf']:.3f} | {s['ttfa_s']:.3f} | "
            f"{s['paragraph_s']:.3f} | {ratio} | {first} | {s['load_s']:.2f} | {s['checks']} |"
        )
    out.append("")
    summary["tts"] = ratios


def hyperfine_section(title, data, out):
    if data is None:
        return
    out.append(f"### {title}\n")
    out.append("| command | mean s | ± σ | min s | runs |")
    out.append("|---|---|---|---|---|")
    for r in data["results"]:
        out.append(f"| `{r['command']}` | {r['mean']:.3f} | {r['stddev']:.3f} | {r['min']:.3f} | {len(r['times'])} |")
    out.append("")


def main():
    d = sys.argv[1]
    machine = load(d, "machine.json") or {}
    refs = refs_of(os.path.join(machine.get("clips", "target/bench-clips"), "refs.tsv"))
    out, summary = [], {"machine": machine}
    out.append("## Peer comparison results\n")
    if machine:
        out.append(
            f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores ({machine.get('simd')}), "
            f"{machine.get('mem_gib')} GiB, {machine.get('os')}; {machine.get('date')}; "
            f"load average before the run {machine.get('load_before')}, after {machine.get('load_after')}. "
            f"{len(refs)} clips, {machine.get('reps', 3)} repetitions each (median).\n"
        )
        if machine.get("versions"):
            out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()) + ".\n")
        if machine.get("phases"):
            out.append("<details><summary>CPU load around each timed phase</summary>\n")
            out.extend(f"- {p}" for p in machine["phases"])
            out.append("\n</details>\n")
    stt_section(
        "STT: tiny.en, 2 threads, greedy, no VAD (inference only)",
        "Same clips; Vocalis = whisper.cpp ggml (f16 and q8_0, default `AudioCtx::Auto` encoder window; "
        "also the full 30 s window, and flash attention on); faster-whisper = CTranslate2 int8 of the same "
        "tiny.en checkpoint.",
        [load(d, "stt-vocalis-tiny-f16.json"), load(d, "stt-vocalis-tiny-q8_0.json"), load(d, "stt-vocalis-tiny-f16-full.json"),
         load(d, "stt-vocalis-tiny-f16-fa.json")],
        load(d, "stt-fw-tiny-int8.json"),
        refs,
        out,
        summary,
        "stt_tiny",
    )
    stt_section(
        "STT: tiny.en, 1 thread (a server worker's default), greedy, no VAD (inference only)",
        None,
        [load(d, "stt-vocalis-tiny-f16-1t.json")],
        load(d, "stt-fw-tiny-int8-1t.json"),
        refs,
        out,
        summary,
        "stt_tiny_1t",
    )
    stt_section(
        "STT telephony: 8 kHz μ-law WAV, tiny.en, 2 threads (inference only)",
        "Each side decodes and resamples the μ-law file to 16 kHz before timing (Vocalis: `vocalis-audio`; faster-whisper: PyAV).",
        [load(d, "mulaw-vocalis-tiny-f16.json")],
        load(d, "mulaw-fw-tiny-int8.json"),
        refs,
        out,
        summary,
        "stt_mulaw",
    )
    stt_section(
        "STT: base (multilingual, language forced to en), 2 threads (inference only)",
        None,
        [load(d, "stt-vocalis-base-f16.json"), load(d, "stt-vocalis-base-q8_0.json")],
        load(d, "stt-fw-base-int8.json"),
        refs,
        out,
        summary,
        "stt_base",
    )
    out.append("### TTS: en_US-joe-medium, same texts (inference only)\n")
    p1, p2 = load(d, "tts-piper-1t.json"), load(d, "tts-piper-2t.json")
    tts_section(
        [
            (load(d, "tts-vocalis-1t.json"), p1),
            (p1, None),
            (load(d, "tts-vocalis-2t.json"), p2),
            (load(d, "tts-vocalis-2t-spin.json"), p2),
            (p2, None),
            (load(d, "tts-piper-default.json"), None),
        ],
        out,
        summary,
    )
    hyperfine_section("End to end CLI, STT (process start + model load + one 8.7 s clip)", load(d, "cli-stt.json"), out)
    hyperfine_section("End to end CLI, TTS (process start + voice load + one sentence to WAV)", load(d, "cli-tts.json"), out)
    with open(os.path.join(d, "peers.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(d, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
