#!/usr/bin/env bash
# Runs the whole test suite: the style check (flake8 with OpenStack's hacking
# rules, as `tox -e pep8`), then unit tests (SQLite, fake transport),
# functional tests (the daemon against a RabbitMQ, a PostgreSQL and a MariaDB
# the tests start on 127.0.0.1) and the interop tests (upstream manila's own
# client and schema).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh || exit 1
if ! .venv/bin/python -m flake8; then
    echo "test.sh: the style check (flake8 + hacking, tox -e pep8) failed" >&2
    exit 1
fi
.venv/bin/python -m pytest -p no:cacheprovider -ra --durations=30 "$@" tests
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$rc"
