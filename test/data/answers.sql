--
-- answers.sql — what modelflags answers, as sorted text lines: model_for of
-- every feature and is_enabled of every flag for actors User:1 .. User:n
-- (psql variable n), a few other actor types and no actor; rollout_pct of
-- every flag for the first hundred.  Two databases with the same contents
-- must print the same lines (used by 30_upgrade.sh and 35_backup.sh).
-- Every feature must have a route left for every actor (model_for raises
-- MF001 otherwise), and no flag may have a percentage of time other than 0
-- or 100 (random draws).
--
\pset format unaligned
\pset tuples_only on
\pset footer off
\pset pager off

WITH actors (actor) AS (
    SELECT 'User:' || i FROM generate_series(1, :n) AS i
    UNION ALL VALUES (NULL), ('Project:7'), ('Group:9970'), ('Namespaces::UserNamespace:3')
)
SELECT line FROM (
SELECT format('model_for|%s|%s|%s|%s|%s|%s|%s|%s|%s', f.name, coalesce(a.actor, '(none)'), m.model,
              m.provider, m.params, m.flag, m.gate, m.position, m.skipped)
  FROM modelflags.features f CROSS JOIN actors a
       CROSS JOIN LATERAL modelflags.model_for(f.name, a.actor) AS m
UNION ALL
SELECT format('is_enabled|%s|%s|%s', fl.name, coalesce(a.actor, '(none)'), modelflags.is_enabled(fl.name, a.actor))
  FROM modelflags.flags fl CROSS JOIN actors a
UNION ALL
SELECT format('rollout_pct|%s|%s|%s', fl.name, 'User:' || i, modelflags.rollout_pct(fl.name, 'User:' || i))
  FROM modelflags.flags fl CROSS JOIN generate_series(1, 100) AS i
) AS answers (line)
ORDER BY line COLLATE "C";
