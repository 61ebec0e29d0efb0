
/*
 * 90_privileges.sql — SPEC P.
 *
 * Reading (model_for, is_enabled, rollout_pct, explain) is for everyone and
 * needs no table privilege.  Writing — the tables and the write functions —
 * is not granted to PUBLIC: README.md shows the GRANTs that make an ops role.
 * The internal helpers (_check_*, _quote_abbrev, ...) keep PUBLIC EXECUTE:
 * the validation triggers call them as whoever writes, and they change
 * nothing by themselves.
 */
GRANT USAGE ON SCHEMA modelflags TO PUBLIC;

-- _audit is SECURITY DEFINER: anyone allowed to EXECUTE it could attach it
-- to a table of their own and forge rows in the append-only changes table
-- (and modelflags notifications).  EXECUTE is checked only by CREATE
-- TRIGGER, never when a trigger fires, so revoking it leaves the audit of
-- the extension's own tables working for every writer.
REVOKE EXECUTE ON FUNCTION modelflags._audit() FROM PUBLIC;
-- Likewise the restore triggers' functions (26_restore.sql), SECURITY
-- DEFINER too: they check the login role themselves, but nobody needs to
-- attach them anywhere.
REVOKE EXECUTE ON FUNCTION modelflags._restore_begin(), modelflags._restore_end() FROM PUBLIC;
-- And the Flipper triggers' functions (70_flipper.sql), SECURITY DEFINER,
-- and the cache note one calls: only the triggers need them.
REVOKE EXECUTE ON FUNCTION modelflags._flipper_changed(), modelflags._note_flipper(text[]),
                           modelflags._refuse_flipper_gates() FROM PUBLIC;

REVOKE ALL ON ALL TABLES IN SCHEMA modelflags FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA modelflags FROM PUBLIC;

-- Every function that writes: the public write API (not starting with _).
-- Written qualified, as the guard in 00_install_guard.sql is.
DO $$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::pg_catalog.regprocedure
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'modelflags'::pg_catalog.regnamespace
           AND p.proname OPERATOR(pg_catalog.!~) '^_'
           AND p.proname OPERATOR(pg_catalog.<>) ALL
               ('{is_enabled,rollout_pct,model_for,explain,cache_info}'::pg_catalog.name[])
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;

-- Model health (50_health.sql).  The views are for everyone, dashboards and
-- exporters included, as pg_stat_* views are (the _health_* functions under
-- them keep PUBLIC EXECUTE, like every helper).  report(), report_batch(),
-- set_breaker() and health_reset() are not: whoever may report can open a
-- breaker for every service (the loop above revoked them).  breaker_events
-- is an audit table, like changes.
GRANT SELECT ON modelflags.model_health, modelflags.feature_health, modelflags.provider_health,
                modelflags.model_latency_buckets, modelflags.breaker_transitions,
                modelflags.health_status
   TO PUBLIC;
