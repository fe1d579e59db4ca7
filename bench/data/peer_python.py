"""The Python peer of bench_data: soundfile.read + soxr.resample to 16 kHz + padded batches of 16 (torch), on the
same files, one thread: what a Python loader does with the bindings of the libsndfile and libsoxr FAS links.
Prints the same tab-separated lines as bench_data (peer instead of fas): audio seconds per CPU second and per wall
second, best of 3 runs. Run with the project's venv python."""
import json
import os
import sys
import time

import numpy as np
import soundfile
import soxr
import torch


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


def load(p):
    return soundfile.read(p, dtype="float32", always_2d=True)


def load16k(p):
    w, sr = load(p)
    # A mono file's one column as it is: mean(1) over it cost as much CPU as decoding the file.
    w = w[:, 0] if w.shape[1] == 1 else w.mean(1)
    if sr != 16000:
        w = soxr.resample(w, sr, 16000)
    return torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/fas_bench_data"
    torch.set_num_threads(1)
    for rate in (16000, 44100):
        d = os.path.join(out, f"wav{rate}")
        with open(os.path.join(d, "manifest.jsonl")) as f:
            paths = [os.path.join(d, json.loads(line)["audio"]) for line in f if line.strip()]
        audio = sum(soundfile.info(p).frames for p in paths) / rate
        for p in paths:  # warm the page cache, as bench_data does
            load(p)

        report("decode", rate, audio, lambda: [load(p) for p in paths])
        report("decode+resample16k", rate, audio, lambda: [load16k(p) for p in paths])
        report("loader(decode+resample+batch)", rate, audio, lambda: [
            torch.nn.utils.rnn.pad_sequence([load16k(p) for p in paths[i:i + 16]], batch_first=True)
            for i in range(0, len(paths), 16)])


if __name__ == "__main__":
    main()
