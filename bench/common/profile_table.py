"""Sums up a trace of LibTorch's autograd profiler (`bench_head --profile T.json`, `bench_train_step --profile`):
self time per operator (its own time minus that of the operators it called, on the same thread), largest first.
With --sequence, instead the top-level operators (those no other operator called) of the busiest thread in call
order, each with its inclusive time: for one forward pass that is the model stage by stage, and it reads the same
for a trace of torch.autograd.profiler from Python, so two implementations compare stage by stage.
    profile_table.py TRACE.json [--top 25] [--sequence]"""
import argparse
import collections
import json


def print_sequence(events):
    events = sorted(events, key=lambda e: (e["ts"], -e["dur"]))
    end, total = -1.0, 0.0
    print(f"{'top-level operator':40} {'ms':>9} {'cumulative':>11}")
    for e in events:
        if e["ts"] < end:
            continue  # called by the previous top-level operator
        end = e["ts"] + e["dur"]
        total += e["dur"]
        print(f"{e['name'][:40]:40} {e['dur'] / 1000:9.2f} {total / 1000:11.2f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sequence", action="store_true")
    a = p.parse_args()
    with open(a.trace) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[e.get("tid", 0)].append(e)
    if a.sequence:
        print_sequence(max(by_thread.values(), key=lambda evs: sum(e["dur"] for e in evs)))
        return
    self_us = collections.Counter()
    calls = collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, time of its direct children]
        for e in evs:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                done, children = stack.pop()
                self_us[done["name"]] += done["dur"] - children
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
            calls[e["name"]] += 1
        for done, children in stack:
            self_us[done["name"]] += done["dur"] - children
    total = sum(self_us.values())
    print(f"{'operator':48} {'self ms':>10} {'share':>7} {'calls':>8}")
    for name, us in self_us.most_common(a.top):
        print(f"{name[:48]:48} {us / 1000:10.1f} {100 * us / total:6.1f}% {calls[name]:8d}")
    print(f"{'total':48} {total / 1000:10.1f}")


if __name__ == "__main__":
    main()
