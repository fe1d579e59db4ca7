#!/usr/bin/python3
"""The PyTorch peer of bench_train_step: the model of configs/models/fas.yaml in torch.nn, with the weights, batch
and settings that `bench_train_step --prepare DIR` wrote. The acoustic encoder is built from torchaudio's wav2vec2
components (run in HuggingFace's order, with its SpecAugment time masking), the text encoder is HuggingFace's BERT
layer structure, the head is peer_common.FasHead. Prints one JSON line with each training step's time."""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import peer_common as pc  # noqa: E402


class AcousticEncoder(nn.Module):
    """wav2vec2 (post-LN, group-norm front end) from torchaudio's components; HuggingFace's forward order."""

    def __init__(self, c):
        super().__init__()
        m = torchaudio.models.wav2vec2_model(
            extractor_mode="group_norm" if c["feat_extract_norm"] == "group" else "layer_norm",
            extractor_conv_layer_config=list(zip(c["conv_dim"], c["conv_kernel"], c["conv_stride"])),
            extractor_conv_bias=c["conv_bias"], encoder_embed_dim=c["hidden_size"],
            encoder_projection_dropout=c["feat_proj_dropout"], encoder_pos_conv_kernel=c["num_conv_pos_embeddings"],
            encoder_pos_conv_groups=c["num_conv_pos_embedding_groups"], encoder_num_layers=c["num_hidden_layers"],
            encoder_num_heads=c["num_attention_heads"], encoder_attention_dropout=c["attention_dropout"],
            encoder_ff_interm_features=c["intermediate_size"], encoder_ff_interm_dropout=c["activation_dropout"],
            encoder_dropout=c["hidden_dropout"], encoder_layer_norm_first=False, encoder_layer_drop=0.0,
            aux_num_out=None)
        self.feature_extractor = m.feature_extractor
        self.feature_projection = m.encoder.feature_projection
        self.transformer = m.encoder.transformer
        self.masked_spec_embed = nn.Parameter(torch.rand(c["hidden_size"]))
        self.mask_prob, self.mask_length = c["mask_time_prob"], c["mask_time_length"]

    def mask_time(self, x, lengths):
        mask = torch.zeros(x.shape[:2], dtype=torch.bool)
        for i, n in enumerate(lengths.tolist()):
            if n < self.mask_length:
                continue
            spans = min(max(int(self.mask_prob * n / self.mask_length + torch.rand(1).item()), 2), n // self.mask_length)
            for s in torch.randperm(n - self.mask_length + 1)[:spans].tolist():
                mask[i, s:s + self.mask_length] = True
        return torch.where(mask.unsqueeze(-1), self.masked_spec_embed, x)

    def forward(self, waveform, lengths):
        features, frames = self.feature_extractor(waveform, lengths)
        x = self.feature_projection(features)
        if self.training:
            x = self.mask_time(x, frames)
        valid = torch.arange(x.size(1)).unsqueeze(0) < frames.unsqueeze(1)
        x = x * valid.unsqueeze(-1)
        bias = torch.zeros(valid.shape).masked_fill(~valid, torch.finfo(x.dtype).min)[:, None, None, :]
        t = self.transformer
        x = t.dropout(t.layer_norm(x + t.pos_conv_embed(x)))
        bias = bias.expand(x.size(0), 1, x.size(1), x.size(1))
        for layer in t.layers:
            x = layer(x, bias)
        return x, valid


def acoustic_state(fas_state, prefix):
    """FAS (HuggingFace) names -> torchaudio's, for the parts this module keeps."""
    out = {}
    for name, t in fas_state.items():
        if not name.startswith(prefix):
            continue
        n = name[len(prefix):]
        if n.startswith("encoder."):
            n = "transformer." + n[len("encoder."):]
        out[n] = t
    return out


class BertLayer(nn.Module):
    """HuggingFace's BertLayer: self-attention, dense + residual + post-LN, intermediate GELU, dense + residual + LN."""

    class SelfAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            d = c["hidden_size"]
            self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.heads = c["num_attention_heads"]
            self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

        def forward(self, x, bias):
            b, n, d = x.shape
            split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias
            return (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, n, d)

    class DenseResidual(nn.Module):
        def __init__(self, din, c):
            super().__init__()
            self.dense = nn.Linear(din, c["hidden_size"])
            self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
            self.dropout = nn.Dropout(c["hidden_dropout_prob"])

        def forward(self, x, residual):
            return self.LayerNorm(self.dropout(self.dense(x)) + residual)

    def __init__(self, c):
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = BertLayer.SelfAttention(c)
        self.attention.output = BertLayer.DenseResidual(c["hidden_size"], c)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.output = BertLayer.DenseResidual(c["intermediate_size"], c)

    def forward(self, x, bias):
        a = self.attention.output(self.attention.self(x, bias), x)
        return self.output(F.gelu(self.intermediate.dense(a)), a)


class TextEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab_size"], d, padding_idx=c["pad_token_id"])
        self.embeddings.position_embeddings = nn.Embedding(c["max_position_embeddings"], d)
        self.embeddings.token_type_embeddings = nn.Embedding(c["type_vocab_size"], d)
        self.embeddings.LayerNorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, ids, attention_mask):
        e = self.embeddings
        positions = torch.arange(ids.size(1)).expand_as(ids)
        x = e.word_embeddings(ids) + e.position_embeddings(positions) + e.token_type_embeddings(torch.zeros_like(ids))
        x = self.dropout(e.LayerNorm(x))
        mask = attention_mask.ne(0)
        bias = (~mask).to(x.dtype).mul(torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x, mask


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
    model.acoustic_encoder.load_state_dict(acoustic_state(w, "acoustic_encoder."), strict=True)
    model.semantic_encoder.load_state_dict(
        {k[len("semantic_encoder."):]: v for k, v in w.items() if k.startswith("semantic_encoder.")}, strict=True)
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
