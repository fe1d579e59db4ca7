#!/usr/bin/python3
"""The PyTorch peer of bench_data: torchaudio.load + torchaudio.functional.resample to 16 kHz + padded batches of
16, on the same files, one thread. Prints the same tab-separated lines as bench_data (peer instead of fas):
audio seconds per CPU second and per wall second, best of 3 runs."""
import json
import os
import sys
import time

import torch
import torchaudio


def best(f):
    runs = []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        f()
        runs.append((time.process_time() - c0, time.perf_counter() - w0))
    return min(runs)


def report(stage, rate, audio, f):
    cpu, wall = best(f)
    print(f"peer\t{stage}\t{rate}\t1\t{audio / cpu:.0f}\t{audio / wall:.0f}", flush=True)


RESAMPLERS = {}


def load16k(p):
    w, sr = torchaudio.load(p)
    w = w.mean(0)
    if sr != 16000:
        # transforms.Resample keeps its kernel between calls, as a loader would.
        if sr not in RESAMPLERS:
            RESAMPLERS[sr] = torchaudio.transforms.Resample(sr, 16000)
        w = RESAMPLERS[sr](w)
    return w


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/fas_bench_data"
    torch.set_num_threads(1)
    for rate in (16000, 44100):
        d = os.path.join(out, f"wav{rate}")
        with open(os.path.join(d, "manifest.jsonl")) as f:
            paths = [os.path.join(d, json.loads(line)["audio"]) for line in f if line.strip()]
        audio = sum(torchaudio.info(p).num_frames for p in paths) / rate
        for p in paths:  # warm the page cache, as bench_data does
            torchaudio.load(p)

        report("decode", rate, audio, lambda: [torchaudio.load(p) for p in paths])
        report("decode+resample16k", rate, audio, lambda: [load16k(p) for p in paths])
        report("loader(decode+resample+batch)", rate, audio, lambda: [
            torch.nn.utils.rnn.pad_sequence([load16k(p) for p in paths[i:i + 16]], batch_first=True)
            for i in range(0, len(paths), 16)])


if __name__ == "__main__":
    main()
