#!/usr/bin/env bash
# The README's request loop in Python (psycopg) and Ruby (pg) against a
# real server and a fake LLM API that fails, then recovers (issue 11 item
# 5).  See test/health/clients.sh.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/health/clients.sh
