#!/usr/bin/env bash
# pg_regress (sql/ → expected/) and pg_isolation_regress (specs/ → expected/)
# against a throwaway cluster made by Debian's pg_virtualenv (works as root).
set -uo pipefail
cd "$(dirname "$0")/../.."
rm -rf results output_iso regression.diffs regression.out
pg_virtualenv -t -v 15 -o max_prepared_transactions=5 make -s installcheck > /tmp/modelflags-regress.out 2>&1
rc=$?
cat /tmp/modelflags-regress.out
# pg_regress lines look like "test flags ... ok   12 ms" or "... FAILED".
sed -n 's/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *ok.*/PASS: regress \2/p; s/^\(test\| \)*\([a-z_0-9]*\) *\.\.\. *FAILED.*/FAIL: regress \2/p' /tmp/modelflags-regress.out
[ -f regression.diffs ] && cat regression.diffs
[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
exit $rc
