/*
 * bench/plpgsql_router.sql — the baseline: modelflags.model_for written in
 * PL/pgSQL, as a team would write it without the extension's C code.
 *
 * Schema bench_plpgsql, over the very same tables (modelflags.flags,
 * flag_actors, features, routes, models, providers), with the semantics of
 * SPEC §3:
 *   F  is_enabled: unknown flag → false; the actor's opt-out → false; a flag
 *      with no gate ever set (enabled, both percentages NULL, no flag_actors
 *      row) → default_enabled; else true if any gate is open: enabled,
 *      the actor's row, percentage of actors, percentage of time (random()).
 *   H  percentage of actors: crc32(flag || actor) % 100000 < pct * 1000.
 *      PostgreSQL 15 has no crc32(), so bench_plpgsql.crc32 is zlib's CRC-32
 *      (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF)
 *      done the usual table-driven way: a 256-entry bigint[] table and one
 *      loop iteration per byte of convert_to(flag || actor, 'UTF8').  This
 *      is the fast way to write it in PL/pgSQL (the bit-by-bit loop is 8×
 *      more iterations); the table is zlib's crc_table.
 *   R  model_for: routes of the feature by position; a route applies when its
 *      flag is NULL (gate "default") or enabled; an applying route is skipped
 *      when its model is disabled or its provider unavailable; the first
 *      applying, unskipped route wins.  Same result row as modelflags.model_for
 *      (model, provider, params = model params || route params, flag, gate,
 *      position, skipped, degraded); no route → ERROR MF001, unknown feature → 42704.
 *
 * Each lookup is one indexed SQL query (flags by name, flag_actors by
 * (flag, actor), routes by (feature, position) joined to models and
 * providers); PL/pgSQL caches the plans, so this is the baseline at its best
 * short of a hand-written cache.
 *
 * bench_plpgsql.assert_same() asserts that bench_plpgsql.model_for and
 * modelflags.model_for give the same row (or the same SQLSTATE) for many
 * actors; the end of this file runs it on whatever data is loaded
 * (bench/run.sh loads data_small.sql first, and runs it again on the large
 * set).  Rollouts by percentage of time are random and are left out.
 */
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_plpgsql CASCADE;
CREATE SCHEMA bench_plpgsql;

-- zlib CRC-32 of data, as a number in [0, 2^32).
CREATE FUNCTION bench_plpgsql.crc32(data bytea) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    crc_table CONSTANT bigint[] := ARRAY[
        0, 1996959894, 3993919788, 2567524794, 124634137, 1886057615, 3915621685, 2657392035,
        249268274, 2044508324, 3772115230, 2547177864, 162941995, 2125561021, 3887607047, 2428444049,
        498536548, 1789927666, 4089016648, 2227061214, 450548861, 1843258603, 4107580753, 2211677639,
        325883990, 1684777152, 4251122042, 2321926636, 335633487, 1661365465, 4195302755, 2366115317,
        997073096, 1281953886, 3579855332, 2724688242, 1006888145, 1258607687, 3524101629, 2768942443,
        901097722, 1119000684, 3686517206, 2898065728, 853044451, 1172266101, 3705015759, 2882616665,
        651767980, 1373503546, 3369554304, 3218104598, 565507253, 1454621731, 3485111705, 3099436303,
        671266974, 1594198024, 3322730930, 2970347812, 795835527, 1483230225, 3244367275, 3060149565,
        1994146192, 31158534, 2563907772, 4023717930, 1907459465, 112637215, 2680153253, 3904427059,
        2013776290, 251722036, 2517215374, 3775830040, 2137656763, 141376813, 2439277719, 3865271297,
        1802195444, 476864866, 2238001368, 4066508878, 1812370925, 453092731, 2181625025, 4111451223,
        1706088902, 314042704, 2344532202, 4240017532, 1658658271, 366619977, 2362670323, 4224994405,
        1303535960, 984961486, 2747007092, 3569037538, 1256170817, 1037604311, 2765210733, 3554079995,
        1131014506, 879679996, 2909243462, 3663771856, 1141124467, 855842277, 2852801631, 3708648649,
        1342533948, 654459306, 3188396048, 3373015174, 1466479909, 544179635, 3110523913, 3462522015,
        1591671054, 702138776, 2966460450, 3352799412, 1504918807, 783551873, 3082640443, 3233442989,
        3988292384, 2596254646, 62317068, 1957810842, 3939845945, 2647816111, 81470997, 1943803523,
        3814918930, 2489596804, 225274430, 2053790376, 3826175755, 2466906013, 167816743, 2097651377,
        4027552580, 2265490386, 503444072, 1762050814, 4150417245, 2154129355, 426522225, 1852507879,
        4275313526, 2312317920, 282753626, 1742555852, 4189708143, 2394877945, 397917763, 1622183637,
        3604390888, 2714866558, 953729732, 1340076626, 3518719985, 2797360999, 1068828381, 1219638859,
        3624741850, 2936675148, 906185462, 1090812512, 3747672003, 2825379669, 829329135, 1181335161,
        3412177804, 3160834842, 628085408, 1382605366, 3423369109, 3138078467, 570562233, 1426400815,
        3317316542, 2998733608, 733239954, 1555261956, 3268935591, 3050360625, 752459403, 1541320221,
        2607071920, 3965973030, 1969922972, 40735498, 2617837225, 3943577151, 1913087877, 83908371,
        2512341634, 3803740692, 2075208622, 213261112, 2463272603, 3855990285, 2094854071, 198958881,
        2262029012, 4057260610, 1759359992, 534414190, 2176718541, 4139329115, 1873836001, 414664567,
        2282248934, 4279200368, 1711684554, 285281116, 2405801727, 4167216745, 1634467795, 376229701,
        2685067896, 3608007406, 1308918612, 956543938, 2808555105, 3495958263, 1231636301, 1047427035,
        2932959818, 3654703836, 1088359270, 936918000, 2847714899, 3736837829, 1202900863, 817233897,
        3183342108, 3401237130, 1404277552, 615818150, 3134207493, 3453421203, 1423857449, 601450431,
        3009837614, 3294710456, 1567103746, 711928724, 3020668471, 3272380065, 1510334235, 755167117
    ];
    crc bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(data) - 1 LOOP
        crc := crc_table[((crc # get_byte(data, i)) & 255) + 1] # (crc >> 8);
    END LOOP;
    RETURN crc # 4294967295;
END $$;

-- The gate that opens flag_name for actor (as modelflags.model_for names it),
-- or NULL when the flag is off for this actor (SPEC F).
CREATE FUNCTION bench_plpgsql.flag_gate(flag_name text, actor_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    f         modelflags.flags;
    opted_out boolean;          -- the actor's flag_actors row: NULL = none
BEGIN
    SELECT * INTO f FROM modelflags.flags WHERE name = flag_name;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF actor_id IS NOT NULL THEN
        SELECT a.opt_out INTO opted_out
          FROM modelflags.flag_actors a
         WHERE a.flag = flag_name AND a.actor = actor_id;
        IF opted_out THEN
            RETURN NULL;
        END IF;
    END IF;
    IF f.enabled IS NULL AND f.percentage_of_actors IS NULL AND f.percentage_of_time IS NULL
       AND opted_out IS NULL
       AND NOT EXISTS (SELECT 1 FROM modelflags.flag_actors a WHERE a.flag = flag_name) THEN
        RETURN CASE WHEN f.default_enabled THEN 'default_enabled' END;
    END IF;
    IF f.enabled THEN
        RETURN 'boolean';
    END IF;
    IF opted_out = false THEN
        RETURN 'actor';
    END IF;
    IF actor_id IS NOT NULL AND f.percentage_of_actors > 0
       AND bench_plpgsql.crc32(convert_to(flag_name || actor_id, 'UTF8')) % 100000
           < f.percentage_of_actors * 1000 THEN
        RETURN 'percentage_of_actors';
    END IF;
    IF f.percentage_of_time > 0 AND random() < f.percentage_of_time / 100 THEN
        RETURN 'percentage_of_time';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION bench_plpgsql.is_enabled(flag_name text, actor_id text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql RETURN bench_plpgsql.flag_gate(flag_name, actor_id) IS NOT NULL;

-- The same contract as modelflags.model_for (SPEC R).
CREATE FUNCTION bench_plpgsql.model_for(feature text, actor text DEFAULT NULL,
                                        OUT model text, OUT provider text, OUT params jsonb,
                                        OUT flag text, OUT gate text, OUT "position" integer,
                                        OUT skipped integer, OUT degraded boolean)
RETURNS record
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r record;
    g text;
BEGIN
    skipped := 0;
    degraded := false;          -- no model health in the baseline
    FOR r IN SELECT rt.position AS pos, rt.flag AS flag_name, rt.model AS model_name,
                    m.params || rt.params AS merged, m.enabled AS model_enabled,
                    m.provider AS provider_name, p.available AS provider_available
               FROM modelflags.routes rt
               JOIN modelflags.models m ON m.name = rt.model
               JOIN modelflags.providers p ON p.name = m.provider
              WHERE rt.feature = model_for.feature
              ORDER BY rt.position
    LOOP
        IF r.flag_name IS NULL THEN
            g := 'default';
        ELSE
            g := bench_plpgsql.flag_gate(r.flag_name, model_for.actor);
            CONTINUE WHEN g IS NULL;
        END IF;
        IF NOT r.model_enabled OR NOT r.provider_available THEN
            skipped := skipped + 1;
            CONTINUE;
        END IF;
        model := r.model_name;
        provider := r.provider_name;
        params := r.merged;
        flag := r.flag_name;
        gate := g;
        "position" := r.pos;
        RETURN;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM modelflags.features f WHERE f.name = model_for.feature) THEN
        RAISE EXCEPTION 'feature "%" does not exist', model_for.feature
            USING ERRCODE = 'undefined_object';
    END IF;
    RAISE EXCEPTION 'no model available for feature "%"', model_for.feature
        USING ERRCODE = 'MF001';
END $$;

-- A route answer as one comparable value; errors become their SQLSTATE.
CREATE FUNCTION bench_plpgsql._answer(impl text, feature text, actor text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    IF impl = 'c' THEN
        SELECT m::text INTO res FROM modelflags.model_for(feature, actor) m;
    ELSE
        SELECT m::text INTO res FROM bench_plpgsql.model_for(feature, actor) m;
    END IF;
    RETURN res;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE;
END $$;

/*
 * Asserts that both routers agree, and returns how many (feature, actor)
 * pairs it compared; raises on the first difference.  For each pair it also
 * compares is_enabled for every flag of the feature's routes.  Features: those named
 * in features (NULL = all), less any whose routes use a percentage_of_time gate
 * (random by design).  Actors: NULL, User:1..User:n_actors, and up to
 * max_listed actors with flag_actors rows on the feature's flags, opt-outs
 * first.  It also checks crc32 against modelflags.rollout_pct.
 */
CREATE FUNCTION bench_plpgsql.assert_same(n_actors integer, max_listed integer DEFAULT 10000,
                                          features text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    feat  text;
    act   text;
    a     text;
    b     text;
    n     bigint := 0;
    bad   record;
    flags text[];
    fl    text;
BEGIN
    SELECT x.flag, x.actor, modelflags.rollout_pct(x.flag, x.actor) AS c_pos,
           (bench_plpgsql.crc32(convert_to(x.flag || x.actor, 'UTF8')) % 100000) / 1000.0 AS p_pos
      INTO bad
      FROM (SELECT 'flag_' || i AS flag, 'User:' || (i * 7919) AS actor FROM generate_series(1, 2000) i
            UNION ALL SELECT 'f', 'Ünïcødé:☃') x
     WHERE modelflags.rollout_pct(x.flag, x.actor)
           <> (bench_plpgsql.crc32(convert_to(x.flag || x.actor, 'UTF8')) % 100000) / 1000.0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'crc32 differs from rollout_pct: %', row_to_json(bad);
    END IF;

    FOR feat IN
        SELECT f.name FROM modelflags.features f
         WHERE (features IS NULL OR f.name = ANY (features))
           AND NOT EXISTS (SELECT 1 FROM modelflags.routes r JOIN modelflags.flags g ON g.name = r.flag
                            WHERE r.feature = f.name AND g.percentage_of_time > 0)
         ORDER BY f.name
    LOOP
        flags := ARRAY(SELECT r.flag FROM modelflags.routes r WHERE r.feature = feat AND r.flag IS NOT NULL);
        FOR act IN
            SELECT NULL
            UNION ALL
            SELECT 'User:' || i FROM generate_series(1, n_actors) i
            UNION ALL
            (SELECT fa.actor FROM modelflags.flag_actors fa
               JOIN modelflags.routes r ON r.flag = fa.flag AND r.feature = feat
              GROUP BY fa.actor
              ORDER BY bool_or(fa.opt_out) DESC, fa.actor LIMIT max_listed)
        LOOP
            a := bench_plpgsql._answer('c', feat, act);
            b := bench_plpgsql._answer('plpgsql', feat, act);
            IF a IS DISTINCT FROM b THEN
                RAISE EXCEPTION 'routers differ for (%, %): modelflags % vs plpgsql %', feat, act, a, b;
            END IF;
            FOREACH fl IN ARRAY flags LOOP
                IF modelflags.is_enabled(fl, act) IS DISTINCT FROM bench_plpgsql.is_enabled(fl, act) THEN
                    RAISE EXCEPTION 'is_enabled differs for (%, %): modelflags % vs plpgsql %', fl, act,
                        modelflags.is_enabled(fl, act), bench_plpgsql.is_enabled(fl, act);
                END IF;
            END LOOP;
            n := n + 1;
        END LOOP;
    END LOOP;
    RETURN n;
END $$;

-- The assertion on the data loaded now (2,000 users and every listed actor).
SELECT bench_plpgsql.assert_same(2000) AS "pairs compared, all the same";
