#!/usr/bin/env bash
# demo.sh — install, build, bring up the lab (a simulated fleet of SSH hosts
# with a real SCEP CA, on this machine) and run renewd's main job against it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash contrib/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
hosts=${DEMO_HOSTS:-5}
contrib/lab/lab up --hosts "$hosts"
# shellcheck disable=SC1091
. "${RENEWD_LAB_DIR:-/var/lib/renewd-lab}/lab.env"
lab() { "$top/contrib/lab/lab" "$@"; }
export RENEWD_PLUGINS="$top/build/plugins"
rb="$top/runbooks/lab-posix-scep.json"
if [ -f "$rb" ]; then
  echo "== preview (renewd plan): nothing changes on any host =="
  lab exec -- "$top/build/renewd" plan "$rb" --journal "$LAB_DIR/journal.db" || [ $? = 10 ]
  echo "== renewal (renewd run) =="
  lab exec -- "$top/build/renewd" run "$rb" --journal "$LAB_DIR/journal.db" || [ $? = 10 ]
  lab exec -- "$top/build/renewd" status --journal "$LAB_DIR/journal.db"
else
  echo "== lab fleet =="
  lab status
  for h in $(seq -f 'h%04g' 1 "$hosts"); do
    lab ssh "$h" 'openssl x509 -in /srv/renewd-lab/tls/server.crt -noout -subject -enddate'
  done
fi
echo "demo: done; 'contrib/lab/lab down' stops the lab"
