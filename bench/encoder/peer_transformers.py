"""The Python peer of bench_encoder: HuggingFace transformers' Wav2Vec2Model (wav2vec2-base's configuration, random
weights) forward under torch.inference_mode(), with PyTorch's scaled-dot-product attention (attn_implementation
"sdpa").

With --make-weights DIR, writes the model with save_pretrained (config.json + model.safetensors, HuggingFace's own
names, as a user gets them) and stops; otherwise loads DIR, as the C++ side does. Prints one JSON line a
(seconds, batch) case, as bench_encoder does (wall times and process CPU times).
Run with the project's venv: .venv/bin/python bench/encoder/peer_transformers.py ...

Settings tried for the peer's best CPU time (2 threads, wav2vec2-base, 1 s and 10 s x 1): "sdpa" against "eager"
attention (sdpa the faster at 10 s, 1.09-1.26 s against 1.13-1.36 s, even at 1 s within the noise); oneDNN
(torch.backends.mkldnn) on, its default, against off (off: 10 s 1.39-1.47 s, slower; 1 s even); inference_mode (no
autograd bookkeeping). channels_last does not apply: this model's convolutions are 1-d, and torch refuses the
channels-last layout for a 3-d tensor. torch.compile is not used: it is not what a user running the model gets by
default, and its first call compiles for minutes on 2 cores.
"""
import argparse
import json
import time

import torch
import transformers


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="folder with config.json + model.safetensors")
    p.add_argument("--make-weights", action="store_true")
    p.add_argument("--seconds", default="1,10")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"])
    p.add_argument("--profile", help="record the timed runs with torch's profiler into this chrome trace")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    # Its progress bars (writing, loading weights) would interleave with the benchmark's progress on stderr.
    transformers.utils.logging.disable_progress_bar()
    if a.make_weights:
        model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config())  # the defaults are wav2vec2-base's
        model.save_pretrained(a.model, safe_serialization=True)
        return
    model = transformers.Wav2Vec2Model.from_pretrained(a.model, attn_implementation=a.attention).eval()
    impl = "transformers" if a.attention == "sdpa" else "transformers-eager"
    prof = None
    with torch.inference_mode():
        for seconds in [float(s) for s in a.seconds.split(",")]:
            for batch in [int(b) for b in a.batch.split(",")]:
                wave = torch.randn(batch, int(seconds * 16000)) * 0.1
                ms, cpu_ms = [], []
                for r in range(a.warmup + a.repeats):
                    if r == a.warmup and a.profile and prof is None:
                        prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]).__enter__()
                    t0, c0 = time.perf_counter(), time.process_time()
                    model(wave)
                    c = (time.process_time() - c0) * 1000
                    t = (time.perf_counter() - t0) * 1000
                    if r >= a.warmup:
                        ms.append(t)
                        cpu_ms.append(c)
                print(json.dumps({"impl": impl, "seconds": seconds, "batch": batch,
                                  "median_ms": round(sorted(ms)[len(ms) // 2], 2), "ms": ms, "cpu_ms": cpu_ms}),
                      flush=True)
    if prof is not None:
        prof.__exit__(None, None, None)
        prof.export_chrome_trace(a.profile)


if __name__ == "__main__":
    main()
