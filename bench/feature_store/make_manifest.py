"""Writes the feature store benchmark's manifest: at least HOURS of audio as a list-only manifest over the
synthetic corpus's WAVs (nothing is copied). Each pass over corpus/synth/train.jsonl starts every utterance 10 ms
later than the pass before (offset / duration), so that every line is a distinct utterance to the store (its key
holds the offset and the duration) while the audio stays speech. Prints one JSON line: lines, hours."""
import argparse
import json
import os


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", default="corpus/synth", help="folder with train.jsonl and wavs/")
    p.add_argument("--out", required=True, help="manifest to write (its audio paths are made absolute)")
    p.add_argument("--hours", type=float, default=10.0)
    a = p.parse_args()
    root = os.path.abspath(a.corpus)
    with open(os.path.join(root, "train.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    out, seconds, shift = [], 0.0, 0
    while seconds < a.hours * 3600:
        for u in lines:
            offset = 0.01 * shift
            duration = u["duration"] - offset
            if duration < 0.5:
                continue
            v = dict(u, id=f"{u['id']}-p{shift}", audio=os.path.join(root, u["audio"]), offset=round(offset, 2),
                     duration=round(duration, 6))
            out.append(v)
            seconds += duration
        shift += 1
    with open(a.out, "w") as f:
        for v in out:
            f.write(json.dumps(v) + "\n")
    print(json.dumps({"lines": len(out), "hours": seconds / 3600}))


if __name__ == "__main__":
    main()
