
/*
 * 25_replication.sql — logical-replication subscribers follow applied
 * changes (issue 8, item 14).
 *
 * A subscription's apply worker runs with session_replication_role =
 * replica and fires row-level triggers only: the statement-level
 * invalidation triggers of 20_audit.sql never run for an applied INSERT,
 * UPDATE or DELETE (an applied TRUNCATE does fire them), so an open session
 * on a subscriber would keep answering from its old cache while its own
 * SELECTs show the new rows.  These row-level triggers call the same
 * modelflags._invalidate() (src/triggers.c), which queues one invalidation
 * per table and transaction, however many rows are applied.
 *
 * ENABLE REPLICA: they fire only under session_replication_role = replica,
 * that is for the apply worker (and a session that sets it), so an ordinary
 * writer pays nothing: its statement triggers already invalidate.
 * INSERT OR UPDATE fire BEFORE the row and DELETE AFTER it; triggers.c says
 * why.  Audit stays origin-only: the subscriber receives the publisher's
 * modelflags.changes rows when the publication includes that table.
 */
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
