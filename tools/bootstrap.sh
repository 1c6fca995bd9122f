#!/usr/bin/env bash
# Prepares a fresh Debian machine for the daemon and its tests:
#
# * Debian packages (apt-get): rabbitmq-server, postgresql and mariadb-server (the
#   functional tests start private instances of them on 127.0.0.1; their
#   system services are not started) and python3-venv. As root they are
#   installed directly; otherwise through "sudo -n" when a password-less
#   sudo exists; else the missing ones are named and the unit tests still
#   run.
# * .venv in the repository: manila_lite (editable) with its test extras.
#
# The interop tests create a second virtualenv with upstream manila under
# ~/.cache/manila-lite/upstream-venv on first use (tools/upstream_venv.py).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in rabbitmq-server postgresql mariadb-server python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            as_root=(none)
        fi
    fi
    if [ "${as_root[*]-}" = none ]; then
        echo "bootstrap: not root and no password-less sudo: cannot install" \
             "${need[*]}; as root run: apt-get install -y ${need[*]}" >&2
        echo "bootstrap: continuing; the functional tests need" \
             "rabbitmq-server and postgresql" >&2
    else
        echo "bootstrap: installing Debian packages: ${need[*]}"
        # Packages only: their own system services stay stopped.
        policy=/usr/sbin/policy-rc.d
        wrote_policy=no
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
            "${as_root[@]}" chmod 755 "$policy"
            wrote_policy=yes
        fi
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${need[@]}"
        if [ "$wrote_policy" = yes ]; then
            "${as_root[@]}" rm -f "$policy"
        fi
    fi
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha1sum setup.cfg pyproject.toml | sha1sum | cut -c1-12)
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    if ! "$PY" -m venv .venv; then
        echo "bootstrap: $PY -m venv failed: install python3-venv" >&2
        exit 1
    fi
fi
if [ ! -f "$stamp" ]; then
    echo "bootstrap: installing manila_lite into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
