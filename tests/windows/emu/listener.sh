#!/bin/sh
# listener.sh — the emulated host's TLS endpoints (Iis.ps1: HTTP.sys's
# https bindings; Sql.ps1: SQL Server on 1433): a real `openssl s_server
# -www` serving a certificate of the emulated store with its key file, so
# that renewd's tls.verify and the tests handshake with what the machine
# serves. Run by the emulation module as the host's account.
#
#   listener.sh start NAME ADDR PORT CERT.cer KEYFILE
#       stops NAME's listener, then serves CERT (DER, an emulated store's
#       <thumbprint>.cer) with KEYFILE (the machine key file: PEM after the
#       container's property lines, which openssl skips) on ADDR:PORT;
#       waits until it listens, else prints its error and exits 1
#   listener.sh stop NAME
#
# NAME's pid is $RENEWD_WIN_ROOT/emu/listeners/NAME.pid, its output
# NAME.log beside it. The listener leaves its session (setsid) and holds
# none of its descriptors; the lab's `down` ends it with everything else
# in the lab's network namespace.
set -eu
: "${RENEWD_WIN_ROOT:?}"
dir=$RENEWD_WIN_ROOT/emu/listeners
mkdir -p "$dir"

# the pid of NAME's listener, when it still runs (its command line names
# this machine's root: a reused pid is not taken for it)
live_pid() {
	[ -s "$dir/$1.pid" ] || return 1
	read -r p <"$dir/$1.pid" || return 1
	case $p in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "s_server .*$RENEWD_WIN_ROOT" || return 1
	printf '%s' "$p"
}

stop() {
	if p=$(live_pid "$1"); then
		kill "$p" 2>/dev/null || true
		i=0
		while [ -d "/proc/$p" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	fi
	rm -f "$dir/$1.pid"
}

# ADDR PORT: a socket listens there (the namespace's /proc/net/tcp:
# local address as hex, state 0A = LISTEN)
listening() {
	hex=$(printf '%s\n' "$1" | awk -F. '{printf "%02X%02X%02X%02X", $4, $3, $2, $1}')
	grep -qi " $hex:$(printf '%04X' "$2") 00000000:0000 0A " /proc/net/tcp
}

case ${1:-} in
stop)
	stop "${2:?NAME}"
	;;
start)
	name=${2:?NAME} addr=${3:?ADDR} port=${4:?PORT} cert=${5:?CERT} key=${6:?KEYFILE}
	stop "$name"
	setsid openssl s_server -quiet -www -accept "$addr:$port" -certform DER -cert "$cert" -key "$key" \
		</dev/null >"$dir/$name.log" 2>&1 &
	echo $! >"$dir/$name.pid"
	i=0
	while ! listening "$addr" "$port"; do
		# (an exited child stays a zombie until this shell waits for it)
		if ! grep -qs '^State:[[:space:]]*[^Z]' "/proc/$!/status" || [ $i -ge 200 ]; then
			echo "listener $name ($addr:$port): did not start: $(head -c 500 "$dir/$name.log")" >&2
			stop "$name"
			exit 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	;;
*)
	echo "usage: listener.sh start NAME ADDR PORT CERT.cer KEYFILE | stop NAME" >&2
	exit 2
	;;
esac
