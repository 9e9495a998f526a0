#!/usr/bin/env bats
# muse-query on indexed stores: block pruning through the store footer,
# and the --serve loop (JSON lines, errors, following new versions).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	muse-gen -q -O data --users 2500 --days 5 --titles 20 --seed 11 || return 1
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "data/$t.csv" || return 1
	done
	# With the country in the key the store has a dozen blocks or more.
	set -- --by title,asset,date,segment,country impressions.mev plays.mev \
	    affinities.mev
	muse-sketch -o store.msk "$@" || return 1
	muse-sketch -o day1.msk --date 2025-07-01 "$@" || return 1
	# Daily stores at the default grain, for publishing.
	set -- impressions.mev plays.mev affinities.mev
	for d in 1 2 3 4; do
		muse-sketch -o "d$d.msk" --date "2025-07-0$d" "$@" || return 1
	done
}

D=$BATS_FILE_TMPDIR

# Queries that exercise pruning on every dimension of the key.
QUERIES=(
	"-a t0003-a1 -d 2025-07-02 -m impressions,reach,qreach"
	"-a t0003-a1,t0011-t1 -s Anime,Dark?Comedies -m reach,take_rate"
	"-t t0005 -b segment -m impressions,reach,authentic_rate"
	"-t t000* -b title,date -m plays,qplays,watch_s"
	"-d 2025-07-03..2025-07-04 -b asset --top 5 --sort reach"
	"-s '*' -b date -m impressions,reach"
	"-a t0007-a2 -b segment,date --ci 95"
	"-c US -m impressions"
)

@test "an indexed store answers exactly as the same stream read whole" {
	local q
	set -f
	for q in "${QUERIES[@]}"; do
		eval "set -- $q"
		muse-query "$@" -o tsv "$D/store.msk" > indexed.tsv 2> indexed.err ||
		    fail "$q: $(cat indexed.err)"
		muse-query "$@" -o tsv - < "$D/store.msk" > whole.tsv 2> whole.err ||
		    fail "$q: $(cat whole.err)"
		cmp -s indexed.tsv whole.tsv ||
		    fail "$q: $(diff indexed.tsv whole.tsv | head)"
	done
}

@test "--stats: a narrow query reads few of the store's blocks" {
	run --separate-stderr muse-query --stats -a t0003-a1 -d 2025-07-02 \
	    -m reach "$D/store.msk"
	expect_status 0
	[[ $stderr =~ read\ ([0-9]+)\ of\ ([0-9]+)\ indexed ]] || fail "$stderr"
	local read=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
	[ "$total" -ge 10 ] || fail "only $total blocks: the test needs more"
	[ "$read" -ge 1 ] && [ $((read * 4)) -le "$total" ] ||
	    fail "read $read of $total blocks"
}

@test "--stats: a store read from a pipe is read whole" {
	run --separate-stderr muse-query --stats -m reach - < "$D/store.msk"
	expect_status 0
	expect_output_contains "reach"
	[[ $stderr == *"0 of 0 indexed blocks; 1 store(s) read whole"* ]] ||
	    fail "$stderr"
}

@test "a corrupted footer is an error, not a smaller answer" {
	local size
	cp "$D/store.msk" bad.msk
	size=$(stat -c %s bad.msk)
	# A byte inside the footer's index (just before the 48 bytes of its
	# tail and the trailer).
	printf '\377' | dd of=bad.msk bs=1 seek=$((size - 120)) conv=notrunc 2>/dev/null
	run --separate-stderr muse-query -m reach bad.msk
	expect_status 2
	expect_stderr_contains "bad.msk"
}

@test "a corrupted block is an error when a query reads it" {
	cp "$D/store.msk" bad.msk
	# The first data block starts after the 64-byte header and its own
	# 24-byte header.
	printf '\377' | dd of=bad.msk bs=1 seek=100 conv=notrunc 2>/dev/null
	run --separate-stderr muse-query -m reach -b title bad.msk
	expect_status 2
	expect_stderr_contains "checksum"
}

# serve QUERY-LINES...: runs --serve on store.msk with the lines as input.
serve() {
	printf '%s\n' "$@" | muse-query --serve "$D/store.msk" > answers 2> err
}

@test "--serve: one JSON line per query, equal to the one-shot answers" {
	local q i=0
	serve "${QUERIES[@]}"
	[ ! -s err ] || fail "stderr: $(cat err)"
	[ "$(wc -l < answers)" -eq "${#QUERIES[@]}" ] || fail "$(cat answers)"
	set -f
	for q in "${QUERIES[@]}"; do
		i=$((i + 1))
		eval "set -- $q"
		muse-query "$@" -o json "$D/store.msk" > one.json 2>/dev/null
		sed -n "${i}p" answers > line.json
		python3 - one.json line.json "$q" <<'PY' || fail "query $i: $q"
import json, sys
one = json.load(open(sys.argv[1]))
line = json.loads(open(sys.argv[2]).read())
assert line["rows"] == one, (sys.argv[3], line["rows"][:2], one[:2])
assert line["version"] == 0 and len(line["content"]) == 16
PY
	done
}

@test "--serve: answers and warnings stay the same once blocks are cached" {
	# Passes two and three answer from cached blocks, whose exact values
	# rule out blocks the footer's zones cannot: nothing may change, not
	# even which filter values are reported as matching nothing.
	local q i=0 n
	local qs=("${QUERIES[@]}"
		"-a t0003-a1,nosuch -s Anime -m reach"
		"-a 't0003-*,t0009-a1' -s Anime,Family* -b asset -m reach"
		"-t t0004,t0006 -s nosuch,Anime -c US,XX -m reach,impressions"
		"-a t0002-a1 -s '*' -d 2025-07-05 -m reach"
		# no such segments, but their hashed bits are in every zone
		"-a t0003-a1,t0005-a2 -s nosuch1,nosuch2 -m reach")
	n=${#qs[@]}
	serve "${qs[@]}" "${qs[@]}" "${qs[@]}"
	[ ! -s err ] || fail "stderr: $(cat err)"
	[ "$(wc -l < answers)" -eq $((3 * n)) ] || fail "$(cat answers)"
	set -f
	for i in $(seq 0 $((3 * n - 1))); do
		q=${qs[$((i % n))]}
		eval "set -- $q"
		muse-query "$@" -o json "$D/store.msk" > one.json 2> one.err
		sed -n "$((i + 1))p" answers > line.json
		python3 - one.json one.err line.json "$q" <<'PY' || fail "line $((i + 1)): $q"
import json, sys
one = json.load(open(sys.argv[1]))
warns = [l[len("muse-query: "):] for l in open(sys.argv[2]).read().splitlines()]
line = json.loads(open(sys.argv[3]).read())
assert line["rows"] == one, (sys.argv[4], line["rows"][:2], one[:2])
assert line["warnings"] == warns, (sys.argv[4], line["warnings"], warns)
PY
	done
}

@test "--serve: a bad query gets a JSON error line and the loop goes on" {
	serve "-m reech" "--bogus" "-d 2025-13-01" "-a 'unterminated" "-m reach" \
	    "--metircs=reach" "-a t1-nope"
	[ "$(wc -l < answers)" -eq 7 ] || fail "$(cat answers)"
	python3 - answers <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for l in lines[:4] + lines[5:6]:
    assert "error" in l, l
assert "reech" in lines[0]["error"] and "--bogus" in lines[1]["error"]
assert lines[0]["error"].endswith('unknown metric "reech"; did you mean "reach"?'), lines[0]
assert lines[1]["error"].endswith('unknown option "--bogus"'), lines[1]
assert lines[5]["error"].endswith('unknown option "--metircs"; did you mean "--metrics"?'), lines[5]
assert "rows" in lines[4] and lines[4]["rows"][0]["reach"] > 0
assert [w for w in lines[6]["warnings"] if w.startswith('no asset matches "t1-nope" in the store')], lines[6]
PY
}

@test "--serve follows the store as new versions are renamed over it" {
	local day1 whole
	cp "$D/day1.msk" live.msk
	mkfifo in
	muse-query --serve live.msk < in > answers 2> err &
	local pid=$!
	exec 5> in
	echo "-m impressions" >&5
	# Wait for the first answer, then publish another version.
	for _ in $(seq 100); do [ -s answers ] && break; sleep 0.05; done
	cp "$D/store.msk" live.tmp && mv live.tmp live.msk
	sleep 0.5
	echo "-m impressions" >&5
	exec 5>&-
	wait "$pid" || fail "serve exited $?: $(cat err)"
	day1=$(muse-query -m impressions -o tsv "$D/day1.msk" | tail -1)
	whole=$(muse-query -m impressions -o tsv "$D/store.msk" | tail -1)
	python3 - answers "$day1" "$whole" <<'PY'
import json, sys
a, b = [json.loads(l) for l in open(sys.argv[1])]
assert a["rows"][0]["impressions"] == int(sys.argv[2]), a
assert b["rows"][0]["impressions"] == int(sys.argv[3]), b
assert a["content"] != b["content"]
PY
}

@test "--serve needs exactly one indexed store" {
	run --separate-stderr muse-query --serve "$D/store.msk" "$D/day1.msk"
	expect_status 2
	expect_stderr_contains "exactly one STORE"
	run --separate-stderr muse-query --serve "$D/impressions.mev" < /dev/null
	expect_status 2
	expect_stderr_contains "impressions.mev"
}

@test "muse-query DIR answers from the latest version, --as-of from earlier ones" {
	local v want
	for v in 1 2 3; do
		muse-merge -o "c$v.msk" $(for d in $(seq 1 "$v"); do
		    echo "$D/d$d.msk"; done) || fail "merge $v"
		muse-delta publish pub "c$v.msk" || fail "publish $v"
	done
	for v in 1 2 3; do
		want=$(muse-query -m impressions,reach -o tsv "c$v.msk")
		[ "$(muse-query --as-of "$v" -m impressions,reach -o tsv pub)" = "$want" ] ||
		    fail "version $v differs"
	done
	[ "$(muse-query -m impressions,reach -o tsv pub)" = "$want" ] ||
	    fail "the latest version is not version 3"
	run --separate-stderr muse-query --as-of 9 pub
	expect_status 2
	expect_stderr_contains "not published"
	run --separate-stderr muse-query --as-of 1 "$D/store.msk"
	expect_status 2
	expect_stderr_contains "publishing directory"
}

@test "--serve keeps answering while a producer publishes 20 versions" {
	local v
	# Four different stores, published in turn as versions 1 to 20.
	for v in 1 2 3 4; do
		muse-merge -o "c$v.msk" $(for d in $(seq 1 "$v"); do
		    echo "$D/d$d.msk"; done) || fail "merge $v"
		muse-query -m impressions -o tsv "c$v.msk" | tail -1 > "want$v"
	done
	muse-delta publish pub c1.msk || fail "publish 1"
	mkfifo in
	muse-query --serve pub < in > answers 2> err &
	local pid=$!
	exec 5> in
	(
		for v in $(seq 2 20); do
			muse-delta publish pub "c$(( (v - 1) % 4 + 1 )).msk" || exit 1
			sleep 0.1
		done
	) &
	local producer=$!
	# A steady stream of queries until the producer is done, and a few more
	# once the last version has had time to be noticed.
	while kill -0 "$producer" 2>/dev/null; do
		echo "-m impressions" >&5
		sleep 0.01
	done
	wait "$producer" || fail "a publish failed"
	sleep 0.5
	for v in 1 2 3 4 5; do echo "-m impressions" >&5; done
	exec 5>&-
	wait "$pid" || fail "serve exited $?: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
	python3 - answers want1 want2 want3 want4 <<'PY'
import json, sys
want = [int(open(f).read()) for f in sys.argv[2:6]]
seen = []
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert "error" not in a, a
    v = a["version"]
    got = a["rows"][0]["impressions"]
    assert got == want[(v - 1) % 4], (v, got)
    seen.append(v)
assert seen == sorted(seen), "versions went backwards"
assert seen[-1] == 20, seen[-5:]
assert len(seen) > 20, len(seen)
PY
}
