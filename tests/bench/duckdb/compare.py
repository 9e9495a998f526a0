#!/usr/bin/env python3
"""compare.py [--approx] [--collisions] DUCKDB_TSV STORE_TSV

DuckDB's metric table (full.sql or full_approx.sql: TSV with a header
line) against the toolkit's store as `muse-cat` prints it, key for key:
keys present on both sides; counters (impressions, plays, qplays,
watch_s) equal as text; distinct counts (reach, qreach, areach) equal
where the store's sketch is sparse or empty (it is exact then), else
within 3 standard errors of HyperLogLog at lgK 14 (1.04 / 128) plus one.
With --approx the DuckDB side's distinct counts are estimates too
(approx_count_distinct): they are not checked, only summarised (mean and
largest relative difference where the larger count is at least 100).  With --collisions a sparse count below the exact
one by 1 or 2 is not a mismatch but is counted apart: the store's sparse
sketch counts distinct 32-bit HLL coupons (26 address bits of the user
hash and a 6-bit rank), and two users share a coupon with probability
about 2^-26/3, which at the 10^9 user pairs of a large data set happens.
Prints one summary line; mismatches on standard
error; exit status 1 when any."""
import sys

COUNTERS = ("impressions", "plays", "qplays", "watch_s")
DISTINCT = ("reach", "qreach", "areach")
DIMS = ("title", "asset", "date", "segment", "country")
RSE = 1.04 / 128


def rows(path):
    with open(path, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if not ln.startswith("# ")]
    head = lines[0].split("\t")
    out = {}
    for ln in lines[1:]:
        r = ln.split("\t")
        if r == head:
            continue
        d = dict(zip(head, r))
        out[tuple(d[k] for k in DIMS if k in d)] = d
    return out


def main(argv):
    approx_side = "--approx" in argv
    collisions_ok = "--collisions" in argv
    argv = [x for x in argv if x not in ("--approx", "--collisions")]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = rows(argv[0]), rows(argv[1])
    bad = []
    for k in sorted(set(a) - set(b)):
        bad.append("key only in DuckDB: %s" % (k,))
    for k in sorted(set(b) - set(a)):
        bad.append("key only in the store: %s" % (k,))
    both = sorted(set(a) & set(b))
    exact = estimated = collided = 0
    worst = total = 0.0
    nrel = 0
    for k in both:
        x, y = a[k], b[k]
        for c in COUNTERS:
            if x[c] != y[c]:
                bad.append("%s: %s DuckDB %s, store %s" % (k, c, x[c], y[c]))
        for c in DISTINCT:
            want, got = int(x[c]), int(y[c])
            if approx_side:
                if max(want, got) >= 100:
                    rel = abs(got - want) / max(want, got)
                    worst = max(worst, rel)
                    total += rel
                    nrel += 1
                continue
            if y.get(c + "_form", "sparse") in ("sparse", "empty", "explicit"):
                exact += 1
                if collisions_ok and 0 < want - got <= 2:
                    collided += 1
                elif got != want:
                    bad.append("%s: %s DuckDB %d, store %d (%s: exact)"
                               % (k, c, want, got, y.get(c + "_form")))
            else:
                estimated += 1
                if abs(got - want) > 3 * RSE * want + 1:
                    bad.append("%s: %s DuckDB %d, store %d (estimate beyond 3 sigma)"
                               % (k, c, want, got))
    for m in bad[:30]:
        print("  " + m, file=sys.stderr)
    if len(bad) > 30:
        print("  ... %d mismatches in all" % len(bad), file=sys.stderr)
    if approx_side:
        what = ("distinct counts of at least 100 differ by %.2f%% on average, "
                "%.2f%% at most (%d counts; both sides estimate)"
                % (100 * total / max(nrel, 1), 100 * worst, nrel))
    else:
        what = "%d exact distinct counts equal, %d store estimates within 3 sigma" % (
            exact - collided, estimated)
        if collisions_ok:
            what += ", %d sparse counts 1 or 2 below (coupon collisions)" % collided
    print("%d keys, %d counters equal, %s%s" % (
        len(both), 4 * len(both), what,
        "" if not bad else "; %d MISMATCHES" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
