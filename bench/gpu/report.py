"""The one table of scripts/gpu-check.sh: rows.jsonl (one JSON object a check: section, check, result, value,
goal), in the order written, as markdown. `report.py ROWS.jsonl` prints it; the exit status is 0 (a failed check is
a row, not a crash of the report)."""
import json
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    print("| section | check | result | value | goal |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        cells = [str(r.get(k, "")).replace("|", "/").replace("\n", " ") for k in
                 ("section", "check", "result", "value", "goal")]
        print("| " + " | ".join(cells) + " |")
    counts = {}
    for r in rows:
        key = r.get("result", "").split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    print("\n" + ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
