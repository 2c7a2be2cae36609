#!/usr/bin/env python3
"""Tables of a budget study (bench/budget-study.sh): per task, the task's GLUE metric (MCC for CoLA,
accuracy for SST-2 and RTE) as mean ± std over seeds for every config and budget, with steps,
training tokens/s, peak RSS and peak live heap (largest heap occupancy after a GC; after a full GC
where there was one, else an upper bound after a young GC, marked ≤).

Usage: bench/budget_table.py RUNS_DIR [--json FILE]
"""
import json
import os
import re
import statistics
import sys
from collections import defaultdict

METRIC = {"cola": ("MCC", "after_mcc", 1), "rte": ("accuracy", "after_accuracy", 100), "sst2": ("accuracy", "after_accuracy", 100)}
UNITS = {"K": 1 / 1024, "M": 1, "G": 1024}
NAME = re.compile(r"^(?P<config>.+)-b(?P<budget>[^-]+)-s(?P<seed>\d+)$")


def live_heap(gc_log):
    if not os.path.exists(gc_log):
        return None, False
    full, young = [], []
    for line in open(gc_log, errors="replace"):
        g = re.search(r"\d+[KMG]->(\d+)([KMG])\(", line)
        if g:
            (full if "Pause Full" in line else young).append(int(g.group(1)) * UNITS[g.group(2)])
    if full:
        return max(full), True
    return (max(young), False) if young else (None, False)


def peak_rss(time_file):
    if not os.path.exists(time_file):
        return None
    for line in open(time_file):
        if "Maximum resident set size" in line:
            return int(line.split(":")[1]) / 1024
    return None


def runs(root):
    for task in sorted(os.listdir(root)):
        tdir = os.path.join(root, task)
        if not os.path.isdir(tdir) or task not in METRIC:
            continue
        for d in sorted(os.listdir(tdir)):
            m = NAME.match(d)
            res = os.path.join(tdir, d, "results.json")
            if not m or not os.path.isfile(res):
                continue
            r = json.load(open(res))
            heap, exact = live_heap(os.path.join(tdir, d + ".gc.log"))
            yield dict(task=task, config=m["config"], budget=m["budget"], seed=int(m["seed"]), steps=r["steps"],
                       metric=r.get(METRIC[task][1]), tokens_per_s=r.get("tokens_per_s"), seconds=r.get("seconds"),
                       stopped_by=r.get("stopped_by"), rss=peak_rss(os.path.join(tdir, d + ".time")), heap=heap, heap_exact=exact)


def fmt(values, scale):
    v = [x * scale for x in values if x is not None]
    if not v:
        return "—"
    if len(v) == 1:
        return f"{v[0]:.2f}" if scale == 100 else f"{v[0]:.3f}"
    mean, sd = statistics.mean(v), statistics.stdev(v)
    return (f"{mean:.2f} ± {sd:.2f}" if scale == 100 else f"{mean:.3f} ± {sd:.3f}") + f" (n={len(v)})"


def budget_key(b):
    return (1, 0) if b == "epoch" else (0, float(b))


def main():
    root = sys.argv[1]
    rows = list(runs(root))
    if "--json" in sys.argv:
        json.dump(rows, open(sys.argv[sys.argv.index("--json") + 1], "w"), indent=1)
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["config"], r["budget"])].append(r)
    for task in sorted({r["task"] for r in rows}):
        label, _, scale = METRIC[task]
        budgets = sorted({r["budget"] for r in rows if r["task"] == task}, key=budget_key)
        configs = sorted({r["config"] for r in rows if r["task"] == task}, key=lambda c: (c.startswith("xgb-"), c))
        print(f"\n### {task}: dev {label} by wall-clock budget (LoRA-epoch-equivalents), mean ± std over seeds\n")
        print("| config | " + " | ".join(f"{b} E" if b != "epoch" else "1 epoch" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for c in configs:
            print(f"| {c} | " + " | ".join(fmt([r["metric"] for r in by[(task, c, b)]], scale) for b in budgets) + " |")
        print(f"\n{task}: steps, training tokens/s, peak RSS and peak live heap (seed 0)\n")
        print("| config | budget | steps | tokens/s | job wall time | peak RSS | live heap | stopped by |")
        print("|---|---|---|---|---|---|---|---|")
        for c in configs:
            for b in budgets:
                for r in by[(task, c, b)]:
                    if r["seed"] != 0:
                        continue
                    heap = "—" if r["heap"] is None else ("" if r["heap_exact"] else "≤ ") + f"{r['heap']:,.0f} MiB"
                    rss = "—" if r["rss"] is None else f"{r['rss']:,.0f} MiB"
                    print(f"| {c} | {b} | {r['steps']} | {r['tokens_per_s']:,.0f} | {r['seconds']:.0f} s | {rss} | {heap} | "
                          f"{r['stopped_by'] or 'horizon'} |")


if __name__ == "__main__":
    main()
