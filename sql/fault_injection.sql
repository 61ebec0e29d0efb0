--
-- fault_injection: an ERROR at any point of a rebuild or of an actor-set load
-- (src/fault.c names the points) leaves the previous state whole: no crash,
-- no wrong answer, no leak, and the next read builds again (SPEC C: "a
-- failure at any point of a read leaves the next read correct").
--
-- Proves, for every point, inside a savepoint, a PL/pgSQL exception block
-- and a plain transaction:
--   - the injected ERROR (53200 out of memory) reaches the caller;
--   - every later answer equals the answer before the fault (a grid of
--     features, flags and actors, small and large actor sets included);
--   - cache_info() counts only builds that finished;
--   - 60 failed builds in a row leave the backend's memory where it was;
--   - modelflags.fault_injection is for superusers only.
--
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
INSERT INTO modelflags.providers (name) VALUES ('anthropic'), ('vertex_ai'), ('fireworks_ai');
INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude', 'anthropic', '{"max_tokens": 64}'),
    ('claude_vertex', 'vertex_ai', '{"max_tokens": 32}'),
    ('codestral', 'fireworks_ai', '{}');
INSERT INTO modelflags.flags (name, enabled, percentage_of_actors) VALUES
    ('incident_fail_over_generation_provider', false, NULL),
    ('new_model_rollout', NULL, 30),
    ('small_gate', NULL, NULL),
    ('big_gate', NULL, NULL);
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'small_gate', 'User:' || i FROM generate_series(1, 3) i;
INSERT INTO modelflags.flag_actors (flag, actor, opt_out)
    SELECT 'big_gate', 'User:' || i, i % 10 = 0 FROM generate_series(1, 200) i;
-- Bulk, so that a leaked state would show: 2,000 more flags and features.
INSERT INTO modelflags.flags (name, enabled) SELECT 'bulk_' || i, i % 2 = 0 FROM generate_series(1, 2000) i;
INSERT INTO modelflags.features (name) VALUES ('code_generations'), ('code_completions');
INSERT INTO modelflags.features (name) SELECT 'bulk_feature_' || i FROM generate_series(1, 2000) i;
INSERT INTO modelflags.routes (feature, position, flag, model, params) VALUES
    ('code_generations', 1, 'incident_fail_over_generation_provider', 'claude_vertex', '{}'),
    ('code_generations', 2, 'big_gate', 'codestral', '{"direct_access": false}'),
    ('code_generations', 3, 'new_model_rollout', 'claude_vertex', '{}'),
    ('code_generations', 4, NULL, 'claude', '{}'),
    ('code_completions', 1, 'small_gate', 'claude', '{}'),
    ('code_completions', 2, NULL, 'codestral', '{}');
INSERT INTO modelflags.routes (feature, position, flag, model)
    SELECT 'bulk_feature_' || i, 1, 'bulk_' || i, 'claude' FROM generate_series(1, 2000) i;

-- The answers to compare against: every feature and flag of interest for
-- 300 actors, as one text per actor.
CREATE FUNCTION regress_util.answers() RETURNS TABLE (actor text, answer text)
LANGUAGE sql AS $$
SELECT 'User:' || i,
       concat_ws(' ', (modelflags.model_for('code_generations', 'User:' || i)).model,
                 (modelflags.model_for('code_completions', 'User:' || i)).model,
                 (modelflags.model_for('bulk_feature_8', 'User:' || i)).model,
                 modelflags.is_enabled('big_gate', 'User:' || i),
                 modelflags.is_enabled('small_gate', 'User:' || i),
                 modelflags.is_enabled('new_model_rollout', 'User:' || i))
  FROM generate_series(1, 300) i
$$;
CREATE TABLE regress_util.baseline AS SELECT * FROM regress_util.answers();
SELECT count(*) AS actors, count(DISTINCT answer) AS distinct_answers FROM regress_util.baseline;

-- Answers that differ from the baseline (none, after every fault below).
CREATE FUNCTION regress_util.wrong_answers() RETURNS bigint
LANGUAGE sql AS $$
SELECT count(*) FROM regress_util.answers() a JOIN regress_util.baseline b USING (actor)
 WHERE a.answer IS DISTINCT FROM b.answer
$$;

-- Makes the current state stale (a committed change that changes no answer)
-- and the actor sets too, so that the next read rebuilds and reloads.
CREATE FUNCTION regress_util.make_stale() RETURNS void
LANGUAGE sql AS $$
UPDATE modelflags.providers SET note = coalesce(note, '') || '.' WHERE name = 'fireworks_ai';
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('big_gate', 'Stale:' || (SELECT count(*) FROM modelflags.flag_actors));
$$;

CREATE TABLE regress_util.points (point text PRIMARY KEY);
INSERT INTO regress_util.points VALUES ('build:providers'), ('build:models'), ('build:flags'),
    ('build:features'), ('build:routes'), ('build:compile'), ('actors:load'), ('actors:probe'),
    ('patch:read'), ('patch:compile'), ('patch:apply');

-- One fault at point inside a PL/pgSQL exception block (a subtransaction),
-- then every answer again in the same transaction.
CREATE FUNCTION regress_util.fault_in_block(p text, write_first boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    code text;
BEGIN
    IF write_first THEN
        PERFORM regress_util.make_stale();
    END IF;
    -- build:* points fail full builds, patch:* points deltas (make_stale's
    -- changes are small): choose which the refresh does.
    PERFORM set_config('modelflags.incremental_cache', (p NOT LIKE 'build:%')::text, true);
    PERFORM set_config('modelflags.fault_injection', p, true);
    BEGIN
        PERFORM * FROM regress_util.answers();
        code := 'no error';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE;
    END;
    PERFORM set_config('modelflags.fault_injection', '', true);
    RETURN format('%s: %s, then %s wrong answers (%s)', p, code, regress_util.wrong_answers(),
                  (SELECT last_refresh FROM modelflags.cache_info()));
END $$;

-- 1a. The current state's rebuild fails (the change was committed before):
-- the transaction goes on and answers right.  Each point in a transaction
-- of its own, after a committed change.
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:providers');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:models');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:flags');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:features');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:routes');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('build:compile');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('actors:load');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('actors:probe');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('patch:read');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('patch:compile');
SELECT regress_util.make_stale();
SELECT regress_util.fault_in_block('patch:apply');

-- 1b. The same in a transaction that changed the tables itself, whose reads
-- come from private states (its own changes, not yet committed): built in
-- full, so the patch:* points are not reached.
SELECT regress_util.fault_in_block(point, write_first => true)
  FROM regress_util.points ORDER BY point;

-- 2. SAVEPOINT / ROLLBACK TO in a transaction block, then more reads in the
-- same transaction, then the next transaction.
SELECT regress_util.make_stale();
BEGIN;
SET LOCAL modelflags.incremental_cache = off;
SAVEPOINT sp;
SET LOCAL modelflags.fault_injection = 'build:flags';
SELECT count(*) FROM regress_util.answers();
ROLLBACK TO SAVEPOINT sp;
SELECT regress_util.wrong_answers() AS wrong_after_rollback_to;
SAVEPOINT sp2;
SET LOCAL modelflags.fault_injection = 'actors:probe';
SELECT modelflags.is_enabled('big_gate', 'User:5');
ROLLBACK TO SAVEPOINT sp2;
SELECT modelflags.is_enabled('big_gate', 'User:5') AS big_member, regress_util.wrong_answers() AS wrong;
COMMIT;
SELECT regress_util.wrong_answers() AS wrong_next_transaction;

-- 3. A plain transaction that fails and rolls back, for every point.
SELECT regress_util.make_stale();
SET modelflags.incremental_cache = off;
SET modelflags.fault_injection = 'build:routes';
SELECT count(*) FROM regress_util.answers();
RESET modelflags.fault_injection;
RESET modelflags.incremental_cache;
SELECT regress_util.wrong_answers() AS wrong_after_failed_statement;
SELECT regress_util.make_stale();
SET modelflags.fault_injection = 'actors:load';
SELECT modelflags.is_enabled('big_gate', 'User:5');
RESET modelflags.fault_injection;
SELECT regress_util.wrong_answers() AS wrong_after_failed_load;

-- "point:N" fails only the N-th pass: the third actor-set load of a read
-- fails, after two sets were published; those two are whole, the rest load.
SELECT regress_util.make_stale();
SET modelflags.fault_injection = 'actors:load:3';
SELECT count(*) FROM regress_util.answers();
RESET modelflags.fault_injection;
SELECT regress_util.wrong_answers() AS wrong_after_third_load_failed;

-- 4. Builds that fail count nothing; the state that answers is whole.
SELECT regress_util.make_stale();
SELECT builds AS b0 FROM modelflags.cache_info() \gset
SET modelflags.incremental_cache = off;
SET modelflags.fault_injection = 'build:compile';
SELECT modelflags.is_enabled('small_gate', 'User:1');
SELECT modelflags.is_enabled('small_gate', 'User:1');
RESET modelflags.fault_injection;
SELECT valid, builds - :b0 AS new_builds FROM modelflags.cache_info();
SELECT modelflags.is_enabled('small_gate', 'User:1');
SELECT valid, builds - :b0 AS new_builds FROM modelflags.cache_info();
RESET modelflags.incremental_cache;

-- 5. No leak: 60 failed rebuilds and deltas of this 2,000-feature state
-- (a build is about 1 MB while it is being built), each in a transaction of
-- its own after a committed change, leave the backend's memory within 1 MB.
CREATE PROCEDURE regress_util.fail_many(n int)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM regress_util.make_stale();
        COMMIT;
        BEGIN
            PERFORM set_config('modelflags.incremental_cache', (i % 2 = 0)::text, true);
            PERFORM set_config('modelflags.fault_injection', CASE i % 4 WHEN 0 THEN 'patch:apply'
                                                                     WHEN 1 THEN 'build:routes'
                                                                     WHEN 2 THEN 'patch:read'
                                                                     ELSE 'build:flags' END, true);
            PERFORM modelflags.model_for('code_generations', 'User:1');
        EXCEPTION WHEN out_of_memory THEN
            NULL;
        END;
        PERFORM set_config('modelflags.fault_injection', '', true);
        COMMIT;
    END LOOP;
END $$;
CALL regress_util.fail_many(3);
SELECT regress_util.wrong_answers();
SELECT sum(total_bytes) AS m0 FROM pg_backend_memory_contexts \gset
CALL regress_util.fail_many(60);
SELECT regress_util.wrong_answers() AS wrong_after_60_failures;
SELECT sum(total_bytes) - :m0 < 1024 * 1024 AS memory_within_1mb,
       (SELECT memory_bytes FROM modelflags.cache_info()) < 4 * 1024 * 1024 AS cache_small
  FROM pg_backend_memory_contexts;

-- 6. Only superusers can inject faults.
CREATE ROLE regress_fault_user;
SET ROLE regress_fault_user;
SELECT * FROM regress_util.try($$SET modelflags.fault_injection = 'build:flags'$$);
RESET ROLE;
DROP ROLE regress_fault_user;

DROP TABLE regress_util.points, regress_util.baseline;
DROP FUNCTION regress_util.answers(), regress_util.wrong_answers(), regress_util.make_stale(),
              regress_util.fault_in_block(text, boolean);
DROP PROCEDURE regress_util.fail_many(int);
