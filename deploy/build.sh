#!/bin/sh
# Builds the `berth` image with no registry: base image made locally, Berth installed from wheels.
#   deploy/build.sh            (as root the first time: debootstrap needs it)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m services.builder.base_image          # berth-base:bookworm-py3.11, unless the engine has it
rm -rf deploy/wheels
"$PYTHON" -m pip wheel --quiet --wheel-dir deploy/wheels .   # Berth and every dependency, from PyPI on the host
docker build --network none -t "${BERTH_IMAGE:-berth:latest}" deploy
