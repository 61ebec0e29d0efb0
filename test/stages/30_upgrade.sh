#!/usr/bin/env bash
# Upgrades: for every released version V (each sql/modelflags--V.sql), in a
# throwaway cluster,
#   - database up_V:    CREATE EXTENSION modelflags VERSION 'V', filled by
#                       test/data/populate.sql, then ALTER EXTENSION
#                       modelflags UPDATE (to the control file's default);
#   - database fresh_V: CREATE EXTENSION modelflags (the default version),
#                       filled by the same script;
# and the two must have the same catalog (test/data/catalog.sql: members,
# tables, columns, constraints, indexes, triggers and their enabled state,
# functions with volatility, strictness, parallel safety, SECURITY DEFINER,
# SET clauses and ACLs, types, sequences, comments, schema ACL,
# extconfig/extcondition), the same configuration rows, and the same
# model_for/is_enabled/rollout_pct answers for thousands of actors
# (test/data/answers.sql); a write after the upgrade is audited.  After the
# upgrade both also get GitLab's Flipper tables attached
# (test/data/populate_flipper.sql): the attachment, those tables' rows and
# triggers are compared too, and a Flipper write must be audited and route.  Any
# difference fails and is printed as a diff.
# Also, per V: the upgrade refuses a modelflags schema that others may
# create objects in (the guard each upgrade script starts with), and
# changes nothing then.
# A new release adds sql/modelflags--X--Y.sql and freezes its full script
# as sql/modelflags--Y.sql; this stage then also checks the path from Y.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
. test/cluster.sh

failures=0
pass() { echo "PASS: upgrade $*"; }
fail() { echo "FAIL: upgrade $*"; failures=$((failures + 1)); }

current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" modelflags.control)
versions=()
for f in sql/modelflags--*.sql; do
    v=${f#sql/modelflags--}
    v=${v%.sql}
    case $v in *--*) continue ;; esac       # an upgrade step, not a full script
    [ "$v" = "$current" ] || versions+=("$v")
done
if [ ${#versions[@]} -eq 0 ]; then
    fail "setup: no released version found in sql/ (expected at least sql/modelflags--1.0.sql)"
    exit 1
fi
echo "current version $current; released versions: ${versions[*]}"

if ! cluster_start up 54393; then
    fail "setup: the cluster did not start"
    exit 1
fi
work=$CLUSTER_TMP/work
mkdir -p "$work" && chmod 777 "$work"
defs=$(cat examples/gitlab-duo.yml)

# fill DB: populate.sql (a 5,000-actor range: about 700 actor gates).
fill() {
    mf_psql up "$1" -v defs="$defs" -v actors=5000 -f "$top/test/data/populate.sql" >"$work/fill-$1.log" 2>&1
}

# Configuration rows of every table but the audit, in key order.
config_rows() {
    mf_psql up "$1" <<'EOF'
SELECT 'providers|' || string_agg(t::text, ';' ORDER BY t.name) FROM modelflags.providers t;
SELECT 'models|' || string_agg(t::text, ';' ORDER BY t.name) FROM modelflags.models t;
SELECT 'flags|' || string_agg(t::text, ';' ORDER BY t.name) FROM modelflags.flags t;
SELECT 'flag_actors|' || string_agg(t::text, ';' ORDER BY t.flag, t.actor) FROM modelflags.flag_actors t;
SELECT 'features|' || string_agg(t::text, ';' ORDER BY t.name) FROM modelflags.features t;
SELECT 'routes|' || string_agg(t::text, ';' ORDER BY t.feature, t.position) FROM modelflags.routes t;
SELECT 'flipper_source|' || string_agg(format('%s %s %s', t.features, t.gates, t.attached_by), ';') FROM modelflags.flipper_source t;
SELECT 'flipper features|' || string_agg(format('%s %s', t.id, t.key), ';' ORDER BY t.id) FROM public.features t;
SELECT 'flipper gates|' || string_agg(format('%s %s %s %s', t.id, t.feature_key, t.key, t.value), ';' ORDER BY t.id) FROM public.feature_gates t;
SELECT 'flipper triggers|' || string_agg(pg_get_triggerdef(t.oid) || ' ' || t.tgenabled, ';' ORDER BY t.tgrelid::regclass::text, t.tgname)
  FROM pg_trigger t WHERE t.tgrelid IN ('public.features'::regclass, 'public.feature_gates'::regclass);
EOF
}

# compare WHAT FILE_A FILE_B: PASS, or FAIL with the diff (first 80 lines).
compare() {
    local what=$1 a=$2 b=$3
    if [ ! -s "$a" ] || [ ! -s "$b" ]; then
        fail "$what: nothing to compare (empty output)"
    elif diff -u "$a" "$b" >"$work/diff" 2>&1; then
        pass "$what ($(wc -l <"$a") lines identical)"
    else
        fail "$what differs (- upgraded, + fresh install):"
        head -n 80 "$work/diff"
    fi
}

for v in "${versions[@]}"; do
    up=up_${v//./_}
    fresh=fresh_${v//./_}
    mf_psql up postgres -c "CREATE DATABASE $up" -c "CREATE DATABASE $fresh" || { fail "$v: createdb"; continue; }

    # The old version, filled, then upgraded.
    if ! mf_psql up "$up" -c "CREATE EXTENSION modelflags VERSION '$v'"; then
        fail "$v: CREATE EXTENSION modelflags VERSION '$v'"
        continue
    fi
    if fill "$up"; then
        pass "$v: populate.sql fills version $v"
    else
        cat "$work/fill-$up.log"
        fail "$v: populate.sql failed on version $v"
        continue
    fi
    if ! out=$(mf_psql up "$up" -c "ALTER EXTENSION modelflags UPDATE" \
               -c "SELECT extversion FROM pg_extension WHERE extname = 'modelflags'" 2>&1); then
        fail "$v: ALTER EXTENSION modelflags UPDATE failed: $out"
        continue
    fi
    if [ "$out" = "$current" ]; then
        pass "$v: ALTER EXTENSION modelflags UPDATE reaches $current"
    else
        fail "$v: after ALTER EXTENSION UPDATE the version is '$out', not $current"
    fi

    # A fresh install of the current version with the same data.
    if ! mf_psql up "$fresh" -c "CREATE EXTENSION modelflags" || ! fill "$fresh"; then
        cat "$work/fill-$fresh.log" 2>/dev/null
        fail "$v: fresh install of $current and populate.sql"
        continue
    fi

    # GitLab's Flipper tables attached to both (attach_flipper is new in 1.1).
    if mf_psql up "$up" -f "$top/test/data/populate_flipper.sql" >"$work/flipper-$up.log" 2>&1 &&
       mf_psql up "$fresh" -f "$top/test/data/populate_flipper.sql" >"$work/flipper-$fresh.log" 2>&1; then
        pass "$v: GitLab's Flipper tables attached after UPDATE as on a fresh install (populate_flipper.sql)"
    else
        cat "$work/flipper-$up.log" "$work/flipper-$fresh.log"
        fail "$v: populate_flipper.sql after UPDATE or on the fresh install"
        continue
    fi

    mf_psql up "$up" -f "$top/test/data/catalog.sql" >"$work/catalog-up" 2>&1
    mf_psql up "$fresh" -f "$top/test/data/catalog.sql" >"$work/catalog-fresh" 2>&1
    compare "$v: catalog after UPDATE equals a fresh install" "$work/catalog-up" "$work/catalog-fresh"

    config_rows "$up" >"$work/rows-up" 2>&1
    config_rows "$fresh" >"$work/rows-fresh" 2>&1
    compare "$v: configuration rows after UPDATE equal a fresh install's" "$work/rows-up" "$work/rows-fresh"

    mf_psql up "$up" -v n=2000 -f "$top/test/data/answers.sql" >"$work/answers-up" 2>&1
    mf_psql up "$fresh" -v n=2000 -f "$top/test/data/answers.sql" >"$work/answers-fresh" 2>&1
    compare "$v: model_for/is_enabled/rollout_pct answers after UPDATE equal a fresh install's" \
        "$work/answers-up" "$work/answers-fresh"

    # Writes work after the upgrade, and are audited as in a fresh install.
    for db in "$up" "$fresh"; do
        mf_psql up "$db" >"$work/write-$db" 2>&1 <<'EOF'
SELECT max(id) AS before FROM modelflags.changes \gset
SELECT name FROM modelflags.set_flag('incident_fail_over_generation_provider', true, note => 'after upgrade');
SELECT table_name, operation, key, note, (new_row->>'enabled') FROM modelflags.changes
 WHERE id > :before ORDER BY id;
SELECT max(id) AS before FROM modelflags.changes \gset
INSERT INTO public.feature_gates (feature_key, key, value, created_at, updated_at)
VALUES ('code_suggestions_claude_4_6_rollout', 'boolean', 'true', now(), now());
SELECT table_name, operation, key, new_row->>'value' FROM modelflags.changes WHERE id > :before ORDER BY id;
SELECT model, gate FROM modelflags.model_for('duo_workflow', 'User:4');
EOF
    done
    compare "$v: a write after UPDATE is audited as in a fresh install" "$work/write-$up" "$work/write-$fresh"
    if grep -q '^public.feature_gates|INSERT|.*|true$' "$work/write-$up" &&
       grep -q '^claude_sonnet_4_6_vertex|boolean$' "$work/write-$up"; then
        pass "$v: a Flipper write after UPDATE is audited and routes (the triggers of the attached tables)"
    else
        fail "$v: a Flipper write after UPDATE:"
        cat "$work/write-$up"
    fi

    # The upgrade's guard: a schema others may create objects in is refused,
    # with nothing changed; once that is revoked, the upgrade goes through.
    guard=guard_${v//./_}
    mf_psql up postgres -c "CREATE DATABASE $guard" >/dev/null
    mf_psql up "$guard" -c "CREATE EXTENSION modelflags VERSION '$v'" \
        -c "GRANT CREATE ON SCHEMA modelflags TO PUBLIC" >/dev/null 2>&1
    out=$(mf_psql up "$guard" -v VERBOSITY=verbose -c "ALTER EXTENSION modelflags UPDATE" 2>&1)
    ver=$(mf_psql up "$guard" -c "SELECT extversion FROM pg_extension WHERE extname = 'modelflags'" 2>&1)
    if grep -q '42501' <<<"$out" && [ "$ver" = "$v" ]; then
        pass "$v: UPDATE refuses a modelflags schema with CREATE granted to PUBLIC (42501), version stays $v"
    else
        fail "$v: UPDATE with CREATE on the schema granted to PUBLIC: version $ver, output: $out"
    fi
    # A schema owned by another, non-superuser role: refused as well.
    mf_psql up "$guard" -c "REVOKE CREATE ON SCHEMA modelflags FROM PUBLIC" \
        -c "DROP ROLE IF EXISTS upgrade_schema_owner" -c "CREATE ROLE upgrade_schema_owner" \
        -c "ALTER SCHEMA modelflags OWNER TO upgrade_schema_owner" >/dev/null 2>&1
    out=$(mf_psql up "$guard" -v VERBOSITY=verbose -c "ALTER EXTENSION modelflags UPDATE" 2>&1)
    ver=$(mf_psql up "$guard" -c "SELECT extversion FROM pg_extension WHERE extname = 'modelflags'" 2>&1)
    if grep -q '42501' <<<"$out" && grep -q 'upgrade_schema_owner' <<<"$out" && [ "$ver" = "$v" ]; then
        pass "$v: UPDATE refuses a modelflags schema owned by another, non-superuser role (42501), version stays $v"
    else
        fail "$v: UPDATE with the schema owned by another role: version $ver, output: $out"
    fi
    out=$(mf_psql up "$guard" -c "ALTER SCHEMA modelflags OWNER TO postgres" -c "DROP ROLE upgrade_schema_owner" \
          -c "ALTER EXTENSION modelflags UPDATE" \
          -c "SELECT extversion FROM pg_extension WHERE extname = 'modelflags'" 2>&1)
    if [ "$out" = "$current" ]; then
        pass "$v: after REVOKE CREATE and ALTER SCHEMA OWNER the UPDATE goes through"
    else
        fail "$v: UPDATE after REVOKE CREATE and ALTER SCHEMA OWNER: $out"
    fi
done

[ "$failures" -eq 0 ]
