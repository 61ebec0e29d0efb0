--
-- catalog.sql — the modelflags extension's catalog as sorted text lines, one
-- property of one object per line, free of OIDs and of who owns what, so
-- that two databases can be compared with diff (test/stages/30_upgrade.sh:
-- an upgraded database against a fresh install of the same version).
--
-- Covers: the set of extension members; the extension (version, schema,
-- extconfig/extcondition by table name, comment); the schema's ACL; every
-- relation in the schema (kind, options, row security, ACL), column (position
-- among live columns, type, collation, NOT NULL, default, identity,
-- generated, storage, ACL), constraint, index, trigger (definition and
-- enabled state), sequence, view; every function (pg_get_functiondef, which
-- includes volatility, strictness, parallel safety, SECURITY DEFINER, SET
-- clauses, cost and rows; the same properties again from pg_proc; its ACL);
-- every type and domain; every comment and policy.  ACLs are shown with the
-- object's owner written OWNER and NULL (default) expanded, so that
-- "granted then revoked" equals "never granted".
--
\pset format unaligned
\pset tuples_only on
\pset footer off
\pset pager off

WITH ext AS (
    SELECT e.oid, e.extowner, e.extnamespace, e.extversion, e.extrelocatable, e.extconfig, e.extcondition
      FROM pg_catalog.pg_extension e
     WHERE e.extname = 'modelflags'
),
-- acl(acl, owner) as text, owner-independent
rels AS (
    SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.reloptions, c.relpersistence,
           c.relrowsecurity, c.relforcerowsecurity, c.relreplident
      FROM pg_catalog.pg_class c, ext
     WHERE c.relnamespace = ext.extnamespace AND c.relkind <> 't'
),
lines (line) AS (
    -- The members of the extension.
    SELECT 'member|' || pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
    UNION ALL
    SELECT 'extension|version=' || ext.extversion || ' relocatable=' || ext.extrelocatable
           || ' schema=' || ext.extnamespace::regnamespace
           || ' owned_by_superuser=' || (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = ext.extowner)
      FROM ext
    UNION ALL
    SELECT 'extconfig|' || c.relname || '|condition=' || pg_catalog.quote_literal(u.cond)
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u (reloid, cond)
      JOIN pg_catalog.pg_class c ON c.oid = u.reloid
    UNION ALL
    -- Schema ACL (owner-independent).
    SELECT 'schema|' || n.nspname || '|acl=' ||
           (SELECT coalesce(string_agg(format('%s=%s%s',
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = n.nspowner THEN 'OWNER'
                             ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                        a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END), ',' ORDER BY 1), '')
              FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a)
           || ' owner_is_extension_owner=' || (n.nspowner = ext.extowner)
      FROM pg_catalog.pg_namespace n, ext
     WHERE n.oid = ext.extnamespace
    UNION ALL
    -- Relations.
    SELECT format('relation|%s|kind=%s persistence=%s options=%s rls=%s force_rls=%s replident=%s owner_is_extension_owner=%s',
                  r.relname, r.relkind, r.relpersistence, coalesce(r.reloptions::text, ''), r.relrowsecurity,
                  r.relforcerowsecurity, r.relreplident, r.relowner = ext.extowner)
           || ' acl=' ||
           (SELECT coalesce(string_agg(format('%s=%s%s',
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = r.relowner THEN 'OWNER'
                             ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                        a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END), ',' ORDER BY 1), '')
              FROM aclexplode(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                            r.relowner))) AS a)
      FROM rels r, ext
     WHERE r.relkind <> 'i'
    UNION ALL
    -- Columns, with their position among the live columns (an upgrade that
    -- adds a column at the end differs from an install that has it in the
    -- middle: SELECT * and COPY see them in another order).
    SELECT format('column|%s.%s|pos=%s type=%s collation=%s notnull=%s default=%s identity=%s generated=%s storage=%s compression=%s acl=%s',
                  r.relname, a.attname,
                  row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
                  pg_catalog.format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attcollation = 0 THEN '-' ELSE a.attcollation::regcollation::text END,
                  a.attnotnull, coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '-'),
                  a.attidentity, a.attgenerated, a.attstorage, a.attcompression,
                  (SELECT coalesce(string_agg(format('%s=%s', pg_catalog.pg_get_userbyid(x.grantee), x.privilege_type), ',' ORDER BY 1), '')
                     FROM aclexplode(a.attacl) AS x))
      FROM rels r
      JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    -- Constraints of tables and domains.
    SELECT format('constraint|%s.%s|type=%s %s', coalesce(r.relname, t.typname), co.conname, co.contype,
                  pg_catalog.pg_get_constraintdef(co.oid))
      FROM pg_catalog.pg_constraint co
      LEFT JOIN rels r ON r.oid = co.conrelid
      LEFT JOIN pg_catalog.pg_type t ON t.oid = co.contypid
      , ext
     WHERE co.connamespace = ext.extnamespace
    UNION ALL
    SELECT format('index|%s|%s primary=%s clustered=%s replident=%s', r.relname, pg_catalog.pg_get_indexdef(r.oid),
                  i.indisprimary, i.indisclustered, i.indisreplident)
      FROM rels r JOIN pg_catalog.pg_index i ON i.indexrelid = r.oid
    UNION ALL
    -- Triggers, with their enabled state (O origin, A always, R replica, D disabled).
    SELECT format('trigger|%s.%s|enabled=%s %s', r.relname, tg.tgname, tg.tgenabled, pg_catalog.pg_get_triggerdef(tg.oid))
      FROM rels r JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
    UNION ALL
    SELECT format('sequence|%s|type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
                  r.relname, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                  (SELECT string_agg(format('%s.%s deptype=%s', oc.relname, oa.attname, d.deptype), ',')
                     FROM pg_catalog.pg_depend d
                     JOIN pg_catalog.pg_class oc ON oc.oid = d.refobjid
                     JOIN pg_catalog.pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = r.oid
                      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')))
      FROM rels r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    SELECT format('view|%s|%s', r.relname, pg_catalog.replace(pg_catalog.pg_get_viewdef(r.oid), E'\n', ' '))
      FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    -- Functions: the whole definition on one line, then the flags again
    -- from pg_proc (so a difference names itself), the ACL and the owner.
    SELECT format('function|%s|%s', p.oid::regprocedure,
                  CASE WHEN p.prokind = 'a' THEN 'aggregate'
                       ELSE pg_catalog.replace(pg_catalog.pg_get_functiondef(p.oid), E'\n', '\n') END)
      FROM pg_catalog.pg_proc p, ext
     WHERE p.pronamespace = ext.extnamespace
    UNION ALL
    SELECT format('function|%s|kind=%s volatile=%s strict=%s parallel=%s secdef=%s leakproof=%s config=%s cost=%s rows=%s owner_is_extension_owner=%s acl=%s',
                  p.oid::regprocedure, p.prokind, p.provolatile, p.proisstrict, p.proparallel, p.prosecdef,
                  p.proleakproof, coalesce(p.proconfig::text, '-'), p.procost, p.prorows, p.proowner = ext.extowner,
                  (SELECT coalesce(string_agg(format('%s=%s%s',
                               CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = p.proowner THEN 'OWNER'
                                    ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                               a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END), ',' ORDER BY 1), '')
                     FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a))
      FROM pg_catalog.pg_proc p, ext
     WHERE p.pronamespace = ext.extnamespace
    UNION ALL
    -- Types (a table's row type and array types follow their table or
    -- element; composite types' columns are listed as columns above).
    SELECT format('type|%s|type=%s category=%s base=%s notnull=%s default=%s enum=%s owner_is_extension_owner=%s acl=%s',
                  t.typname, t.typtype, t.typcategory,
                  CASE WHEN t.typbasetype = 0 THEN '-' ELSE pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
                  t.typnotnull, coalesce(t.typdefault, '-'),
                  (SELECT string_agg(en.enumlabel, ',' ORDER BY en.enumsortorder)
                     FROM pg_catalog.pg_enum en WHERE en.enumtypid = t.oid),
                  t.typowner = ext.extowner,
                  (SELECT coalesce(string_agg(format('%s=%s%s',
                               CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = t.typowner THEN 'OWNER'
                                    ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                               a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END), ',' ORDER BY 1), '')
                     FROM aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) AS a))
      FROM pg_catalog.pg_type t, ext
     WHERE t.typnamespace = ext.extnamespace
       AND t.typcategory <> 'A'
       AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
    UNION ALL
    SELECT format('policy|%s.%s|cmd=%s permissive=%s roles=%s using=%s check=%s', r.relname, po.polname, po.polcmd,
                  po.polpermissive, po.polroles::text, pg_catalog.pg_get_expr(po.polqual, po.polrelid),
                  pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid))
      FROM rels r JOIN pg_catalog.pg_policy po ON po.polrelid = r.oid
    UNION ALL
    -- Comments on anything in the schema (relations, columns, functions,
    -- types, triggers, constraints), on the schema and on the extension.
    SELECT format('comment|%s|%s', pg_catalog.pg_describe_object(de.classoid, de.objoid, de.objsubid),
                  pg_catalog.replace(de.description, E'\n', '\n'))
      FROM pg_catalog.pg_description de, ext
     WHERE (de.classoid = 'pg_catalog.pg_extension'::regclass AND de.objoid = ext.oid)
        OR (de.classoid = 'pg_catalog.pg_namespace'::regclass AND de.objoid = ext.extnamespace)
        OR (de.classoid = 'pg_catalog.pg_trigger'::regclass
            AND de.objoid IN (SELECT tg.oid FROM pg_catalog.pg_trigger tg JOIN rels r ON r.oid = tg.tgrelid))
        OR (de.classoid = 'pg_catalog.pg_policy'::regclass
            AND de.objoid IN (SELECT po.oid FROM pg_catalog.pg_policy po JOIN rels r ON r.oid = po.polrelid))
        OR (pg_catalog.pg_identify_object(de.classoid, de.objoid, de.objsubid)).schema
           = (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = ext.extnamespace)
)
SELECT line FROM lines ORDER BY line COLLATE "C";
