#!/usr/bin/python3
"""The PyTorch peer of bench_data: torchaudio.load + torchaudio.functional.resample to 16 kHz + padded batches of
16, on the same files, one thread. Prints the same tab-separated lines as bench_data (peer instead of fas)."""
import json
import os
import sys
import time

import torch
import torchaudio


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

        t0 = time.perf_counter()
        for p in paths:
            torchaudio.load(p)
        print(f"peer\tdecode\t{rate}\t1\t{audio / (time.perf_counter() - t0):.0f}", flush=True)

        t0 = time.perf_counter()
        waves = []
        for p in paths:
            w, sr = torchaudio.load(p)
            w = w.mean(0)
            if sr != 16000:
                w = torchaudio.functional.resample(w, sr, 16000)
            waves.append(w)
        print(f"peer\tdecode+resample16k\t{rate}\t1\t{audio / (time.perf_counter() - t0):.0f}", flush=True)

        t0 = time.perf_counter()
        for i in range(0, len(paths), 16):
            batch = []
            for p in paths[i:i + 16]:
                w, sr = torchaudio.load(p)
                w = w.mean(0)
                if sr != 16000:
                    w = torchaudio.functional.resample(w, sr, 16000)
                batch.append(w)
            torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
        print(f"peer\tloader(decode+resample+batch)\t{rate}\t1\t{audio / (time.perf_counter() - t0):.0f}", flush=True)


if __name__ == "__main__":
    main()
