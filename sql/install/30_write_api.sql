
/*
 * 30_write_api.sql — the write functions of SPEC §4.
 *
 * They are ordinary SQL over the tables (SECURITY INVOKER): the caller needs
 * the same table privileges a plain UPDATE would, validation comes from the
 * row triggers, and audit/NOTIFY/invalidation from the statement triggers.
 * The optional note is handed to the audit trigger through the
 * transaction-local setting modelflags.note (which a DBA can also SET LOCAL
 * before a plain UPDATE).  Each pins search_path (pg_catalog, pg_temp), so
 * that nothing in the caller's search_path can stand in for a built-in they
 * call; _pop_note, a one-line SQL function, is written qualified instead.
 */

-- Sets modelflags.note for the rest of the statement and returns the old value.
CREATE FUNCTION modelflags._push_note(note text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old text := current_setting('modelflags.note', true);
BEGIN
    IF note IS NOT NULL THEN
        PERFORM set_config('modelflags.note', note, true);
    END IF;
    RETURN old;
END $$;

CREATE FUNCTION modelflags._pop_note(old text) RETURNS void
LANGUAGE sql AS $$ SELECT pg_catalog.set_config('modelflags.note', coalesce(old, ''), true) $$;

/*
 * set_flag: GitLab ChatOps semantics (`/chatops run feature set NAME VALUE`).
 *   enabled => true        fully enable: boolean gate on, every other gate cleared
 *   enabled => false       clear every gate (the flag stays persisted, so
 *                          default_enabled no longer applies, as in GitLab)
 *   percentage_of_actors => p, percentage_of_time => p
 *                          set that gate; 0 disables and 100 fully enables,
 *                          as ChatOps does for "feature set NAME 0|100";
 *                          refused (55000) while the flag is fully enabled,
 *                          as GitLab refuses it
 * Creates the flag when it is missing (with a NOTICE, to catch typos).
 *
 * Locking.  Concurrent calls on one flag serialize on the flag's row, locked
 * FOR NO KEY UPDATE: none is lost.  That mode does not conflict with the
 * FOR KEY SHARE that inserting an actor row takes on its flag, so loading
 * actors never waits for set_flag's row lock, nor set_flag for them.
 * Clearing the actor rows (true or false) is where deadlocks were: deleting
 * them one by one in index order while another transaction deletes or
 * locks some of them in another order.  So when the flag has actor rows,
 * set_flag first takes SHARE ROW EXCLUSIVE on flag_actors, which waits for
 * every transaction writing flag_actors to end, while set_flag holds no row
 * they could need (only the flag's, which plain DML on flag_actors never
 * waits for); then no one else writes flag_actors until set_flag's
 * transaction ends.  A flag without actor rows (an incident flag) takes no
 * table lock and waits behind no bulk load; neither do percentages.  What
 * can still deadlock is a transaction that writes flag_actors and then
 * updates or deletes the same flag's row: write flags before flag_actors,
 * as set_flag and load_definitions do.
 */
CREATE FUNCTION modelflags.set_flag(name text,
                                    enabled boolean DEFAULT NULL,
                                    percentage_of_actors numeric DEFAULT NULL,
                                    percentage_of_time numeric DEFAULT NULL,
                                    note text DEFAULT NULL)
RETURNS modelflags.flags
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := name;
    want       boolean := enabled;
    pct_actors numeric := percentage_of_actors;
    pct_time   numeric := percentage_of_time;
    saved_note text;
    result     modelflags.flags;
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    IF want IS NOT NULL AND (pct_actors IS NOT NULL OR pct_time IS NOT NULL) THEN
        RAISE EXCEPTION 'cannot set enabled and a percentage of flag "%" in one call', flag_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'enabled => true already opens the flag for everyone; enabled => false clears every gate.';
    END IF;
    PERFORM modelflags._check_percentage('percentage_of_actors', flag_name, pct_actors);
    PERFORM modelflags._check_percentage('percentage_of_time', flag_name, pct_time);
    -- ChatOps: "feature set NAME 100" enables, "feature set NAME 0" disables,
    -- whichever percentage key was given.
    IF want IS NULL AND (pct_actors = 100 OR pct_time = 100) THEN
        want := true;
    ELSIF want IS NULL AND coalesce(pct_actors, 0) = 0 AND coalesce(pct_time, 0) = 0
          AND (pct_actors IS NOT NULL OR pct_time IS NOT NULL) THEN
        want := false;
    END IF;

    saved_note := modelflags._push_note(note);

    -- Create the flag if needed; then lock its row so that concurrent
    -- set_flag calls on the same flag apply one after the other (see above).
    INSERT INTO modelflags.flags AS f (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
    PERFORM 1 FROM modelflags.flags f WHERE f.name = flag_name FOR NO KEY UPDATE;

    IF want IS NOT NULL THEN
        -- true and false both clear every other gate, actor gates and
        -- opt-outs included: with flag_actors to ourselves (see above).
        IF EXISTS (SELECT 1 FROM modelflags.flag_actors a WHERE a.flag = flag_name) THEN
            LOCK TABLE modelflags.flag_actors IN SHARE ROW EXCLUSIVE MODE;
            DELETE FROM modelflags.flag_actors a WHERE a.flag = flag_name;
        END IF;
        UPDATE modelflags.flags f
           SET enabled = want, percentage_of_actors = NULL, percentage_of_time = NULL
         WHERE f.name = flag_name;
    ELSE
        -- GitLab refuses a percentage on a fully enabled flag (Feature.
        -- enable_percentage_of_actors/time raise InvalidOperation when the
        -- state is :on): the flag would stay on for everyone, and the
        -- rollout the caller asked for would silently not happen.
        IF EXISTS (SELECT 1 FROM modelflags.flags f
                    WHERE f.name = flag_name AND (f.enabled OR f.percentage_of_time = 100)) THEN
            RAISE EXCEPTION 'cannot set a percentage of flag "%": it is fully enabled', flag_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'The flag is on for everyone, so a percentage would change nothing.',
                      HINT = format('Disable it first: SELECT modelflags.set_flag(%L, false);', flag_name);
        END IF;
        UPDATE modelflags.flags f
           SET percentage_of_actors = coalesce(pct_actors, f.percentage_of_actors),
               percentage_of_time = coalesce(pct_time, f.percentage_of_time)
         WHERE f.name = flag_name;
    END IF;

    PERFORM modelflags._pop_note(saved_note);
    SELECT * INTO result FROM modelflags.flags f WHERE f.name = flag_name;
    RETURN result;
END $$;

-- Creates the flag if missing (used by the actor functions).
CREATE FUNCTION modelflags._ensure_flag(flag_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM modelflags._check_name('flag', flag_name);
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    INSERT INTO modelflags.flags (name) VALUES (flag_name) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RAISE NOTICE 'created flag "%"', flag_name;
    END IF;
END $$;

/*
 * set_actor: add (enabled => true) or remove (false) an actor gate, like
 * `feature set NAME true --user=...`.  An actor who opted out cannot be
 * enabled until the opt-out is removed, as in GitLab.
 */
CREATE FUNCTION modelflags.set_actor(flag text, actor text, enabled boolean, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must be true or false' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF actor_id IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    PERFORM modelflags._ensure_flag(flag_name);
    IF enabled THEN
        IF EXISTS (SELECT 1 FROM modelflags.flag_actors a
                    WHERE a.flag = flag_name AND a.actor = actor_id AND a.opt_out) THEN
            RAISE EXCEPTION 'actor % has opted out of flag "%"', modelflags._quote_abbrev(actor_id), flag_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Remove the opt-out first: SELECT modelflags.remove_opt_out(%L, %L);', flag_name, left(actor_id, 64));
        END IF;
        INSERT INTO modelflags.flag_actors (flag, actor) VALUES (flag_name, actor_id)
            ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM modelflags.flag_actors a
         WHERE a.flag = flag_name AND a.actor = actor_id AND NOT a.opt_out;
    END IF;
    PERFORM modelflags._pop_note(saved_note);
END $$;

-- opt_out: force the flag off for this actor (GitLab Feature.opt_out).
CREATE FUNCTION modelflags.opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF actor_id IS NULL THEN
        RAISE EXCEPTION 'actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    PERFORM modelflags._ensure_flag(flag_name);
    -- The conflict target names the constraint: a column list (flag, actor)
    -- would be ambiguous with this function's parameters of those names.
    INSERT INTO modelflags.flag_actors AS a (flag, actor, opt_out) VALUES (flag_name, actor_id, true)
        ON CONFLICT ON CONSTRAINT flag_actors_pkey DO UPDATE SET opt_out = true WHERE NOT a.opt_out;
    PERFORM modelflags._pop_note(saved_note);
END $$;

-- remove_opt_out: undo opt_out (GitLab Feature.remove_opt_out).
CREATE FUNCTION modelflags.remove_opt_out(flag text, actor text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := flag;
    actor_id   text := actor;
    saved_note text;
BEGIN
    IF flag_name IS NULL OR actor_id IS NULL THEN
        RAISE EXCEPTION 'flag and actor must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    saved_note := modelflags._push_note(note);
    DELETE FROM modelflags.flag_actors a
     WHERE a.flag = flag_name AND a.actor = actor_id AND a.opt_out;
    PERFORM modelflags._pop_note(saved_note);
END $$;

/*
 * delete_flag: remove a flag with its actor gates (`feature delete NAME`).
 * Returns false if there was no such flag.  A flag still used by a route is
 * refused: deleting it would silently change routing.
 */
CREATE FUNCTION modelflags.delete_flag(name text, note text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    flag_name  text := name;
    users      text;
    saved_note text;
    deleted    boolean;
BEGIN
    IF flag_name IS NULL THEN
        RAISE EXCEPTION 'flag name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM modelflags._refuse_flipper_owned(flag_name);
    SELECT string_agg(format('%s[%s]', r.feature, r.position), ', ' ORDER BY r.feature, r.position)
      INTO users FROM modelflags.routes r WHERE r.flag = flag_name;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'flag "%" is still used by routes', flag_name
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Routes using it: %s.', users),
                  HINT = 'Delete those routes, or make the new model the default route, first.';
    END IF;
    saved_note := modelflags._push_note(note);
    DELETE FROM modelflags.flags f WHERE f.name = flag_name;
    deleted := FOUND;
    PERFORM modelflags._pop_note(saved_note);
    RETURN deleted;
END $$;

/*
 * set_provider: mark a provider up or down, e.g. during an outage.  The same
 * as UPDATE modelflags.providers SET available = ... WHERE name = ..., with
 * an error for an unknown provider instead of "UPDATE 0".
 */
CREATE FUNCTION modelflags.set_provider(name text, available boolean, note text DEFAULT NULL)
RETURNS modelflags.providers
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    provider_name text := name;
    saved_note    text;
    result        modelflags.providers;
BEGIN
    IF provider_name IS NULL THEN
        RAISE EXCEPTION 'provider name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF available IS NULL THEN
        RAISE EXCEPTION 'available must be true or false' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    saved_note := modelflags._push_note(note);
    UPDATE modelflags.providers p SET available = set_provider.available
     WHERE p.name = provider_name RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'provider % does not exist', modelflags._quote_abbrev(provider_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM modelflags._pop_note(saved_note);
    RETURN result;
END $$;
