#!/usr/bin/env bash
# transport.sh — renewd's SSH and HTTP layers against the lab (contrib/lab/lab),
# driven through `renewd debug`. Runs in its own lab (directory and network
# namespace), so it does not disturb a lab someone else is using:
#   RENEWD_TRANSPORT_LAB_DIR   (default /var/lib/renewd-lab-transport)
#   RENEWD_TRANSPORT_LAB_NETNS (default renewd-lab-tr)
#   RENEWD_TRANSPORT_HOSTS     (default 50)
#   RENEWD_TRANSPORT_KEEP_LAB=1  leave the lab running afterwards
# env from ctest: RENEWD_BIN, RENEWD_SOURCE. Needs root (the lab does).
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
lab=$src/contrib/lab/lab
N=${RENEWD_TRANSPORT_HOSTS:-50}
export RENEWD_LAB_DIR=${RENEWD_TRANSPORT_LAB_DIR:-/var/lib/renewd-lab-transport}
export RENEWD_LAB_NETNS=${RENEWD_TRANSPORT_LAB_NETNS:-renewd-lab-tr}

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # check "description" COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

[ "$(id -u)" = 0 ] || { echo "transport: SKIP: needs root (the lab uses network namespaces)"; exit 77; }
[ -x "$bin" ] || { echo "transport: no renewd binary at $bin (set RENEWD_BIN)" >&2; exit 2; }
[ -x "$lab" ] || { echo "transport: no lab at $lab" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-transport.XXXXXX")
stopped= rekeyed=
cleanup() {
	[ -n "$stopped" ] && "$lab" start-sshd "$stopped" >/dev/null 2>&1
	[ -n "$rekeyed" ] && "$lab" known-hosts >/dev/null 2>&1
	[ "${RENEWD_TRANSPORT_KEEP_LAB:-0}" = 1 ] || "$lab" down >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

echo "transport: lab up --hosts $N in $RENEWD_LAB_DIR (netns $RENEWD_LAB_NETNS)"
"$lab" up --hosts "$N" --tls 1 >"$work/lab-up.log" 2>&1 || { cat "$work/lab-up.log"; echo "transport: lab up failed" >&2; exit 1; }
"$lab" known-hosts >/dev/null # a previous run may have left a rekeyed host behind
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"

L=(--known-hosts "$LAB_KNOWN_HOSTS" --identity "$LAB_KEY" --user "$LAB_USER")
rd() { "$lab" exec -- "$bin" debug "$@"; }
name() { printf 'h%04d' "$1"; }
addr() { printf '127.10.%d.%d' $(($1 / 250)) $(($1 % 250 + 1)); }
hosts() { local i; for i in "$@"; do printf '%s=%s\n' "$(name "$i")" "$(addr "$i")"; done; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }            # string field
nfield() { sed -n "s/.*\"$1\":\\([-0-9a-z.]*\\).*/\\1/p"; }          # number/bool field
line_of() { grep "\"host\":\"$1\"" "$2"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
fp_of_pub() { ssh-keygen -lf "$1" | awk '{print $2}'; }

# ---------------------------------------------------------------- 1. fan-out
all=$(seq 1 "$N")
t0=$(now_ms)
rd exec "${L[@]}" $(hosts $all) -- 'cat /srv/renewd-lab/tls/server.crt' >"$work/fan.jsonl"
t1=$(now_ms)
good=0
for i in $all; do
	n=$(name "$i")
	want=$(sha256sum "$RENEWD_LAB_DIR/hosts/$n/root/tls/server.crt" | cut -d' ' -f1)
	l=$(line_of "$n" "$work/fan.jsonl")
	[ "$(printf '%s' "$l" | field status)" = ok ] && [ "$(printf '%s' "$l" | nfield exit)" = 0 ] &&
		[ "$(printf '%s' "$l" | field stdout_sha256)" = "$want" ] && good=$((good + 1))
done
check "$N hosts, one exec each: every host returned its own certificate ($good/$N, $((t1 - t0)) ms)" \
	[ "$good" = "$N" ]

# ---------------------------------------------------------------- 2. changed host key
rekeyed=7
old_fp=$(fp_of_pub "$RENEWD_LAB_DIR/hosts/$(name 7)/ssh_host_ed25519_key.pub") # = known_hosts
"$lab" rekey "$(name 7)" >/dev/null
new_fp=$(fp_of_pub "$RENEWD_LAB_DIR/hosts/$(name 7)/ssh_host_ed25519_key.pub")
rd exec "${L[@]}" $(hosts 6 7 8) -- true >"$work/rekey.jsonl"
l=$(line_of h0007 "$work/rekey.jsonl")
err=$(printf '%s' "$l" | field error)
check "rekeyed host refused as RD_EHOSTKEY" [ "$(printf '%s' "$l" | field status)" = RD_EHOSTKEY ]
check "its message names the host and both fingerprints: $err" \
	bash -c '[[ $1 == "host h0007: host key for 127.10.0.8:22 has CHANGED: "* && $1 == *"expects $2, the server presented $3;"* ]]' _ "$err" "$old_fp" "$new_fp"
check "the other hosts still succeed" \
	[ "$(grep -c '"status":"ok"' "$work/rekey.jsonl")" = 2 ]
"$lab" known-hosts >/dev/null
rekeyed=
rd exec "${L[@]}" $(hosts 7) -- true >"$work/rekey2.jsonl"
check "after 'lab known-hosts' the host is accepted again" grep -q '"status":"ok"' "$work/rekey2.jsonl"

# unknown host key: an empty known_hosts
: >"$work/empty_known_hosts"
rd exec --known-hosts "$work/empty_known_hosts" --identity "$LAB_KEY" --user "$LAB_USER" $(hosts 3) -- true >"$work/unknown.jsonl"
err=$(field error <"$work/unknown.jsonl")
fp3=$(fp_of_pub "$RENEWD_LAB_DIR/hosts/h0003/ssh_host_ed25519_key.pub")
check "unknown host key refused with the fix: $err" \
	[ "$err" = "host h0003: host key $fp3 is not in $work/empty_known_hosts; run \`renewd hosts trust h0003\` after checking the fingerprint" ]

# hostkey fetch agrees with ssh-keygen
fp=$(rd hostkey $(hosts 3) | field fingerprint)
check "debug hostkey prints the host's fingerprint" [ "$fp" = "$fp3" ]

# ---------------------------------------------------------------- 3. sshd stopped
stopped=$(name 9)
"$lab" stop-sshd "$stopped" >/dev/null
rd exec "${L[@]}" $(hosts $all) -- true >"$work/stopped.jsonl"
l=$(line_of h0009 "$work/stopped.jsonl")
check "stopped sshd: $(printf '%s' "$l" | field error)" \
	[ "$(printf '%s' "$l" | field error)" = "host h0009: ssh connect $(addr 9):22: connection refused" ]
check "stopped sshd is RD_ECONNREFUSED" [ "$(printf '%s' "$l" | field status)" = RD_ECONNREFUSED ]
check "the other $((N - 1)) hosts succeed" [ "$(grep -c '"status":"ok"' "$work/stopped.jsonl")" = $((N - 1)) ]
"$lab" start-sshd "$stopped" >/dev/null
stopped=

# ---------------------------------------------------------------- 4. timeout
t0=$(now_ms)
rd exec "${L[@]}" --timeout-ms 2000 $(hosts 1 2 3) -- 'sleep 30' >"$work/timeout.jsonl"
t1=$(now_ms)
el=$((t1 - t0))
check "sleep 30 with --timeout-ms 2000: all three RD_ETIMEDOUT" \
	[ "$(grep -c '"status":"RD_ETIMEDOUT"' "$work/timeout.jsonl")" = 3 ]
check "message: $(head -n1 "$work/timeout.jsonl" | field error)" \
	grep -q '"error":"host h000[123]: ssh exec: timed out after 2000 ms"' "$work/timeout.jsonl"
within() { [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; }
check "cut off in about 2 s (took $el ms)" within "$el" 1900 6000

# ---------------------------------------------------------------- 5. large output, cap
big='head -c 10485760 /dev/zero | tr "\0" "x"'
want=$(head -c 10485760 /dev/zero | tr '\0' 'x' | sha256sum | cut -d' ' -f1)
t0=$(now_ms)
rd exec "${L[@]}" $(hosts 4 5) -- "$big" >"$work/big.jsonl"
t1=$(now_ms)
check "10 MB of output arrives whole on 2 hosts ($((t1 - t0)) ms)" \
	[ "$(grep -c "\"stdout_len\":10485760,\"stdout_sha256\":\"$want\",\"stdout_truncated\":false" "$work/big.jsonl")" = 2 ]
want1=$(head -c 1048576 /dev/zero | tr '\0' 'x' | sha256sum | cut -d' ' -f1)
t0=$(now_ms)
rd exec "${L[@]}" --out-cap 1048576 $(hosts 4) -- "$big; echo finished >&2" >"$work/cap.jsonl"
t1=$(now_ms)
l=$(cat "$work/cap.jsonl")
check "with a 1 MB cap: truncated, flagged, exit 0, drained to the end ($((t1 - t0)) ms)" \
	bash -c '[[ $1 == *"\"exit\":0,\"stdout_len\":1048576,\"stdout_sha256\":\"$2\",\"stdout_truncated\":true,\"stderr\":\"finished\\n\""* ]]' _ "$l" "$want1"

# ---------------------------------------------------------------- 6. stderr + exit
rd exec "${L[@]}" $(hosts 6) -- 'echo oops >&2; exit 7' >"$work/exit.jsonl"
check "stderr and exit status reported" grep -q '"status":"ok","error":null,"exit":7,.*"stderr":"oops\\n"' "$work/exit.jsonl"
rd exec "${L[@]}" $(hosts 6) -- 'kill -9 $$' >"$work/sig.jsonl"
check "killed by a signal: exit -1" grep -q '"exit":-1' "$work/sig.jsonl"

# ---------------------------------------------------------------- 7. session reuse
rd exec "${L[@]}" --count 5 $(hosts 1 2 3 4 5 6 7 8 9 10) -- 'echo $PPID' >"$work/reuse.jsonl"
reused=1
for i in $(seq 1 10); do
	c=$(grep "\"host\":\"$(name "$i")\"" "$work/reuse.jsonl" | field stdout | sort -u | wc -l)
	t=$(grep -c "\"host\":\"$(name "$i")\".*\"status\":\"ok\"" "$work/reuse.jsonl")
	[ "$c" = 1 ] && [ "$t" = 5 ] || reused=0
done
check "5 execs per host share one session (same sshd child) on 10 hosts" [ "$reused" = 1 ]

# ---------------------------------------------------------------- 8. values as data over SSH
bin_b64=$(printf "$(printf '\\%03o' $(seq 1 255))" | base64 -w0) # bytes 0x01..0xFF
big_b64=$(head -c 65536 /dev/urandom | tr '\0' 'A' | base64 -w0)    # 64 KB, NUL-free
cat >"$work/params.json" <<EOF
{"squote": "it's 'quoted'", "dquote": "\"double\"", "backtick": "\`touch /tmp/renewd-pwned\`",
 "subst": "\$(touch /tmp/renewd-pwned) \${HOME}", "semi": "a; touch /tmp/renewd-pwned; b",
 "breakout": "x'; touch /tmp/renewd-pwned; echo '", "newlines": "a\nb\n\n", "smart": "“smart” ‘quotes’",
 "empty": "", "binary": {"b64": "$bin_b64"}, "big": {"b64": "$big_b64"}}
EOF
rm -f /tmp/renewd-pwned # lab hosts share the machine's /tmp
for sudo in "" --sudo; do
	rd script "${L[@]}" $sudo --params-json "$work/params.json" $(hosts 1 2 3 4 5) >"$work/script.jsonl"
	check "quoting payload byte-for-byte over SSH ${sudo:-(no sudo)} on 5 hosts" \
		[ "$(grep -c '"exit":0,.*"params":11,"matched":11,"mismatches":\[\]' "$work/script.jsonl")" = 5 ]
done
want_bin=$(printf '%s' "$bin_b64" | base64 -d | sha256sum | cut -d' ' -f1)
want_big=$(printf '%s' "$big_b64" | base64 -d | sha256sum | cut -d' ' -f1)
check "returned bytes hash like the originals (binary, 64 KB)" \
	bash -c 'grep -q "\"binary\":\"$1\"" "$3" && grep -q "\"big\":\"$2\"" "$3"' _ "$want_bin" "$want_big" "$work/script.jsonl"
check "as root under sudo -n" grep -q '"whoami":"root"' "$work/script.jsonl"
check "nothing in the values ran" [ ! -e /tmp/renewd-pwned ]

# ---------------------------------------------------------------- 9. HTTP
rd http "$LAB_CA_URL?operation=GetCACaps" --n 50 --body >"$work/http.jsonl"
want=$("$lab" exec -- curl -sf "$LAB_CA_URL?operation=GetCACaps" | sha256sum | cut -d' ' -f1)
check "50 concurrent GETs of GetCACaps all return the caps text" \
	[ "$(grep -c "\"status\":\"ok\",\"error\":null,\"code\":200,.*\"body_sha256\":\"$want\",\"body\":\"Renewal\\\\n.*POSTPKIOperation\"" "$work/http.jsonl")" = 50 ]
rd http "http://$(addr 1):9/" --timeout-ms 2000 >"$work/http-refused.jsonl"
check "HTTP to a closed port: RD_ECONNREFUSED" grep -q '"status":"RD_ECONNREFUSED"' "$work/http-refused.jsonl"

# TLS: verification is on by default (h0001's nginx serves a lab-CA
# certificate, which no system trust store knows)
rd http "https://$(addr 1)/" --timeout-ms 5000 >"$work/tls.jsonl"
check "HTTPS to an untrusted server is refused: $(field error <"$work/tls.jsonl")" \
	grep -q '"status":"RD_EVERIFY"' "$work/tls.jsonl"
rd http "https://$(addr 1)/" --insecure --body --timeout-ms 5000 >"$work/tls3.jsonl"
check "--insecure skips verification" grep -q '"code":200,.*"body":"h0001\\n"' "$work/tls3.jsonl"

echo "transport: $pass passed, $fail failed"
[ "$fail" = 0 ]
