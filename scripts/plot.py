#!/usr/bin/python3
"""Plots of a folder of runs, written as PNG beside the tables (`fas tables` calls this).

    /usr/bin/python3 scripts/plot.py --runs runs/synth --out runs/synth/plots

Reads what the runs left: eval/NAME/results.json (confusion matrices, conflict figures), metrics.jsonl (training
curves) and config.yaml (the run's name). Writes:
  confusion_<dataset>.png   one row-normalised confusion matrix per model (summed over seeds), counts in the cells
  training_curves.png       training loss and the dev metric against the optimizer step, one line per model and seed
  conflict.png              congruent vs conflict accuracy and semantic bias rate per model (mean, std over seeds)
Sweep cells (runs named MODEL@CELL) are left out of the confusion matrices and curves, as they are of the tables.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# The paper's row order: baselines and ablations first, FAS last; other names before them, alphabetically.
MODEL_ORDER = ["acoustic_only", "semantic_only", "concat", "gated", "late_fusion", "cross_attention",
               "fas_random_select", "fas_full_attention", "fas"]
ZERO_SHOT = ["case", "conflict", "emo-emilia", "emovo", "emodb", "emis", "aspire"]
IN_DOMAIN = ["meld", "ravdess", "esd", "iemocap", "mosei", "mer2024", "test"]
CANONICAL = ["neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"]


def model_key(name):
    return (MODEL_ORDER.index(name) if name in MODEL_ORDER else -1, name)


def dataset_key(name):
    if name in ZERO_SHOT:
        return (0, ZERO_SHOT.index(name), name)
    if name in IN_DOMAIN:
        return (1, IN_DOMAIN.index(name), name)
    return (2, 0, name)


def run_name(run_dir, fallback):
    """The top-level `name:` of the run's config.yaml (the resolved config is plain block YAML)."""
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(path):
        return fallback
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("name:"):
                value = line[len("name:"):].strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                return value or fallback
    return fallback


def collect(runs):
    """Every results.json below `runs`: (run_dir, model name, result dict)."""
    found = []
    for root, _dirs, files in os.walk(runs):
        if "results.json" not in files:
            continue
        path = os.path.join(root, "results.json")
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        parent = os.path.dirname(root)
        run_dir = os.path.dirname(parent) if os.path.basename(parent) == "eval" else root
        found.append((run_dir, run_name(run_dir, result.get("model", "?")), result))
    found.sort(key=lambda t: (model_key(t[1]), t[0]))
    return found


def plot_confusions(results, out):
    written = []
    by_dataset = {}
    for _run, model, r in results:
        if "@" in model:
            continue
        by_dataset.setdefault(r["dataset"], {}).setdefault(model, []).append(r)
    for dataset in sorted(by_dataset, key=dataset_key):
        models = sorted(by_dataset[dataset], key=model_key)
        labels = []
        for m in models:
            for r in by_dataset[dataset][m]:
                labels += [l for l in r.get("labels", []) if l not in labels]
        labels.sort(key=lambda l: CANONICAL.index(l) if l in CANONICAL else len(CANONICAL))
        cols = min(4, len(models))
        rows = math.ceil(len(models) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows + 0.6), squeeze=False)
        for ax in axes.flat[len(models):]:
            ax.axis("off")
        for ax, m in zip(axes.flat, models):
            counts = np.zeros((len(labels), len(labels)))
            seeds = by_dataset[dataset][m]
            for r in seeds:
                idx = [labels.index(l) for l in r.get("labels", [])]
                for i, row in zip(idx, r.get("confusion", [])):
                    for j, v in zip(idx, row):
                        counts[i, j] += v
            totals = counts.sum(axis=1, keepdims=True)
            share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
            ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
            for i in range(len(labels)):
                for j in range(len(labels)):
                    if counts[i, j] > 0:
                        ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                                color="white" if share[i, j] > 0.55 else "black")
            acc = np.trace(counts) / max(counts.sum(), 1)
            ax.set_title(f"{m}  (acc {100 * acc:.1f}%, {len(seeds)} seed{'s' if len(seeds) > 1 else ''})",
                         fontsize=10)
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels, fontsize=8)
            ax.set_xlabel("predicted", fontsize=8)
            ax.set_ylabel("true (voice)", fontsize=8)
        fig.suptitle(f"Confusion matrices on {dataset} (rows normalised; numbers are counts summed over seeds)",
                     fontsize=12)
        fig.tight_layout()
        path = os.path.join(out, f"confusion_{dataset}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def read_metrics(run_dir):
    steps, losses, dev_steps, dev = [], [], [], {}
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                j = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a killed run
            if j.get("event") == "eval" and j.get("split", "dev") == "dev":
                dev_steps.append(j["step"])
                for k, v in j.items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "epoch", "seed"):
                        dev.setdefault(k, []).append(v)
            elif "event" not in j and isinstance(j.get("loss"), (int, float)):
                steps.append(j["step"])
                losses.append(j["loss"])
    return steps, losses, dev_steps, dev


def plot_curves(results, out, metric):
    runs = {}
    for run, model, _r in results:
        if "@" not in model:
            runs[run] = model
    models = sorted(set(runs.values()), key=model_key)
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(models)}
    fig, (ax_loss, ax_dev) = plt.subplots(1, 2, figsize=(13, 4.8))
    labelled = set()
    for run in sorted(runs, key=lambda r: (model_key(runs[r]), r)):
        data = read_metrics(run)
        if data is None:
            continue
        steps, losses, dev_steps, dev = data
        m = runs[run]
        label = None if m in labelled else m
        labelled.add(m)
        if steps:
            ax_loss.plot(steps, losses, color=colors[m], label=label, linewidth=1.2, alpha=0.85)
        if dev_steps and metric in dev:
            ax_dev.plot(dev_steps, [100 * v for v in dev[metric]], color=colors[m], label=label, marker="o",
                        markersize=3, linewidth=1.2, alpha=0.85)
    ax_loss.set_title("training loss (cross-entropy)")
    ax_loss.set_xlabel("optimizer step")
    ax_loss.set_ylabel("loss")
    ax_loss.grid(alpha=0.3)
    ax_dev.set_title(f"dev {metric} (%)")
    ax_dev.set_xlabel("optimizer step")
    ax_dev.set_ylabel(f"{metric} (%)")
    ax_dev.grid(alpha=0.3)
    ax_dev.legend(fontsize=8, loc="lower right")
    ax_loss.legend(fontsize=8, loc="upper right")
    fig.suptitle("Training curves (one line per model and seed)", fontsize=12)
    fig.tight_layout()
    path = os.path.join(out, "training_curves.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def plot_conflict(results, out):
    by_dataset = {}
    for _run, model, r in results:
        c = r.get("conflict") or {}
        if "@" in model or not c.get("n"):
            continue
        by_dataset.setdefault(r["dataset"], {}).setdefault(model, []).append(r)
    if not by_dataset:
        return []
    datasets = sorted(by_dataset, key=dataset_key)
    fig, axes = plt.subplots(len(datasets), 1, figsize=(12, 4.3 * len(datasets)), squeeze=False)
    series = [("congruent ACC", lambda r: (r.get("congruent") or {}).get("acc") if (r.get("congruent") or {}).get("n") else None),
              ("conflict ACC", lambda r: r["conflict"].get("acc")),
              ("semantic bias (lower is better)", lambda r: r["conflict"].get("semantic_bias_rate"))]
    colors = ["#4c72b0", "#dd8452", "#c44e52"]
    for ax, dataset in zip(axes[:, 0], datasets):
        models = sorted(by_dataset[dataset], key=model_key)
        x = np.arange(len(models))
        # A series no model has (congruent ACC on an all-conflict set) gets no bars at all, rather than zeros.
        present = [(name, get) for name, get in series
                   if any(get(r) is not None for m in models for r in by_dataset[dataset][m])]
        width = 0.8 / len(present)
        several_seeds = any(len(by_dataset[dataset][m]) > 1 for m in models)
        for k, (name, get) in enumerate(present):
            means, stds = [], []
            for m in models:
                v = [100 * get(r) for r in by_dataset[dataset][m] if get(r) is not None]
                means.append(np.mean(v) if v else np.nan)
                stds.append(np.std(v, ddof=1) if len(v) > 1 else 0.0)
            offset = (k - (len(present) - 1) / 2) * width
            bars = ax.bar(x + offset, np.nan_to_num(means), width, yerr=stds if several_seeds else None, capsize=3,
                          label=name, color=colors[series.index((name, get))])
            ax.bar_label(bars, labels=["n/a" if np.isnan(v) else f"{v:.0f}" for v in means], fontsize=9,
                         label_type="edge", padding=2)
        ax.set_xticks(x)
        ax.set_xticklabels(models, rotation=15, ha="right")
        ax.set_ylim(0, 110)
        ax.set_ylabel("%")
        n = by_dataset[dataset][models[0]][0]["conflict"]["n"]
        seeds = "mean, whiskers: std over seeds" if several_seeds else "one seed"
        ax.set_title(f"{dataset}: accuracy on congruent and conflict utterances, and semantic bias "
                     f"({n} conflict utterances; {seeds})", fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=9, loc="upper right", ncol=len(present))
    fig.tight_layout()
    path = os.path.join(out, "conflict.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", required=True, help="folder holding run directories (any depth)")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.add_argument("--metric", default="ua", help="dev metric for the curves (a key of the eval lines)")
    args = p.parse_args()
    results = collect(args.runs)
    if not results:
        print(f"plot.py: no results.json under {args.runs}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    written = plot_confusions(results, args.out) + plot_curves(results, args.out, args.metric) + \
        plot_conflict(results, args.out)
    for w in written:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
