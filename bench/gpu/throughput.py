"""Extraction throughput for scripts/gpu-check.sh: a WavLM-base-plus-sized and a Whisper-large-v3-sized encoder
(random weights, the released models' shapes) timed in transformers on a GPU, the peer of bench_encoder
(bench/encoder/bench_encoder.cpp), which times FAS on the same weights, batch and lengths.

  throughput.py make DIR        DIR/wavlm and DIR/whisper: config.json + model.safetensors, float32 random weights
                                (WavLMConfig's defaults are wavlm-base-plus's shapes; Whisper-large-v3's encoder:
                                32 layers, d 1280, 20 heads, FFN 5120, 128 mel bins, 1500 positions = 30 s windows;
                                its weights alone, under WhisperModel's `encoder.` names)
  throughput.py time --model DIR/wavlm --seconds 20 --batch 16 [--input waveform|features]
                                transformers, bfloat16 weights, attn_implementation="sdpa" where the model offers
                                it, torch.inference_mode, timed with CUDA events: one JSON line, as bench_encoder's
  throughput.py matmul          bfloat16 8192^3 matmul rate through torch (TFLOP/s): the ceiling when `fas doctor`
                                prints none
  throughput.py summarize FILE.jsonl PEAK_TFLOPS DIR
                                the table rows (report.py's format) from both sides' lines (each tagged with
                                "model": wavlm | whisper), model FLOPs over time against the bf16 matmul rate

Inputs are on the GPU before the clock starts on both sides. Whisper from a waveform: FAS computes the log-mel on
the GPU from the waveform; transformers' WhisperFeatureExtractor (device="cuda") from host arrays, as its users call
it. FLOPs: matrix products and convolutions (bench/common/flops.py's convention, 2 a multiply-add).
"""
import argparse
import json
import os
import statistics
import sys

import torch
import transformers
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import flops  # noqa: E402

WHISPER_LARGE_V3 = dict(num_mel_bins=128, d_model=1280, encoder_layers=32, encoder_attention_heads=20,
                        encoder_ffn_dim=5120, max_source_positions=1500, decoder_layers=1, decoder_attention_heads=4,
                        decoder_ffn_dim=256, vocab_size=100, max_target_positions=16, pad_token_id=1, bos_token_id=2,
                        eos_token_id=2, decoder_start_token_id=3, suppress_tokens=[], begin_suppress_tokens=[])


def make(root):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):  # initialising 635 M parameters on the GPU takes a second, on the CPU many
        wavlm = transformers.WavLMModel(transformers.WavLMConfig())
    wavlm.save_pretrained(os.path.join(root, "wavlm"), safe_serialization=True)
    config = transformers.WhisperConfig(**WHISPER_LARGE_V3)
    with torch.device(device):
        encoder = transformers.models.whisper.modeling_whisper.WhisperEncoder(config)
    folder = os.path.join(root, "whisper")
    config.save_pretrained(folder)
    save_file({"encoder." + k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()},
              os.path.join(folder, "model.safetensors"))


def load(folder):
    """(model, attention implementation) in bfloat16 on the GPU."""
    config = transformers.AutoConfig.from_pretrained(folder)
    if config.model_type == "whisper":
        from safetensors.torch import load_file
        encoder = transformers.models.whisper.modeling_whisper.WhisperEncoder._from_config(
            config, attn_implementation="sdpa")
        state = {k[len("encoder."):]: v for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        encoder.load_state_dict(state, strict=True)
        return encoder.to("cuda", torch.bfloat16).eval(), encoder.config._attn_implementation
    try:
        model = transformers.AutoModel.from_pretrained(folder, attn_implementation="sdpa")
    except ValueError:  # WavLM has no sdpa option: its attention is torch's multi_head_attention_forward
        model = transformers.AutoModel.from_pretrained(folder)
    return model.to("cuda", torch.bfloat16).eval(), model.config._attn_implementation


def time_model(a):
    model, attention = load(a.model)
    whisper = model.config.model_type == "whisper"
    samples = int(a.seconds * 16000)
    torch.manual_seed(0)
    if whisper and a.input == "waveform":
        fe = transformers.WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
        host = [w.numpy() for w in torch.randn(a.batch, samples) * 0.1]

        def run():
            feats = fe(host, sampling_rate=16000, return_tensors="pt", device="cuda").input_features
            model(feats.to("cuda", torch.bfloat16))
    elif whisper:
        feats = torch.randn(a.batch, model.config.num_mel_bins, int(a.seconds * 100), device="cuda",
                            dtype=torch.bfloat16)

        def run():
            model(feats)
    else:
        wave = (torch.randn(a.batch, samples) * 0.1).to("cuda", torch.bfloat16)

        def run():
            model(wave)
    ms = []
    with torch.inference_mode():
        for r in range(a.warmup + a.repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            run()
            end.record()
            torch.cuda.synchronize()
            if r >= a.warmup:
                ms.append(start.elapsed_time(end))
    print(json.dumps({"impl": "transformers", "attention": attention, "device": "cuda", "precision": "bf16",
                      "input": a.input, "seconds": a.seconds, "batch": a.batch,
                      "median_ms": round(statistics.median(ms), 2), "ms": [round(t, 3) for t in ms],
                      "transformers": transformers.__version__, "torch": torch.__version__}), flush=True)


def matmul():
    n = 8192
    a, b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16), torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    times = []
    for r in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        if r >= 3:
            times.append(start.elapsed_time(end) / 1000)
    print("%.1f" % (2 * n ** 3 / statistics.median(times) / 1e12))


def model_flops(model, batch, seconds):
    """Forward FLOPs of one batch (the encoder as configured in DIR/<model>/config.json)."""
    c = json.load(open(os.path.join(model, "config.json")))
    if c["model_type"] == "whisper":
        frames, d, f = int(seconds * 100), c["d_model"], c["encoder_ffn_dim"]
        t = frames // 2
        convs = 2 * batch * frames * c["num_mel_bins"] * d * 3 + 2 * batch * t * d * d * 3
        return convs + c["encoder_layers"] * (8 * batch * t * d * d + 4 * batch * t * t * d + 4 * batch * t * d * f)
    first, rest, _ = flops.wav2vec2(c, batch, int(seconds * 16000))
    return first + rest


def summarize(path, peak, models):
    lines = [json.loads(l) for l in open(path) if l.startswith("{")]
    rows, minutes_60h = [], 0.0
    for label, key in (("WavLM-base-plus", "wavlm"), ("Whisper-large-v3 encoder", "whisper")):
        case = [l for l in lines if l.get("model") == key]
        fas = [l for l in case if l["impl"] == "fas"]
        peer = [l for l in case if l["impl"] == "transformers"]
        for input_kind in sorted({l["input"] for l in case}):
            f = next((l for l in fas if l["input"] == input_kind and not l.get("autocast")), None)
            fa = next((l for l in fas if l["input"] == input_kind and l.get("autocast")), None)
            p = next((l for l in peer if l["input"] == input_kind), None)
            shape = label + (" (from log-mel)" if input_kind == "features" else "")
            if f is None:
                rows.append({"section": "throughput", "check": shape + ": fas", "result": "fail",
                             "value": "no timing (see the log)", "goal": ">= 1.3x transformers"})
                continue
            b, s = f["batch"], f["seconds"]
            sec = f["median_ms"] / 1000
            hours_per_min = b * s / 3600 / (sec / 60)
            tflops = model_flops(os.path.join(models, key), int(b), s) / sec / 1e12
            value = "%g x %g s: %.1f ms/batch, %.1f h audio/min, %.0f TFLOP/s" % (b, s, f["median_ms"], hours_per_min,
                                                                                  tflops)
            if peak:
                value += " (%.0f%% of bf16 matmul %.0f)" % (100 * tflops / peak, peak)
            if fa is not None:
                value += "; fas under autocast (float32 weights) %.1f ms" % fa["median_ms"]
            if p is None:
                rows.append({"section": "throughput", "check": shape + ": fas vs transformers", "result": "fail",
                             "value": value + "; no transformers timing", "goal": ">= 1.3x transformers"})
            else:
                ratio = p["median_ms"] / f["median_ms"]
                value += "; transformers %.1f ms (%s attention): %.2fx" % (p["median_ms"], p["attention"], ratio)
                rows.append({"section": "throughput", "check": shape + ": fas vs transformers, bf16",
                             "result": "pass" if ratio >= 1.3 else "fail", "value": value,
                             "goal": ">= 1.3x transformers"})
            if input_kind == "waveform":
                minutes_60h += 60 / hours_per_min
    rows.append({"section": "throughput", "check": "60 h of audio through both encoders (fas, waveform in)",
                 "result": "pass" if 0 < minutes_60h < 5 else "fail", "value": "%.2f min" % minutes_60h,
                 "goal": "< 5 min"})
    for r in rows:
        print(json.dumps(r))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["make", "time", "matmul", "summarize"])
    p.add_argument("args", nargs="*")
    p.add_argument("--model")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--input", default="waveform", choices=["waveform", "features"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args()
    transformers.utils.logging.disable_progress_bar()
    if a.action == "make":
        make(a.args[0])
    elif a.action == "time":
        time_model(a)
    elif a.action == "matmul":
        matmul()
    else:
        summarize(a.args[0], float(a.args[1]) if a.args[1:] else 0.0, a.args[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
