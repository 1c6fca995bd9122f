#!/usr/bin/env bash
# Runs the whole test suite: the style check (flake8 with OpenStack's hacking
# rules, as `tox -e pep8`), then unit tests (SQLite, fake transport),
# functional tests (the daemon against a RabbitMQ, a PostgreSQL and a MariaDB
# the tests start on 127.0.0.1) and the interop tests (upstream manila's own
# client and schema).
#
# The tests run in MANILA_LITE_TEST_WORKERS (default 3) pytest-xdist worker
# processes, one test file per worker at a time (--dist loadfile, so a
# module's fixtures and order stay as written). Each worker starts its own
# session RabbitMQ, PostgreSQL and MariaDB on first use; the functional tests
# mostly wait on daemons and servers, so three workers keep two cores busy.
# MANILA_LITE_TEST_WORKERS=0 runs everything in one process as before.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh || exit 1
if ! .venv/bin/python -m flake8; then
    echo "test.sh: the style check (flake8 + hacking, tox -e pep8) failed" >&2
    exit 1
fi
workers=${MANILA_LITE_TEST_WORKERS:-3}
.venv/bin/python -m pytest -p no:cacheprovider -ra --durations=30 \
    -n "$workers" --dist loadfile "$@" tests
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$rc"
