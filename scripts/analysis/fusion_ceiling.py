#!/usr/bin/python3
"""What the synthetic suite's fusion heads can be expected to reach, and whether two heads really differ.

Bayes fusion: the voice-only model (acoustic_only) and the words-only model (text_emotion) of each seed combined
by Bayes' rule under the training set's joint distribution of voice label and words' emotion:
    P(y | a, t)  ~  P(y | a) * sum_e P(e | t) P(e | y)        (uniform class priors, a and t independent given y)
It is what an ideal head over the same two streams does if it fits the training distribution: with 75 % of
training congruent, it follows the words unless the voice is clear. The same with the words' true emotion
(text_label) in place of text_emotion's reading is the ideal for a head that reads the words perfectly.

Paired comparison (--compare A B): per utterance of conflict.jsonl, over all seeds, how often A is right where B
is wrong and the reverse, with McNemar's test (continuity corrected), so a gap is judged against the utterances the
two heads disagree on rather than against seed-to-seed spread.

    /usr/bin/python3 scripts/analysis/fusion_ceiling.py --runs runs/synth --corpus corpus/synth \
        --seeds 42 1 2 --compare fas concat

text_emotion is not evaluated by the suite (its label is the words' emotion); its predictions on test.jsonl and
conflict.jsonl are made here with `fas eval --name <split>` when missing.
"""
import argparse
import collections
import json
import math
import os
import subprocess
import sys

SPLITS = ("test", "conflict")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def predictions(runs, model, seed, split, fas, corpus):
    run = os.path.join(runs, model, f"seed{seed}")
    path = os.path.join(run, "eval", split, "predictions.jsonl")
    if not os.path.exists(path):
        if not os.path.isdir(run):
            sys.exit(f"error: {run}: no such run; train the suite first (fas reproduce configs/suites/synth.yaml)")
        manifest = os.path.join(corpus, f"{split}.jsonl")
        subprocess.run([fas, "eval", "--run", run, "--manifest", manifest, "--name", split, "--log-level", "warn"],
                       check=True, stdout=subprocess.DEVNULL)
    return {r["id"]: r for r in read_jsonl(path)}


def words_given_voice(train_manifest, labels):
    """P(e | y) from the training manifest, add-half smoothed."""
    counts = collections.Counter((u["label"], u["text_label"]) for u in read_jsonl(train_manifest))
    table = {}
    for y in labels:
        total = sum(counts[(y, e)] for e in labels) + 0.5 * len(labels)
        table[y] = {e: (counts[(y, e)] + 0.5) / total for e in labels}
    return table, sum(counts[(y, y)] for y in labels) / max(sum(counts.values()), 1)


def accuracy(rows):
    return 100.0 * sum(r["pred"] == r["label"] for r in rows) / len(rows)


def mean_std(xs):
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="runs/synth")
    p.add_argument("--corpus", default="corpus/synth")
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--fas", default="build/bin/fas", help="the fas binary (for text_emotion's predictions)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two heads to compare on conflict.jsonl")
    a = p.parse_args()

    fused = {s: [] for s in SPLITS}
    fused_true_words = {s: [] for s in SPLITS}
    table = prior = None
    for seed in a.seeds:
        for split in SPLITS:
            voice = predictions(a.runs, "acoustic_only", seed, split, a.fas, a.corpus)
            words = predictions(a.runs, "text_emotion", seed, split, a.fas, a.corpus)
            labels = list(next(iter(voice.values()))["probs"])
            if table is None:
                table, prior = words_given_voice(os.path.join(a.corpus, "train.jsonl"), labels)
            truth = {u["id"]: u.get("text_label", "") for u in read_jsonl(os.path.join(a.corpus, f"{split}.jsonl"))}
            right = right_true_words = 0
            for uid, v in voice.items():
                t = words[uid]["probs"]
                post = {y: v["probs"][y] * sum(t[e] * table[y][e] for e in labels) for y in labels}
                right += max(post, key=post.get) == v["label"]
                if truth.get(uid) in labels:
                    post = {y: v["probs"][y] * table[y][truth[uid]] for y in labels}
                    right_true_words += max(post, key=post.get) == v["label"]
            fused[split].append(100.0 * right / len(voice))
            fused_true_words[split].append(100.0 * right_true_words / len(voice))
    print(f"training: words' emotion = voice's emotion in {100 * prior:.1f} % of utterances")
    print(f"{'model':24s} {'conflict ACC':>22s} {'test ACC':>22s}")
    rows = [("bayes_fusion", fused), ("bayes_fusion_true_words", fused_true_words)]
    for model in ("acoustic_only", "concat", "gated", "cross_attention", "fas_random_select", "fas_full_attention",
                  "fas"):
        if all(os.path.isdir(os.path.join(a.runs, model, f"seed{s}")) for s in a.seeds):
            rows.append((model, {split: [accuracy(list(predictions(a.runs, model, s, split, a.fas,
                                                                        a.corpus).values())) for s in a.seeds]
                                 for split in SPLITS}))
    for name, acc in rows:
        cells = [f"{mean_std(acc[s])[0]:6.1f} ± {mean_std(acc[s])[1]:4.1f}" for s in ("conflict", "test")]
        print(f"{name:24s} {cells[0]:>22s} {cells[1]:>22s}")

    if a.compare:
        only_a = only_b = 0
        for seed in a.seeds:
            pa = predictions(a.runs, a.compare[0], seed, "conflict", a.fas, a.corpus)
            pb = predictions(a.runs, a.compare[1], seed, "conflict", a.fas, a.corpus)
            for uid, ra in pa.items():
                right_a, right_b = ra["pred"] == ra["label"], pb[uid]["pred"] == pb[uid]["label"]
                only_a += right_a and not right_b
                only_b += right_b and not right_a
        chi2 = (abs(only_a - only_b) - 1) ** 2 / max(only_a + only_b, 1)
        print(f"conflict, paired over seeds {a.seeds}: only {a.compare[0]} right {only_a}, only {a.compare[1]} "
              f"right {only_b}; McNemar chi2 {chi2:.2f}, p {math.erfc(math.sqrt(chi2 / 2)):.3f}")


if __name__ == "__main__":
    main()
