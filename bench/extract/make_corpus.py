"""Writes the input of benchmark 4 into DIR: speech-length WAV files (2-8 s; three quarters at 16 kHz, a quarter at
48 kHz so that resampling is part of the work, as with RAVDESS), DIR/corpus/train.jsonl (and a two-line dev.jsonl
of the same files) with labels, DIR/extract.yaml (the `fas extract` experiment: an acoustic-only model whose
frozen encoder is wav2vec2-base with the weights in WEIGHTS) and DIR/corpus/info.json (total audio seconds)."""
import argparse
import json
import os
import wave

import numpy as np

LABELS = ["neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"]


def write_wav(path, x, rate):
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--hf-config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--seconds", type=float, default=120.0)
    a = p.parse_args()
    corpus = os.path.join(a.dir, "corpus")
    os.makedirs(corpus, exist_ok=True)
    rng = np.random.default_rng(0)
    lines, total, i = [], 0.0, 0
    while total < a.seconds:
        rate = 48000 if i % 4 == 3 else 16000
        seconds = float(rng.uniform(2.0, 8.0))
        t = np.arange(int(seconds * rate)) / rate
        x = 0.2 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
        name = f"u{i:03d}.wav"
        write_wav(os.path.join(corpus, name), x, rate)
        lines.append({"id": f"u{i:03d}", "audio": name, "label": LABELS[i % len(LABELS)]})
        total += t.size / rate
        i += 1
    with open(os.path.join(corpus, "train.jsonl"), "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in lines)
    with open(os.path.join(corpus, "dev.jsonl"), "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in lines[:2])
    with open(os.path.join(corpus, "info.json"), "w") as f:
        json.dump({"utterances": len(lines), "audio_seconds": total}, f)
    with open(os.path.join(a.dir, "extract.yaml"), "w") as f:
        f.write(f"""# Benchmark 4: wav2vec2-base features (last hidden state) of every utterance, cached by `fas extract`.
name: bench_extract
model:
  head: acoustic_only
  acoustic:
    layers: [-1]
    encoder:
      hf_config: {os.path.abspath(a.hf_config)}
      weights: {os.path.abspath(a.weights)}
      freeze: all
data:
  root: {os.path.abspath(corpus)}
  train: train.jsonl
  dev: dev.jsonl
  cache_dir: {os.path.abspath(os.path.join(a.dir, "cache"))}
eval: []
""")


if __name__ == "__main__":
    main()
