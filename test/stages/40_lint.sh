#!/usr/bin/env bash
# modelflags-lint, as installed by `make install`: exit status, message
# format (file:line:col: error: path: message), cross-references within the
# file set, GitLab file naming, and hostile files.
set -uo pipefail
cd "$(dirname "$0")/../.."
lint="$(pg_config --bindir)/modelflags-lint"
tmp=$(mktemp -d /tmp/modelflags-lint.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect NAME STATUS PATTERN -- ARGS...: runs the linter; checks its exit
# status and that its output (stdout and stderr) matches the grep -E PATTERN
# ("" = no output at all).
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    local out rc
    out=$("$lint" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: lint $name: exit $rc, want $want"; echo "$out" | head -5; failed=1; return
    fi
    if [ -z "$pattern" ] && [ -n "$out" ]; then
        echo "FAIL: lint $name: unexpected output"; echo "$out" | head -5; failed=1; return
    fi
    if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$out"; then
        echo "FAIL: lint $name: output does not match $pattern"; echo "$out" | head -5; failed=1; return
    fi
    echo "PASS: lint $name"
}

if [ ! -x "$lint" ]; then
    echo "FAIL: lint installed at $lint"
    exit 1
fi
echo "PASS: lint installed at $lint"

gl=examples/gitlab
up=$gl/ai_gateway/model_selection/unit_primitives.yml
models=$gl/ai_gateway/model_selection/models.yml
expect "the examples are valid" 0 "" -- examples/gitlab-duo.yml $(find $gl -name '*.yml' | sort)
expect "verbose reports each file" 0 "^examples/gitlab-duo.yml: ok \(modelflags: 3 providers, 5 models, 4 flags, 2 features\)$" \
    -- -v examples/gitlab-duo.yml
expect "GitLab files together" 0 "" -- "$models" "$up"
expect "unknown model reported with file:line:col and path" 1 \
    "^$up:11:9: error: configurable_unit_primitives\[0\]\.default_models\[0\]: unknown model \"claude_sonnet_4_6_vertex\"$" -- "$up"
expect "--external-refs allows names defined elsewhere" 0 "" -- --external-refs "$up"
expect "hints are notes" 1 "^$up:11:9: note: Define it under models:" -- "$up"
expect "summary on stderr" 1 "^modelflags-lint: 3 errors in 1 file$" -- "$up"
expect "standard input" 0 "" -- - < examples/gitlab-duo.yml
expect "no files is a usage error" 2 "no files given" --
expect "unknown option is a usage error" 2 "unknown option \"--bogus\"" -- --bogus x.yml
expect "--help" 0 "^Usage: modelflags-lint" -- --help
expect "unreadable file" 1 "^$tmp/missing.yml: error: cannot read file" -- "$tmp/missing.yml"

mkdir -p "$tmp/config/feature_flags/beta"
cp $gl/config/feature_flags/ops/incident_fail_over_completion_provider.yml "$tmp/config/feature_flags/beta/wrong_name.yml"
expect "GitLab flag file must be named after the flag" 1 \
    "wrong_name.yml:2:1: error: name: flag \"incident_fail_over_completion_provider\" is defined in a file named \"wrong_name.yml\"" \
    -- "$tmp/config/feature_flags/beta/wrong_name.yml"
expect "GitLab flag file must sit in its type's directory" 1 \
    "error: type: flag \"incident_fail_over_completion_provider\" of type \"ops\" is not in a directory named \"ops\"" \
    -- "$tmp/config/feature_flags/beta/wrong_name.yml"

printf 'features:\n  - name: f\n    routes:\n      - {flag: nope, model: m}\n' > "$tmp/refs.yml"
printf 'providers: [{name: p}]\nmodels: [{name: m, provider: p}]\n' > "$tmp/defs.yml"
expect "a route's flag must be defined by the file set" 1 \
    "refs.yml:4:16: error: features\[0\]\.routes\[0\]\.flag: unknown flag \"nope\"" -- "$tmp/refs.yml" "$tmp/defs.yml"
printf 'providers:\n  - name: a\n    colour: red\n  - name: Bad\n  - name: a\n' > "$tmp/many.yml"
expect "every error of a file is reported" 1 "^modelflags-lint: 3 errors in 1 file$" -- "$tmp/many.yml"
expect "errors in document order" 1 "many.yml:3:5: error: providers\[0\]\.colour: unknown key \"colour\" in a provider definition" -- "$tmp/many.yml"

# Hostile files: refused with a clear error, no crash.
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
open(d + '/laughs.yml', 'w').write(
    'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' +
    ''.join('a%d: &a%d [%s]\n' % (i, i, ', '.join(['*a%d' % (i - 1)] * 9)) for i in range(1, 10)))
open(d + '/deep.json', 'w').write('[' * 1000000 + ']' * 1000000)
open(d + '/deep.yml', 'w').write('- ' * 1000000 + 'x\n')
open(d + '/deep-flow.yml', 'w').write('a: ' + '[' * 1000000 + ']' * 1000000 + '\n')
open(d + '/deep-params.json', 'w').write('{"models": [{"name": "m", "provider": "p", "params": {"x": ' + '[' * 100000 + ']' * 100000 + '}}]}')
open(d + '/json-1000.json', 'w').write('{"models": [{"name": "m", "provider": "p", "params": {"x": ' + '[' * 996 + ']' * 996 + '}}]}')
open(d + '/deep-params.yml', 'w').write('models:\n  - name: m\n    provider: p\n    params:\n      x:\n' + '        ' + '- ' * 100000 + '1\n')
open(d + '/big.yml', 'w').write('a: b\n' + ' ' * (9 * 1024 * 1024))
open(d + '/wide.json', 'w').write('[' + ('[' + '0,' * 49999 + '0],') * 11 + '0]')
open(d + '/long.json', 'w').write('[' + '0,' * 1500000 + '0]')
open(d + '/utf8.yml', 'wb').write(b'providers:\n  - name: "caf\xe9"\n')
open(d + '/dup.json', 'w').write('{"providers": [{"name": "a", "name": "b"}]}')
open(d + '/types.yml', 'w').write('flags:\n  - name: f\n    percentage_of_actors: "half"\n')
PY
expect "billion laughs" 1 "laughs.yml:5:35: error: a4\[5\]: YAML aliases expand to too many nodes" -- "$tmp/laughs.yml"
expect "1000000-deep JSON" 1 "deep.json:1:1001: error: JSON document nests more than 1000 levels" -- "$tmp/deep.json"
expect "JSON deeper than 1000 levels: YAML takes them" 1 "deep.json:1:1001: note: JSON nests at most 1000 lists and mappings \(cJSON's limit\); YAML takes deeper documents\.$" \
    -- "$tmp/deep.json"
expect "1000000-deep YAML" 1 "deep.yml:1:1000001: error: \[0\].*: document has too many nodes" -- "$tmp/deep.yml"
expect "1000000-deep YAML flow" 1 "deep-flow.yml:1:20004: error: a\[0\].*: YAML flow collections nest too deeply" -- "$tmp/deep-flow.yml"
expect "100000-deep params are read from YAML (no nesting limit)" 0 "" -- --external-refs "$tmp/deep-params.yml"
expect "JSON params are read 1000 levels deep" 0 "" -- --external-refs "$tmp/json-1000.json"
expect "100000-deep params refused in JSON at level 1001" 1 "deep-params.json:1:1056: error: JSON document nests more than 1000 levels" \
    -- --external-refs "$tmp/deep-params.json"
expect "9 MiB file" 1 "big.yml: error: definitions document is too large" -- "$tmp/big.yml"
expect "550,000 values" 1 "wide.json:1:[0-9]+: error: document has too many nodes" -- "$tmp/wide.json"
expect "1.5 million values in one list" 1 "long.json:1:200001: error: too many items in one list or mapping" -- "$tmp/long.json"
expect "invalid UTF-8" 1 "utf8.yml:2:15: error: invalid UTF-8 byte sequence starting with byte 0xE9" -- "$tmp/utf8.yml"
expect "duplicate key" 1 "dup.json:1:30: error: providers\[0\]\.name: duplicate key \"name\"" -- "$tmp/dup.json"
expect "wrong type" 1 "types.yml:3:27: error: flags\[0\]\.percentage_of_actors: \"percentage_of_actors\" must be a number or null, not the string \"half\"" \
    -- "$tmp/types.yml"
exit $failed
