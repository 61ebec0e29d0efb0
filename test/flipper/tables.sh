#!/usr/bin/env bash
# Runs test/flipper/tables.rb (Flipper's own ActiveRecord tables written by
# the real gem, followed by modelflags) against a throwaway PostgreSQL 15
# cluster (test/cluster.sh: a private Unix socket, removed at exit).  The
# extension must be installed (make install).  FLIPPER_TABLES_ACTORS sets how
# many actors each step compares (default 5000).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh
if ! cluster_start flipper_tables "${FLIPPER_TABLES_PORT:-54395}"; then
    echo "FAIL: flipper tables (the cluster did not start)"
    exit 1
fi
MF_HOST=$CLUSTER_TMP MF_PORT=${CLUSTER_PORT[flipper_tables]} timeout 600 ruby "$top/test/flipper/tables.rb"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "server log (last 40 lines):"
    tail -n 40 "$(cluster_log flipper_tables)"
fi
exit "$rc"
