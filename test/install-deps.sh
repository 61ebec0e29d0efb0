#!/usr/bin/env bash
# Installs what building and testing modelflags needs on Debian 12, if missing.
# Safe to run repeatedly; runs apt-get only when a package is absent.
set -euo pipefail
pkgs=(postgresql-15 postgresql-server-dev-15 libcjson-dev libyaml-dev
      ruby-flipper ruby-activerecord ruby-pg clang libclang-rt-14-dev valgrind make gcc
      sqlsmith python3 python3-psycopg
      # model health: the exporter test
      prometheus-postgres-exporter curl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
