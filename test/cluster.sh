# test/cluster.sh — throwaway PostgreSQL clusters for the test stages.
#
# Sourced by a stage (bash):
#   . test/cluster.sh
#   cluster_start main 54393      # initdb + start; sockets in a private directory
#   mf_psql main postgres -c 'SELECT 1'
# Every cluster started here is stopped, and its directory removed, when the
# stage exits (trap).  Servers listen on a Unix socket in a private temporary
# directory only (no TCP), so the port merely names the socket file.  As root,
# the servers run as the postgres user (initdb refuses root).
#
# PGBIN (default /usr/lib/postgresql/15/bin) selects the binaries; the
# extension must be installed for them (make install).  Every psql and
# pg_dump call is bounded by WAIT_SECONDS (default 120).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WAIT_SECONDS=${WAIT_SECONDS:-120}
# Nothing from a surrounding pg_virtualenv or user environment may redirect us.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGDATA

if [ "$(id -u)" = 0 ]; then
    CLUSTER_RUNAS=(runuser -u postgres --)
else
    CLUSTER_RUNAS=()
fi
as_pg() { "${CLUSTER_RUNAS[@]}" "$@"; }

CLUSTER_TMP=$(mktemp -d /tmp/modelflags-cluster.XXXXXX)
chmod 755 "$CLUSTER_TMP"
[ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_TMP"
declare -A CLUSTER_PORT=()

cluster_cleanup() {
    local rc=$? n
    for n in "${!CLUSTER_PORT[@]}"; do
        if [ -f "$CLUSTER_TMP/$n/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/$n" -m immediate -w -t 60 stop >/dev/null 2>&1
        fi
    done
    cd / && rm -rf "$CLUSTER_TMP"
    exit "$rc"
}
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# cluster_start NAME PORT [postgresql.conf lines...]: returns non-zero (and
# prints the log) when initdb or the start fails.
cluster_start() {
    local name=$1 port=$2 line
    shift 2
    if ! as_pg "$PGBIN/initdb" -D "$CLUSTER_TMP/$name" -U postgres --auth=trust --no-sync \
            >"$CLUSTER_TMP/$name.initdb.log" 2>&1; then
        cat "$CLUSTER_TMP/$name.initdb.log"
        return 1
    fi
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$CLUSTER_TMP'"
        echo "port = $port"
        echo "fsync = off"
        echo "shared_buffers = 32MB"
        echo "logging_collector = off"
        for line in "$@"; do echo "$line"; done
    } >>"$CLUSTER_TMP/$name/postgresql.conf"
    CLUSTER_PORT[$name]=$port
    if ! as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_TMP/$name" -l "$CLUSTER_TMP/$name.log" -w -t 60 start \
            >/dev/null 2>&1; then
        tail -n 30 "$CLUSTER_TMP/$name.log"
        return 1
    fi
}

# cluster_log NAME: the server log's path.
cluster_log() { echo "$CLUSTER_TMP/$1.log"; }

# mf_psql CLUSTER DB [psql args...]: quiet, unaligned, tuples only, stops at
# the first error; no psqlrc.
mf_psql() {
    local name=$1 db=$2
    shift 2
    as_pg timeout "$WAIT_SECONDS" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h "$CLUSTER_TMP" -p "${CLUSTER_PORT[$name]}" -U postgres -d "$db" "$@"
}

# mf_tool CLUSTER PROGRAM [args...]: a client program (pg_dump, pg_restore,
# createdb, ...) connected to the cluster through PGHOST/PGPORT/PGUSER.
mf_tool() {
    local name=$1 prog=$2
    shift 2
    as_pg env PGHOST="$CLUSTER_TMP" PGPORT="${CLUSTER_PORT[$name]}" PGUSER=postgres \
        timeout "$WAIT_SECONDS" "$PGBIN/$prog" "$@"
}
