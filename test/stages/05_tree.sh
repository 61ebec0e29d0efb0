#!/usr/bin/env bash
# The tree itself: no merge-conflict markers left in a tracked file (one
# was committed once, in bench/README.md, and read as text for weeks).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files)
else
    files=$(find . -type f -not -path './.git/*' | sed 's|^\./||')
fi
# shellcheck disable=SC2086
found=$(printf '%s\n' $files | grep -v '^test/stages/05_tree.sh$' |
        xargs -d '\n' grep -nIE '^(<<<<<<<|>>>>>>>) ' -- 2>/dev/null | head -n 20)
if [ -n "$found" ]; then
    echo "FAIL: tree: merge-conflict markers in tracked files:"
    echo "$found"
    exit 1
fi
echo "PASS: tree: no merge-conflict markers in $(printf '%s\n' $files | wc -l) tracked files"
