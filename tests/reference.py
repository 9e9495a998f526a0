#!/usr/bin/env python3
"""Reference implementation of the muse metrics, written from SPEC.md
sections 3, 4 and 7 alone (never from the C code), for the tests to check
the programs against.  Python standard library only; slow and obvious on
purpose: every distinct count is an exact set of raw user ids.

Usage:
  reference.py [sketch] [--by DIMS] [--window DUR] [--qualify SEC]
               [--authentic SEC] [--date RANGE] [--rollup week|month|all]
               CSV...
      One TSV row per key that has an impression or an attributed play:
      the --by dimensions (title, asset, date, segment, country, in that
      order; with --rollup the date becomes week YYYY-Www, month YYYY-MM or
      disappears), then impressions, plays, qplays, watch_s, reach, qreach,
      areach.  Rows sorted bytewise by the key columns.

  reference.py query|union [-a LIST] [-t LIST] [-s LIST] [-c LIST]
               [-d RANGE] [-b DIMS] [-m LIST] [--window DUR] [--qualify SEC]
               [--authentic SEC] CSV...
      What muse-query answers, exactly: keys at the finest grain are
      filtered (LIST is comma-separated with shell globs; the item '*'
      means the all-users segment only; with no --segment, '*' unless
      grouping by segment, then every segment), grouped by --by (title,
      asset, date, week, month, segment, country; none = one row, also
      when nothing matches).  A group counts each event and each user once
      even where its keys overlap (a union of segments), so its counters
      are the true ones, which a store of per-segment counters cannot
      give.  Default metrics: all ten, in the order impressions, reach,
      plays, qplays, qreach, areach, watch_s, take_rate, authentic_rate,
      bounce_rate.  A rate with a zero denominator prints as an empty
      field.  -o and --ci are accepted and ignored.

  reference.py compare [--lgk N] [--sigmas S] [--exact-below N]
               [--allow-empty-counters] [--min-ci F] [--subset]
               [--check-order] EXPECTED ACTUAL
      Checks a muse-cat dump (TSV) or a muse-query answer (TSV, CSV or
      JSON) against the reference's TSV, key for key: counters exactly;
      distinct counts exactly when the sketch is sparse or empty (or, when
      the form is not shown, below --exact-below), else within --sigmas
      standard errors (1.04 / sqrt(2^lgk)); rates to the fourth decimal;
      *_lo/*_hi bounds around the estimate, holding the exact value in at
      least --min-ci of the cases; value forms (dates, weeks, months, 3
      decimals of watch_s, 4 of rates).  Exit status 1 and the problems on
      standard error when anything differs.

Ambiguities of the SPEC resolved here: two impressions of one asset at
the same second in two countries: the play goes to the bytewise smallest
country; durations are rounded to the millisecond half up (decimal) before
they are compared with Q and A and summed; an empty kind field means play.

Input files are CSV (RFC 4180) or TSV (tab in the header line), optionally
zstd-compressed; the table is inferred from the header: impressions
(asset_id), plays (duration_s), affinities (cluster), assets (asset_type,
ignored).  Bad input: a message naming file and line, exit status 2.
"""

import argparse
import csv
import datetime as dt
import fnmatch
import io
import re
import subprocess
import sys
from decimal import Decimal, ROUND_HALF_UP, InvalidOperation

DIMS = ("title", "asset", "date", "segment", "country")
QDIMS = ("title", "asset", "date", "week", "month", "segment", "country")
METRICS = ("impressions", "reach", "plays", "qplays", "qreach", "areach",
           "watch_s", "take_rate", "authentic_rate", "bounce_rate")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

csv.field_size_limit(1 << 30)


class BadInput(Exception):
    pass


# ---------------------------------------------------------------- parsing

TS_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})"
                    r"(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", re.ASCII)
TS_SPACE = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})",
                      re.ASCII)
DUR = re.compile(r"(\d+(\.\d*)?|\.\d+)", re.ASCII)


def parse_ts(s):
    """Epoch seconds (int) of a SPEC 3 timestamp, fraction dropped."""
    if s.isascii() and s.isdigit():
        n = int(s)
        return n // 1000 if len(s) == 13 else n
    m = TS_ISO.fullmatch(s) or TS_SPACE.fullmatch(s)
    if not m:
        raise ValueError
    y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
    off = 0
    if m.re is TS_ISO and m.group(8) != "Z":
        z = m.group(8)
        oh, om = int(z[1:3]), int(z[4:6])
        if oh > 23 or om > 59:
            raise ValueError
        off = (oh * 3600 + om * 60) * (1 if z[0] == "+" else -1)
    # Fractions are dropped: offsets are whole minutes, so truncating the
    # local time truncates the instant toward the past as well.
    t = dt.datetime(y, mo, d, h, mi, se, tzinfo=dt.timezone.utc)
    return int((t - EPOCH).total_seconds()) - off


def parse_duration_ms(s):
    if not DUR.fullmatch(s):
        raise ValueError
    return int((Decimal(s) * 1000).quantize(Decimal(1), ROUND_HALF_UP))


def parse_seconds_ms(s):
    """A duration option: seconds, or a number with unit s, m, h or d."""
    mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    unit = 1
    if s and s[-1] in mult:
        unit, s = mult[s[-1]], s[:-1]
    try:
        return int((Decimal(s) * 1000 * unit).quantize(Decimal(1),
                                                        ROUND_HALF_UP))
    except InvalidOperation:
        raise argparse.ArgumentTypeError("bad duration")


def check_ident(s):
    b = s.encode("utf-8")
    if not 1 <= len(b) <= 255:
        raise ValueError
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0x80 <= ord(c) < 0xA0
           for c in s):
        raise ValueError
    return s


def day_of(t):
    return (EPOCH + dt.timedelta(seconds=t)).date()


def read_text(path):
    if path == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        raw = subprocess.run(["zstd", "-dcq"], input=raw, check=True,
                             stdout=subprocess.PIPE).stdout
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput("%s: invalid UTF-8 at byte %d" % (path, e.start))


NEEDED = {
    "impressions": ("ts", "user_id", "asset_id", "title_id", "country"),
    "plays": ("ts", "user_id", "title_id", "duration_s"),
    "affinities": ("user_id", "cluster"),
    "assets": ("asset_id", "title_id", "asset_type"),
}


def read_table(path):
    """(table name, list of (line number, {column: value}))."""
    text = read_text(path)
    first = text.split("\n", 1)[0]
    if "\t" in first:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t",
                            quoting=csv.QUOTE_NONE, strict=True)
    else:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise BadInput("%s: empty file" % path)
    for table in ("impressions", "plays", "affinities", "assets"):
        key = {"impressions": "asset_id", "plays": "duration_s",
               "affinities": "cluster", "assets": "asset_type"}[table]
        if key in header and (table != "impressions" or "ts" in header):
            break
    else:
        raise BadInput("%s: cannot tell the table from the header" % path)
    cols = {}
    for name in NEEDED[table] + (("kind",) if table == "plays" else ()):
        if name in header:
            cols[name] = header.index(name)
        elif name != "kind":
            raise BadInput("%s:1: missing column %s" % (path, name))
    rows = []
    try:
        for rec in reader:
            line = reader.line_num
            if rec == [] or rec == [""]:
                continue
            if len(rec) <= max(cols.values()):
                raise BadInput("%s:%d: too few fields" % (path, line))
            rows.append((line, {k: rec[i] for k, i in cols.items()}))
    except csv.Error as e:
        raise BadInput("%s:%d: %s" % (path, reader.line_num, e))
    return table, rows


def load(paths):
    """impressions [(ts, user, asset, title, country)], plays
    [(ts, user, title, duration_ms)], clusters {user: set}."""
    imps, plays, clusters = [], [], {}
    for path in paths:
        table, rows = read_table(path)
        for line, r in rows:
            col = None
            try:
                if table == "impressions":
                    col = "ts"
                    ts = parse_ts(r["ts"])
                    for col in ("user_id", "asset_id", "title_id", "country"):
                        check_ident(r[col])
                    imps.append((ts, r["user_id"], r["asset_id"],
                                 r["title_id"], r["country"]))
                elif table == "plays":
                    col = "ts"
                    ts = parse_ts(r["ts"])
                    for col in ("user_id", "title_id"):
                        check_ident(r[col])
                    col = "duration_s"
                    ms = parse_duration_ms(r["duration_s"])
                    col = "kind"
                    kind = r.get("kind", "") or "play"
                    if kind not in ("play", "preview"):
                        raise ValueError
                    if kind == "play":
                        plays.append((ts, r["user_id"], r["title_id"], ms))
                elif table == "affinities":
                    col = "user_id"
                    u = check_ident(r["user_id"])
                    col = "cluster"
                    s = clusters.setdefault(u, set())
                    for c in r["cluster"].split("|"):
                        s.add(check_ident(c))
            except (ValueError, OverflowError):
                raise BadInput('%s:%d: bad %s "%s"' % (path, line, col,
                                                       r.get(col, "")))
    return imps, plays, clusters


def parse_range(s):
    """(first day, last day) of a SPEC 7 date range; None = unbounded."""
    def period(p, end):
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", p)
        if m:
            return dt.date(*map(int, m.groups()))
        m = re.fullmatch(r"(\d{4})-(\d{2})", p)
        if m:
            y, mo = map(int, m.groups())
            if not end:
                return dt.date(y, mo, 1)
            nxt = dt.date(y + mo // 12, mo % 12 + 1, 1)
            return nxt - dt.timedelta(days=1)
        m = re.fullmatch(r"(\d{4})-Q([1-4])", p)
        if m:
            y, q = map(int, m.groups())
            return period("%04d-%02d" % (y, 3 * q if end else 3 * q - 2), end)
        raise ValueError("bad date range %r" % s)

    if ".." in s:
        a, b = s.split("..", 1)
        lo = period(a, False) if a else None
        hi = period(b, True) if b else None
    else:
        lo, hi = period(s, False), period(s, True)
    return lo, hi


def in_range(d, rng):
    if rng is None:
        return True
    lo, hi = rng
    return (lo is None or d >= lo) and (hi is None or d <= hi)


def bytes_key(t):
    return tuple(("" if x is None else x).encode("utf-8") for x in t)


# ------------------------------------------------------------- attribution

class Cell:
    """One key's events and users.  Counters are kept as sets of event
    numbers so that a union of keys (segments overlap) counts an event
    once, like a distinct count counts a user once."""
    __slots__ = ("imps", "plays", "qplays", "reach", "qreach", "areach")

    def __init__(self):
        self.imps, self.plays, self.qplays = set(), set(), set()
        self.reach, self.qreach, self.areach = set(), set(), set()

    def add(self, o):
        for n in self.__slots__:
            getattr(self, n).update(getattr(o, n))

    def watch_ms(self, durations):
        return sum(durations[i] for i in self.qplays)


def compute(imps, plays, clusters, window_ms, qualify_ms, authentic_ms,
            rng=None, expand=True):
    """{(title, asset, date, segment, country): Cell} at the finest grain;
    segment is '*' plus the user's clusters when expand, else '*' only."""
    cells = {}

    def segs(u):
        if not expand:
            return ("*",)
        return ("*",) + tuple(sorted(clusters.get(u, ())))

    def cell(k):
        c = cells.get(k)
        if c is None:
            c = cells[k] = Cell()
        return c

    by_ut = {}
    for i, (ts, u, a, t, c) in enumerate(imps):
        by_ut.setdefault((u, t), []).append((ts, a, c))
        d = day_of(ts)
        if not in_range(d, rng):
            continue
        for s in segs(u):
            x = cell((t, a, d.isoformat(), s, c))
            x.imps.add(i)
            x.reach.add(u)
    for j, (ts, u, t, ms) in enumerate(plays):
        if not in_range(day_of(ts), rng):
            continue
        best = None
        for its, a, c in by_ut.get((u, t), ()):
            # The window is W seconds (W may be given in ms; timestamps
            # are whole seconds): t - W <= its <= t.
            if its * 1000 < ts * 1000 - window_ms or its > ts:
                continue
            cand = (-its, a.encode("utf-8"), c.encode("utf-8"), a, c)
            if best is None or cand < best:
                best = cand
        if best is None:
            continue            # organic
        its, a, c = -best[0], best[3], best[4]
        d = day_of(its).isoformat()
        for s in segs(u):
            x = cell((t, a, d, s, c))
            x.plays.add(j)
            if ms >= qualify_ms:
                x.qplays.add(j)
                x.qreach.add(u)
                if ms >= authentic_ms:
                    x.areach.add(u)
    return cells


def week_of(date_s):
    y, w, _ = dt.date.fromisoformat(date_s).isocalendar()
    return "%04d-W%02d" % (y, w)


def fmt_ms(ms):
    return "%d.%03d" % (ms // 1000, ms % 1000)


# ---------------------------------------------------------------- commands

def add_params(p):
    p.add_argument("--window", type=parse_seconds_ms, default=86400000)
    p.add_argument("--qualify", type=parse_seconds_ms, default=60000)
    p.add_argument("--authentic", type=parse_seconds_ms, default=900000)
    p.add_argument("files", nargs="+")


def parse_dims(s, allowed):
    if s in ("", "none"):
        return []
    dims = [x.strip() for x in s.split(",")]
    for x in dims:
        if x not in allowed:
            raise argparse.ArgumentTypeError("unknown dimension %r" % x)
    return [x for x in allowed if x in dims]


def cmd_sketch(argv):
    p = argparse.ArgumentParser(prog="reference.py sketch")
    p.add_argument("-b", "--by", default="title,asset,date,segment")
    p.add_argument("-d", "--date")
    p.add_argument("--rollup", choices=("week", "month", "all"))
    p.add_argument("--lgk", help="ignored: the reference counts exactly")
    add_params(p)
    a = p.parse_args(argv)
    dims = parse_dims(a.by, DIMS)
    rng = parse_range(a.date) if a.date else None
    imps, plays, clusters = load(a.files)
    dur = [play[3] for play in plays]
    cells = compute(imps, plays, clusters, a.window, a.qualify, a.authentic,
                    rng, expand="segment" in dims)
    out_dims = list(dims)
    if a.rollup and "date" in dims:
        if a.rollup == "all":
            out_dims.remove("date")
        else:
            out_dims[out_dims.index("date")] = a.rollup
    groups = {}
    for (t, asset, d, s, c), x in cells.items():
        full = {"title": t, "asset": asset, "date": d, "segment": s,
                "country": c}
        if a.rollup == "week":
            full["week"] = week_of(d)
        elif a.rollup == "month":
            full["month"] = d[:7]
        k = tuple(full[n] for n in out_dims)
        g = groups.get(k)
        if g is None:
            g = groups[k] = Cell()
        g.add(x)
    w = sys.stdout.write
    w("\t".join(out_dims + ["impressions", "plays", "qplays", "watch_s",
                            "reach", "qreach", "areach"]) + "\n")
    for k in sorted(groups, key=bytes_key):
        g = groups[k]
        w("\t".join(list(k) + [str(len(g.imps)), str(len(g.plays)),
                               str(len(g.qplays)), fmt_ms(g.watch_ms(dur)),
                               str(len(g.reach)), str(len(g.qreach)),
                               str(len(g.areach))]) + "\n")


def matcher(s):
    """The patterns of a LIST option, None when not given."""
    return None if s is None else s.split(",")


def matches(v, pats, literal_star=False):
    if pats is None:
        return True
    for pat in pats:
        if literal_star and pat == "*":
            if v == "*":
                return True
        elif fnmatch.fnmatchcase(v, pat):
            return True
    return False


def rate(num, den):
    return "" if den == 0 else "%.4f" % (num / den)


def cmd_query(argv):
    p = argparse.ArgumentParser(prog="reference.py query")
    p.add_argument("-a", "--asset")
    p.add_argument("-t", "--title")
    p.add_argument("-s", "--segment")
    p.add_argument("-c", "--country")
    p.add_argument("-d", "--date")
    p.add_argument("-b", "--by", default="")
    p.add_argument("-m", "--metrics", default=",".join(METRICS))
    # Accepted for the convenience of sharing arguments with muse-query;
    # the reference always prints exact TSV in key order.
    p.add_argument("-o", "--format")
    p.add_argument("--ci")
    add_params(p)
    a = p.parse_args(argv)
    dims = parse_dims(a.by, QDIMS)
    metrics = [m.strip() for m in a.metrics.split(",")]
    for m in metrics:
        if m not in METRICS:
            p.error("unknown metric %r" % m)
    rng = parse_range(a.date) if a.date else None
    if a.segment is None and "segment" not in dims:
        a.segment = "*"
    pa, pt, ps, pc = (matcher(a.asset), matcher(a.title), matcher(a.segment),
                      matcher(a.country))
    imps, plays, clusters = load(a.files)
    dur = [play[3] for play in plays]
    cells = compute(imps, plays, clusters, a.window, a.qualify, a.authentic)
    groups = {}
    for (t, asset, d, s, c), x in cells.items():
        if not (matches(t, pt) and matches(asset, pa) and matches(c, pc)
                and matches(s, ps, literal_star=True)
                and in_range(dt.date.fromisoformat(d), rng)):
            continue
        full = {"title": t, "asset": asset, "date": d, "segment": s,
                "country": c, "week": week_of(d), "month": d[:7]}
        k = tuple(full[n] for n in dims)
        g = groups.get(k)
        if g is None:
            g = groups[k] = Cell()
        g.add(x)
    if not dims and not groups:
        groups[()] = Cell()
    w = sys.stdout.write
    w("\t".join(dims + metrics) + "\n")
    for k in sorted(groups, key=bytes_key):
        g = groups[k]
        val = {
            "impressions": str(len(g.imps)), "reach": str(len(g.reach)),
            "plays": str(len(g.plays)), "qplays": str(len(g.qplays)),
            "qreach": str(len(g.qreach)), "areach": str(len(g.areach)),
            "watch_s": fmt_ms(g.watch_ms(dur)),
            "take_rate": rate(len(g.qreach), len(g.reach)),
            "authentic_rate": rate(len(g.areach), len(g.qreach)),
            "bounce_rate": rate(len(g.plays) - len(g.qplays),
                                len(g.plays)),
        }
        w("\t".join(list(k) + [val[m] for m in metrics]) + "\n")



# ----------------------------------------------------------------- compare

COUNTERS = ("impressions", "plays", "qplays", "watch_s")
DISTINCT = ("reach", "qreach", "areach")
RATES = ("take_rate", "authentic_rate", "bounce_rate")
FORMATS = {
    "date": r"\d{4}-\d{2}-\d{2}", "week": r"\d{4}-W\d{2}",
    "month": r"\d{4}-\d{2}", "impressions": r"\d+", "plays": r"\d+",
    "qplays": r"\d+", "watch_s": r"\d+\.\d{3}", "reach": r"\d+",
    "qreach": r"\d+", "areach": r"\d+", "take_rate": r"(\d+\.\d{4})?",
    "authentic_rate": r"(\d+\.\d{4})?", "bounce_rate": r"(\d+\.\d{4})?",
}


def read_actual(path):
    """(header, rows as lists of strings) of muse-cat TSV (the '# ...'
    stream header lines skipped, repeated column lines too), muse-query
    TSV, CSV or JSON (numbers rendered back as text, null as empty)."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        objs = __import__("json").loads(text)
        if not objs:
            return None, []
        header = list(objs[0])
        rows = []
        for o in objs:
            if list(o) != header:
                raise BadInput("%s: JSON objects with different keys" % path)
            row = []
            for k in header:
                v = o[k]
                if v is None:
                    row.append("")
                elif isinstance(v, bool):
                    raise BadInput("%s: boolean in %s" % (path, k))
                elif isinstance(v, float):
                    row.append(("%.3f" if k == "watch_s" else "%.4f") % v)
                else:
                    row.append(str(v))
            rows.append(row)
        return header, rows
    lines = [ln for ln in text.split("\n") if not ln.startswith("# ")]
    grains = set(re.findall(r"^# .* grain=(\w+)", text, re.M))
    body = "\n".join(lines)
    if lines and "\t" in lines[0]:
        recs = [ln.split("\t") for ln in lines if ln != ""]
    else:
        recs = [r for r in csv.reader(io.StringIO(body, newline=""),
                                      strict=True) if r]
    if not recs:
        return None, []
    header = recs[0]
    rows = [r for r in recs[1:] if r != header]
    # A rolled-up sketch stream shows each period by its first day; name
    # it the way muse-query and the reference do.
    if grains & {"week", "month"} and "date" in header:
        if len(grains) > 1:
            raise BadInput("%s: streams of several grains" % path)
        g = grains.pop()
        i = header.index("date")
        header = header[:i] + [g] + header[i + 1:]
        for r in rows:
            d = dt.date.fromisoformat(r[i])
            if g == "week" and d.isoweekday() != 1:
                raise BadInput("%s: week starting on %s" % (path, r[i]))
            if g == "month" and d.day != 1:
                raise BadInput("%s: month starting on %s" % (path, r[i]))
            r[i] = week_of(r[i]) if g == "week" else r[i][:7]
    return header, rows


def cmd_compare(argv):
    p = argparse.ArgumentParser(prog="reference.py compare")
    p.add_argument("--sigmas", type=float, default=3.0)
    p.add_argument("--lgk", type=int, default=14)
    p.add_argument("--exact-below", type=int, default=1000,
                   help="distinct counts below this must be exact when the "
                        "output does not say the sketch form")
    p.add_argument("--allow-empty-counters", action="store_true",
                   help="the output may leave counters (and bounce_rate) "
                        "empty: unions of several segments")
    p.add_argument("--min-ci", type=float, default=0.9,
                   help="share of *_lo..*_hi bounds that must hold the "
                        "exact value")
    p.add_argument("--subset", action="store_true",
                   help="the output may leave keys out (--top)")
    p.add_argument("--check-order", action="store_true",
                   help="the rows must be sorted bytewise by their keys")
    p.add_argument("expected")
    p.add_argument("actual")
    a = p.parse_args(argv)
    eh, erows = read_actual(a.expected)
    ah, arows = read_actual(a.actual)
    problems = []

    def bad(msg):
        problems.append(msg)

    if ah is None:
        print("%s: no output at all" % a.actual, file=sys.stderr)
        return 1
    edims = [h for h in eh if h in QDIMS]
    adims = [h for h in ah if h in QDIMS]
    # The order of the dimension columns is not part of the contract; the
    # set is, and the rows are keyed by name.
    if sorted(edims) != sorted(adims):
        bad("key columns %s, expected %s" % (adims, edims))
    for h in ah:
        base = re.sub(r"_(form|lo|hi)$", "", h)
        if h not in edims and base not in eh:
            bad("unexpected column %r" % h)
    if len(set(ah)) != len(ah):
        bad("repeated column names: %s" % ah)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    ecol = {h: i for i, h in enumerate(eh)}
    acol = {h: i for i, h in enumerate(ah)}
    exp = {}
    for r in erows:
        exp[tuple(r[ecol[d]] for d in edims)] = r
    act = {}
    order = []
    for r in arows:
        if len(r) != len(ah):
            bad("row with %d fields, header has %d: %s" % (len(r), len(ah),
                                                          r))
            continue
        k = tuple(r[acol[d]] for d in edims)
        if k in act:
            bad("key %s appears twice" % (k,))
        act[k] = r
        order.append(tuple(r[acol[d]] for d in adims))
    if a.check_order and order != sorted(order, key=bytes_key):
        bad("rows are not sorted by their keys")
    missing = [] if a.subset else [k for k in exp if k not in act]
    extra = [k for k in act if k not in exp]
    for k in sorted(missing, key=bytes_key)[:10]:
        bad("missing key %s" % (k,))
    for k in sorted(extra, key=bytes_key)[:10]:
        bad("unexpected key %s: %s" % (k, act[k]))
    if len(missing) + len(extra) > 20:
        bad("%d keys missing, %d unexpected" % (len(missing), len(extra)))
    rse = 1.04 / (1 << a.lgk) ** 0.5
    ci_total = ci_hold = 0
    ncmp = 0
    for k in sorted(exp, key=bytes_key):
        if k not in act:
            continue
        e, r = exp[k], act[k]
        ncmp += 1

        def val(name):
            return r[acol[name]]

        exact_distinct = True
        for name in ah:
            v = val(name)
            f = FORMATS.get(name)
            if f and not re.fullmatch(f, v):
                if not (a.allow_empty_counters and v == "" and
                        name in COUNTERS + ("bounce_rate",)):
                    bad("%s: %s %r is not well formed" % (k, name, v))
        for name in COUNTERS:
            if name in acol and val(name) != e[ecol[name]]:
                if not (a.allow_empty_counters and val(name) == ""):
                    bad("%s: %s = %s, expected %s" % (k, name, val(name),
                                                      e[ecol[name]]))
        for name in DISTINCT:
            if name not in acol:
                continue
            want = int(e[ecol[name]])
            try:
                got = int(val(name))
            except ValueError:
                continue
            form = val(name + "_form") if name + "_form" in acol else None
            if form in ("sparse", "empty", "explicit") or (
                    form is None and want < a.exact_below):
                if got != want:
                    bad("%s: %s = %d (%s), exact %d" % (
                        k, name, got, form or "no form shown", want))
            else:
                exact_distinct = False
                tol = a.sigmas * rse * want + 1
                if abs(got - want) > tol:
                    bad("%s: %s = %d, exact %d, beyond %.1f" % (
                        k, name, got, want, tol))
            if name + "_lo" in acol:
                lo, hi = int(val(name + "_lo")), int(val(name + "_hi"))
                if not lo <= got <= hi:
                    bad("%s: %s = %d outside its bounds %d..%d" % (
                        k, name, got, lo, hi))
                ci_total += 1
                ci_hold += lo <= want <= hi
        for name in RATES:
            if name not in acol:
                continue
            want, got = e[ecol[name]], val(name)
            if got == "" or want == "":
                if got != want and not (a.allow_empty_counters and
                                        name == "bounce_rate" and got == ""):
                    bad("%s: %s = %r, expected %r" % (k, name, got, want))
                continue
            tol = 0.00011 if exact_distinct or name == "bounce_rate" else \
                0.00011 + a.sigmas * rse * 2 ** 0.5 * float(want)
            if abs(float(got) - float(want)) > tol:
                bad("%s: %s = %s, expected %s" % (k, name, got, want))
            if name + "_lo" in acol:
                lo, hi = float(val(name + "_lo")), float(val(name + "_hi"))
                if not lo <= float(got) <= hi:
                    bad("%s: %s = %s outside its bounds %s..%s" % (
                        k, name, got, lo, hi))
                ci_total += 1
                ci_hold += lo - 0.00005 <= float(want) <= hi + 0.00005
    if ci_total and ci_hold < a.min_ci * ci_total:
        bad("only %d of %d bounds hold the exact value" % (ci_hold, ci_total))
    if problems:
        for m in problems[:40]:
            print(m, file=sys.stderr)
        if len(problems) > 40:
            print("... %d problems in all" % len(problems), file=sys.stderr)
        return 1
    print("%d rows compared" % ncmp)
    return 0


def main(argv):
    try:
        if argv and argv[0] in ("query", "union"):
            cmd_query(argv[1:])
        elif argv and argv[0] == "compare":
            return cmd_compare(argv[1:])
        elif argv and argv[0] == "sketch":
            cmd_sketch(argv[1:])
        else:
            cmd_sketch(argv)
    except BadInput as e:
        print("reference.py: %s" % e, file=sys.stderr)
        return 2
    except (argparse.ArgumentTypeError, ValueError) as e:
        print("reference.py: %s" % e, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
