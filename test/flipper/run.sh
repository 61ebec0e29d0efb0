#!/usr/bin/env bash
# Runs test/flipper/compat.rb against a throwaway PostgreSQL 15 cluster made
# by Debian's pg_virtualenv.  The extension must be installed (make install).
# Arguments are passed to compat.rb; see its header for the FLIPPER_COMPAT_*
# environment variables (seed, sizes).
#
# As root, pg_virtualenv would create the cluster "15/regress" in
# /etc/postgresql, which collides with any other pg_virtualenv run as root
# at the same time; as the postgres user it uses a private temporary
# directory instead, so that is how root runs it here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
inner='psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION modelflags" ||
           { echo "FAIL: flipper compatibility (CREATE EXTENSION modelflags failed)"; exit 1; }
       cd /tmp && exec ruby "$0" "$@"'
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
    exec runuser -u postgres -w FLIPPER_COMPAT_SEED,FLIPPER_COMPAT_N,FLIPPER_COMPAT_GITLAB,FLIPPER_COMPAT_KEEP -- \
        pg_virtualenv -v 15 bash -c "$inner" "$here/compat.rb" "$@"
fi
exec pg_virtualenv -v 15 bash -c "$inner" "$here/compat.rb" "$@"
