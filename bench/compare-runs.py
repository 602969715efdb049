#!/usr/bin/env python3
"""bench/compare-runs.py — do two runs of one experiment reach the same
conclusions?  Reads each run's report/effects.csv (written by
`prunebench report DIR`) and prints, per comparison (model, dataset,
backend, chain vs reference, metric): both runs' effect with its 95 %
interval, rounds used and verdict, then how many verdicts agree, the sets
each run called real, and the A/A comparisons called real.  Asserts
nothing; exit 0.

  bench/compare-runs.py RUN_A RUN_B [--markdown]

RUN_* is a results folder (its report/effects.csv is read) or an
effects.csv itself.
"""
import csv
import os
import sys


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "report", "effects.csv")
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = (r["model"], r["dataset"], r["backend"], r["chain"], r["reference"], r["metric"])
            rows[key] = r
    return rows


def cell(r):
    if r is None:
        return "—", "absent"
    if r["verdict"] == "no test":
        return "—", "no test"
    fx = "%+.1f %% [%+.1f, %+.1f]" % (float(r["effect_pct"]), float(r["ci_low_pct"]),
                                      float(r["ci_high_pct"]))
    n = int(r["rounds"])
    ex = int(r.get("rounds_excluded") or 0)
    used = "%d of %d" % (n, n + ex) if ex else "%d" % n
    return "%s, %s rounds, BH p %.3g" % (fx, used, float(r["p_bh"])), r["verdict"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    md = "--markdown" in sys.argv
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    a, b = load(args[0]), load(args[1])
    keys = sorted(set(a) | set(b))
    agree = 0
    tested = 0
    real_a, real_b, aa_real = set(), set(), []
    if md:
        print("| model | backend | chain | metric | run A effect [95 % CI] | verdict "
              "| run B effect [95 % CI] | verdict |")
        print("|---|---|---|---|---|---|---|---|")
    for k in keys:
        ra, rb = a.get(k), b.get(k)
        ca, va = cell(ra)
        cb, vb = cell(rb)
        if va == "no test" and vb == "no test":
            continue
        tested += 1
        agree += va == vb
        if va == "real":
            real_a.add(k)
        if vb == "real":
            real_b.add(k)
        for r, name, v in ((ra, "A", va), (rb, "B", vb)):
            if r is not None and r["aa_control"] == "1" and v == "real":
                aa_real.append((name, k))
        mark = "" if va == vb else " ≠"
        if md:
            print("| %s | %s | %s | %s | %s | %s | %s | %s%s |" % (k[0], k[2], k[3], k[5], ca, va,
                                                             cb, vb, mark))
        else:
            print("%-8s %-8s %-26s %-22s A: %-50s %-6s B: %-50s %-6s%s" %
                  (k[0], k[2], k[3], k[5], ca, va, cb, vb, mark))
    print()
    print("comparisons tested: %d; verdicts agree: %d; differ: %d" % (tested, agree, tested - agree))
    print("called real: run A %d, run B %d, in both %d" %
          (len(real_a), len(real_b), len(real_a & real_b)))
    print("A/A comparisons called real: %d%s" %
          (len(aa_real), "" if not aa_real else " " + repr(aa_real)))
    print("same set called real: %s" % ("yes" if real_a == real_b else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
