#!/usr/bin/env python3
"""test/fuzz/sql_fuzz.py — the targeted SQL fuzzer of modelflags.

    python3 test/fuzz/sql_fuzz.py --host DIR --port N --db fuzz --populate
    python3 test/fuzz/sql_fuzz.py --host DIR --port N --db fuzz --seconds 60 [--seed S]

Run through test/fuzz/sql.sh, which starts the throwaway server and judges its
log (test/fuzz/checklog.py).  sqlsmith (test/fuzz/sqlsmith.sh) never calls a
set-returning function and knows nothing of what the arguments mean; this
drives every function of schema modelflags, as listed in pg_proc (a new one
without an argument generator below stops the run with a FAIL line), and
plain DML and COPY on every table of the schema, with hostile arguments —
NULL, empty, megabytes, invalid names, unicode, numbers at the boundaries,
deeply nested jsonb, truncated and exploding YAML/JSON documents — from
several concurrent sessions, each of which also, at random: opens READ
COMMITTED, REPEATABLE READ or SERIALIZABLE transactions, sets and rolls back
to or releases savepoints, wraps calls in PL/pgSQL exception blocks, sets
1-50 ms statement_timeout / lock_timeout, locks modelflags tables in every
mode and holds them, cancels or terminates another session, switches
session_replication_role, floods the invalidation queue with temp-table
churn, and drops and re-creates the extension.

Errors are expected (that is the point); what fails the run is in the server
log: a crash, or an internal error (XX000) of modelflags code.  A thread
watches the log while the sessions run and stops them at the first crash, so
that each session's last statements (--trace-dir) show what led to it.

Reproducible: session i draws step k's statements from its own generator
seeded with (seed, i, k), so the same --seed generates the same statements
in each session.  Which of them fail depends on timing, and so do the
repairs the session makes on the way (a ROLLBACK when a transaction is
aborted), marked "repair" in the trace; with one session (--sessions 1) a
run replays exactly.
"""
import argparse
import collections
import decimal
import json
import os
import random
import re
import sys
import threading
import time
import traceback

try:
    import psycopg
    from psycopg import errors as pgerrors  # noqa: F401  (imported for its side effect: error classes)
except ImportError:  # pragma: no cover
    print('FAIL: sql fuzz: python3-psycopg is not installed (test/install-deps.sh installs it)')
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

# ---------------------------------------------------------------- the data set

# Flags the populated database has; the actor-set sizes straddle the cache's
# small-set limit (32 rows are kept as copies, more as a Bloom filter that is
# confirmed by an index probe), which are different code paths.
ACTOR_FLAGS = {
    'fuzz_actors_small': 10,
    'fuzz_actors_32': 32,
    'fuzz_actors_33': 33,
    'fuzz_actors_big': 2000,
    'fuzz_actors_huge': 20000,
}
KNOWN_FLAGS = ['incident_fail_over_generation_provider', 'incident_fail_over_completion_provider',
               'code_generations_claude_sonnet_4_6', 'code_completions_codestral_2508',
               'fuzz_pct_actors', 'fuzz_pct_time', 'fuzz_default_on', 'fuzz_disabled'] + list(ACTOR_FLAGS)
KNOWN_FEATURES = ['code_generations', 'code_completions', 'fuzz_big_sets', 'fuzz_outage', 'fuzz_empty']
KNOWN_PROVIDERS = ['anthropic', 'vertex_ai', 'fireworks_ai', 'fuzz_down']
KNOWN_MODELS = ['claude_sonnet_4_5_20250929', 'claude_sonnet_4_5_20250929_vertex', 'claude_sonnet_4_6_vertex',
                'codestral_2501_fireworks', 'codestral_2508_fireworks', 'fuzz_down_model']
FLAG_TYPES = ['gitlab_com_derisk', 'wip', 'beta', 'ops', 'experiment', 'worker', 'markdown_cache',
              'undefined', 'development']


def populate_statements(yaml_doc):
    """The statements that fill a database: GitLab Duo's example set, actor
    gates (small and large sets), percentages, opt-outs, a provider that is
    down, and the roles the non-superuser sessions use.  Idempotent."""
    s = [("CREATE EXTENSION IF NOT EXISTS modelflags", None),
         ("SELECT * FROM modelflags.load_definitions(%s, note => 'fuzz populate')", [yaml_doc])]
    for flag, n in ACTOR_FLAGS.items():
        s.append(("INSERT INTO modelflags.flags (name, type) VALUES (%s, 'gitlab_com_derisk') "
                  "ON CONFLICT DO NOTHING", [flag]))
        # User:1..n, every 7th an opt-out
        s.append(("INSERT INTO modelflags.flag_actors (flag, actor, opt_out) "
                  "SELECT %s, 'User:' || g, g %% 7 = 0 FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
                  [flag, n]))
    s += [
        ("SELECT modelflags.set_flag('fuzz_actors_big', percentage_of_actors => 12.5)", None),
        ("SELECT modelflags.set_flag('fuzz_pct_actors', percentage_of_actors => 33.333)", None),
        ("SELECT modelflags.set_flag('fuzz_pct_time', percentage_of_time => 50)", None),
        ("SELECT modelflags.set_flag('fuzz_disabled', false)", None),
        ("INSERT INTO modelflags.flags (name, default_enabled) VALUES ('fuzz_default_on', true) "
         "ON CONFLICT DO NOTHING", None),
        ("SELECT modelflags.opt_out('fuzz_pct_actors', 'User:42')", None),
        ("SELECT modelflags.set_actor('code_generations_claude_sonnet_4_6', 'Project:7', true)", None),
        ("INSERT INTO modelflags.providers (name, available) VALUES ('fuzz_down', false) "
         "ON CONFLICT DO NOTHING", None),
        ("INSERT INTO modelflags.models (name, provider, params) VALUES "
         "('fuzz_down_model', 'fuzz_down', '{\"model\": \"down\", \"max_tokens\": 5}') ON CONFLICT DO NOTHING", None),
        ("INSERT INTO modelflags.features (name) VALUES ('fuzz_big_sets'), ('fuzz_outage'), ('fuzz_empty') "
         "ON CONFLICT DO NOTHING", None),
        ("INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES "
         "('fuzz_big_sets', 1, 'fuzz_actors_huge', 'claude_sonnet_4_6_vertex', '{\"max_tokens\": 7}'), "
         "('fuzz_big_sets', 2, 'fuzz_actors_33', 'codestral_2508_fireworks', '{}'), "
         "('fuzz_big_sets', 3, 'fuzz_actors_big', 'fuzz_down_model', '{\"direct_access\": false}'), "
         "('fuzz_big_sets', 4, 'fuzz_pct_time', 'claude_sonnet_4_5_20250929_vertex', '{}'), "
         "('fuzz_big_sets', 5, NULL, 'claude_sonnet_4_5_20250929', '{}'), "
         "('fuzz_outage', 1, 'fuzz_actors_small', 'fuzz_down_model', '{}'), "
         "('fuzz_outage', 2, 'fuzz_default_on', 'fuzz_down_model', '{}'), "
         "('fuzz_outage', 3, 'fuzz_actors_32', 'codestral_2501_fireworks', '{}') "
         "ON CONFLICT DO NOTHING", None),
        # Flipper-shaped tables (GitLab's features/feature_gates), attached:
        # writes to them must never fail, and flags kept there route.
        ("CREATE TABLE IF NOT EXISTS fuzz_flipper_features (id bigserial PRIMARY KEY, key varchar NOT NULL UNIQUE, "
         "created_at timestamp NOT NULL DEFAULT now(), updated_at timestamp NOT NULL DEFAULT now())", None),
        ("CREATE TABLE IF NOT EXISTS fuzz_flipper_gates (id bigserial PRIMARY KEY, feature_key varchar NOT NULL, "
         "key varchar NOT NULL, value text, created_at timestamp NOT NULL DEFAULT now(), "
         "updated_at timestamp NOT NULL DEFAULT now(), UNIQUE (feature_key, key, value))", None),
        ("INSERT INTO fuzz_flipper_features (key) VALUES ('fuzz_flipper_flag'), ('fuzz_actors_33') "
         "ON CONFLICT DO NOTHING", None),
        ("INSERT INTO fuzz_flipper_gates (feature_key, key, value) VALUES "
         "('fuzz_flipper_flag', 'percentage_of_actors', '25.0'), ('fuzz_flipper_flag', 'actors', 'User:1'), "
         "('fuzz_flipper_flag', 'actors', 'User:2:opt_out'), ('fuzz_flipper_flag', 'groups', 'admins'), "
         "('fuzz_actors_33', 'boolean', 'true') ON CONFLICT DO NOTHING", None),
        ("INSERT INTO fuzz_flipper_gates (feature_key, key, value) "
         "SELECT 'fuzz_flipper_flag', 'actors', 'User:' || g FROM generate_series(10, 60) g ON CONFLICT DO NOTHING", None),
        ("SELECT modelflags.attach_flipper('fuzz_flipper_features', 'fuzz_flipper_gates') "
         "WHERE NOT EXISTS (SELECT FROM modelflags.flipper_source)", None),
        ("INSERT INTO modelflags.features (name) VALUES ('fuzz_flipper') ON CONFLICT DO NOTHING", None),
        ("INSERT INTO modelflags.routes (feature, position, flag, model) VALUES "
         "('fuzz_flipper', 1, 'fuzz_actors_33', 'claude_sonnet_4_6_vertex'), "
         "('fuzz_flipper', 2, NULL, 'claude_sonnet_4_5_20250929') ON CONFLICT DO NOTHING", None),
        # The ops role of README "Privileges", and a role with PUBLIC's rights only.
        ("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fuzz_ops') THEN "
         "CREATE ROLE fuzz_ops LOGIN; END IF; "
         "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fuzz_public') THEN "
         "CREATE ROLE fuzz_public LOGIN; END IF; END $$", None),
        ("GRANT USAGE ON SCHEMA modelflags TO fuzz_ops", None),
        ("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA modelflags TO fuzz_ops", None),
        ("REVOKE INSERT, UPDATE, DELETE ON modelflags.changes FROM fuzz_ops", None),
        ("DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT p.oid::regprocedure FROM pg_proc p "
         "WHERE p.pronamespace = 'modelflags'::regnamespace AND p.proname !~ '^_' LOOP "
         "EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO fuzz_ops', f); END LOOP; END $$", None),
    ]
    return s


def populate(conn, yaml_doc):
    for q, p in populate_statements(yaml_doc):
        conn.execute(q, p)


# ---------------------------------------------------------------- values

LONG = 2000


class Huge(str):
    """A string of megabytes: sent whole as a parameter, but written into
    statement text as the expression that makes it, so that the server log
    (which records the statement of every error) stays small."""

    def __new__(cls, unit, n):
        self = super().__new__(cls, unit * n)
        self.unit, self.n = unit, n
        return self


def lit(v):
    """An SQL literal of a Python value, for the statements sent without parameters."""
    if isinstance(v, Huge):
        return "repeat('%s', %d)" % (v.unit.replace("'", "''"), v.n)
    if isinstance(v, str) and len(v) > LONG:
        v = v[:LONG]    # statement text stays small (a_call binds long values instead)
    if v is None:
        return 'NULL'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, (int, float, decimal.Decimal)):
        return "'%s'" % v
    return "'" + str(v).replace("'", "''") + "'"


HOSTILE_TEXT = [
    None, '', ' ', '\t\n', "'); DROP TABLE modelflags.flags; --", '%s%n%x', '\\', '"', 'NULL',
    'a' * 255, 'a' * 256, 'a' * 1024, 'a' * 1025, 'é', 'ß' * 300, '日本語のフラグ', '🚀' * 300,
    'e\u0301', '\u202e' + 'gnp.exe', '\ufeff' + 'bom', 'User:\u00a042', Huge('x', 70000),
    'A_B', 'a__b', '_a', 'a_', '0', '-1', 'a-b', 'a.b', 'a b', 'user:42', 'User:', ':',
]


def huge(rng):
    return Huge(rng.choice('ab_xé'), rng.choice([100_000, 1 << 20, 3 << 20]))


class Gen:
    """Argument generators, by kind.  Each returns (value, sql type)."""

    def __init__(self, rng, dump_cache):
        self.rng = rng
        self.dump_cache = dump_cache

    def pick_known(self, known, valid_new):
        r = self.rng.random()
        if r < 0.72:
            return self.rng.choice(known)
        if r < 0.80:
            return valid_new
        if r < 0.985:
            return self.rng.choice(HOSTILE_TEXT)
        return huge(self.rng)

    def flag(self):
        return self.pick_known(KNOWN_FLAGS, 'fuzz_new_%d' % self.rng.randrange(20)), 'text'

    def feature(self):
        return self.pick_known(KNOWN_FEATURES, 'fuzz_new_feature_%d' % self.rng.randrange(5)), 'text'

    def provider(self):
        return self.pick_known(KNOWN_PROVIDERS, 'fuzz_new_provider'), 'text'

    def model(self):
        return self.pick_known(KNOWN_MODELS, 'fuzz_new_model'), 'text'

    def actor(self):
        r = self.rng.random()
        if r < 0.6:
            # inside the large sets (User:1..20000, every 7th an opt-out) and outside
            return 'User:%d' % self.rng.choice([self.rng.randrange(1, 40), self.rng.randrange(1, 25000),
                                                  42, 7, 33, 34, 2000, 2001]), 'text'
        if r < 0.75:
            return self.rng.choice(['Project:7', 'Group:9', 'Namespaces::UserNamespace:3', 'User:0',
                                    'User:-1', 'User:99999999999999999999']), 'text'
        if r < 0.97:
            return self.rng.choice(HOSTILE_TEXT), 'text'
        return huge(self.rng), 'text'

    def text(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(['INC-1234', 'fuzz', 'group::ai coding', '17.8', 'https://example.com/x']), 'text'
        if r < 0.97:
            return self.rng.choice(HOSTILE_TEXT), 'text'
        return huge(self.rng), 'text'

    def note(self):
        return (None, 'text') if self.rng.random() < 0.5 else self.text()

    def bool(self):
        return self.rng.choice([None, True, False, True, False]), 'boolean'

    def pct(self):
        return self.rng.choice([
            None, None, '0', '100', '50', '12.345', '0.001', '99.999', '100.0005', '100.001', '-0',
            '-0.001', '-1', 'NaN', 'Infinity', '-Infinity', '1e-1000', '1e-3', '1e2', '1e1000',
            '33.3333', '0.0000000000000000000001', '100.000', '1' + '0' * 2000,
        ]), 'numeric'

    def int(self):
        return self.rng.choice([0, 1, 2, 3, 5, -1, 2147483647, -2147483648, 100000]), 'integer'

    def jsonb(self):
        r = self.rng.random()
        if r < 0.4:
            return self.rng.choice(['{}', '{"max_tokens": 64}', '{"direct_access": false}',
                                    '{"temperature": 0.7, "model": "m"}']), 'jsonb'
        if r < 0.8:
            return self.rng.choice([
                None, '[]', '1', '"s"', 'null', '{"max_tokens": -1}', '{"max_tokens": 1.5}',
                '{"temperature": "hot"}', '{"model": 5}', '{"direct_access": "no"}', '{"stop": {}}',
                '{"max_tokens": 1e1000}', '{"temperature": 1e-1000}', '{"a": "\\u0000"}',
                '{"": ""}', '{"k": "' + 'é' * 1000 + '"}',
            ]), 'jsonb'
        depth = self.rng.choice([100, 1000, 5000])
        if self.rng.random() < 0.5:
            return '{"a": ' * depth + '1' + '}' * depth, 'jsonb'
        return '{"a": ' + '[' * depth + ']' * depth + '}', 'jsonb'

    def document(self):
        rng = self.rng
        dumps = self.dump_cache
        r = rng.random()
        base = rng.choice(dumps) if dumps else 'providers: []'
        if r < 0.25:
            return base, 'text'
        if r < 0.45:
            return base[:rng.randrange(len(base) + 1)], 'text'      # truncated
        if r < 0.55:
            i = rng.randrange(len(base) + 1)                        # one byte changed
            return base[:i] + rng.choice('{}[]:-&*!|>\'"\n #,') + base[i + 1:], 'text'
        if r < 0.62:
            # billion laughs
            lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
            for k in range(1, rng.choice([4, 9])):
                lines.append('a%d: &a%d [%s]' % (k, k, ','.join(['*a%d' % (k - 1)] * 10)))
            return 'providers:\n  - name: x\n    note: *a%d\n' % (k,) + '\n'.join(lines), 'text'
        if r < 0.68:
            d = rng.choice([65, 1000, 100000])
            return rng.choice(['[' * d + ']' * d, '{"providers": ' + '[' * d + ']' * d + '}',
                               'providers:\n' + ''.join('  ' * i + '- \n' for i in range(min(d, 2000)))]), 'text'
        if r < 0.74:
            n = rng.choice([10, 1000, 100001])
            if rng.random() < 0.5:
                return json.dumps({'flags': [{'name': 'fuzz_actors_huge',
                                              'actors': ['User:%d' % i for i in range(n)]}]}), 'text'
            return json.dumps({'providers': [{'name': 'p%d' % i} for i in range(n)]}), 'text'
        if r < 0.78:
            return Huge('x', rng.choice([8 << 20, (8 << 20) + 1])), 'text'
        if r < 0.84:
            return rng.choice([
                'name: fuzz_gitlab_flag\ntype: ops\ndefault_enabled: true\nmilestone: "18.0"\ngroup: g\n',
                'configurable_unit_primitives:\n  - feature_setting: code_generations\n'
                '    default_models: [claude_sonnet_4_5_20250929]\n',
                'models:\n  - name: X\n    gitlab_identifier: fuzz_gl_model\n    params: {model: vertex_ai/x}\n',
                '{"flags": [{"name": "fuzz_pct_actors", "percentage_of_actors": 100.0005}]}',
                '{"flags": [{"name": "fuzz_pct_actors", "percentage_of_actors": 1e-1000}]}',
                '{"flags": [{"name": "fuzz_pct_actors", "percentage_of_actors": NaN}]}',
                '{"models": [{"name": "m", "provider": "anthropic", "params": {"max_tokens": 1e70}}]}',
                'providers:\n  - name: a\n  - name: a\n', '{"providers": [], "providers": []}',
                'flags:\n  - name: fuzz_actors_33\n    opt_outs: [User:1]\n    actors: [User:1]\n',
                '--- a\n--- b\n', '!!python/object:os.system x', '<<: *x', 'a: .inf', 'a: 1:30',
                '\ufeffproviders: []', 'features:\n  - name: fuzz_empty\n    routes: []\n',
            ]), 'text'
        if r < 0.88:
            return rng.choice([None, '', ' ', '{}', '[]', 'null', '~', '0', '"s"']), 'text'
        return ''.join(chr(rng.choice([9, 10, 32, 34, 35, 38, 42, 44, 45, 58, 91, 93, 123, 125,
                                       rng.randrange(33, 127), rng.randrange(160, 0x3000)]))
                       for _ in range(rng.randrange(1, 400))), 'text'

    def format(self):
        return self.rng.choice([None, 'yaml', 'json', 'json', 'yaml', '', 'xml', 'YAML', 'a' * 10000]), 'text'

    def check_kind(self):
        return self.rng.choice(['flag', 'provider', 'model', 'feature', None, '', 'x' * 500]), 'text'

    def gate(self):
        return self.rng.choice(['percentage_of_actors', 'percentage_of_time', None, '']), 'text'

    def names(self):
        r = self.rng.random()
        if r < 0.3:
            return None, 'text[]'
        return [self.flag()[0] for _ in range(self.rng.randint(0, 4))], 'text[]'

    def regclass(self):
        # Tables that are not Flipper's (refused with a clear error), the
        # fuzzer's own Flipper-shaped tables, NULL.
        return self.rng.choice([None, 'modelflags.flags', 'modelflags.routes', 'pg_class',
                                'fuzz_flipper_features', 'fuzz_flipper_gates']), 'regclass'

    # model health (src/health.c): report(), report_batch(), set_breaker()
    def outcome(self):
        return self.rng.choice(['ok', 'ok', 'error', 'timeout', 'rate_limited', 'client_error',
                                None, '', 'OK', 'ok ', 'failure', 'x' * 300]), 'text'

    def latency(self):
        return self.rng.choice([None, 0, 1, 812.5, 0.001, 4, 30000, 86400000, 86400000.001, -0.0,
                                -1, 'NaN', 'Infinity', '-Infinity', 1e300, 5e-324]), 'double precision'

    def tokens(self):
        return self.rng.choice([None, 0, 1, 4096, -1, 9223372036854775807,
                                -9223372036854775808]), 'bigint'

    def reports(self):
        rng = self.rng
        r = rng.random()
        if r < 0.15:
            return rng.choice([None, '[]', '{}', '1', '"s"', 'null', '[1]', '[{}]', '[[]]']), 'jsonb'
        items = []
        for _ in range(rng.choice([1, 2, 5, 50, 500, 10000, 10001])):
            item = {'feature': rng.choice(KNOWN_FEATURES + ['fuzz_x']),
                    'model': rng.choice(KNOWN_MODELS + ['fuzz_x']),
                    'outcome': rng.choice(['ok', 'error', 'timeout', 'rate_limited', 'client_error', 'bad'])}
            if rng.random() < 0.7:
                item['latency_ms'] = rng.choice([1, 250.5, -1, 1e300, None, 'slow'])
            if rng.random() < 0.2:
                item[rng.choice(['tokens_in', 'tokens_out', 'extra'])] = rng.choice([1, -5, 'x', None])
            if rng.random() < 0.02:
                del item[rng.choice(['feature', 'model', 'outcome'])]
            items.append(item)
        return json.dumps(items), 'jsonb'

    def override(self):
        return self.rng.choice([None, None, 'open', 'closed', 'auto', '', 'OPEN', 'half_open']), 'text'

    def interval(self):
        return self.rng.choice([None, None, '1 second', '30 seconds', '1 hour', '1 day', '0', '-1 second',
                                '1 day 1 second', '1 month', '999999 years', 'infinity']), 'interval'

    def model_or_null(self):
        return (None, 'text') if self.rng.random() < 0.3 else self.model()

    def bins(self):
        r = self.rng.random()
        if r < 0.2:
            return None, 'bigint[]'
        n = self.rng.choice([0, 1, 10, 40, 41, 1000])
        vals = [str(self.rng.choice([0, 0, 1, 7, 1000, -1, 9223372036854775807])) for _ in range(n)]
        if self.rng.random() < 0.1:
            vals.append('NULL')
        return '{' + ','.join(vals) + '}', 'bigint[]'

    def quantile(self):
        return self.rng.choice([0, 0.5, 0.95, 0.99, 1, -0.1, 1.1, 'NaN', None]), 'double precision'

    def name_any(self):
        return self.pick_known(KNOWN_FLAGS + KNOWN_PROVIDERS + KNOWN_FEATURES + KNOWN_MODELS, 'fuzz_x'), 'text'


# Every function of schema modelflags, by name and number of arguments: the
# generator of each argument.  A function pg_proc lists that is missing here
# stops the run: add its generators.  Trigger functions are called directly
# too (they must refuse, 0A000).
FUNCTIONS = {
    ('is_enabled', 2): ['flag', 'actor'],
    ('rollout_pct', 2): ['flag', 'actor'],
    ('model_for', 2): ['feature', 'actor'],
    ('explain', 2): ['feature', 'actor'],
    ('cache_info', 0): [],
    ('set_flag', 5): ['flag', 'bool', 'pct', 'pct', 'note'],
    ('set_actor', 4): ['flag', 'actor', 'bool', 'note'],
    ('opt_out', 3): ['flag', 'actor', 'note'],
    ('remove_opt_out', 3): ['flag', 'actor', 'note'],
    ('delete_flag', 2): ['flag', 'note'],
    ('set_provider', 3): ['provider', 'bool', 'note'],
    ('load_definitions', 3): ['document', 'bool', 'note'],
    ('dump_definitions', 2): ['format', 'bool'],
    ('_quote_abbrev', 1): ['text'],
    ('_check_name', 2): ['check_kind', 'name_any'],
    ('_check_percentage', 3): ['gate', 'flag', 'pct'],
    ('_check_params', 2): ['text', 'jsonb'],
    ('_push_note', 1): ['note'],
    ('_pop_note', 1): ['note'],
    ('_ensure_flag', 1): ['flag'],
    ('_is_restore', 0): [],
    ('_flipper_owns', 1): ['flag'],
    ('_refuse_flipper_owned', 1): ['flag'],
    ('_note_flipper', 1): ['names'],
    ('attach_flipper', 3): ['regclass', 'regclass', 'note'],
    ('detach_flipper', 1): ['note'],
    ('report', 6): ['feature', 'model', 'outcome', 'latency', 'tokens', 'tokens'],
    ('report_batch', 1): ['reports'],
    ('set_breaker', 11): ['model', 'override', 'pct', 'int', 'int', 'interval', 'interval', 'interval',
                          'int', 'interval', 'note'],
    ('health_reset', 1): ['model_or_null'],
    ('_health_entries', 0): [],
    ('_health_status', 0): [],
    ('_health_transitions', 0): [],
    ('_latency_bounds', 0): [],
    ('_latency_quantile', 2): ['bins', 'quantile'],
}
READERS = ('is_enabled', 'model_for', 'explain', 'rollout_pct')

LOCK_MODES = ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE',
              'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE', 'ACCESS EXCLUSIVE']


class Catalog:
    """What pg_proc and pg_attribute say the extension has."""

    def __init__(self, conn):
        self.functions = []   # dicts
        rows = conn.execute("""
            SELECT p.proname, p.pronargs, p.pronargdefaults, coalesce(p.proargnames, '{}'),
                   p.proretset, p.prorettype = 'pg_catalog.trigger'::regtype,
                   t.typtype = 'c' OR p.prorettype = 'pg_catalog.record'::regtype,
                   p.oid::regprocedure::text
              FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype
             WHERE p.pronamespace = 'modelflags'::regnamespace
             ORDER BY 1, 2""").fetchall()
        self.missing = []
        for name, nargs, ndefaults, argnames, retset, trig, composite, sig in rows:
            if trig:
                self.functions.append(dict(name=name, sig=sig, trigger=True, args=[], names=[],
                                           ndefaults=0, rows=False))
                continue
            kinds = FUNCTIONS.get((name, nargs))
            if kinds is None:
                self.missing.append(sig)
                continue
            self.functions.append(dict(name=name, sig=sig, trigger=False, args=kinds,
                                       names=list(argnames[:nargs]), ndefaults=ndefaults,
                                       rows=retset or composite))
        self.tables = collections.OrderedDict()
        for rel, col, typ, ident, gen in conn.execute("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity, a.attgenerated
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind = 'r'
               AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum""").fetchall():
            self.tables.setdefault(rel, []).append((col, typ, ident, gen))
        self.views = [r[0] for r in conn.execute("""
            SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'modelflags'::regnamespace AND c.relkind = 'v'
             ORDER BY 1""").fetchall()]


# ---------------------------------------------------------------- sessions

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = collections.Counter()       # function -> statements calling it
        self.ok = collections.Counter()
        self.evals = collections.Counter()       # function -> evaluations in set-wise calls
        self.actions = collections.Counter()
        self.states = collections.Counter()      # client-side SQLSTATEs
        self.statements = 0

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                getattr(self, k).update(v)


class Session(threading.Thread):
    def __init__(self, idx, args, cat, stats, pids, stop, dumps):
        super().__init__(daemon=True)
        self.idx = idx
        self.args = args
        self.cat = cat
        self.stats = stats
        self.pids = pids
        self.stop = stop
        self.dumps = dumps
        # Sessions 0 and 1 are superusers (they may drop and re-create the
        # extension, lock anything, switch session_replication_role); 2 is
        # the ops role of README "Privileges"; 3 has PUBLIC's rights only.
        self.role = ['postgres', 'postgres', 'fuzz_ops', 'fuzz_public'][idx % 4]
        self.conn = None
        self.trace = collections.deque(maxlen=args.trace_lines)
        self.savepoints = []     # open savepoints of the current transaction, oldest first
        self.pid_history = []
        self.step = 0

    # -- connection
    def connect(self):
        while not self.stop.is_set():
            try:
                self.conn = psycopg.connect(host=self.args.host, port=self.args.port, dbname=self.args.db,
                                            user=self.role, autocommit=True, connect_timeout=10,
                                            application_name='fuzz-s%d' % self.idx,
                                            prepare_threshold=None)
                self.conn.add_notice_handler(lambda d: None)
                self.conn.execute("SET statement_timeout = '3s'")
                self.conn.execute("SET lock_timeout = '1s'")
                self.conn.execute("SET idle_in_transaction_session_timeout = '20s'")
                pid = self.conn.info.backend_pid
                self.pids[self.idx] = pid
                self.pid_history.append(pid)
                self.trace.append('-- connected as %s, backend pid %d' % (self.role, pid))
                return True
            except psycopg.Error:
                time.sleep(0.2)
        return False

    def run(self):
        if not self.connect():
            return
        while not self.stop.is_set():
            rng = random.Random('%s:%d:%d' % (self.args.seed, self.idx, self.step))
            self.step += 1
            try:
                self.one_step(rng)
            except psycopg.OperationalError:
                pass
            except Exception:  # a bug of the fuzzer itself must show, and fail the run
                self.trace.append('-- fuzzer exception: ' + traceback.format_exc())
                self.stats.add(actions={'fuzzer exception': 1})
                print('fuzzer exception in session %d step %d:\n%s' % (self.idx, self.step - 1,
                                                                    traceback.format_exc()), flush=True)
            if self.conn is None or self.conn.closed or self.conn.broken:
                self.stats.add(actions={'reconnect': 1})
                if not self.connect():
                    return

    # -- executing
    def short(self, p):
        if isinstance(p, str) and len(p) > 120:
            return '<%d chars: %r...>' % (len(p), p[:60])
        return repr(p)

    def execute(self, query, params=None, what='sql'):
        shown = query if len(query) <= 400 else query[:200] + ' ... (%d chars)' % len(query)
        line = '[s%d #%d pid %s] %s%s' % (self.idx, self.step, self.pids.get(self.idx),
                                          '(repair) ' if what == 'repair' else '', shown)
        if params:
            line += '  -- params: ' + ', '.join(self.short(p) for p in params)
        self.trace.append(line)
        with self.stats.lock:
            self.stats.statements += 1
            self.stats.actions[what] += 1
        try:
            # The result stays unread: converting megabytes of deeply nested
            # jsonb into Python objects would only measure the client.
            self.conn.execute(query, params if params else None)
            self.track_savepoints(query)
            return None
        except psycopg.Error as e:
            self.track_savepoints(None)
            st = getattr(e, 'sqlstate', None) or ('broken' if self.conn.broken else 'client')
            self.trace.append('   -> %s %s' % (st, str(e).splitlines()[0][:160] if str(e) else ''))
            with self.stats.lock:
                self.stats.states[st] += 1
            if self.conn.broken or self.conn.closed:
                raise psycopg.OperationalError(str(e))
            return st

    def track_savepoints(self, query):
        """Follows which savepoints exist, so that recovery can roll back to one."""
        if self.conn.closed or self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.savepoints = []
            return
        m = re.match(r'(SAVEPOINT|ROLLBACK TO SAVEPOINT|RELEASE SAVEPOINT) (\w+)$', query or '')
        if not m:
            return
        name = m.group(2)
        if m.group(1) == 'SAVEPOINT':
            self.savepoints.append(name)
        elif name in self.savepoints:
            i = len(self.savepoints) - 1 - self.savepoints[::-1].index(name)
            self.savepoints = self.savepoints[:i + (1 if m.group(1).startswith('ROLLBACK') else 0)]

    def in_error(self):
        return self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR

    # -- one random step
    def one_step(self, rng):
        # Repairs depend on the state the server left the session in (which
        # depends on timing); they draw from their own generator, so that the
        # statements this step generates are the same in every run.
        repair = random.Random('%s:%d:%d:repair' % (self.args.seed, self.idx, self.step - 1))
        if self.in_error() and repair.random() < 0.8:
            if self.savepoints and repair.random() < 0.8:
                self.execute('ROLLBACK TO SAVEPOINT ' + self.savepoints[-1], what='repair')
            else:
                self.execute('ROLLBACK', what='repair')
        actions = [
            (36, self.a_call), (5, self.a_call_setwise), (4, self.a_plpgsql), (4, self.a_burst), (12, self.a_dml),
            (3, self.a_copy), (3, self.a_read_table), (6, self.a_begin), (4, self.a_commit),
            (2, self.a_rollback), (6, self.a_savepoint), (5, self.a_rollback_to), (3, self.a_release),
            (5, self.a_timeouts), (4, self.a_lock), (1.5, self.a_cancel), (0.2, self.a_terminate),
            (1, self.a_replication_role), (0.4, self.a_churn), (0.8, self.a_sleep), (0.3, self.a_discard),
            (0.05, self.a_drop_extension), (0.3, self.a_create_extension), (3, self.a_flipper),
            (2, self.a_parallel),
        ]
        total = sum(w for w, _ in actions)
        x = rng.random() * total
        for w, f in actions:
            x -= w
            if x < 0:
                f(rng)
                return
        actions[-1][1](rng)

    def a_flipper(self, rng):
        """Rails-like writes to the attached Flipper tables (research/flipper-tables.md
        §1.3): they must never fail because of modelflags."""
        g = Gen(rng, self.dumps)
        flag = rng.choice(['fuzz_flipper_flag', 'fuzz_actors_33', 'incident_fail_over_generation_provider',
                           g.flag()[0] or 'x'])
        kind = rng.choice(['add', 'enable', 'disable', 'actor', 'opt_out', 'pct', 'group', 'remove',
                           'update', 'truncate'])
        if kind == 'add':
            q, p = 'INSERT INTO fuzz_flipper_features (key) VALUES (%s) ON CONFLICT DO NOTHING', [flag]
        elif kind == 'enable':
            q, p = ("WITH d AS (DELETE FROM fuzz_flipper_gates WHERE feature_key = %s) "
                    "INSERT INTO fuzz_flipper_gates (feature_key, key, value) VALUES (%s, 'boolean', 'true')"), [flag, flag]
        elif kind == 'disable':
            q, p = 'DELETE FROM fuzz_flipper_gates WHERE feature_key = %s', [flag]
        elif kind in ('actor', 'opt_out'):
            q, p = ("INSERT INTO fuzz_flipper_gates (feature_key, key, value) VALUES (%s, 'actors', %s) "
                    "ON CONFLICT DO NOTHING"), [flag, (g.actor()[0] or 'User:1') + (':opt_out' if kind == 'opt_out' else '')]
        elif kind == 'pct':
            q, p = ("INSERT INTO fuzz_flipper_gates (feature_key, key, value) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING"), [flag, rng.choice(['percentage_of_actors', 'percentage_of_time']),
                                                rng.choice(['25', '25.0', '12.5', '0', '100', 'abc', '1e400', '-5', ''])]
        elif kind == 'group':
            q, p = ("INSERT INTO fuzz_flipper_gates (feature_key, key, value) VALUES (%s, %s, 'admins') "
                    "ON CONFLICT DO NOTHING"), [flag, rng.choice(['groups', 'expression', 'unknown_gate'])]
        elif kind == 'remove':
            q, p = ("WITH d AS (DELETE FROM fuzz_flipper_gates WHERE feature_key = %s) "
                    "DELETE FROM fuzz_flipper_features WHERE key = %s"), [flag, flag]
        elif kind == 'update':
            q, p = "UPDATE fuzz_flipper_gates SET value = %s WHERE feature_key = %s", [rng.choice(['true', '50', None]), flag]
        else:
            q, p = rng.choice(['TRUNCATE fuzz_flipper_gates', 'TRUNCATE fuzz_flipper_features']), []
        self.execute(q, p, what='flipper ' + kind)

    def pick_function(self, rng):
        """Half the calls read (the hot path, where the cache lives; the
        session with PUBLIC's rights may call nothing else), the rest are
        spread over every function."""
        readers = [f for f in self.cat.functions if f['name'] in READERS]
        if readers and (rng.random() < 0.5 or (self.role == 'fuzz_public' and rng.random() < 0.8)):
            return rng.choice(readers)
        return rng.choice(self.cat.functions)

    def call_sql(self, rng, fn, inline):
        """A call of fn with generated arguments: (sql, params, call text)."""
        g = Gen(rng, self.dumps)
        if fn['trigger']:
            return 'modelflags.%s()' % fn['name'], [], fn['name']
        nargs = len(fn['args'])
        keep = nargs - rng.randrange(fn['ndefaults'] + 1) if fn['ndefaults'] else nargs
        vals = [getattr(g, kind)() for kind in fn['args'][:keep]]
        if inline is None:      # the caller lets us choose: long values are bound
            inline = rng.random() < 0.2 and not any(isinstance(v, str) and len(v) > LONG and
                                                    not isinstance(v, Huge) for v, _ in vals)
        named = fn['names'] and rng.random() < 0.3
        parts, params = [], []
        order = list(range(keep))
        if named:
            rng.shuffle(order)
        for i in order:
            v, typ = vals[i]
            expr = (lit(v) if inline else '%s') + '::' + typ
            if not inline:
                params.append(v)
            parts.append(('%s => %s' % (fn['names'][i], expr)) if named else expr)
        call = 'modelflags.%s(%s)' % (fn['name'], ', '.join(parts))
        return call, params, fn['name']

    def in_tx(self):
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def a_call(self, rng):
        fn = self.pick_function(rng)
        call, params, name = self.call_sql(rng, fn, None)
        q = ('SELECT * FROM ' + call) if fn['rows'] else ('SELECT ' + call)
        with self.stats.lock:
            self.stats.calls[name] += 1
        st = self.execute(q, params, what='call')
        if st is None:
            with self.stats.lock:
                self.stats.ok[name] += 1

    def a_call_setwise(self, rng):
        """Many evaluations in one statement, over actors in and out of the large sets."""
        fn = rng.choice([f for f in self.cat.functions if f['name'] in READERS] or self.cat.functions)
        g = Gen(rng, self.dumps)
        n = rng.choice([10, 100, 1000, 5000])
        lo = rng.randrange(1, 25000)
        key, _ = g.feature() if fn['name'] in ('model_for', 'explain') else g.flag()
        call = 'modelflags.%s(%%s::text, %s)' % (fn['name'], rng.choice(["'User:' || g", "'User:' || (g * 7)",
                                                                         "NULL::text", "repeat('x', g)"]))
        if fn['rows']:
            q = 'SELECT count(*) FROM generate_series(%%s::int, %%s::int) g, LATERAL %s' % call
        else:
            q = 'SELECT count(*) FILTER (WHERE %s IS NOT NULL) FROM generate_series(%%s::int, %%s::int) g' % call
        params = [lo, lo + n, key] if fn['rows'] else [key, lo, lo + n]
        with self.stats.lock:
            self.stats.calls[fn['name']] += 1
            self.stats.evals[fn['name']] += n
        if self.execute(q, params, what='call set-wise') is None:
            with self.stats.lock:
                self.stats.ok[fn['name']] += 1

    def a_parallel(self, rng):
        """A call or a view beside a parallel subquery: the query has a Gather
        node, so it runs in parallel mode throughout, and the PARALLEL
        RESTRICTED functions run in the leader, where no snapshot can be
        taken; the PARALLEL SAFE ones may run in a worker."""
        self.execute('BEGIN', what='begin')
        for setting in ('parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size'):
            self.execute('SET LOCAL %s = 0' % setting, what='set local parallel')
        self.execute('SET LOCAL force_parallel_mode = on', what='set local parallel')
        table = rng.choice(list(self.cat.tables) or ['providers'])
        sub = '(SELECT count(*) FROM modelflags.%s)' % table
        if self.cat.views and rng.random() < 0.3:
            q, params, name = 'SELECT %s AS n, * FROM modelflags.%s' % (sub, rng.choice(self.cat.views)), [], None
        else:
            fn = self.pick_function(rng)
            call, params, name = self.call_sql(rng, fn, None)
            q = ('SELECT %s AS n, * FROM %s' if fn['rows'] else 'SELECT %s AS n, %s') % (sub, call)
            with self.stats.lock:
                self.stats.calls[name] += 1
        if self.execute(q, params, what='call in parallel mode') is None and name:
            with self.stats.lock:
                self.stats.ok[name] += 1

    def a_plpgsql(self, rng):
        """Calls in a PL/pgSQL block, each maybe in its own exception block,
        with timeouts set inside: a failed cache rebuild caught by PL/pgSQL."""
        body = []
        for _ in range(rng.randrange(1, 6)):
            fn = self.pick_function(rng)
            call, _, name = self.call_sql(rng, fn, inline=True)
            with self.stats.lock:
                self.stats.calls[name] += 1
            stmt = 'PERFORM %s;' % call
            if rng.random() < 0.4:
                stmt = "PERFORM set_config('%s', '%dms', true); " % (
                    rng.choice(['statement_timeout', 'lock_timeout']), rng.randint(1, 50)) + stmt
            if rng.random() < 0.3:
                stmt += ' PERFORM pg_sleep(0.0%d);' % rng.randint(1, 5)
            if rng.random() < 0.7:
                stmt = 'BEGIN %s EXCEPTION WHEN others THEN NULL; END;' % stmt
            body.append(stmt)
        self.execute('DO $fz$ BEGIN %s END $fz$' % ' '.join(body), what='plpgsql block')

    def focus(self):
        """A few flags with actor rows and features routed by them that this
        session keeps reading for a while (it changes every 60 steps): a
        cache that answered for them is then asked again, in the next
        transaction, after whatever happened in between."""
        frng = random.Random('%s:%d:focus:%d' % (self.args.seed, self.idx, self.step // 60))
        return (frng.sample(list(ACTOR_FLAGS) + ['fuzz_pct_actors', 'code_generations_claude_sonnet_4_6'], 3),
                frng.sample(['fuzz_big_sets', 'fuzz_outage', 'code_generations', 'code_completions'], 2))

    def focus_read(self, rng, what):
        flags, features = self.focus()
        fn = rng.choice([f for f in self.cat.functions if f['name'] in READERS] or self.cat.functions)
        key = rng.choice(features if fn['name'] in ('model_for', 'explain') else flags)
        actor = 'User:%d' % rng.choice([rng.randrange(1, 40), rng.randrange(1, 25000)])
        name = fn['name']
        with self.stats.lock:
            self.stats.calls[name] += 1
        if fn['rows']:
            q = 'SELECT * FROM modelflags.%s(%%s::text, %%s::text)' % name
        else:
            q = 'SELECT modelflags.%s(%%s::text, %%s::text)' % name
        if self.execute(q, [key, actor], what=what) is None:
            with self.stats.lock:
                self.stats.ok[name] += 1

    def a_burst(self, rng):
        """A transaction that reads the session's focus (warming its cache),
        then one of reads, each in a savepoint that is rolled back to or
        released, under a 1-50 ms lock_timeout or statement_timeout: a read
        whose cache rebuild fails (a lock held by another session, a timeout,
        a cancel) followed by more reads in the same transaction."""
        if rng.random() < 0.5:
            self.a_begin(rng)
            for _ in range(rng.randrange(1, 5)):
                self.focus_read(rng, 'call in burst')
            self.execute('COMMIT', what='commit')
            if rng.random() < 0.5:
                self.execute('SELECT pg_sleep(%s)' % rng.choice(['0.005', '0.02', '0.05']), what='sleep')
        self.a_begin(rng)
        if rng.random() < 0.8:
            self.a_timeouts(rng)
        for k in range(rng.randrange(2, 7)):
            self.execute('SAVEPOINT b%d' % k, what='savepoint')
            for _ in range(rng.randrange(1, 3)):
                self.focus_read(rng, 'call in burst')
            end = rng.random() < 0.6
            if self.in_error() and not end:   # a repair: RELEASE would fail
                self.execute('ROLLBACK TO SAVEPOINT b%d' % k, what='repair')
            else:
                self.execute(('ROLLBACK TO SAVEPOINT b%d' if end else 'RELEASE SAVEPOINT b%d') % k,
                             what='burst savepoint end')
        self.execute(rng.choice(['COMMIT', 'ROLLBACK']), what='commit')

    # -- DML
    def value_for(self, g, table, col, typ):
        if col == 'name':
            return {'flags': g.flag, 'providers': g.provider, 'models': g.model,
                    'features': g.feature}.get(table, g.name_any)()
        gen = {'flag': g.flag, 'actor': g.actor, 'provider': g.provider, 'model': g.model,
               'feature': g.feature, 'params': g.jsonb, 'position': g.int}.get(col)
        if gen:
            return gen()
        if col == 'type':
            return g.rng.choice(FLAG_TYPES + [None, 'bogus']), 'text'
        if typ == 'boolean':
            return g.bool()
        if typ == 'numeric':
            return g.pct()
        if typ in ('integer', 'bigint'):
            return g.int()[0], typ
        if typ == 'jsonb':
            return g.jsonb()
        if typ == 'text':
            return g.text()
        return None, typ

    def a_dml(self, rng):
        g = Gen(rng, self.dumps)
        table = rng.choice(list(self.cat.tables))
        cols = [c for c in self.cat.tables[table] if not c[2] and not c[3]]
        kind = rng.choice(['insert', 'insert', 'insert_bulk', 'upsert', 'update', 'update', 'update_bulk',
                           'delete', 'delete_bulk', 'truncate'])
        q, params = None, []
        if kind in ('insert', 'upsert'):
            use = [c for c in cols if rng.random() < 0.85] or cols[:1]
            rows = rng.randrange(1, 4)
            vals = []
            for _ in range(rows):
                row = []
                for col, typ, _, _ in use:
                    v, t = self.value_for(g, table, col, typ)
                    params.append(v)
                    row.append('%s::' + t)
                vals.append('(' + ', '.join(row) + ')')
            q = 'INSERT INTO modelflags.%s (%s) VALUES %s' % (
                table, ', '.join('"%s"' % c[0] for c in use), ', '.join(vals))
            if kind == 'upsert':
                col = rng.choice(use)[0]
                q += rng.choice([' ON CONFLICT DO NOTHING',
                                 ' ON CONFLICT ON CONSTRAINT %s_pkey DO UPDATE SET "%s" = EXCLUDED."%s"'
                                 % (table, col, col)])
        elif kind == 'insert_bulk':
            if table == 'flag_actors':
                flag, _ = g.flag()
                lo = rng.randrange(1, 30000)
                q = ("INSERT INTO modelflags.flag_actors (flag, actor, opt_out) SELECT %%s, 'User:' || g, "
                     "g %%%% %d = 0 FROM generate_series(%%s::int, %%s::int) g ON CONFLICT DO NOTHING") % rng.randint(2, 9)
                params = [flag, lo, lo + rng.choice([10, 40, 500, 5000])]
            elif table == 'flags':
                q = ("INSERT INTO modelflags.flags (name, percentage_of_actors) SELECT 'fuzz_bulk_' || g, "
                     "(g %% 101)::numeric FROM generate_series(1, %s) g ON CONFLICT DO NOTHING")
                params = [rng.choice([10, 1000])]
            else:
                q = 'INSERT INTO modelflags.%s SELECT * FROM modelflags.%s' % (table, table)
        elif kind in ('update', 'update_bulk'):
            col, typ, _, _ = rng.choice(cols)
            v, t = self.value_for(g, table, col, typ)
            params.append(v)
            q = 'UPDATE modelflags.%s SET "%s" = %%s::%s' % (table, col, t)
            if kind == 'update':
                kcol, ktyp, _, _ = cols[0]
                kv, kt = self.value_for(g, table, kcol, ktyp)
                params.append(kv)
                q += ' WHERE "%s" = %%s::%s' % (kcol, kt)
            else:
                q += ' WHERE random() < %s' % rng.choice(['0.01', '0.3', '1'])
        elif kind in ('delete', 'delete_bulk'):
            if kind == 'delete':
                kcol, ktyp, _, _ = cols[0]
                kv, kt = self.value_for(g, table, kcol, ktyp)
                params.append(kv)
                q = 'DELETE FROM modelflags.%s WHERE "%s" = %%s::%s' % (table, kcol, kt)
            else:
                q = 'DELETE FROM modelflags.%s WHERE random() < %s' % (table, rng.choice(['0.01', '0.2']))
        else:
            q = 'TRUNCATE modelflags.%s%s' % (table, rng.choice(['', ' CASCADE', ' RESTART IDENTITY CASCADE']))
        self.execute(q, params, what='dml ' + kind)

    def a_copy(self, rng):
        g = Gen(rng, self.dumps)
        table = rng.choice(list(self.cat.tables))
        if rng.random() < 0.3:
            q = 'COPY modelflags.%s TO STDOUT' % table
            self.trace.append('[s%d #%d] %s' % (self.idx, self.step, q))
            with self.stats.lock:
                self.stats.statements += 1
                self.stats.actions['copy out'] += 1
            try:
                with self.conn.cursor() as cur:
                    with cur.copy(q) as cp:
                        for _ in cp:
                            pass
            except psycopg.Error as e:
                with self.stats.lock:
                    self.stats.states[getattr(e, 'sqlstate', None) or 'client'] += 1
                if self.conn.broken:
                    raise psycopg.OperationalError(str(e))
            return
        cols = [c for c in self.cat.tables[table] if not c[2] and not c[3]]
        use = [c for c in cols if rng.random() < 0.8] or cols[:1]
        q = 'COPY modelflags.%s (%s) FROM STDIN' % (table, ', '.join('"%s"' % c[0] for c in use))
        rows = []
        for _ in range(rng.choice([1, 3, 50])):
            row = []
            for col, typ, _, _ in use:
                v, _ = self.value_for(g, table, col, typ)
                row.append(v if v is None or isinstance(v, str) else (str(v).lower() if isinstance(v, bool)
                                                                      else str(v)))
            rows.append(row)
        self.trace.append('[s%d #%d] %s  -- %d rows, first %s' % (self.idx, self.step, q, len(rows),
                                                                  [self.short(v) for v in rows[0]]))
        with self.stats.lock:
            self.stats.statements += 1
            self.stats.actions['copy in'] += 1
        try:
            with self.conn.cursor() as cur:
                with cur.copy(q) as cp:
                    for row in rows:
                        cp.write_row(row)
                    if rng.random() < 0.1:
                        cp.write('garbage\\\tline without enough columns\n')
        except psycopg.Error as e:
            st = getattr(e, 'sqlstate', None) or 'client'
            self.trace.append('   -> %s %s' % (st, str(e).splitlines()[0][:160] if str(e) else ''))
            with self.stats.lock:
                self.stats.states[st] += 1
            if self.conn.broken:
                raise psycopg.OperationalError(str(e))

    def a_read_table(self, rng):
        table = rng.choice(list(self.cat.tables))
        self.execute('SELECT count(*) FROM modelflags.%s%s' % (
            table, rng.choice(['', ' WHERE random() < 0.5', ' FOR UPDATE', ' FOR SHARE'])
            if table != 'changes' else ''), what='read table')

    # -- transactions and chaos
    def a_begin(self, rng):
        # ends the transaction in progress, if any (else only a WARNING)
        self.execute(rng.choice(['COMMIT', 'ROLLBACK']), what='end before begin')
        self.execute('BEGIN' + rng.choice(['', '', ' ISOLATION LEVEL REPEATABLE READ',
                                           ' ISOLATION LEVEL SERIALIZABLE', ' READ ONLY']), what='begin')

    def a_commit(self, rng):
        self.execute('COMMIT', what='commit')

    def a_rollback(self, rng):
        self.execute('ROLLBACK', what='rollback')

    def a_savepoint(self, rng):
        self.execute('BEGIN', what='begin')    # a WARNING inside a transaction
        self.execute('SAVEPOINT sp%d' % rng.randrange(1, 4), what='savepoint')

    def a_rollback_to(self, rng):
        self.execute('ROLLBACK TO SAVEPOINT sp%d' % rng.randrange(1, 4), what='rollback to')

    def a_release(self, rng):
        self.execute('RELEASE SAVEPOINT sp%d' % rng.randrange(1, 4), what='release')

    def a_timeouts(self, rng):
        self.execute('BEGIN', what='begin')
        self.execute("SET LOCAL %s = '%dms'" % (rng.choice(['statement_timeout', 'lock_timeout']),
                                                rng.randint(1, 50)), what='set local timeout')

    def a_lock(self, rng):
        table = rng.choice(list(self.cat.tables))
        self.execute('BEGIN', what='begin')
        self.execute('LOCK TABLE modelflags.%s IN %s MODE%s' % (table, rng.choice(LOCK_MODES),
                                                                rng.choice(['', ' NOWAIT'])), what='lock table')
        if rng.random() < 0.6:
            self.execute('SELECT pg_sleep(%s)' % rng.choice(['0.01', '0.05', '0.1', '0.3', '0.5']), what='hold lock')

    def other(self, rng):
        """Another session, and its backend's pid (which differs from run to run)."""
        i = rng.choice([k for k in range(self.args.sessions) if k != self.idx] or [self.idx])
        return i, self.pids.get(i, 0)

    def a_cancel(self, rng):
        i, pid = self.other(rng)
        self.execute('SELECT pg_cancel_backend(%%s) /* session %d */' % i, [pid], what='cancel other')

    def a_terminate(self, rng):
        i, pid = self.other(rng)
        self.execute('SELECT pg_terminate_backend(%%s) /* session %d */' % i, [pid], what='terminate other')

    def a_replication_role(self, rng):
        self.execute('SET %ssession_replication_role = %s' % (rng.choice(['', 'LOCAL ']),
                                                              rng.choice(['replica', 'origin', 'local'])),
                     what='session_replication_role')

    def a_churn(self, rng):
        """Temp-table churn: overflows the shared invalidation queue, so that
        lagging backends get a reset (a role with PUBLIC's rights can do it)."""
        self.execute('DO $fz$ BEGIN FOR i IN 1..%d LOOP CREATE TEMP TABLE fz_churn_%d (a int); '
                     'DROP TABLE fz_churn_%d; END LOOP; END $fz$' % (rng.choice([100, 300, 600]),
                                                                     self.idx, self.idx), what='inval churn')

    def a_sleep(self, rng):
        self.execute('SELECT pg_sleep(%s)' % rng.choice(['0.001', '0.02', '0.1']), what='sleep')

    def a_discard(self, rng):
        self.execute('DISCARD ALL', what='discard all')

    def a_drop_extension(self, rng):
        self.execute('DROP EXTENSION modelflags CASCADE', what='drop extension')

    def a_create_extension(self, rng):
        if self.execute('CREATE EXTENSION modelflags', what='create extension') is None and not self.in_tx():
            # populated only when it was created, outside a transaction
            for q, p in populate_statements(self.args.yaml_doc):
                if self.execute(q, p, what='populate') is not None:
                    break


# ---------------------------------------------------------------- the run

CRASH = re.compile(r'server process \(PID (\d+)\) (was terminated|exited with exit code)'
                   r'|all server processes terminated; reinitializing|PANIC:')


def watch_log(path, stop, found, keep_going):
    """Stops the sessions at the first crash in the server log."""
    if not path:
        return
    pos = 0
    while not stop.is_set():
        try:
            with open(path, encoding='utf-8', errors='replace') as f:
                f.seek(pos)
                chunk = f.read()
                pos = f.tell()
        except OSError:
            chunk = ''
        for m in CRASH.finditer(chunk):
            found.append(m.group(0))
            if not keep_going:
                stop.set()
        stop.wait(0.3)


def keeper(args, stop, stats):
    """Re-creates the extension when the sessions left it dropped for long."""
    missing_since = None
    conn = None
    while not stop.wait(0.25):
        try:
            if conn is None or conn.closed or conn.broken:
                conn = psycopg.connect(host=args.host, port=args.port, dbname=args.db, user='postgres',
                                       autocommit=True, application_name='fuzz-keeper')
                conn.add_notice_handler(lambda d: None)
                conn.execute("SET lock_timeout = '2s'")
            have = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'modelflags'").fetchone()[0]
            if have:
                missing_since = None
            elif missing_since is None:
                missing_since = time.time()
            elif time.time() - missing_since > 0.5:
                with conn.transaction():
                    populate(conn, args.yaml_doc)
                with stats.lock:
                    stats.actions['keeper re-created the extension'] += 1
                missing_since = None
        except psycopg.Error:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--host', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--db', default='fuzz')
    ap.add_argument('--populate', action='store_true', help='fill the database and exit')
    ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--sessions', type=int, default=4)
    ap.add_argument('--yaml', default=os.path.join(TOP, 'examples', 'gitlab-duo.yml'))
    ap.add_argument('--server-log', default=None, help='stop at the first crash found there')
    ap.add_argument('--keep-going', action='store_true', help='do not stop at a crash')
    ap.add_argument('--trace-dir', default=None, help='write each session\'s last statements there')
    ap.add_argument('--trace-lines', type=int, default=400)
    args = ap.parse_args()
    with open(args.yaml, encoding='utf-8') as f:
        args.yaml_doc = f.read()

    admin = psycopg.connect(host=args.host, port=args.port, dbname=args.db, user='postgres', autocommit=True)
    admin.add_notice_handler(lambda d: None)
    if args.populate:
        with admin.transaction():
            populate(admin, args.yaml_doc)
        print('populated: ' + ', '.join('%s %s' % r for r in admin.execute(
            "SELECT 'flags', count(*) FROM modelflags.flags UNION ALL "
            "SELECT 'actor rows', count(*) FROM modelflags.flag_actors UNION ALL "
            "SELECT 'features', count(*) FROM modelflags.features UNION ALL "
            "SELECT 'routes', count(*) FROM modelflags.routes").fetchall()))
        return 0

    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    print('seed %d (replay: --seed %d), %d sessions, %g s' % (args.seed, args.seed, args.sessions, args.seconds),
          flush=True)
    cat = Catalog(admin)
    if cat.missing:
        for sig in cat.missing:
            print('FAIL: sql fuzz: no argument generator for %s: add it to FUNCTIONS in '
                  'test/fuzz/sql_fuzz.py' % (sig if sig.startswith('modelflags.') else 'modelflags.' + sig))
        return 2
    dumps = []
    for fmt in ('yaml', 'json'):
        dumps.append(admin.execute('SELECT modelflags.dump_definitions(%s)', [fmt]).fetchone()[0])
    dumps.append(args.yaml_doc)
    admin.close()
    print('functions driven (from pg_proc): ' + ', '.join(f['name'] for f in cat.functions))
    print('tables written (from pg_class): ' + ', '.join(cat.tables), flush=True)

    stats = Stats()
    stop = threading.Event()
    pids = {}
    crashes = []
    sessions = [Session(i, args, cat, stats, pids, stop, dumps) for i in range(args.sessions)]
    threads = [threading.Thread(target=watch_log, args=(args.server_log, stop, crashes, args.keep_going),
                                daemon=True),
               threading.Thread(target=keeper, args=(args, stop, stats), daemon=True)]
    t0 = time.time()
    for t in sessions + threads:
        t.start()
    while time.time() - t0 < args.seconds and not stop.is_set():
        stop.wait(0.5)
    stop.set()
    for s in sessions:
        try:
            if s.conn is not None and not s.conn.closed:
                s.conn.cancel()
        except psycopg.Error:
            pass
    for t in sessions:
        t.join(timeout=30)
    elapsed = time.time() - t0

    print('ran %.0f s: %d statements (%.0f/s), seed %d' % (elapsed, stats.statements,
                                                          stats.statements / max(elapsed, 1), args.seed))
    print('calls per function (statements; ok; evaluations in set-wise calls):')
    for f in cat.functions:
        n = f['name']
        print('  %-20s %7d  ok %7d%s' % (n, stats.calls[n], stats.ok[n],
                                         ('  evaluations %d' % stats.evals[n]) if stats.evals[n] else ''))
    print('actions: ' + ', '.join('%s %d' % kv for kv in sorted(stats.actions.items())))
    print('client-side SQLSTATEs: ' + ', '.join('%s %d' % kv for kv in stats.states.most_common(30)))
    never = [f['name'] for f in cat.functions if stats.calls[f['name']] == 0]
    rc = 0
    if crashes:
        print('crash seen in the server log: %s' % crashes[0])
        rc = 1
    if args.trace_dir:
        os.makedirs(args.trace_dir, exist_ok=True)
        for s in sessions:
            with open(os.path.join(args.trace_dir, 'session-%d.trace' % s.idx), 'w', encoding='utf-8') as f:
                f.write('\n'.join(s.trace) + '\n')
    if crashes:
        crashed = set(int(m) for m in re.findall(r'PID (\d+)', ' '.join(crashes)))
        for s in sessions:
            if crashed & set(s.pid_history):
                print('--- last statements of session %d (backend pid %s crashed):' % (s.idx, crashed & set(s.pid_history)))
                for line in list(s.trace)[-40:]:
                    print('  ' + line[:600])
    if never and elapsed >= 20:
        print('FAIL: sql fuzz: functions never called: %s' % ', '.join(never))
        rc = 1
    if stats.actions.get('fuzzer exception'):
        print('FAIL: sql fuzz: the fuzzer itself raised an exception (see above)')
        rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main())
