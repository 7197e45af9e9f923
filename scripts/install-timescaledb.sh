#!/usr/bin/env bash
# Build and install the Apache-2 edition of TimescaleDB for the machine's PostgreSQL.
#
# Debian 12 ships no timescaledb package, but a newer Debian release carries its source
# package. We fetch that source through a private apt configuration that reuses the mirror
# this machine is already configured with (read from /etc/apt, never written down here),
# then build it against the local pg_config. Nothing is done when the extension is present.
set -euo pipefail

SOURCE_SUITE=${TIMESCALEDB_SOURCE_SUITE:-trixie}
if [ -z "${PG_CONFIG:-}" ]; then
    # The server's own pg_config (the one on PATH may belong to a client-only version).
    for candidate in /usr/lib/postgresql/*/bin/pg_config; do
        [ -x "$candidate" ] && PG_CONFIG=$candidate
    done
fi
if [ -z "${PG_CONFIG:-}" ]; then
    echo "install-timescaledb: no pg_config; install postgresql-server-dev-15 first" >&2
    exit 1
fi
extdir="$("$PG_CONFIG" --sharedir)/extension"
if ls "$extdir"/timescaledb--*.sql >/dev/null 2>&1; then
    echo "install-timescaledb: already installed in $extdir"
    exit 0
fi

mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")
    [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list | head -n 1)
fi
if [ -z "$mirror" ]; then
    echo "install-timescaledb: no Debian mirror found in /etc/apt" >&2
    exit 1
fi

work=$(mktemp -d /tmp/fxticker-tsdb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/parts" "$work/src"
# The newer release's archive keys ship in Debian 12's own debian-archive-keyring, so apt checks the
# signed index of the source suite, and through it the hashes of the files it downloads.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f "$keyring" ]; then
    echo "install-timescaledb: $keyring missing; install debian-archive-keyring" >&2
    exit 1
fi
cat > "$work/sources.list" <<LIST
deb-src [signed-by=$keyring] $mirror $SOURCE_SUITE main
LIST
apt_opts=(
    -o "APT::Sandbox::User=root"
    -o "Dir::Etc::sourcelist=$work/sources.list"
    -o "Dir::Etc::sourceparts=$work/parts"
    -o "Dir::State::Lists=$work/lists"
    -o "APT::Get::List-Cleanup=0"
)
echo "install-timescaledb: fetching the timescaledb source package ($SOURCE_SUITE)"
apt-get "${apt_opts[@]}" -q update >/dev/null
cd "$work/src"
apt-get "${apt_opts[@]}" -q --download-only source timescaledb >/dev/null
# apt has verified every file against the signed index; --no-check skips only the uploader's own
# signature on the .dsc, whose keys (debian-keyring) a server has no need of.
dpkg-source --no-check -x ./*.dsc tsdb >/dev/null
cd tsdb
echo "install-timescaledb: building $(basename "$(ls ../*.dsc)" .dsc) against $("$PG_CONFIG" --version)"
./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DPG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
make -C build -j"$(nproc)" >/dev/null
make -C build install >/dev/null
echo "install-timescaledb: installed into $extdir"
