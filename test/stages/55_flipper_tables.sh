#!/usr/bin/env bash
# Flipper's own tables as modelflags' source of flags (issue 12): the real
# Flipper gem (Debian's ruby-flipper, its flipper-active_record adapter,
# ruby-activerecord, ruby-pg) writes the gem's flipper_features/flipper_gates
# and GitLab's features/feature_gates as Rails does, and model_for, read from
# another connection, must route exactly as GitLab's Feature.enabled? says,
# after every call and between its statements; every change audited and
# notified; no Rails write failed by modelflags.  See test/flipper/tables.rb.
# Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
if ! ruby -e 'require "flipper/adapters/active_record"; require "pg"' 2>/dev/null; then
    echo "FAIL: flipper tables (ruby-flipper, ruby-activerecord or ruby-pg is missing: bash test/install-deps.sh)"
    exit 1
fi
bash test/flipper/tables.sh
