/*
 * 00_schema.sql — the tables of SPEC §2.
 *
 * The tables are the source of truth and are meant to be read and changed
 * with plain SQL.  Every rule that makes a row valid lives here (CHECKs and
 * foreign keys) or in 10_validate.sql (row triggers that give the precise
 * messages); the write functions in 30_write_api.sql add nothing a plain
 * INSERT/UPDATE would not also get.
 */

CREATE TABLE modelflags.providers (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    -- false = outage: routes to this provider's models are skipped
    available   boolean NOT NULL DEFAULT true,
    note        text
);
COMMENT ON TABLE modelflags.providers IS
    'LLM providers; available = false marks an outage and makes routing skip their models';

CREATE TABLE modelflags.models (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    provider    text COLLATE "C" NOT NULL REFERENCES modelflags.providers (name) ON UPDATE CASCADE,
    -- model, temperature, max_tokens, max_retries, stop, timeout, ...
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    enabled     boolean NOT NULL DEFAULT true,
    description text
);
COMMENT ON TABLE modelflags.models IS
    'models (GitLab gitlab_identifier) with their provider and request parameters';

CREATE TABLE modelflags.flags (
    name                 text COLLATE "C" PRIMARY KEY
                         CHECK (name ~ '^[a-z0-9]+(_[a-z0-9]+)*$' AND octet_length(name) <= 255),
    -- Flipper's gates.  NULL means "never set"; a flag none of whose gates
    -- was ever set (and that has no actor rows) answers default_enabled.
    enabled              boolean,
    percentage_of_actors numeric
                         CHECK (percentage_of_actors >= 0 AND percentage_of_actors <= 100
                                AND percentage_of_actors = round(percentage_of_actors, 3)),
    percentage_of_time   numeric
                         CHECK (percentage_of_time >= 0 AND percentage_of_time <= 100
                                AND percentage_of_time = round(percentage_of_time, 3)),
    -- GitLab's feature-flag definition (config/feature_flags/<type>/<name>.yml)
    type                 text CHECK (type IN ('gitlab_com_derisk', 'wip', 'beta', 'ops',
                                              'experiment', 'worker', 'markdown_cache',
                                              'undefined', 'development')),
    default_enabled      boolean NOT NULL DEFAULT false,
    "group"              text,
    milestone            text,
    description          text,
    introduced_by_url    text,
    rollout_issue_url    text,
    feature_issue_url    text,
    log_state_changes    boolean
);
COMMENT ON TABLE modelflags.flags IS
    'feature flags: Flipper gates (enabled, percentage_of_actors, percentage_of_time) and GitLab metadata';

CREATE TABLE modelflags.flag_actors (
    flag    text COLLATE "C" NOT NULL REFERENCES modelflags.flags (name) ON UPDATE CASCADE ON DELETE CASCADE,
    actor   text COLLATE "C" NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 1024),
    -- GitLab opt-out: forces the flag off for this actor, whatever else is open
    opt_out boolean NOT NULL DEFAULT false,
    PRIMARY KEY (flag, actor)
);
COMMENT ON TABLE modelflags.flag_actors IS
    'actor gates (opt_out = false) and GitLab opt-outs (opt_out = true); actors are flipper_ids such as User:42';

CREATE TABLE modelflags.features (
    name        text COLLATE "C" PRIMARY KEY
                CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND octet_length(name) <= 255),
    description text
);
COMMENT ON TABLE modelflags.features IS
    'AI features (GitLab feature_setting) that model_for routes';

CREATE TABLE modelflags.routes (
    feature     text COLLATE "C" NOT NULL REFERENCES modelflags.features (name) ON UPDATE CASCADE ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    -- NULL = the route always applies; deleting a flag a route uses is refused
    flag        text COLLATE "C" REFERENCES modelflags.flags (name) ON UPDATE CASCADE,
    model       text COLLATE "C" NOT NULL REFERENCES modelflags.models (name) ON UPDATE CASCADE,
    -- merged over the model's params, e.g. {"direct_access": false}
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    note        text,
    PRIMARY KEY (feature, position)
);
COMMENT ON TABLE modelflags.routes IS
    'ordered routing rules: the first route whose flag is NULL or enabled, and whose model and provider are up, wins';
CREATE INDEX routes_flag_idx ON modelflags.routes (flag);
CREATE INDEX routes_model_idx ON modelflags.routes (model);
CREATE INDEX models_provider_idx ON modelflags.models (provider);

CREATE TABLE modelflags.changes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at       timestamptz NOT NULL DEFAULT now(),
    -- session_user (the login role, also inside SECURITY DEFINER code)
    changed_by       text NOT NULL DEFAULT session_user,
    application_name text DEFAULT current_setting('application_name', true),
    txid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    table_name       text NOT NULL,
    operation        text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    key              jsonb NOT NULL,
    old_row          jsonb,
    new_row          jsonb,
    note             text
);
COMMENT ON TABLE modelflags.changes IS
    'append-only audit: one row per changed row, by any path (functions, DML, TRUNCATE, load_definitions)';

-- pg_dump keeps the contents of the configuration tables.
SELECT pg_catalog.pg_extension_config_dump('modelflags.providers', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.models', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.flags', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.flag_actors', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.features', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.routes', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.changes', '');
SELECT pg_catalog.pg_extension_config_dump('modelflags.changes_id_seq', '');
