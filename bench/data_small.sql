/*
 * bench/data_small.sql — the tiny, GitLab-shaped data set of the benchmark.
 *
 * Four providers, seven models, seven flags and three features, the way GitLab
 * Duo routes code suggestions (research/gitlab-and-flipper.md §3.4):
 *   code_generations  0: incident_fail_over_generation_provider → Claude on Vertex
 *                     1: use_claude_sonnet_4_5_in_code_generation (25% of actors,
 *                        five named actors, one opt-out) → the newer Claude
 *                     2: (always) → the current default Claude on Anthropic
 *   code_completions  0: incident_fail_over_completion_provider → Claude with
 *                        {"direct_access": false}
 *                     1: use_fireworks_codestral_2501_in_completions (25%) → Fireworks
 *                     2: (always) → Codestral on Vertex
 *   duo_chat          0: duo_chat_bedrock (enabled, but Bedrock is down) → skipped
 *                     1: duo_chat_claude_sonnet_4_5 (never set, default_enabled:
 *                        true, as a GitLab flag whose YAML says so) → Claude 4.5
 *                     2: (always) → the current default Claude
 * The failover flags are ops flags that were never set, as in GitLab between
 * incidents, so they answer their default_enabled (false).
 * Loaded with plain INSERTs, so validation, audit and NOTIFY run as usual.
 */
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO modelflags.providers (name, available, note) VALUES
    ('anthropic', true, 'Anthropic API'),
    ('vertex_ai', true, 'Google Vertex AI'),
    ('fireworks_ai', true, 'Fireworks'),
    ('bedrock', false, 'AWS Bedrock: outage');

INSERT INTO modelflags.models (name, provider, params) VALUES
    ('claude_sonnet_4_20250514', 'anthropic',
     '{"model": "claude-sonnet-4-20250514", "temperature": 0.0, "max_tokens": 2048, "max_retries": 1, "timeout": 60}'),
    ('claude_sonnet_4_5_20250929', 'anthropic',
     '{"model": "claude-sonnet-4-5-20250929", "temperature": 0.0, "max_tokens": 2048, "max_retries": 1, "timeout": 60}'),
    ('claude_sonnet_4_5_20250929_vertex', 'vertex_ai',
     '{"model": "claude-sonnet-4-5@20250929", "temperature": 0.0, "max_tokens": 2048, "max_retries": 1, "timeout": 60}'),
    ('claude_3_7_sonnet_20250219', 'anthropic',
     '{"model": "claude-3-7-sonnet-20250219", "temperature": 0.0, "max_tokens": 64, "timeout": 10}'),
    ('codestral_2501_vertex', 'vertex_ai',
     '{"model": "codestral-2501", "temperature": 0.0, "max_tokens": 64, "stop": ["\n\n"], "timeout": 5}'),
    ('codestral_2501_fireworks', 'fireworks_ai',
     '{"model": "accounts/fireworks/models/codestral-2501", "temperature": 0.0, "max_tokens": 64, "timeout": 5}'),
    ('claude_sonnet_4_6_bedrock', 'bedrock',
     '{"model": "anthropic.claude-sonnet-4-6", "temperature": 0.1, "max_tokens": 4096}');

INSERT INTO modelflags.flags (name, type, "group", milestone, enabled, percentage_of_actors, default_enabled) VALUES
    ('incident_fail_over_generation_provider', 'ops', 'group::ai coding', '17.8', NULL, NULL, false),
    ('incident_fail_over_completion_provider', 'ops', 'group::ai coding', '17.6', NULL, NULL, false),
    ('use_claude_sonnet_4_5_in_code_generation', 'gitlab_com_derisk', 'group::ai coding', '18.5', NULL, 25, false),
    ('use_fireworks_codestral_2501_in_completions', 'beta', 'group::ai coding', '18.1', NULL, 25, false),
    ('duo_chat_bedrock', 'development', 'group::duo chat', '18.6', true, NULL, false),
    ('duo_chat_claude_sonnet_4_5', 'gitlab_com_derisk', 'group::duo chat', '18.4', NULL, NULL, true),
    ('expanded_ai_logging', 'ops', 'group::ai framework', '16.0', NULL, NULL, true);

INSERT INTO modelflags.flag_actors (flag, actor, opt_out) VALUES
    ('use_claude_sonnet_4_5_in_code_generation', 'User:1', false),
    ('use_claude_sonnet_4_5_in_code_generation', 'User:2', false),
    ('use_claude_sonnet_4_5_in_code_generation', 'User:3', false),
    ('use_claude_sonnet_4_5_in_code_generation', 'Group:9970', false),
    ('use_claude_sonnet_4_5_in_code_generation', 'Project:278964', false),
    ('use_claude_sonnet_4_5_in_code_generation', 'User:7', true);

INSERT INTO modelflags.features (name, description) VALUES
    ('code_generations', 'Code Suggestions: generation'),
    ('code_completions', 'Code Suggestions: completion'),
    ('duo_chat', 'GitLab Duo Chat');

INSERT INTO modelflags.routes (feature, position, flag, model, params, note) VALUES
    ('code_generations', 0, 'incident_fail_over_generation_provider', 'claude_sonnet_4_5_20250929_vertex', '{}', 'failover'),
    ('code_generations', 1, 'use_claude_sonnet_4_5_in_code_generation', 'claude_sonnet_4_5_20250929', '{}', 'migration'),
    ('code_generations', 2, NULL, 'claude_sonnet_4_20250514', '{}', 'default'),
    ('code_completions', 0, 'incident_fail_over_completion_provider', 'claude_3_7_sonnet_20250219',
     '{"direct_access": false}', 'failover: no direct access'),
    ('code_completions', 1, 'use_fireworks_codestral_2501_in_completions', 'codestral_2501_fireworks', '{}', 'migration'),
    ('code_completions', 2, NULL, 'codestral_2501_vertex', '{"direct_access": true}', 'default'),
    ('duo_chat', 0, 'duo_chat_bedrock', 'claude_sonnet_4_6_bedrock', '{}', 'experiment'),
    ('duo_chat', 1, 'duo_chat_claude_sonnet_4_5', 'claude_sonnet_4_5_20250929', '{"max_tokens": 4096}', 'migration'),
    ('duo_chat', 2, NULL, 'claude_sonnet_4_20250514', '{}', 'default');
COMMIT;
ANALYZE;
