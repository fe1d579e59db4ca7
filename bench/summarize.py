"""Turns the measurements of bench/run.sh (its work folder) into the results table: printed, and written as
Markdown to --out. Medians over every timed run of a side; ratio = PyTorch / FAS (above 1: FAS is faster)."""
import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "common"))
import flops  # noqa: E402
import torch  # noqa: E402  (the peer's versions, for the table)
import transformers  # noqa: E402


def safetensors_shapes(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def fmt_ms(ms):
    return f"{ms / 1000:.2f} s" if ms >= 10000 else f"{ms:.1f} ms"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--command", default="bench/run.sh")
    a = p.parse_args()
    # A benchmark's stdout also carries the trainer's log lines; the results are the JSON objects.
    rows = [json.loads(line) for line in open(os.path.join(a.work, "results.jsonl")) if line.startswith("{")]
    meta = next(r for r in rows if r.get("meta"))
    # The machine's limit: the faster of the two GEMMs LibTorch carries (MKL's, what torch.matmul runs, and
    # oneDNN's, what FAS's encoder inference runs), both measured by `fas doctor`.
    onednn = meta.get("onednn_matmul_gflops", 0)
    gflops_limit = max(meta["matmul_gflops"], onednn)
    loads = {(r["bench"], r["event"]): r["load"] for r in rows if "event" in r}

    def timed(bench):
        out = {}
        for r in rows:
            if r.get("bench") == bench and "ms" in r:
                out.setdefault(r["impl"], []).append(r)
        return out

    # The peer as the table names it, from the versions this interpreter imports.
    peer_name = f"PyTorch {torch.__version__.split('+')[0]} / transformers {transformers.__version__}"
    speed = [f"| benchmark | case | FAS | {peer_name} | ratio PyTorch / FAS | load avg (start → end) |",
             "| --- | --- | --- | --- | --- | --- |"]
    memory = [f"| benchmark | case | FAS peak RSS | {peer_name} peak RSS |", "| --- | --- | --- | --- |"]
    work = ["| benchmark | case | GFLOP a step | FAS GFLOP/s | FAS % of matmul limit | PyTorch % of matmul limit |",
            "| --- | --- | --- | --- | --- | --- |"]
    ratios = []

    def load_range(bench):
        s, e = loads.get((bench, "start")), loads.get((bench, "end"))
        return f"{s.split()[0]} → {e.split()[0]}" if s and e else ""

    def add_flops(bench, case, gflop, fas_ms, torch_ms, fas_gflop=None):
        """fas_gflop: the work FAS's own route does when it is less than the model's (benchmark 2)."""
        fas_rate, torch_rate = (fas_gflop or gflop) / (fas_ms / 1000), gflop / (torch_ms / 1000)
        shown = f"{gflop:.1f}" + (f" (FAS's route: {fas_gflop:.1f})" if fas_gflop else "")
        work.append(f"| {bench} | {case} | {shown} | {fas_rate:.0f} | {100 * fas_rate / gflops_limit:.0f} % | "
                    f"{100 * torch_rate / gflops_limit:.0f} % |")

    # 1: the encoder benchmark's own table, read back.
    enc_path = os.path.join(a.work, "encoder.md")
    if os.path.exists(enc_path):
        pattern = re.compile(r"^\| ([\d.]+) s \| (\d+) \| ([\d.]+) ms \| ([\d.]+) ms \| ([\d.]+) \|")
        for line in open(enc_path):
            m = pattern.match(line)
            if not m:
                continue
            seconds, batch, ours, peer = float(m[1]), int(m[2]), float(m[3]), float(m[4])
            case = f"{seconds:g} s x {batch}"
            audio = seconds * batch
            speed.append(f"| 1 encoder forward (RTF) | {case} | {fmt_ms(ours)} ({ours / 1000 / audio:.3f}) | "
                         f"{fmt_ms(peer)} ({peer / 1000 / audio:.3f}) | **{peer / ours:.2f}** | "
                         f"{load_range('encoder')} |")
            ratios.append(peer / ours)
            add_flops("1 encoder forward", case, flops.encoder_forward(seconds, batch) / 1e9, ours, peer)
        rss = {r["impl"]: r["peak_rss_mib"] for r in rows if r.get("bench") == "encoder_rss"}
        if rss:
            memory.append(f"| 1 encoder forward | 10 s x 8 | {rss['fas']:.0f} MiB | {rss['torch']:.0f} MiB |")

    # 2 and 3: training steps.
    for bench, label in (("head", "2 head training step"), ("train_step", "3 full training step")):
        t = timed(bench)
        if "fas" not in t or "torch" not in t:
            continue
        ours = statistics.median(x for r in t["fas"] for x in r["ms"])
        peer = statistics.median(x for r in t["torch"] for x in r["ms"])
        case = t["fas"][0]["case"]
        speed.append(f"| {label} | {case} | {fmt_ms(ours)} | {fmt_ms(peer)} | **{peer / ours:.2f}** | "
                     f"{load_range(bench)} |")
        ratios.append(peer / ours)
        memory.append(f"| {label} | {case} | {max(r['peak_rss_mib'] for r in t['fas']):.0f} MiB | "
                      f"{max(r['peak_rss_mib'] for r in t['torch']):.0f} MiB |")
        d = os.path.join(a.work, bench)
        if bench == "head":
            c = json.load(open(os.path.join(d, "head.json")))
            s = safetensors_shapes(os.path.join(d, "batch.safetensors"))
            shape = (c, s["acoustic"][0], s["acoustic"][1], c["acoustic_dim"], s["semantic"][1], c["semantic_dim"],
                     c["num_classes"])
            g, g_fas = flops.head_step(*shape), flops.head_step_fas(*shape)
        else:
            m = json.load(open(os.path.join(d, "model.json")))
            s = safetensors_shapes(os.path.join(d, "batch.safetensors"))
            g, g_fas = flops.train_step(m, s["waveform"][0], s["waveform"][1], s["input_ids"][1]), None
        add_flops(label, case, g / 1e9, ours, peer, g_fas / 1e9 if g_fas else None)

    # 4: extraction, whole processes.
    ext = [r for r in rows if r.get("bench") == "extract" and "wall_s" in r]  # not the start / end marks
    if ext:
        audio = float(ext[0]["audio_seconds"])
        ours = statistics.median(r["wall_s"] for r in ext if r["impl"] == "fas")
        peer = statistics.median(r["wall_s"] for r in ext if r["impl"] == "torch")
        speed.append(f"| 4 feature extraction (audio s / s) | {audio:.0f} s of audio, 16 + 48 kHz | "
                     f"{audio / ours:.1f} ({ours:.1f} s) | {audio / peer:.1f} ({peer:.1f} s) | **{peer / ours:.2f}** | "
                     f"{load_range('extract')} |")
        ratios.append(peer / ours)
        memory.append(f"| 4 feature extraction | whole process | "
                      f"{max(r['peak_rss_mib'] for r in ext if r['impl'] == 'fas'):.0f} MiB | "
                      f"{max(r['peak_rss_mib'] for r in ext if r['impl'] == 'torch'):.0f} MiB |")

    data_path = os.path.join(a.work, "data.txt")
    data = open(data_path).read().rstrip() if os.path.exists(data_path) else ""

    lines = [
        "# FAS against PyTorch on this machine",
        "",
        f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores, {meta['threads']} threads on both sides; "
        f"`fas doctor` matmul: {meta['matmul_gflops']:.0f} GFLOP/s"
        + (f" (MKL), {onednn:.0f} GFLOP/s (oneDNN); the limit below is the faster" if onednn else "")
        + f". {meta['rounds']} rounds alternating FAS and PyTorch "
        f"(training benchmarks: {meta['steps']} timed steps a round after warm-up); medians over every timed run. "
        f"The peer: {peer_name} from the project's venv (the wheel whose LibTorch FAS links; SDPA attention, "
        "inference_mode, fused AdamW)"
        + (", peers run with FAS's allocator settings (PEER_MALLOC=tuned)" if meta.get("peer_malloc") == "tuned"
           else "") + ".",
        "",
        "## Speed", "", *speed, "",
        "## Peak resident memory (benchmark 5)", "", *memory, "",
        "## Work per step and the matmul limit", "",
        "FLOPs count matrix products and convolutions (flops.py); a training step counts its backward as twice the "
        "forward (once where no input gradient is needed). FAS's head step computes the same function with less "
        "work (flops.head_step_fas); its rate is its own FLOPs over its time.", "", *work, "",
    ]
    if data:
        lines += ["## Data loading (bench/data/run.sh: audio seconds per CPU second and per wall second)", "",
                  "```", data, "```", ""]
    lines += [f"Smallest ratio: {min(ratios):.2f}." if ratios else "", "", f"Reproduce: `{a.command}`", ""]
    text = "\n".join(lines)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
