-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION modelflags" to load this file. \quit

/*
 * 00_install_guard.sql — refuse a schema modelflags that someone else
 * prepared.
 *
 * CREATE EXTENSION uses an existing schema modelflags as it finds it and
 * runs this script, as the installing superuser, with search_path set to
 * that schema.  A role that owns the schema, or may create objects in it,
 * could plant look-alikes of the built-in functions and operators the script
 * calls (modelflags.format(text, regprocedure) is a better match than
 * pg_catalog's variadic format) and have them run as the superuser; it could
 * also drop the installed objects later.  So before anything else:
 *   - the schema's owner must be the installing role or a superuser (42501);
 *   - no other role may hold CREATE on it (42501);
 *   - it must be empty (55000): only the extension itself may depend on it.
 * pg_dump's own CREATE SCHEMA modelflags + ALTER SCHEMA ... OWNER TO (the
 * original owner, a superuser) + CREATE EXTENSION passes.  The check
 * itself is written with every function, operator and type qualified, since
 * it runs before the schema is known to be safe.
 *
 * Name resolution in what runs later: every function body either pins
 * search_path (SET search_path = pg_catalog, pg_temp) or is written with
 * every function, operator and type schema-qualified (the per-row validation
 * triggers and their helpers, where a SET clause would cost a GUC
 * save/restore per row, and the SQL functions, which a SET clause would stop
 * from being inlined).  The top-level statements of this script run with the
 * search_path CREATE EXTENSION pins (this schema, with pg_catalog searched
 * first), which the check below makes safe.
 */
DO $guard$
DECLARE
    ext_oid   pg_catalog.oid;
    nsp_oid   pg_catalog.oid;
    nsp_owner pg_catalog.oid;
    installer pg_catalog.oid;
    grantees  pg_catalog.text;
    objects   pg_catalog.text;
    n_objects pg_catalog.int8;
BEGIN
    SELECT e.oid, e.extnamespace, n.nspowner, e.extowner
      INTO ext_oid, nsp_oid, nsp_owner, installer
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'modelflags';

    IF nsp_owner OPERATOR(pg_catalog.<>) installer
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) nsp_owner) THEN
        RAISE EXCEPTION 'schema "modelflags" is owned by role "%", not by the installing role "%"',
                pg_catalog.pg_get_userbyid(nsp_owner), pg_catalog.pg_get_userbyid(installer)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The owner of the schema could have put functions or operators there that this installation would run with superuser rights, and could drop the extension''s objects later.',
                  HINT = 'Check what the schema holds and who made it, drop it (DROP SCHEMA modelflags), and run CREATE EXTENSION modelflags again: it then creates the schema itself.';
    END IF;

    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                 ', ')
      INTO grantees
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) AS a
     WHERE n.oid OPERATOR(pg_catalog.=) nsp_oid
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF grantees IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema "modelflags": %', grantees
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'They could put functions or operators there that the extension''s code would run.',
                  HINT = pg_catalog.format('REVOKE CREATE ON SCHEMA modelflags FROM %s; then run CREATE EXTENSION modelflags again.', grantees);
    END IF;

    -- Everything in a schema depends on it in pg_depend (that is how DROP
    -- SCHEMA finds it): functions, operators, tables, types, default
    -- privileges, other extensions.  Only this extension may.
    SELECT pg_catalog.count(*) INTO n_objects
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) nsp_oid
       AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                AND d.objid OPERATOR(pg_catalog.=) ext_oid);
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
      INTO objects
      FROM (SELECT dd.classid, dd.objid, dd.objsubid
              FROM pg_catalog.pg_depend dd
             WHERE dd.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
               AND dd.refobjid OPERATOR(pg_catalog.=) nsp_oid
               AND NOT (dd.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND dd.objid OPERATOR(pg_catalog.=) ext_oid)
             ORDER BY dd.classid, dd.objid
             LIMIT 10) AS d;
    IF n_objects OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'schema "modelflags" is not empty'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It holds %s%s.', objects,
                                             CASE WHEN n_objects OPERATOR(pg_catalog.>) 10
                                                  THEN pg_catalog.format(' and %s more objects', n_objects OPERATOR(pg_catalog.-) 10)
                                                  ELSE '' END),
                  HINT = 'CREATE EXTENSION modelflags needs an empty schema modelflags or none (it then creates it). Check who made these objects and why, move or drop them, and run CREATE EXTENSION modelflags again.';
    END IF;
END
$guard$;
