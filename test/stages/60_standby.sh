#!/usr/bin/env bash
# SPEC S: a real primary and hot standby (pg_basebackup -R); one standby
# session follows failovers flipped on the primary, runs every read
# function, and is refused writes with SQLSTATE 25006.  See test/standby.sh.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/standby.sh
