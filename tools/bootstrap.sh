#!/usr/bin/env bash
# Prepares a fresh Debian machine: the Debian packages the daemon and tests use,
# and a virtualenv in .venv with manila_lite and its test extras installed.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in rabbitmq-server postgresql mariadb-server python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha1sum setup.cfg pyproject.toml | sha1sum | cut -c1-12)
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ]; then
    echo "bootstrap: installing manila_lite into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
