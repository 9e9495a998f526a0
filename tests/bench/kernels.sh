#!/bin/sh
# Builds and runs tests/bench/kernels (the HLL kernels beside the
# DataSketches C++ figures) and puts its section into tests/bench/RESULTS.md
# between the markers <!-- kernels --> and <!-- /kernels -->, appending it
# when they are missing; the rest of the file (tests/bench/run.sh writes it)
# stays as it is.  Prints the section too.  Arguments go to the program:
# -q for a quick run, -n ITEMS, -r ROUNDS.
#
# When run.sh has left a store (tests/bench/work/store.msk), the section
# also gives its bytes per key beside the compact DataSketches HLL_4 images
# of the same three sketches a key (muse-cat gives each sketch's form and,
# when sparse, its exact coupon count).
set -eu
cd "$(dirname "$0")/../.."
out=tests/bench/RESULTS.md
store=tests/bench/work/store.msk

make --no-print-directory tests/bench/kernels >&2
sec=$(mktemp)
trap 'rm -f "$sec" "$sec.res"' EXIT INT TERM
{
	echo "<!-- kernels -->"
	tests/bench/kernels "$@"
	if [ -f "$store" ] && [ -x cmd/muse-cat ]; then
		bytes=$(wc -c < "$store")
		cmd/muse-cat "$store" | awk -F'\t' -v bytes="$bytes" -v path="$store" '
		# Compact HLL_4 image of a sketch of form f holding n coupons
		# (FORMAT.md section 5); dense ones without their aux tables.
		function ds(n, f) {
			if (f == "empty") return 8
			if (f == "dense" || n > setmax) { hll++; return 40 + k / 2 }
			return n <= 7 ? 8 + 4 * n : 12 + 4 * n
		}
		NR == 1 {
			match($0, /lgk=[0-9]+/)
			lgk = substr($0, RSTART + 4, RLENGTH - 4) + 0
			k = 2 ^ lgk
			setmax = lgk >= 8 ? 3 * 2 ^ (lgk - 5) : 7
			next
		}
		NR == 2 {
			for (i = 1; i <= NF; i++)
				if ($i ~ /_form$/)
					forms[++nf] = i
			next
		}
		{
			keys++
			for (i = 1; i <= nf; i++) {
				f = $(forms[i])
				total += ds($(forms[i] - 1), f)
				count[f]++
			}
		}
		END {
			if (keys == 0)
				exit
			printf "\n### A whole store\n\n"
			printf "`%s` (left by tests/bench/run.sh; lgK %d): %d keys in %d bytes, **%.1f bytes a key** with everything (keys, counters, %d HLL fields a key, block and stream headers).", path, lgk, keys, bytes, bytes / keys, nf
			printf " The same sketches as compact DataSketches HLL_4 images, the sketches alone: **%.1f bytes a key** (aux tables not counted).", total / keys
			printf " Ratio %.2f. Sketches: %d sparse, %d dense, %d empty; %d of them in HLL mode in DataSketches.\n", bytes / total, count["sparse"], count["dense"], count["empty"], hll
		}'
	fi
	echo "<!-- /kernels -->"
} > "$sec"

if [ -f "$out" ] && grep -q '^<!-- kernels -->$' "$out" &&
    grep -q '^<!-- /kernels -->$' "$out"; then
	awk -v sec="$sec" '
	/^<!-- kernels -->$/ {
		while ((getline line < sec) > 0)
			print line
		skip = 1
		next
	}
	/^<!-- \/kernels -->$/ { skip = 0; next }
	!skip' "$out" > "$sec.res"
else
	{
		if [ -f "$out" ]; then
			cat "$out"
			echo
		fi
		cat "$sec"
	} > "$sec.res"
fi
cat "$sec.res" > "$out"
cat "$sec"
