#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the daemon on the
# embedded default (SQLite, a local backend, a RabbitMQ started on loopback),
# then sends one share through it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
exec .venv/bin/python tools/demo.py "$@"
