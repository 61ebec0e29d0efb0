/* modelflags--1.0--1.1.sql — upgrade 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION modelflags UPDATE TO '1.1'" to load this file. \quit

-- ------------------------------------------------------------------------
-- Logical replication (issue 8, item 14): row-level, ENABLE REPLICA
-- invalidation triggers, so that a subscriber's open sessions follow the
-- changes its apply worker applies.  The same as sql/install/25_replication.sql;
-- see that file and src/triggers.c for why BEFORE INSERT OR UPDATE and AFTER DELETE.
-- ------------------------------------------------------------------------
CREATE TRIGGER providers_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER providers_invalidate_replica_delete AFTER DELETE ON modelflags.providers
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.providers ENABLE REPLICA TRIGGER providers_invalidate_replica_write;
ALTER TABLE modelflags.providers ENABLE REPLICA TRIGGER providers_invalidate_replica_delete;

CREATE TRIGGER models_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER models_invalidate_replica_delete AFTER DELETE ON modelflags.models
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.models ENABLE REPLICA TRIGGER models_invalidate_replica_write;
ALTER TABLE modelflags.models ENABLE REPLICA TRIGGER models_invalidate_replica_delete;

CREATE TRIGGER flags_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flags_invalidate_replica_delete AFTER DELETE ON modelflags.flags
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flags ENABLE REPLICA TRIGGER flags_invalidate_replica_write;
ALTER TABLE modelflags.flags ENABLE REPLICA TRIGGER flags_invalidate_replica_delete;

CREATE TRIGGER flag_actors_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.flag_actors
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER flag_actors_invalidate_replica_delete AFTER DELETE ON modelflags.flag_actors
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.flag_actors ENABLE REPLICA TRIGGER flag_actors_invalidate_replica_write;
ALTER TABLE modelflags.flag_actors ENABLE REPLICA TRIGGER flag_actors_invalidate_replica_delete;

CREATE TRIGGER features_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER features_invalidate_replica_delete AFTER DELETE ON modelflags.features
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.features ENABLE REPLICA TRIGGER features_invalidate_replica_write;
ALTER TABLE modelflags.features ENABLE REPLICA TRIGGER features_invalidate_replica_delete;

CREATE TRIGGER routes_invalidate_replica_write BEFORE INSERT OR UPDATE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
CREATE TRIGGER routes_invalidate_replica_delete AFTER DELETE ON modelflags.routes
    FOR EACH ROW EXECUTE FUNCTION modelflags._invalidate();
ALTER TABLE modelflags.routes ENABLE REPLICA TRIGGER routes_invalidate_replica_write;
ALTER TABLE modelflags.routes ENABLE REPLICA TRIGGER routes_invalidate_replica_delete;
