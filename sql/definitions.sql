--
-- definitions: load_definitions / dump_definitions, definitions as code
-- (SPEC §4, issue 4; README.md "Definitions as code").
--
-- Proves:
--   - examples/gitlab-duo.yml loads in one call, every row audited with the
--     note given, and routes as described (failover, migration, default);
--   - loading the same document again changes nothing; load(dump()) changes
--     nothing (no new row in modelflags.changes) and dumps the same text,
--     through YAML and through JSON;
--   - a document is declarative for what it names: fields it leaves out are
--     kept (a flag's gates survive a metadata-only load), null clears, a
--     feature's routes become exactly the listed ones, actors likewise;
--     nothing else is deleted unless prune => true;
--   - GitLab's files load as they are: a feature-flag definition (gates
--     untouched), models.yml (params with YAML 1.1 64_000, providers by the
--     documented rule) and unit_primitives.yml (default models after the
--     flagged routes, fallbacks in order; the older default_model too);
--   - bad and hostile documents are refused with their SQLSTATE, a message
--     naming the value, line:column and path, and nothing is applied:
--     syntax 22P02, wrong types and unknown keys 22023, unknown references
--     23503, duplicate keys 22030, duplicate definitions 42710, ranges 22003,
--     lengths 22001, unsupported YAML 0A000, NUL 22021, limits 54000 (alias
--     bombs, a million levels of nesting, JSON past cJSON's 1000 levels,
--     multi-megabyte documents);
--   - dumps never fail on a value the tables accept and load back: params
--     nested 100 deep, numbers longer than 63 characters (1e70); in YAML
--     (the default) params as deep as jsonb holds them with the default
--     max_stack_depth; JSON refuses params deeper than its 1000 levels up
--     front, naming them; state too big for a document (a flag with more
--     actor gates than one list holds) is refused up front with 54000,
--     pointing to pg_dump or COPY;
--   - neither function is executable by PUBLIC.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;

-- Runs load_definitions and answers "ok: format definitions changed" or the
-- error as "SQLSTATE message | detail | hint", on one line.
CREATE FUNCTION pg_temp.try_load(doc text, prune boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    st text; msg text; det text; hnt text;
BEGIN
    SELECT * INTO r FROM modelflags.load_definitions(doc, prune);
    RETURN format('ok: %s %s %s', r.format, r.definitions, r.changed);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ' ' || msg || coalesce(' | ' || nullif(det, ''), '') || coalesce(' | ' || nullif(hnt, ''), '');
END $$;


--
-- Our format: the GitLab Duo example
--
\set duo `cat examples/gitlab-duo.yml`
SELECT coalesce(max(id), 0) AS before FROM modelflags.changes \gset
SELECT * FROM modelflags.load_definitions(:'duo', note => 'load gitlab-duo.yml');
-- every row is audited, with the note
SELECT table_name, operation, count(*) AS rows, min(note) AS note
  FROM modelflags.changes WHERE id > :before GROUP BY 1, 2 ORDER BY 1, 2;
SELECT name, provider, params FROM modelflags.models ORDER BY name;
SELECT name, type, default_enabled, "group", milestone, percentage_of_actors, rollout_issue_url
  FROM modelflags.flags ORDER BY name;
SELECT feature, position, flag, model, params, note FROM modelflags.routes ORDER BY feature, position;

-- Routing: the default route, then the failover route with direct access
-- forbidden once the incident flag is on.
SELECT model, provider, flag, gate, position FROM modelflags.model_for('code_completions', 'User:2');
SELECT enabled FROM modelflags.set_flag('incident_fail_over_completion_provider', true);
SELECT model, provider, params ->> 'direct_access' AS direct_access, flag, gate, position
  FROM modelflags.model_for('code_completions', 'User:2');

-- Loading it again changes nothing, and keeps the flag turned on above
-- (the example does not say "enabled").
SELECT * FROM modelflags.load_definitions(:'duo');
SELECT enabled FROM modelflags.flags WHERE name = 'incident_fail_over_completion_provider';

--
-- load(dump()) changes nothing
--
SELECT modelflags.dump_definitions() AS dump \gset
SELECT :'dump';
SELECT coalesce(max(id), 0) AS before FROM modelflags.changes \gset
SELECT * FROM modelflags.load_definitions(:'dump');
SELECT count(*) AS new_changes FROM modelflags.changes WHERE id > :before;
SELECT modelflags.dump_definitions() = :'dump' AS same_dump;
-- through JSON too
SELECT modelflags.dump_definitions('json') AS dump_json \gset
SELECT left(:'dump_json', 120) AS json_start;
SELECT * FROM modelflags.load_definitions(:'dump_json');
SELECT count(*) AS new_changes FROM modelflags.changes WHERE id > :before;
SELECT modelflags.dump_definitions() = :'dump' AS same_dump;
SELECT modelflags.dump_definitions(format => 'JSON') = :'dump_json' AS same_json;
-- without state: no availability, gates, actors or opt-outs
SELECT modelflags.set_actor('code_completions_codestral_2508', 'User:7', true);
SELECT position('percentage_of_actors' IN d) > 0 AS has_gates, position('User:7' IN d) > 0 AS has_actors,
       position('available' IN d) > 0 AS has_availability, position('milestone' IN d) > 0 AS has_metadata
  FROM modelflags.dump_definitions(state => false) AS d;
SELECT position('User:7' IN modelflags.dump_definitions()) > 0 AS full_dump_has_actors;

--
-- Declarative for what the document names
--
SELECT coalesce(max(id), 0) AS before FROM modelflags.changes \gset
SELECT * FROM modelflags.load_definitions($$
flags:
  - name: code_generations_claude_sonnet_4_6
    milestone: '19.0'
    description: null
  - name: code_completions_codestral_2508
    actors: [User:8, User:9]
    opt_outs: [User:10]
features:
  - name: code_generations
    routes:
      - {position: 1, flag: incident_fail_over_generation_provider, model: claude_sonnet_4_5_20250929_vertex}
      - {position: 2, model: claude_sonnet_4_6_vertex}
$$);
-- absent fields kept (type, percentage), given ones set, null clears
SELECT name, type, milestone, description, percentage_of_actors FROM modelflags.flags
 WHERE name = 'code_generations_claude_sonnet_4_6';
-- actors: exactly the listed ones (User:7 went), and the opt-out
SELECT actor, opt_out FROM modelflags.flag_actors WHERE flag = 'code_completions_codestral_2508' ORDER BY actor;
-- routes: exactly the listed ones, the note of route 1 cleared
SELECT feature, position, flag, model, note FROM modelflags.routes WHERE feature = 'code_generations' ORDER BY position;
SELECT table_name, operation, count(*) FROM modelflags.changes WHERE id > :before GROUP BY 1, 2 ORDER BY 1, 2;
-- an actor who opted out cannot be listed as an actor unless the document
-- also lists the opt-outs
SELECT pg_temp.try_load('flags: [{name: code_completions_codestral_2508, actors: [User:10]}]');
SELECT pg_temp.try_load('flags: [{name: code_completions_codestral_2508, actors: [User:10], opt_outs: []}]');
SELECT actor, opt_out FROM modelflags.flag_actors WHERE flag = 'code_completions_codestral_2508' ORDER BY actor;
-- back to the example
SELECT * FROM modelflags.load_definitions(:'duo');

--
-- GitLab's files, as they are
--
-- A feature-flag definition: metadata only, gates untouched.
SELECT enabled FROM modelflags.set_flag('incident_fail_over_generation_provider', percentage_of_actors => 50);
\set ff `cat examples/gitlab/config/feature_flags/ops/incident_fail_over_generation_provider.yml`
SELECT * FROM modelflags.load_definitions(:'ff');
SELECT name, type, default_enabled, "group", milestone, rollout_issue_url, percentage_of_actors, description
  FROM modelflags.flags WHERE name = 'incident_fail_over_generation_provider';
\set ff `cat examples/gitlab/config/feature_flags/ops/incident_fail_over_completion_provider.yml`
SELECT * FROM modelflags.load_definitions(:'ff');
SELECT name, milestone, rollout_issue_url, enabled FROM modelflags.flags
 WHERE name = 'incident_fail_over_completion_provider';
-- A new flag from its file.
\set ff `cat examples/gitlab/config/feature_flags/gitlab_com_derisk/code_generations_claude_sonnet_4_6.yml`
SELECT * FROM modelflags.load_definitions(:'ff');

-- models.yml: each gitlab_identifier a model, providers derived.
\set models `cat examples/gitlab/ai_gateway/model_selection/models.yml`
SELECT * FROM modelflags.load_definitions(:'models');
SELECT m.name, m.provider, m.params -> 'max_tokens' AS max_tokens, m.params ->> 'custom_llm_provider' AS custom_llm_provider
  FROM modelflags.models m ORDER BY m.name;
SELECT name, available FROM modelflags.providers ORDER BY name;
SELECT * FROM modelflags.load_definitions(:'models');

-- unit_primitives.yml: default models after the flagged routes, in order;
-- the default route the example had at position 3 is replaced.
\set up `cat examples/gitlab/ai_gateway/model_selection/unit_primitives.yml`
SELECT * FROM modelflags.load_definitions(:'up');
SELECT feature, position, flag, model FROM modelflags.routes ORDER BY feature, position;
SELECT * FROM modelflags.load_definitions(:'up');
-- the older form: default_model
SELECT * FROM modelflags.load_definitions($$
configurable_unit_primitives:
  - feature_setting: "code_generations"
    unit_primitives: ["generate_code"]
    default_model: "claude_sonnet_4_5_20250929"
$$);
SELECT feature, position, flag, model FROM modelflags.routes WHERE feature = 'code_generations' ORDER BY position;
-- JSON works for every format
SELECT * FROM modelflags.load_definitions('{"configurable_unit_primitives": [{"feature_setting": "duo_chat", "default_models": ["claude_sonnet_4_6_vertex", "claude_sonnet_4_5_20250929"]}]}');
SELECT feature, position, flag, model FROM modelflags.routes WHERE feature = 'duo_chat' ORDER BY position;

--
-- prune => true
--
SELECT * FROM modelflags.load_definitions(:'duo', prune => true);
SELECT name FROM modelflags.features ORDER BY name;
SELECT name FROM modelflags.models ORDER BY name;
SELECT name FROM modelflags.providers ORDER BY name;
SELECT pg_temp.try_load(:'up', prune => true);
SELECT pg_temp.try_load('flags: [{name: only_flag}]', prune => true);
SELECT pg_temp.try_load('features: [{name: f, routes: [{model: not_in_document}]}]
models: []', prune => true);

--
-- Bad and hostile documents: SQLSTATE, message, line:column and path;
-- nothing applied.
--
SELECT regress_util.counts() AS before \gset
SELECT pg_temp.try_load(d) AS result FROM (VALUES
  -- syntax
  ($$providers:
  - name: a
   bad: [$$),
  ('{"providers": [{"name": "a",}]}'),
  ('{"providers": ['),
  -- wrong types, unknown and missing keys, bad values
  ('providers: [{name: anthropic, available: maybe}]'),
  ('flags: [{name: f, milestone: 17.6}]'),
  ('models: [{name: m, provider: anthropic, params: [1, 2]}]'),
  ('models: [{name: m, provider: anthropic, params: {max_tokens: -1}}]'),
  ('providers: [{name: a, colour: red}]'),
  ('provider: []'),
  ('models: [{name: m}]'),
  ('features: [{name: Code Generations}]'),
  ('flags: [{name: f, type: feature}]'),
  ('features: [{name: f, routes: [{position: 2, model: a}, {position: 1, model: b}]}]'),
  ('- just\n- a list'),
  (''),
  -- references
  ('features: [{name: f, routes: [{model: no_such_model}]}]'),
  ('features: [{name: f, routes: [{flag: no_such_flag, model: claude_sonnet_4_5_20250929}]}]'),
  ('models: [{name: m, provider: no_such_provider}]'),
  ('configurable_unit_primitives: [{feature_setting: f, default_models: [no_such_model]}]'),
  -- duplicates
  ('providers: [{name: a, name: b}]'),
  ('{"flags": [{"name": "f"}], "flags": []}'),
  ('flags: [{name: f}, {name: g}, {name: f}]'),
  -- ranges and lengths
  ('flags: [{name: f, percentage_of_actors: 100.5}]'),
  ('flags: [{name: f, percentage_of_time: 0.0001}]'),
  ('providers: [{name: ' || repeat('a', 300) || '}]'),
  -- YAML the format cannot hold
  ($$a: &x {b: 1}
c: {<<: *x}$$),
  ('a: !ruby/object:Feature {}'),
  ('a: .inf'),
  ('a: "nul \0 inside"'),
  ('a: 1
---
b: 2')
) AS t(d);
SELECT regress_util.counts() = :'before' AS nothing_applied;

-- Limits: alias bombs, deep nesting, size, node count.
SELECT pg_temp.try_load($$
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
$$) AS billion_laughs;
SELECT pg_temp.try_load('a: [' || repeat('*x, ', 1001) || ']') AS unknown_alias_first;
SELECT pg_temp.try_load('x: &x 1
a: [' || repeat('*x, ', 1001) || ']') AS too_many_aliases;
-- YAML nesting has no limit of its own (jsonb has none): a million levels
-- are refused by the node limit, or, for flow collections, by the bound on
-- libyaml's time (about 20,000 levels).  JSON is read by cJSON, which nests
-- at most 1000 levels.
SELECT left(pg_temp.try_load(repeat('[', 1000000) || repeat(']', 1000000)), 160) AS deep_json;
SELECT left(pg_temp.try_load('a: ' || repeat('[', 1000000) || repeat(']', 1000000)), 160) AS deep_yaml_flow;
SELECT left(pg_temp.try_load(repeat('- ', 1000000) || 'x'), 160) AS deep_yaml_block;
-- The node limit reached as a list opens one level deeper than any before
-- (1.0 read an empty frame here and crashed the server).
SELECT left(pg_temp.try_load('a: [' || repeat('[' || repeat('0, ', 99999) || '0], ', 4)
                             || '[' || repeat('0, ', 99992) || '[[1]]]]'), 160) AS node_limit_at_new_depth;
SELECT pg_temp.try_load('a: b' || repeat(' ', 9 * 1024 * 1024)) AS nine_megabytes;
SELECT pg_temp.try_load('[' || repeat('0,', 1500000) || '0]') AS three_megabytes_in_one_list;
SELECT pg_temp.try_load('[' || repeat('[' || repeat('0,', 49999) || '0],', 11) || '0]') AS too_many_nodes;
SELECT pg_temp.try_load('{"a": [' || repeat('1,', 200000) || '1]}') AS too_many_items;
SELECT regress_util.counts() = :'before' AS nothing_applied;

-- All or nothing: an error in the last definition leaves the first unapplied.
SELECT pg_temp.try_load($$
providers: [{name: brand_new_provider}]
models: [{name: brand_new_model, provider: brand_new_provider}]
features: [{name: brand_new_feature, routes: [{model: brand_new_model}, {model: missing_model}]}]
$$);
SELECT regress_util.counts() = :'before' AS nothing_applied;

-- Errors as psql shows them.
SELECT * FROM modelflags.load_definitions('features: [{name: f, routes: [{model: no_such_model}]}]');
SELECT * FROM modelflags.load_definitions('flags: [{name: A}, {name: B}, {name: f, enabled: perhaps}]');
SELECT * FROM modelflags.load_definitions(NULL);
SELECT modelflags.dump_definitions('xml');
SELECT * FROM regress_util.try($$SELECT modelflags.dump_definitions(repeat('x', 100000))$$);  -- cut to 64 bytes
SELECT modelflags.dump_definitions(NULL);

--
-- Dumps that never fail (issue 8, item 11).  Values the tables accept that
-- 1.0 could not dump: params nested 100 deep, numbers jsonb keeps exactly
-- that take more than 63 characters (1e70 is written with 70 zeros,
-- -1.5e-40 with 40 decimals).  Both dumps load back to identical rows.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('deep_provider');
INSERT INTO modelflags.models (name, provider, params)
VALUES ('deep_model', 'deep_provider',
        jsonb_build_object('max_tokens', 1e70, 'temperature', 0.50,
                           'nested', (repeat('{"a": ', 99) || '[1e70, -1.5e-40, "x"]' || repeat('}', 99))::jsonb));
INSERT INTO modelflags.features (name) VALUES ('deep_feature');
INSERT INTO modelflags.routes (feature, position, model, params)
VALUES ('deep_feature', 0, 'deep_model', ('{"x": ' || repeat('[', 100) || '123456789012345678901234567890123456789012345678901234567890123456789.5' || repeat(']', 100) || '}')::jsonb);
CREATE TEMP TABLE deep_rows AS
  SELECT 'model ' || name AS what, params FROM modelflags.models
  UNION ALL SELECT 'route ' || feature || position, params FROM modelflags.routes;
SELECT what, length(params::text) - length(replace(params::text, '{', '')) AS objects,
       length(params::text) - length(replace(params::text, '[', '')) AS arrays,
       length(params::text) AS text_length FROM deep_rows ORDER BY what;
SELECT modelflags.dump_definitions() AS deep_yaml \gset
SELECT modelflags.dump_definitions('json') AS deep_json \gset
SELECT position(repeat('0', 70) IN :'deep_yaml') > 0 AS yaml_has_1e70_exactly,
       position(repeat('0', 70) IN :'deep_json') > 0 AS json_has_1e70_exactly;
-- load(dump()) changes nothing
SELECT * FROM modelflags.load_definitions(:'deep_yaml');
SELECT * FROM modelflags.load_definitions(:'deep_json');
-- into empty tables, each dump gives back the same rows, byte for byte
TRUNCATE modelflags.providers, modelflags.models, modelflags.features, modelflags.routes;
SELECT * FROM modelflags.load_definitions(:'deep_yaml');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d.params = r.params AND d.params::text = r.params::text) AS identical
  FROM deep_rows d
  JOIN (SELECT 'model ' || name AS what, params FROM modelflags.models
        UNION ALL SELECT 'route ' || feature || position, params FROM modelflags.routes) r USING (what);
TRUNCATE modelflags.providers, modelflags.models, modelflags.features, modelflags.routes;
SELECT * FROM modelflags.load_definitions(:'deep_json');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d.params = r.params AND d.params::text = r.params::text) AS identical
  FROM deep_rows d
  JOIN (SELECT 'model ' || name AS what, params FROM modelflags.models
        UNION ALL SELECT 'route ' || feature || position, params FROM modelflags.routes) r USING (what);
SELECT modelflags.dump_definitions() = :'deep_yaml' AS same_yaml_dump,
       modelflags.dump_definitions('json') = :'deep_json' AS same_json_dump;

-- JSON nests at most 1000 levels (cJSON's limit), the document's own
-- included: a route's params at most 995.  Those load back from either
-- dump; one level more, and the JSON dump is refused up front, naming the
-- route, while YAML (the default) writes it and loads it back.
UPDATE modelflags.routes SET params = ('{"x": ' || repeat('[', 994) || '1' || repeat(']', 994) || '}')::jsonb;
SELECT modelflags.dump_definitions('json') AS deep_json \gset
SELECT length(:'deep_json') - length(replace(:'deep_json', '[', '')) AS json_brackets;
SELECT changed FROM modelflags.load_definitions(:'deep_json');
UPDATE modelflags.routes SET params = ('{"x": ' || repeat('[', 995) || '1' || repeat(']', 995) || '}')::jsonb;
SELECT modelflags.dump_definitions('json');
SELECT modelflags.dump_definitions() AS deep_yaml \gset
TRUNCATE modelflags.routes;
SELECT changed FROM modelflags.load_definitions(:'deep_yaml');
SELECT params = ('{"x": ' || repeat('[', 995) || '1' || repeat(']', 995) || '}')::jsonb AS yaml_loads_back
  FROM modelflags.routes;

-- No value the tables accept with the default settings makes the default
-- dump fail: the deepest params this server takes (found by trying, with
-- the default max_stack_depth) are written as YAML and load back; JSON
-- refuses them.
CREATE FUNCTION pg_temp.deepest_route_params() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    lo int := 1000;
    hi int := 200000;
    mid int;
BEGIN
    WHILE hi - lo > 1 LOOP
        mid := (lo + hi) / 2;
        BEGIN
            UPDATE modelflags.routes
               SET params = ('{"x": ' || repeat('[', mid) || '1' || repeat(']', mid) || '}')::jsonb;
            lo := mid;
        EXCEPTION WHEN statement_too_complex THEN
            hi := mid;
        END;
    END LOOP;
    RETURN lo;
END $$;
SELECT pg_temp.deepest_route_params() AS deepest \gset
SELECT :deepest > 1000 AS deeper_than_json,
       params = ('{"x": ' || repeat('[', :deepest) || '1' || repeat(']', :deepest) || '}')::jsonb AS stored
  FROM modelflags.routes;
SELECT modelflags.dump_definitions() AS deepest_yaml \gset
TRUNCATE modelflags.routes;
SELECT changed FROM modelflags.load_definitions(:'deepest_yaml');
SELECT params = ('{"x": ' || repeat('[', :deepest) || '1' || repeat(']', :deepest) || '}')::jsonb AS yaml_loads_back
  FROM modelflags.routes;
SELECT modelflags.dump_definitions('json');

-- Deeper than YAML flow style can carry (about 20,000 levels; jsonb holds
-- that much only with max_stack_depth raised): no document holds it, and
-- each format says so, naming the route.
SET max_stack_depth = '6MB';
UPDATE modelflags.routes SET params = ('{"x": ' || repeat('[', 25000) || '1' || repeat(']', 25000) || '}')::jsonb;
SELECT modelflags.dump_definitions();
SELECT modelflags.dump_definitions('json');
DELETE FROM modelflags.routes;
RESET max_stack_depth;

-- A flag with more actor gates than one list of a document holds (100,000)
-- is refused before its actors are read: state of that size belongs in
-- pg_dump or COPY, or in a dump without state.
INSERT INTO modelflags.flags (name) VALUES ('big_rollout');
INSERT INTO modelflags.flag_actors (flag, actor)
  SELECT 'big_rollout', 'User:' || g FROM generate_series(1, 100001) g;
SELECT modelflags.dump_definitions();
SELECT modelflags.dump_definitions('json');
SELECT position('big_rollout' IN d) > 0 AS has_flag, position('User:1' IN d) = 0 AS no_actors
  FROM modelflags.dump_definitions(state => false) AS d;
DELETE FROM modelflags.flag_actors WHERE flag = 'big_rollout' AND actor = 'User:100001';
SELECT modelflags.dump_definitions() AS big_dump \gset
SELECT length(:'big_dump') > 100000 * 8 AS limit_sized_list_dumps;
SELECT changed FROM modelflags.load_definitions(:'big_dump');

-- Writing is not for PUBLIC.
SELECT has_function_privilege('public', 'modelflags.load_definitions(text,boolean,text)', 'EXECUTE') AS public_load,
       has_function_privilege('public', 'modelflags.dump_definitions(text,boolean)', 'EXECUTE') AS public_dump;
