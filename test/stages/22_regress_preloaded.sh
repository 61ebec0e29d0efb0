#!/usr/bin/env bash
# The regression and isolation tests of 20_regress.sh again, on a server that
# preloads the library (shared_preload_libraries = 'modelflags'): there each
# backend's compiled state reads its names, params, routes and name maps from
# shared memory (src/cache_share.c), and every delta the tests make that
# changes one of them copies it first.  The answers must be the same.
# sql/health_off.sql is left out: it tests the server without the preload.
set -uo pipefail
cd "$(dirname "$0")/../.."
rm -rf results output_iso regression.diffs regression.out
tests=$(ls sql/*.sql | grep -v -e 'modelflags--' -e '/health_off\.sql$' | xargs -n1 basename | sed 's/\.sql$//' | tr '\n' ' ')
pg_virtualenv -t -v 15 -o max_prepared_transactions=5 -o "shared_preload_libraries=modelflags" \
    make -s installcheck REGRESS="$tests" > /tmp/modelflags-regress-preloaded.out 2>&1
rc=$?
cat /tmp/modelflags-regress-preloaded.out
sed -n 's/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *ok.*/PASS: regress (preloaded) \2/p; s/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *FAILED.*/FAIL: regress (preloaded) \2/p' /tmp/modelflags-regress-preloaded.out
[ -f regression.diffs ] && cat regression.diffs
[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
exit $rc
