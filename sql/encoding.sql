--
-- encoding: SPEC H hashes the UTF-8 bytes of flag and actor "whatever the
-- database's encoding", because Flipper does.  In a LATIN1 database the
-- stored bytes of 'Ñandú:3' differ from its UTF-8 bytes, so hashing the
-- stored bytes would put actors in other buckets than Flipper does.
--
-- Proves: in a LATIN1 database rollout_pct and is_enabled give the buckets
-- computed with Python's zlib.crc32(b"some_feature" + actor.encode("utf-8"))
-- (the positions over the Latin-1 bytes would be 9.243, 90.527, 38.892,
-- 74.305, 23.021, 60.341); actor gates still match the stored actors.
--
\set regress_db :DBNAME
CREATE DATABASE regress_modelflags_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_modelflags_latin1
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION modelflags;
SELECT pg_encoding_to_char(encoding) AS database_encoding FROM pg_database WHERE datname = current_database();

SELECT a.actor, modelflags.rollout_pct('some_feature', a.actor) AS rollout_pct, a.zlib_utf8
  FROM (VALUES (1, 'Üser:42', 9.208), (2, 'User:café', 34.690), (3, 'Größe:7', 27.748),
               (4, 'Ñandú:3', 19.336), (5, 'àéîõü:9', 51.008), (6, 'User:ÿ', 18.653))
       AS a (n, actor, zlib_utf8)
 ORDER BY a.n;

-- At 25%: in exactly when the UTF-8 position is below 25.
SELECT name, percentage_of_actors FROM modelflags.set_flag('some_feature', percentage_of_actors => 25);
SELECT modelflags.set_actor('some_feature', 'Größe:7', true);
SELECT a.actor, modelflags.is_enabled('some_feature', a.actor) AS enabled, a.expected
  FROM (VALUES (1, 'Üser:42', true), (2, 'User:café', false), (3, 'Größe:7', true),
               (4, 'Ñandú:3', true), (5, 'àéîõü:9', false), (6, 'User:ÿ', true))
       AS a (n, actor, expected)
 ORDER BY a.n;
SELECT modelflags.is_enabled('some_feature', 'Grösse:7') AS near_miss_of_gated_actor;

\c :regress_db
DROP DATABASE regress_modelflags_latin1;
