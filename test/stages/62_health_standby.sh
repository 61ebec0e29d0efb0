#!/usr/bin/env bash
# Model health on a real hot standby, and after its promotion (SPEC §7 O,
# issue 11 item 7).  See test/health/standby.sh.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/health/standby.sh
