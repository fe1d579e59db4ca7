"""Runs one command and prints a JSON line with its wall time, CPU time and peak resident memory (ru_maxrss of
that child alone, through wait4), plus the fields given as KEY=VALUE before `--`:
    measure.py bench=extract impl=fas -- fas extract --config C
The command's stdout goes to stderr, so that stdout carries only the measurement."""
import json
import os
import subprocess
import sys
import time


def main():
    split = sys.argv.index("--")
    fields = dict(kv.split("=", 1) for kv in sys.argv[1:split])
    command = sys.argv[split + 1:]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=sys.stderr)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"error: {' '.join(command)} exited with {code}")
    fields.update({"wall_s": round(wall, 4), "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
                   "peak_rss_mib": round(usage.ru_maxrss / 1024.0, 1)})
    print(json.dumps(fields), flush=True)


if __name__ == "__main__":
    main()
