#!/usr/bin/env bash
# Install what fxticker needs from Debian (PostgreSQL 15 with headers, build tools) and TimescaleDB.
# Idempotent: on a prepared machine it checks and returns in seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# chromium and its driver run the dashboard's browser test (tests/test_browser.py), part of `make test`;
# wrk is the load generator of the API benchmark (make bench, and its smoke run in make test); nginx-light
# runs docker/nginx/fxticker.conf in front of fxticker serve in tests/test_compose.py.
packages=(postgresql-15 postgresql-server-dev-15 postgresql-contrib cmake gcc make libssl-dev dpkg-dev
          python3-venv docker-compose chromium chromium-driver fonts-dejavu-core wrk nginx-light
          debian-archive-keyring)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]}; run 'sudo make setup'" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # The server package would start a system cluster on port 5432; fxticker runs its own, so keep it off.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
"$here/install-timescaledb.sh"
