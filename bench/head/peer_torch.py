"""The PyTorch peer of bench_head: the FAS head written with torch.nn, the same weights (DIR/head.safetensors),
the same batch (DIR/batch.safetensors) and hyperparameters (DIR/head.json) that `bench_head --prepare DIR` wrote;
prints one JSON line with each training step's time, as bench_head does."""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import peer_common as pc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--profile", help="record every step with torch's autograd profiler into this chrome trace "
                                     "(bench/common/profile_table.py sums it up; the times include its overhead)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    with open(os.path.join(a.dir, "head.json")) as f:
        c = json.load(f)
    head = pc.FasHead(c, c["acoustic_dim"], c["semantic_dim"], c["num_classes"])
    head.load_state_dict(pc.fas_head_state(pc.read_safetensors(os.path.join(a.dir, "head.safetensors"))), strict=True)
    b = pc.read_safetensors(os.path.join(a.dir, "batch.safetensors"))
    optimizer = pc.adamw([(list(head.named_parameters()), c["lr"])], c["weight_decay"])
    with torch.autograd.profiler.profile(enabled=bool(a.profile)) as prof:
        ms, peak = pc.time_train_steps(
            head, optimizer, lambda: head(b["acoustic"], b["acoustic_mask"], b["semantic"], b["semantic_mask"])[0],
            b["labels"], a.warmup, a.steps, c["grad_clip"], c["warmup"], scopes=bool(a.profile))
    if a.profile:
        prof.export_chrome_trace(a.profile)
    pc.print_result("head", "fas head step, batch 256", ms, peak, threads=torch.get_num_threads())


if __name__ == "__main__":
    main()
