"""Encoder parity for scripts/gpu-check.sh: every encoder family FAS serves, as small random HuggingFace models
(real head widths, so the GPU's attention and matrix kernels are the ones real models take), run by `fas encode`
on the CPU and the GPU and compared here.

  parity.py make DIR [--device cuda]   one folder a family: config.json + model.safetensors (save_pretrained),
                                       input.safetensors, hf_cpu.safetensors (transformers, float32, the CPU) and,
                                       with a GPU, hf_cuda_bf16.safetensors (transformers, bfloat16 weights, the GPU)
  parity.py compare DIR                the `fas encode` outputs fas_<mode>.safetensors in each folder against their
                                       references; appends one row a check to DIR/rows.jsonl (report.py's format)

Errors are ||a - b|| / ||b|| over each hidden state's valid frames (the largest over the states) and the largest
absolute difference. Tolerances, relative: fas on the CPU against transformers 1e-4; fas on the GPU in float32
with TF32 off (`fas encode --no-tf32`) against fas on the CPU 1e-4; with TF32 on (fas's default on a GPU: 10-bit
mantissa products) 5e-3; `--precision bf16` (autocast: bfloat16 matmuls and attention, 8-bit mantissa) 3e-2, with
transformers' own bfloat16 error on the same model (its weights cast to bfloat16) shown beside it.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file

TOL = {"fas_cpu": 1e-4, "fas_cuda_fp32": 1e-4, "fas_cuda_tf32": 5e-3, "fas_cuda_bf16": 3e-2}

ACOUSTIC = dict(conv_dim=[128] * 7, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                intermediate_size=1024, num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=8,
                hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
                layerdrop=0.0, mask_time_prob=0.0)
LARGE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
TEXT = dict(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

# name, transformers model class, config class, config
FAMILIES = [
    ("wav2vec2-base", "Wav2Vec2Model", "Wav2Vec2Config", ACOUSTIC),
    ("wav2vec2-large", "Wav2Vec2Model", "Wav2Vec2Config", dict(ACOUSTIC, **LARGE)),
    ("hubert-base", "HubertModel", "HubertConfig", ACOUSTIC),
    ("wavlm-base", "WavLMModel", "WavLMConfig", ACOUSTIC),
    ("wavlm-large", "WavLMModel", "WavLMConfig", dict(ACOUSTIC, **LARGE)),
    ("bert", "BertModel", "BertConfig", dict(TEXT, max_position_embeddings=64, pad_token_id=0)),
    ("roberta", "RobertaModel", "RobertaConfig", dict(TEXT, max_position_embeddings=66, pad_token_id=1)),
    ("xlm-roberta", "XLMRobertaModel", "XLMRobertaConfig", dict(TEXT, max_position_embeddings=66, pad_token_id=1)),
    ("whisper", "WhisperModel", "WhisperConfig",
     dict(num_mel_bins=128, d_model=256, encoder_layers=4, encoder_attention_heads=4, encoder_ffn_dim=1024,
          decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=256, vocab_size=100,
          max_target_positions=16, max_source_positions=1500, pad_token_id=1, bos_token_id=2,
          eos_token_id=2, decoder_start_token_id=3, suppress_tokens=[], begin_suppress_tokens=[], dropout=0.0, attention_dropout=0.0,
          activation_dropout=0.0)),
]


def perturb(model):
    """Random norm gains, biases and gates, so that every parameter shows in the outputs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias") or "gru_rel_pos" in name:
                p.add_(0.1 * torch.randn_like(p))


def hf_forward(name, model, inputs, device, dtype):
    """transformers' hidden states ({hidden_states.N, last_hidden_state}) on `device` in `dtype`."""
    model = model.to(device, dtype)
    with torch.inference_mode():
        if "waveform" in inputs and name == "whisper":
            fe = transformers.WhisperFeatureExtractor(feature_size=128)
            feats = fe([w.numpy() for w in inputs["waveform"]], sampling_rate=16000, return_tensors="pt").input_features
            out = model.encoder(feats.to(device, dtype), output_hidden_states=True)
        elif "waveform" in inputs:
            wave = inputs["waveform"].to(device, dtype)
            mask = None
            if "lengths" in inputs:
                mask = (torch.arange(wave.shape[1])[None] < inputs["lengths"][:, None]).long().to(device)
            out = model(wave, attention_mask=mask, output_hidden_states=True)
        else:
            out = model(inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device),
                        output_hidden_states=True)
    hidden = list(out.hidden_states)
    # transformers 5 records a pre-LN stack's last layer before its final LayerNorm; FAS's last hidden state is
    # last_hidden_state, as in transformers 4 (scripts/fixtures/make_acoustic_fixtures.py says why).
    hidden[-1] = out.last_hidden_state
    states = {"hidden_states.%d" % i: h.float().cpu().contiguous() for i, h in enumerate(hidden)}
    states["last_hidden_state"] = out.last_hidden_state.float().cpu().clone()
    return states


def make(root, device):
    transformers.utils.logging.disable_progress_bar()
    for seed, (name, cls, cfg_cls, cfg) in enumerate(FAMILIES):
        torch.manual_seed(seed)
        folder = os.path.join(root, name)
        model = getattr(transformers, cls)(getattr(transformers, cfg_cls)(**cfg)).eval()
        perturb(model)
        model.save_pretrained(folder, safe_serialization=True)
        if cls.startswith(("Bert", "Roberta", "XLMRoberta")):
            ids = torch.randint(3, cfg["vocab_size"], (2, 24))
            mask = torch.ones(2, 24, dtype=torch.long)
            mask[1, 16:] = 0
            ids[1, 16:] = cfg["pad_token_id"]
            inputs = {"input_ids": ids, "attention_mask": mask}
        elif name == "whisper":
            inputs = {"waveform": torch.randn(2, 5 * 16000) * 0.1}
        else:
            inputs = {"waveform": torch.randn(2, 2 * 16000) * 0.1}
            if cfg.get("feat_extract_norm") == "layer":  # padded rows, as large-style models are run with a mask
                inputs["lengths"] = torch.tensor([2 * 16000, 25000])
        save_file(inputs, os.path.join(folder, "input.safetensors"))
        save_file(hf_forward(name, model, inputs, "cpu", torch.float32), os.path.join(folder, "hf_cpu.safetensors"))
        if device != "cpu":
            save_file(hf_forward(name, model, inputs, device, torch.bfloat16),
                      os.path.join(folder, "hf_cuda_bf16.safetensors"))
        print(name, "written", flush=True)


def errors(a, b, lengths):
    """(largest relative error over the states both hold, largest absolute difference) on valid frames."""
    names = [k for k in b if k.startswith("hidden_states.") or k == "last_hidden_state"]
    if sum(k.startswith("hidden_states.") for k in a) != sum(k.startswith("hidden_states.") for k in b):
        names = ["last_hidden_state"]
    rel, ab = 0.0, 0.0
    for k in names:
        x, y = a[k].double(), b[k].double()
        t = min(x.shape[1], y.shape[1])
        for row in range(y.shape[0]):
            n = min(int(lengths[row]), t) if lengths is not None else t
            d = x[row, :n] - y[row, :n]
            rel = max(rel, float(d.norm() / y[row, :n].norm().clamp_min(1e-30)))
            ab = max(ab, float(d.abs().max()))
    return rel, ab


def compare(root):
    rows = []

    def row(check, result, value, goal):
        rows.append({"section": "parity", "check": check, "result": result, "value": value, "goal": goal})

    for folder in sorted(glob.glob(os.path.join(root, "*", ""))):
        name = os.path.basename(os.path.dirname(folder))
        load = lambda f: load_file(os.path.join(folder, f)) if os.path.exists(os.path.join(folder, f)) else None
        fas_cpu, hf_cpu, hf_bf16 = load("fas_cpu.safetensors"), load("hf_cpu.safetensors"), load("hf_cuda_bf16.safetensors")
        lengths = fas_cpu["frame_lengths"] if fas_cpu is not None and "frame_lengths" in fas_cpu else None
        # A text row's valid tokens are its attention mask's, not a frame count.
        inputs = load("input.safetensors")
        if "attention_mask" in inputs:
            lengths = inputs["attention_mask"].sum(1)
        if fas_cpu is None:
            row(name + ": fas cpu vs transformers cpu", "fail", "no fas output (see the log)", "<= 1e-4")
            continue
        rel, ab = errors(fas_cpu, hf_cpu, lengths)
        row(name + ": fas cpu vs transformers cpu, fp32", "pass" if rel <= TOL["fas_cpu"] else "fail",
            "rel %.2e, abs %.2e" % (rel, ab), "rel <= %g" % TOL["fas_cpu"])
        for mode, label in (("fas_cuda_fp32", "fas cuda fp32 (TF32 off) vs fas cpu"),
                            ("fas_cuda_tf32", "fas cuda fp32 (TF32 on) vs fas cpu"),
                            ("fas_cuda_bf16", "fas cuda bf16 vs fas cpu")):
            out = load(mode + ".safetensors")
            if not os.path.exists(os.path.join(root, "cuda")):
                row(name + ": " + label, "skipped: no GPU", "", "rel <= %g" % TOL[mode])
                continue
            if out is None:
                row(name + ": " + label, "fail", "no fas output (see the log)", "rel <= %g" % TOL[mode])
                continue
            rel, ab = errors(out, fas_cpu, lengths)
            value = "rel %.2e, abs %.2e" % (rel, ab)
            if mode == "fas_cuda_bf16" and hf_bf16 is not None:
                hrel, _ = errors(hf_bf16, hf_cpu, lengths)
                value += " (transformers bf16 vs its fp32: rel %.2e)" % hrel
            row(name + ": " + label, "pass" if rel <= TOL[mode] else "fail", value, "rel <= %g" % TOL[mode])
    with open(os.path.join(root, "rows.jsonl"), "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["make", "compare"])
    p.add_argument("dir")
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    if a.action == "make":
        make(a.dir, a.device)
        if a.device != "cpu":
            open(os.path.join(a.dir, "cuda"), "w").close()
        return 0
    return compare(a.dir)


if __name__ == "__main__":
    sys.exit(main())
