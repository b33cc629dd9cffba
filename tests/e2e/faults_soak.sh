#!/usr/bin/env bash
# tests/e2e/faults_soak.sh — the random-kill soak (contrib/soak/soak.sh), a
# short run: 2 rounds x 5 hosts, up to 6 kills a round. The long run
# (10 x 20) and its numbers are in docs/RELIABILITY.md. Needs root.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec bash "$HERE/../../contrib/soak/soak.sh" --rounds "${SOAK_ROUNDS:-2}" --hosts "${SOAK_HOSTS:-5}" --kills 6 --max-delay 4
