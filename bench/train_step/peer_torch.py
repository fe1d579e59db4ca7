"""The PyTorch peer of bench_train_step: the model of configs/models/fas.yaml, with the weights, batch and settings
that `bench_train_step --prepare DIR` wrote. The encoders are transformers' Wav2Vec2Model and BertModel (SDPA
attention) built from the same configurations, the head is peer_common.FasHead in torch.nn. Prints one JSON line
with each training step's time. Run with the project's venv python."""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import peer_common as pc  # noqa: E402


class AcousticEncoder(nn.Module):
    """transformers' Wav2Vec2Model (SDPA attention, SpecAugment time masking in training) over the padded batch."""

    def __init__(self, c):
        super().__init__()
        # LayerDrop off: FAS's encoder has none, so both sides run every layer.
        config = transformers.Wav2Vec2Config(**c, layerdrop=0.0, attn_implementation="sdpa")
        self.model = transformers.Wav2Vec2Model(config)

    def forward(self, waveform, lengths):
        mask = torch.arange(waveform.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        x = self.model(waveform, attention_mask=mask.long()).last_hidden_state
        frames = self.model._get_feat_extract_output_lengths(lengths)
        return x, torch.arange(x.size(1)).unsqueeze(0) < frames.unsqueeze(1)


class TextEncoder(nn.Module):
    """transformers' BertModel (SDPA attention), without its pooler."""

    def __init__(self, c):
        super().__init__()
        self.model = transformers.BertModel(transformers.BertConfig(**c, attn_implementation="sdpa"),
                                            add_pooling_layer=False)

    def forward(self, ids, attention_mask):
        return self.model(ids, attention_mask=attention_mask).last_hidden_state, attention_mask.ne(0)


class SerModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.acoustic_encoder = AcousticEncoder(c["acoustic"])
        self.semantic_encoder = TextEncoder(c["text"])
        self.head = pc.FasHead(c["fusion"], c["acoustic"]["hidden_size"], c["text"]["hidden_size"], c["num_classes"])

    def forward(self, b):
        a, am = self.acoustic_encoder(b["waveform"], b["lengths"])
        s, sm = self.semantic_encoder(b["input_ids"], b["attention_mask"])
        return self.head(a, am, s, sm)[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    with open(os.path.join(a.dir, "model.json")) as f:
        c = json.load(f)
    model = SerModel(c)
    w = pc.read_safetensors(os.path.join(a.dir, "model.safetensors"))
    for name in ("acoustic_encoder", "semantic_encoder"):
        prefix = name + "."
        getattr(model, name).model.load_state_dict(
            {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}, strict=True)
    model.head.load_state_dict(pc.fas_head_state(w, "head."), strict=True)
    b = pc.read_safetensors(os.path.join(a.dir, "batch.safetensors"))
    t = c["train"]
    named = list(model.named_parameters())
    encoder = [(n, q) for n, q in named if n.startswith(("acoustic_encoder.", "semantic_encoder."))]
    head = [(n, q) for n, q in named if not n.startswith(("acoustic_encoder.", "semantic_encoder."))]
    optimizer = pc.adamw([(encoder, t["encoder_lr"]), (head, t["lr"])], t["weight_decay"])
    ms, peak = pc.time_train_steps(model, optimizer, lambda: model(b), b["labels"], a.warmup, a.steps,
                                   t["grad_clip"], t["warmup"])
    pc.print_result("train_step", "fas.yaml model step, batch 16", ms, peak, threads=torch.get_num_threads())


if __name__ == "__main__":
    main()
