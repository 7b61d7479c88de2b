#!/usr/bin/env python3
"""rr_timeline.py - what a distributed frame's time went to, from a `scripts/gpu-bench.sh
distributed` log run with RR_DETAIL=1 (rr_bench's line per frame) and RR_TRACE=1 (each rank's
line per frame, with `at`: request, stream set-up, render start, render end, stream end on the
host's clock, ms). The ranks write to one stderr, so some lines are cut by others: those are
skipped.

usage: rr_timeline.py LOG     (one block per `== rr_bench` series)

Per series: the client's frame against rank 0's own time (the request/answer path), the slower
rank's render against one rank's (the GPUs' part of the ratio), and per rank the time from its
request to its stream set-up (frames over 0.5 ms there are counted: late starts)."""
import json
import re
import statistics
import sys


def objects(text, prefix):
    """the JSON objects in text that start with prefix (a cut line is skipped)"""
    out = []
    for m in re.findall(r"\{" + re.escape(prefix) + r"[^{}]*\}", text):
        try:
            out.append(json.loads(m))
        except ValueError:
            pass
    return out


def mean(xs):
    return statistics.mean(xs) if xs else float("nan")


def series(block):
    one = objects(block, '"ranks":1,"view"')[1:]  # the first view warms up
    two = objects(block, '"ranks":2,"view"')[1:]
    if not two:
        return None
    r = {"frames": len(two)}
    for name, rows in (("1 rank", one), ("2 ranks", two)):
        if rows:
            r[name] = {
                "frame_ms": mean([x["frame_ms"] for x in rows]),
                "rank0_ms": mean([x["rank0_ms"] for x in rows]),
                "render_max_ms": mean([x["render_max_ms"] for x in rows]),
            }
    if one:
        r["frame_ratio"] = r["2 ranks"]["frame_ms"] / r["1 rank"]["frame_ms"]
        r["render_ratio"] = r["2 ranks"]["render_max_ms"] / r["1 rank"]["render_max_ms"]
    med = statistics.median([x["frame_ms"] for x in two])
    r["frames_over_1.2x_median"] = sum(1 for x in two if x["frame_ms"] > 1.2 * med)
    traces = [x for x in objects(block, '"rank":') if "at" in x and len(x["at"]) >= 5]
    for rank in sorted({x["rank"] for x in traces}):
        mine = sorted((x for x in traces if x["rank"] == rank), key=lambda x: x["at"][0])[1:]  # warm-up
        lead = [x["at"][1] - x["at"][0] for x in mine]
        if lead:
            r["rank %d" % rank] = {
                "request_to_setup_ms": mean(lead),
                "max_ms": max(lead),
                "late_starts": sum(1 for t in lead if t > 0.5),
                "render_ms": mean([x["render_ms"] for x in mine]),
            }
    return r


def rounded(v):
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    return v


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = open(sys.argv[1], errors="replace").read()
    for k, block in enumerate(text.split("== rr_bench")[1:]):
        r = series(block)
        if r:
            print(json.dumps(rounded({"series": k, **r})), flush=True)


if __name__ == "__main__":
    main()
