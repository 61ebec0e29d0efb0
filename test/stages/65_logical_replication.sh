#!/usr/bin/env bash
# Issue 8 item 14: a real publisher and subscriber (logical replication of
# every modelflags table, the audit included); one open subscriber session
# follows flips, provider outages, actor gates, route changes and a TRUNCATE
# made on the publisher.  See test/logical_replication.sh.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/logical_replication.sh
