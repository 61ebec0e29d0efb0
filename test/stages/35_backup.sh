#!/usr/bin/env bash
# Backups: pg_dump and pg_restore keep everything, and the restore itself
# writes no audit row and sends no NOTIFY (sql/install/20_audit.sql,
# "Restores").  In a throwaway cluster:
#   - database src: the current version, filled by test/data/populate.sql
#     (GitLab Duo definitions, a provider that is down, a flag with about
#     2,900 actor gates and opt-outs, percentages, an audit history with
#     notes, renames and deletions), and GitLab's Flipper tables attached
#     (test/data/populate_flipper.sql);
#   - pg_dump in custom format and in plain format;
#   - restored four ways into fresh databases: pg_restore, pg_restore -j 2,
#     pg_restore --single-transaction, and the plain script through psql;
# and for each restored database:
#   - the restore reported no error;
#   - every table, modelflags.changes included, has the same rows as src
#     (count and md5 of all rows in key order), and the audit sequence the
#     same state; so do modelflags.flipper_source and the Flipper tables,
#     and their triggers are back;
#   - model_for/is_enabled/rollout_pct answer alike for 3,000 actors
#     (test/data/answers.sql);
#   - a session that LISTENed on the database throughout the restore got no
#     notification from it, and one from each of two writes made afterwards;
#   - that write is audited with the next id after the restored ones, and so
#     is a Flipper write, which routes at once.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh

failures=0
pass() { echo "PASS: backup $*"; }
fail() { echo "FAIL: backup $*"; failures=$((failures + 1)); }

if ! cluster_start bk 54394; then
    fail "setup: the cluster did not start"
    exit 1
fi
work=$CLUSTER_TMP/work
mkdir -p "$work" && chmod 777 "$work"

if ! mf_psql bk postgres -c "CREATE DATABASE src" \
     || ! mf_psql bk src -c "CREATE EXTENSION modelflags" \
     || ! mf_psql bk src -v defs="$(cat examples/gitlab-duo.yml)" -v actors=20000 \
            -f "$top/test/data/populate.sql" -f "$top/test/data/populate_flipper.sql" >"$work/populate.log" 2>&1; then
    cat "$work/populate.log"
    fail "setup: populating the source database"
    exit 1
fi
echo "source: $(mf_psql bk src -c "SELECT format('%s flags, %s actor rows (%s in duo_chat_beta, %s opt-outs), %s audit rows',
    (SELECT count(*) FROM modelflags.flags), (SELECT count(*) FROM modelflags.flag_actors),
    (SELECT count(*) FROM modelflags.flag_actors WHERE flag = 'duo_chat_beta'),
    (SELECT count(*) FROM modelflags.flag_actors WHERE opt_out),
    (SELECT count(*) FROM modelflags.changes))")"

# Every table's rows, as a count and an md5 in key order, and the sequence.
digest() {
    mf_psql bk "$1" <<'EOF'
SELECT 'providers ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.name), '')) FROM modelflags.providers t;
SELECT 'models ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.name), '')) FROM modelflags.models t;
SELECT 'flags ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.name), '')) FROM modelflags.flags t;
SELECT 'flag_actors ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.flag, t.actor), '')) FROM modelflags.flag_actors t;
SELECT 'features ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.name), '')) FROM modelflags.features t;
SELECT 'routes ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.feature, t.position), '')) FROM modelflags.routes t;
SELECT 'changes ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.id), '')) FROM modelflags.changes t;
SELECT 'changes_id_seq ' || last_value || ' ' || is_called FROM modelflags.changes_id_seq;
SELECT 'flipper_source ' || count(*) || ' ' || string_agg(format('%s %s %s %s', t.features, t.gates, t.attached_at, t.attached_by), ';') FROM modelflags.flipper_source t;
SELECT 'public.features ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.id), '')) FROM public.features t;
SELECT 'public.feature_gates ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.id), '')) FROM public.feature_gates t;
SELECT 'flipper triggers ' || count(*) || ' ' || md5(string_agg(pg_get_triggerdef(t.oid) || t.tgenabled::text, E'\n' ORDER BY t.tgrelid::regclass::text, t.tgname))
  FROM pg_trigger t WHERE t.tgrelid IN ('public.features'::regclass, 'public.feature_gates'::regclass);
EOF
}

if ! mf_tool bk pg_dump -Fc -f "$work/src.dump" src 2>"$work/dump-c.err" \
   || ! mf_tool bk pg_dump -Fp -f "$work/src.sql" src 2>"$work/dump-p.err"; then
    cat "$work/dump-c.err" "$work/dump-p.err"
    fail "setup: pg_dump failed"
    exit 1
fi
digest src >"$work/digest-src" 2>&1
mf_psql bk src -v n=3000 -f "$top/test/data/answers.sql" >"$work/answers-src" 2>&1
if [ "$(grep -c '^changes \(0\|[1-9][0-9]\?\) ' "$work/digest-src")" != 0 ] \
   || [ "$(grep -c . "$work/answers-src")" -lt 30000 ] \
   || ! grep -q '^flipper_source 1 features feature_gates ' "$work/digest-src" \
   || ! grep -q '^flipper triggers 8 ' "$work/digest-src"; then
    cat "$work/digest-src"
    fail "setup: the source database is not as populate.sql and populate_flipper.sql should make it"
    exit 1
fi

# restore NAME COMMAND...: creates database NAME, keeps a LISTEN session on
# it while COMMAND restores into it, then checks it against src.
check_restore() {
    local db=$1 how=$2
    shift 2
    mf_psql bk postgres -c "CREATE DATABASE $db" || { fail "$how: createdb"; return; }

    # The listener: LISTEN, say so, wait for the go file, then one more
    # statement so that psql prints what arrived.
    rm -f "$work/go-$db"
    {
        echo "LISTEN modelflags;"
        echo "SELECT 'listening';"
        while [ ! -e "$work/go-$db" ]; do sleep 0.2; done
        echo "SELECT 'done';"
    } | mf_psql bk "$db" >"$work/listen-$db" 2>&1 &
    local listener=$! i
    for i in $(seq 1 100); do grep -q listening "$work/listen-$db" 2>/dev/null && break; sleep 0.1; done

    if "$@" >"$work/restore-$db.log" 2>&1; then
        pass "$how: restored without error"
    else
        fail "$how: the restore failed:"
        head -n 30 "$work/restore-$db.log"
    fi

    digest "$db" >"$work/digest-$db" 2>&1
    if diff -u "$work/digest-src" "$work/digest-$db" >"$work/diff" 2>&1; then
        pass "$how: every table, the audit and its sequence identical ($(tr '\n' ';' <"$work/digest-src" | sed 's/ [0-9a-f]\{32\}//g'))"
    else
        fail "$how: tables differ from the source (- source, + restored):"
        cat "$work/diff"
    fi

    mf_psql bk "$db" -v n=3000 -f "$top/test/data/answers.sql" >"$work/answers-$db" 2>&1
    if diff -u "$work/answers-src" "$work/answers-$db" >"$work/diff" 2>&1; then
        pass "$how: $(wc -l <"$work/answers-src") model_for/is_enabled/rollout_pct answers identical"
    else
        fail "$how: answers differ (- source, + restored):"
        head -n 40 "$work/diff"
    fi

    # A write after the restore: audited with the next id, and notified.
    local out
    out=$(mf_psql bk "$db" 2>&1 <<'EOF'
SELECT max(id) AS restored_max FROM modelflags.changes \gset
SELECT name FROM modelflags.set_flag('incident_fail_over_generation_provider', true, note => 'after restore');
SELECT format('new=%s first_id_is_next=%s note=%s', count(*), min(id) = :restored_max + 1, min(note))
  FROM modelflags.changes WHERE id > :restored_max;
EOF
)
    if grep -q '^new=1 first_id_is_next=t note=after restore$' <<<"$out"; then
        pass "$how: a write after the restore is audited with the next id"
    else
        fail "$how: the write after the restore: $out"
    fi

    # A Flipper write after the restore: the triggers came back with the
    # tables, so it is audited with the next id and routes at once.
    out=$(mf_psql bk "$db" 2>&1 <<'EOF'
SELECT max(id) AS m FROM modelflags.changes \gset
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('code_suggestions_claude_4_6_rollout', 'boolean', 'true', now(), now());
SELECT format('audited=%s first_id_is_next=%s table=%s model=%s', count(*), min(id) = :m + 1, min(table_name),
              (SELECT model FROM modelflags.model_for('duo_workflow', 'User:4')))
  FROM modelflags.changes WHERE id > :m;
EOF
)
    if grep -q '^audited=1 first_id_is_next=t table=public.feature_gates model=claude_sonnet_4_6_vertex$' <<<"$out"; then
        pass "$how: a Flipper write after the restore is audited with the next id and routes (the triggers are back)"
    else
        fail "$how: the Flipper write after the restore: $out"
    fi

    touch "$work/go-$db"
    wait "$listener"
    local notes
    notes=$(grep -c 'Asynchronous notification "modelflags"' "$work/listen-$db")
    if [ "$notes" = 2 ] && grep -q '"operation": "UPDATE"' "$work/listen-$db" \
       && grep -q '"table": "public.feature_gates"' "$work/listen-$db" \
       && grep -q '^done$' "$work/listen-$db"; then
        pass "$how: the restore sent no NOTIFY (a session listening throughout got only the two later writes')"
    else
        fail "$how: expected exactly two notifications, from the writes after the restore; the listener got $notes:"
        cat "$work/listen-$db"
    fi
}

check_restore r_custom "pg_restore (custom format)" \
    mf_tool bk pg_restore --exit-on-error -d r_custom "$work/src.dump"
check_restore r_jobs "pg_restore -j 2" \
    mf_tool bk pg_restore --exit-on-error -j 2 -d r_jobs "$work/src.dump"
check_restore r_single "pg_restore --single-transaction" \
    mf_tool bk pg_restore --exit-on-error --single-transaction -d r_single "$work/src.dump"
check_restore r_plain "plain format through psql" \
    mf_psql bk r_plain -f "$work/src.sql"

[ "$failures" -eq 0 ]
