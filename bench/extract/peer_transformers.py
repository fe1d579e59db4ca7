"""The Python peer of `fas extract` (benchmark 4): the loop a Python user writes to cache encoder features.
For every utterance of the manifests (train, then dev; an utterance already written is skipped, as the FAS cache
reuses entries): soundfile.read, mix to mono, soxr.resample to 16 kHz (the libsndfile and libsoxr FAS links),
transformers' Wav2Vec2Model (SDPA attention) forward under inference_mode with the weights FAS loads, last hidden
state written as OUT/<id>.safetensors (`states` [1, T, 768]). Prints one JSON line: utterances, audio seconds,
seconds taken. Run with the project's venv python."""
import argparse
import json
import os
import time

import numpy as np
import soundfile
import soxr
import torch
import transformers
from safetensors.torch import save_file


def main():
    start = time.perf_counter()
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--model", required=True, help="folder with config.json + model.safetensors")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    transformers.utils.logging.disable_progress_bar()  # stderr carries the benchmark's own progress
    model = transformers.Wav2Vec2Model.from_pretrained(a.model, attn_implementation="sdpa").eval()
    os.makedirs(a.out, exist_ok=True)
    done, audio = 0, 0.0
    with torch.inference_mode():
        for manifest in ("train.jsonl", "dev.jsonl"):
            with open(os.path.join(a.corpus, manifest)) as f:
                utterances = [json.loads(line) for line in f if line.strip()]
            for u in utterances:
                out = os.path.join(a.out, u["id"] + ".safetensors")
                if os.path.exists(out):
                    continue
                wave, rate = soundfile.read(os.path.join(a.corpus, u["audio"]), dtype="float32", always_2d=True)
                # A mono file's one column as it is: mean(1) over it cost as much CPU as decoding the file.
                wave = wave[:, 0] if wave.shape[1] == 1 else wave.mean(1)
                if rate != 16000:
                    wave = soxr.resample(wave, rate, 16000)
                x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
                states = model(x).last_hidden_state
                save_file({"states": states.contiguous()}, out)
                done += 1
                audio += x.size(1) / 16000
    print(json.dumps({"bench": "extract", "impl": "torch", "utterances": done, "audio_seconds": audio,
                      "seconds_in_script": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
