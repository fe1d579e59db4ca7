#!/usr/bin/python3
"""The Python peer of bench_encoder: torchaudio's wav2vec2_base() forward under torch.inference_mode().

Loads the same safetensors (HuggingFace names) the C++ side loads; with --make-weights, first writes one from a
randomly initialised wav2vec2_base(). Prints one JSON line a (seconds, batch) case, as bench_encoder does (wall
times and process CPU times).
Run with /usr/bin/python3 (Debian's torch 1.13.1 / torchaudio 0.13.1).
"""
import argparse
import json
import struct
import time

import numpy as np
import torch
import torchaudio

NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=NP[e["dtype"]]).reshape(e["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].detach().contiguous().numpy().astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def to_hf(name):
    if name.startswith("encoder.feature_projection."):
        return name[len("encoder."):]
    if name.startswith("encoder.transformer."):
        return "encoder." + name[len("encoder.transformer."):]
    return name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--make-weights", action="store_true")
    p.add_argument("--seconds", default="1,10")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", help="record the timed runs with torch's autograd profiler into this chrome trace")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = torchaudio.models.wav2vec2_base().eval()
    if a.make_weights:
        state = {to_hf(k): v for k, v in model.state_dict().items()}
        state["masked_spec_embed"] = torch.rand(768)
        write_safetensors(a.weights, state)
        return
    hf = read_safetensors(a.weights)
    ours = {to_hf(k): k for k in model.state_dict()}
    model.load_state_dict({ours[k]: v for k, v in hf.items() if k in ours}, strict=True)
    prof = None
    with torch.inference_mode():
        for seconds in [float(s) for s in a.seconds.split(",")]:
            for batch in [int(b) for b in a.batch.split(",")]:
                wave = torch.randn(batch, int(seconds * 16000)) * 0.1
                ms, cpu_ms = [], []
                for r in range(a.warmup + a.repeats):
                    if r == a.warmup and a.profile and prof is None:
                        prof = torch.autograd.profiler.profile().__enter__()
                    t0, c0 = time.perf_counter(), time.process_time()
                    model(wave)
                    c = (time.process_time() - c0) * 1000
                    t = (time.perf_counter() - t0) * 1000
                    if r >= a.warmup:
                        ms.append(t)
                        cpu_ms.append(c)
                print(json.dumps({"impl": "torchaudio", "seconds": seconds, "batch": batch,
                                  "median_ms": round(sorted(ms)[len(ms) // 2], 2), "ms": ms, "cpu_ms": cpu_ms}),
                      flush=True)
    if prof is not None:
        prof.__exit__(None, None, None)
        prof.export_chrome_trace(a.profile)


if __name__ == "__main__":
    main()
