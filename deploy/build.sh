#!/bin/sh
# Builds the `berth` image with no registry: base image made locally, Berth installed from wheels.
#   deploy/build.sh            (as root the first time: debootstrap needs it)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m services.builder.base_image          # berth-base:bookworm-py3.11, unless the engine has it
rm -rf deploy/wheels
"$PYTHON" -m pip wheel --quiet --wheel-dir deploy/wheels .   # Berth and every dependency, from PyPI on the host
# nftables for the builder's build-egress firewall (deploy/README.md), as Debian packages fetched by
# the host's apt. Only a bookworm host has the base image's versions; elsewhere the image goes
# without, and the builder says its builds are only steered to the egress proxy, not firewalled.
if [ "$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")" = bookworm ] && command -v apt-get >/dev/null; then
  mkdir -p deploy/wheels/debs
  if ! (cd deploy/wheels/debs && apt-get download -q nftables libnftables1 libnftnl11 libjansson4 \
        libxtables12 libmnl0 libedit2 libbsd0 libmd0 2>/dev/null); then
    echo "build.sh: could not fetch nftables: the image has no nft, builds are not firewalled"
    rm -rf deploy/wheels/debs
  fi
else
  echo "build.sh: not a Debian bookworm host: the image has no nft, builds are not firewalled"
fi
docker build --network none -t "${BERTH_IMAGE:-berth:latest}" deploy
