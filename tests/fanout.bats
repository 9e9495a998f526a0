#!/usr/bin/env bats
# Fan-out with GNU parallel (SPEC 2, issue 5): the buckets of a table
# directory sketched as parallel jobs, locally and over ssh, merged by
# muse-merge into exactly the store of one process.  The ssh test runs a
# real sshd on 127.0.0.1 with a key made for the test.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	cd "$BATS_FILE_TMPDIR" && ingest_small || return 1
	muse-sketch -o ref.msk impressions.mev plays.mev affinities.mev || return 1
	muse-sketch -o day.msk --date 2025-07-02 impressions.mev plays.mev affinities.mev || return 1
	muse-ingest -O wh --buckets 8 impressions.csv plays.csv affinities.csv || return 1
}

D=$BATS_FILE_TMPDIR

need_parallel() {
	command -v parallel > /dev/null ||
	    skip "GNU parallel is not installed (apt-get install parallel)"
}

@test "parallel -j: buckets as local jobs, merged, equal one process" {
	need_parallel
	parallel -j 3 muse-sketch "$D/wh" --bucket {} ::: $(seq 0 7) | muse-merge > all.msk
	cmp all.msk "$D/ref.msk"
	parallel -j 2 muse-sketch "$D/wh" --date 2025-07-02 --bucket {} ::: $(seq 0 7) | muse-merge > d.msk
	cmp d.msk "$D/day.msk"
	# a failing job fails the pipeline, which a cron job sees
	run bash -c "set -o pipefail; parallel --halt now,fail=1 muse-sketch '$D/wh' --bucket {} ::: 0 9 | muse-merge > x.msk"
	[ "$status" -ne 0 ] || fail "a failed job went unnoticed"
}

# Starts sshd on a free port of 127.0.0.1 with a host key and a client key
# made here; sets PORT, SSH (the ssh command for parallel --ssh).
start_sshd() {
	local sshd
	sshd=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$sshd" ] || skip "sshd is not installed (apt-get install openssh-server)"
	command -v ssh > /dev/null || skip "ssh is not installed (apt-get install openssh-client)"
	need_parallel
	[ "$(id -u)" != 0 ] || mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f hostkey
	ssh-keygen -q -t ed25519 -N '' -f key
	cp key.pub authorized_keys
	chmod 600 authorized_keys key
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > sshd_config <<-EOF
		Port $PORT
		ListenAddress 127.0.0.1
		HostKey $PWD/hostkey
		AuthorizedKeysFile $PWD/authorized_keys
		PidFile $PWD/sshd.pid
		StrictModes no
		UsePAM no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PermitRootLogin prohibit-password
	EOF
	"$sshd" -f "$PWD/sshd_config" -E "$PWD/sshd.log" || fail "sshd did not start: $(cat sshd.log)"
	SSH="ssh -p $PORT -i $PWD/key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
	for _ in $(seq 50); do
		$SSH 127.0.0.1 true 2> /dev/null && return 0
		sleep 0.1
	done
	fail "cannot log in to the test sshd: $(cat sshd.log)"
}

teardown() {
	[ ! -f sshd.pid ] || kill "$(cat sshd.pid)" 2> /dev/null || true
}

@test "parallel -S over ssh: a shared table directory, results on stdout" {
	start_sshd
	# two "machines" (both 127.0.0.1), two jobs each; PATH goes along
	parallel --ssh "$SSH" -S "2/127.0.0.1,2/$(id -un)@127.0.0.1" --env PATH \
	    muse-sketch "$D/wh" --bucket {} ::: $(seq 0 7) | muse-merge > all.msk
	cmp all.msk "$D/ref.msk"
	# the jobs did run through sshd
	grep -q "Accepted publickey" sshd.log || fail "no ssh login: $(cat sshd.log)"
}

@test "parallel -S over ssh: files transferred in and returned" {
	start_sshd
	# each job gets the event streams in a work directory of its own,
	# sketches its bucket there, and the bucket's store comes back
	# (--return); then the copies go (--cleanup)
	cat "$D/impressions.mev" "$D/plays.mev" "$D/affinities.mev" > ev.mev
	parallel --ssh "$SSH" -S 2/127.0.0.1 --env PATH --workdir ... \
	    --transferfile ev.mev --return 'b{}.msk' --cleanup \
	    muse-sketch --bucket {}/4 -o 'b{}.msk' ev.mev ::: 0 1 2 3
	for b in 0 1 2 3; do [ -s "b$b.msk" ] || fail "b$b.msk not returned"; done
	muse-merge -o all.msk b0.msk b1.msk b2.msk b3.msk
	cmp all.msk "$D/ref.msk"
}
