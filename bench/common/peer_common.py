"""What the PyTorch peers of the benchmarks share: safetensors reading, the FAS head in torch.nn, and a training
step as a PyTorch user writes it (AdamW with the same parameter groups as FAS's Trainer, cosine schedule with
warmup, clipping, loss.item() for the log), timed per step. Run with the project's venv python (torch 2.11)."""
import contextlib
import json
import math
import resource
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "BOOL": np.bool_, "U8": np.uint8}


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
        raw = tensors[name].detach().contiguous().numpy().tobytes()
        dtype = {torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}[tensors[name].dtype]
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_result(bench, case, ms, peak, **extra):
    line = {"bench": bench, "impl": "torch", "case": case, "ms": [round(t, 3) for t in ms], "peak_rss_mib": round(peak, 1)}
    line.update(extra)
    print(json.dumps(line), flush=True)


# ---- the FAS head (src/fusion/) in torch.nn, with FAS's parameter names where torch.nn lets us keep them ----

def patchify(x, mask, s):
    if s <= 1:
        return x, mask
    b, t, d = x.shape
    p = (t + s - 1) // s
    mf = mask.to(x.dtype)
    xm = x * mf.unsqueeze(-1)
    if p * s > t:
        xm = F.pad(xm, (0, 0, 0, p * s - t))
        mf = F.pad(mf, (0, p * s - t))
    sums = xm.view(b, p, s, d).sum(2)
    counts = mf.view(b, p, s).sum(2)
    return sums / counts.clamp_min(1).unsqueeze(-1), counts > 0


def top_k_by_energy(tokens, mask, k):
    """The k highest-energy valid tokens of each row, in time order; empty slots are zero and masked."""
    b, n, d = tokens.shape
    kk = min(k, n)
    scores = tokens.detach().norm(dim=-1).masked_fill(~mask, float("-inf"))
    index = scores.topk(kk, dim=1).indices
    valid = mask.gather(1, index)
    order = torch.where(valid, index, index + n).argsort(dim=1)
    index, valid = index.gather(1, order), valid.gather(1, order)
    picked = tokens.gather(1, index.unsqueeze(-1).expand(b, kk, d)) * valid.unsqueeze(-1)
    if kk < k:
        picked, valid = F.pad(picked, (0, 0, 0, k - kk)), F.pad(valid, (0, k - kk))
    return picked, valid


class CrossAttentionBlock(nn.Module):
    def __init__(self, d, heads, mlp_hidden, dropout):
        super().__init__()
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.attention_norm = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_hidden, d))
        self.mlp_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, mask):
        # need_weights: FAS's head returns the head-averaged weights (the acoustic share), so the peer computes them
        # too, which keeps nn.MultiheadAttention off its SDPA route. That route (need_weights=False) was no faster
        # within the noise (590-690 ms a step either way, 2 threads): 2 queries over 24 tokens are a sliver of it.
        attended, weights = self.attention(x, memory, memory, key_padding_mask=~mask, need_weights=True)
        h = self.attention_norm(x + self.dropout(attended))
        return self.mlp_norm(h + self.dropout(self.mlp(h))), weights


class FasHead(nn.Module):
    """Patchify -> project to d -> Top-K by energy per stream -> N_q learnable queries cross-attend -> classifier."""

    def __init__(self, c, acoustic_dim, semantic_dim, num_classes):
        super().__init__()
        d = c["d_model"]
        self.c = c
        self.acoustic_proj = nn.Linear(acoustic_dim, d)
        self.semantic_proj = nn.Linear(semantic_dim, d)
        self.queries = nn.Parameter(torch.randn(c["num_queries"], d) * 0.02)
        self.block = CrossAttentionBlock(d, c["num_heads"], int(c["mlp_ratio"] * d + 0.5), c["dropout"])
        pooled = c["num_queries"] * d
        self.classifier = nn.Sequential(nn.Linear(pooled, pooled // 2), nn.GELU(), nn.Dropout(c["dropout"]),
                                        nn.Linear(pooled // 2, num_classes))

    def forward(self, acoustic, acoustic_mask, semantic, semantic_mask):
        xa, ma = patchify(acoustic, acoustic_mask, self.c["patch_aco"])
        xs, ms = patchify(semantic, semantic_mask, self.c["patch_sem"])
        ta, va = top_k_by_energy(self.acoustic_proj(xa), ma, self.c["k_aco"])
        ts, vs = top_k_by_energy(self.semantic_proj(xs), ms, self.c["k_sem"])
        tokens, mask = torch.cat([ta, ts], 1), torch.cat([va, vs], 1)
        stream = torch.cat([torch.zeros_like(va, dtype=torch.long), torch.ones_like(vs, dtype=torch.long)], 1)
        stream = stream.masked_fill(~mask, -1)
        h, attention = self.block(self.queries.unsqueeze(0).expand(tokens.size(0), -1, -1), tokens, mask)
        acoustic_share = (attention * (stream == 0).unsqueeze(1).to(attention.dtype)).sum(-1).mean(-1)
        return self.classifier(h.flatten(1)), attention, acoustic_share


def fas_head_state(fas_state, prefix=""):
    """FAS's head tensor names -> this module's: nn.MultiheadAttention packs q, k, v into in_proj_*."""
    out = {}
    a = prefix + "block.attention."
    for name, t in fas_state.items():
        if not name.startswith(prefix):
            continue
        if name.startswith(a) and name[len(a):].split(".")[0] in ("q_proj", "k_proj", "v_proj"):
            continue
        out[name[len(prefix):]] = t
    for kind in ("weight", "bias"):
        out["block.attention.in_proj_" + kind] = torch.cat(
            [fas_state[a + p + "." + kind] for p in ("q_proj", "k_proj", "v_proj")])
    return out


# ---- a training step as FAS's Trainer does it (src/engine/trainer.cpp), written the PyTorch way ----

def adamw(groups, weight_decay):
    """groups: [(named_parameters, lr)]. Matrices decay, biases / norms / vectors do not, as FAS's Trainer."""
    param_groups = []
    for named, lr in groups:
        decay = [p for _, p in named if p.requires_grad and p.dim() >= 2]
        no_decay = [p for _, p in named if p.requires_grad and p.dim() < 2]
        param_groups += [{"params": decay, "lr": lr, "weight_decay": weight_decay},
                         {"params": no_decay, "lr": lr, "weight_decay": 0.0}]
    # fused=True: PyTorch 2.x's one-kernel AdamW on the CPU, the peer's fastest optimiser step (the head's
    # parameters, 2 threads: 2.2-3.5 ms a step against 13-15 with foreach=True and 8.5-11 with the per-tensor loop).
    return torch.optim.AdamW([g for g in param_groups if g["params"]], betas=(0.9, 0.999), eps=1e-8, fused=True)


def cosine_with_warmup(optimizer, warmup_fraction, total_steps):
    warmup = max(1, math.ceil(warmup_fraction * total_steps))

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def time_train_steps(model, optimizer, logits_fn, labels, warmup, steps, grad_clip, warmup_fraction, scopes=False):
    """Milliseconds of each step after `warmup` untimed ones, and peak RSS (MiB) at the end of the last step.
    scopes: mark forward, backward and clipping as spans for torch's profiler (AdamW marks its own step)."""
    def scope(name):
        return torch.autograd.profiler.record_function(name) if scopes else contextlib.nullcontext()

    scheduler = cosine_with_warmup(optimizer, warmup_fraction, warmup + steps)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    model.train()
    ms = []
    last = time.perf_counter()
    for i in range(warmup + steps):
        optimizer.zero_grad(set_to_none=True)
        with scope("peer::forward"):
            loss = F.cross_entropy(logits_fn(), labels)
        value = loss.item()
        if math.isfinite(value):
            with scope("peer::backward"):
                loss.backward()
            with scope("peer::clip_grad_norm"):
                norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
            if math.isfinite(norm.item()):
                optimizer.step()
        scheduler.step()
        now = time.perf_counter()
        if i >= warmup:
            ms.append((now - last) * 1000)
        last = now
    return ms, peak_rss_mib()
