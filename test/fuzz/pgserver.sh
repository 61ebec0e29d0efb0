# test/fuzz/pgserver.sh — a throwaway PostgreSQL 15 cluster for the SQL
# fuzzers (sourced by test/fuzz/sqlsmith.sh and test/fuzz/sql.sh).
#
#   fz_start NAME PORT    initdb + start in a private /tmp directory; sets
#                         FZ_DIR, FZ_LOG (the server log), FZ_HOST (socket
#                         directory), FZ_PORT; removes everything on EXIT
#   fz_psql ARGS...       psql as the postgres superuser to database postgres
#   fz_keep DIR           on exit, copy the server log there first
#
# The server listens on a Unix socket in its own directory only (no TCP), so
# the port never collides with another cluster; it is still never 5432.  It
# logs every error with its SQLSTATE (%e in the prefix) and source location
# (log_error_verbosity = verbose) and the statement that raised it: that is
# what test/fuzz/checklog.py reads to tell a crash or an internal error of
# modelflags code from the errors a fuzzer provokes on purpose.  As root the
# server runs as the postgres user (initdb refuses root).
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
# glibc fills memory with this byte when it is freed (and its complement when
# allocated), so that a read through a dangling pointer into a freed memory
# context block meets garbage and crashes at once instead of answering from
# stale bytes: a use-after-free becomes a finding.  FZ_MALLOC_PERTURB= turns
# it off.
FZ_MALLOC_PERTURB=${FZ_MALLOC_PERTURB-165}
# Nothing from a surrounding pg_virtualenv or user environment may redirect us.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGDATA

if [ "$(id -u)" = 0 ]; then
    FZ_RUNAS=(runuser -u postgres --)
else
    FZ_RUNAS=()
fi
fz_as_pg() { "${FZ_RUNAS[@]}" "$@"; }

FZ_DIR=
FZ_KEEP=
fz_cleanup() {
    local rc=$?
    if [ -n "$FZ_DIR" ] && [ -d "$FZ_DIR" ]; then
        if [ -f "$FZ_DIR/data/postmaster.pid" ]; then
            fz_as_pg "$PGBIN/pg_ctl" -D "$FZ_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1
        fi
        if [ -n "$FZ_KEEP" ]; then
            mkdir -p "$FZ_KEEP" && cp "$FZ_LOG" "$FZ_KEEP/server.log" 2>/dev/null
        fi
        cd / && rm -rf "$FZ_DIR"
    fi
    exit "$rc"
}
fz_keep() { FZ_KEEP=$1; }

fz_start() {
    local name=$1
    FZ_PORT=$2
    FZ_DIR=$(mktemp -d "/tmp/modelflags-$name.XXXXXX")
    trap fz_cleanup EXIT
    trap 'exit 130' INT TERM
    chmod 755 "$FZ_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$FZ_DIR"
    FZ_HOST=$FZ_DIR
    FZ_LOG=$FZ_DIR/server.log
    if ! fz_as_pg "$PGBIN/initdb" -D "$FZ_DIR/data" -U postgres --auth=trust --no-sync \
            -E UTF8 --locale=C.UTF-8 >"$FZ_DIR/initdb.log" 2>&1; then
        cat "$FZ_DIR/initdb.log"
        echo "FAIL: $name: initdb failed"
        return 1
    fi
    cat >>"$FZ_DIR/data/postgresql.conf" <<EOF
# modelflags SQL fuzzing: private socket, fast and disposable, verbose log
listen_addresses = ''
unix_socket_directories = '$FZ_DIR'
port = $FZ_PORT
max_connections = 40
# model health's shared memory, breakers and recorder are fuzzed too (the
# routing core without the preload is what the regression stage runs)
shared_preload_libraries = 'modelflags'
# room for two large actor sets' filters (16 pages): sharing, reuse, release
# and the fall-back to a private copy when it is full are all fuzzed
modelflags.shared_filter_memory = '64kB'
# the fuzzer's temp-table churn holds hundreds of locks in one transaction
max_locks_per_transaction = 256
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
deadlock_timeout = 100ms
logging_collector = off
log_error_verbosity = verbose
log_line_prefix = '%m [%p] %e %a: '
log_min_messages = warning
log_min_error_statement = error
restart_after_crash = on
# a backtrace for errors raised there: tells whether modelflags.so called it
backtrace_functions = 'relation_open'
EOF
    if ! fz_as_pg env ${FZ_MALLOC_PERTURB:+MALLOC_PERTURB_=$FZ_MALLOC_PERTURB} "$PGBIN/pg_ctl" -D "$FZ_DIR/data" -l "$FZ_LOG" -w -t 60 start >/dev/null 2>&1; then
        tail -n 30 "$FZ_LOG"
        echo "FAIL: $name: the server did not start"
        return 1
    fi
}

fz_psql() {
    fz_as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$FZ_HOST" -p "$FZ_PORT" -U postgres "$@"
}

# fz_private_install: builds this checkout and installs it into a private
# copy of PostgreSQL 15 (binaries, lib and share, about 50 MB, relocated
# under FZ_PRIVATE_ROOT), and points PGBIN there.  PostgreSQL finds its
# share and lib directories relative to its binaries, so the servers started
# from there load this build and not the system-wide one: a long fuzz run
# then needs no install lock and is not disturbed by others' installs.
fz_private_install() {
    local root=${FZ_PRIVATE_ROOT:-/tmp/modelflags-fuzz-pg}
    local sysbin=${PGBIN:-/usr/lib/postgresql/15/bin}
    local ver
    ver=$(basename "$(dirname "$sysbin")")
    if [ ! -x "$root/usr/lib/postgresql/$ver/bin/postgres" ]; then
        rm -rf "$root"
        mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" || return 1
        cp -a "/usr/lib/postgresql/$ver" "$root/usr/lib/postgresql/" &&
            cp -a "/usr/share/postgresql/$ver" "$root/usr/share/postgresql/" || return 1
        chmod 755 "$root"
    fi
    make -s PG_CONFIG="$sysbin/pg_config" >/dev/null &&
        make -s PG_CONFIG="$sysbin/pg_config" install DESTDIR="$root" >/dev/null || return 1
    PGBIN=$root/usr/lib/postgresql/$ver/bin
    echo "using a private PostgreSQL with this checkout's build: $PGBIN"
}
