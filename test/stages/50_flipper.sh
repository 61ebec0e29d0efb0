#!/usr/bin/env bash
# Flipper compatibility: drives the real Flipper gem (Debian's ruby-flipper)
# over thousands of random gate configurations and actors and compares every
# decision with modelflags.is_enabled / rollout_pct, plus GitLab's wrapper
# semantics (default_enabled, opt-out) re-implemented from lib/feature.rb.
# See test/flipper/compat.rb.  The extension is installed by test/run.sh
# before the stages run.  Prints PASS:/FAIL: lines; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! ruby -e 'require "flipper"' 2>/dev/null; then
    echo "FAIL: flipper compatibility (the flipper gem is not installed: apt-get install ruby-flipper)"
    exit 1
fi
bash test/flipper/run.sh
