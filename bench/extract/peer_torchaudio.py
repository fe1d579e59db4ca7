#!/usr/bin/python3
"""The PyTorch peer of `fas extract` (benchmark 4): the loop a Python user writes to cache encoder features.
For every utterance of the manifests (train, then dev; an utterance already written is skipped, as the FAS cache
reuses entries): torchaudio.load, mix to mono, resample to 16 kHz (a torchaudio Resample kept per input rate),
torchaudio's wav2vec2_base() forward under inference_mode with the weights FAS loads, last hidden state written
as OUT/<id>.safetensors (`states` [1, T, 768]). Prints one JSON line: utterances, audio seconds, seconds taken."""
import argparse
import json
import os
import sys
import time

import torch
import torchaudio

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import peer_common as pc  # noqa: E402


def torchaudio_name(hf):
    if hf.startswith("feature_projection."):
        return "encoder." + hf
    if hf.startswith("encoder."):
        return "encoder.transformer." + hf[len("encoder."):]
    return hf


def main():
    start = time.perf_counter()
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = torchaudio.models.wav2vec2_base().eval()
    names = set(model.state_dict())
    state = {torchaudio_name(k): v for k, v in pc.read_safetensors(a.weights).items()}
    model.load_state_dict({k: v for k, v in state.items() if k in names}, strict=True)
    os.makedirs(a.out, exist_ok=True)
    resamplers = {}
    done, audio = 0, 0.0
    with torch.inference_mode():
        for manifest in ("train.jsonl", "dev.jsonl"):
            with open(os.path.join(a.corpus, manifest)) as f:
                utterances = [json.loads(line) for line in f if line.strip()]
            for u in utterances:
                out = os.path.join(a.out, u["id"] + ".safetensors")
                if os.path.exists(out):
                    continue
                wave, rate = torchaudio.load(os.path.join(a.corpus, u["audio"]))
                wave = wave.mean(0, keepdim=True)
                if rate != 16000:
                    if rate not in resamplers:
                        resamplers[rate] = torchaudio.transforms.Resample(rate, 16000)
                    wave = resamplers[rate](wave)
                states, _ = model(wave)
                pc.write_safetensors(out, {"states": states})
                done += 1
                audio += wave.size(1) / 16000
    print(json.dumps({"bench": "extract", "impl": "torch", "utterances": done, "audio_seconds": audio,
                      "seconds_in_script": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
