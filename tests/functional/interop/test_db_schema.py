"""The DB layer's own tests run again on a real PostgreSQL, and our models are compared with upstream's schema."""

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.functional, pytest.mark.interop]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))


def test_db_unit_tests_on_postgres_and_upstream_schema(postgres, upstream,
                                                       fresh_db):
    """Models vs migrations on PostgreSQL, and models vs an upstream-synced database."""
    upstream('db_sync.py', '--connection', fresh_db)
    env = dict(os.environ,
               MANILA_LITE_TEST_PG_URL=postgres.admin_url,
               MANILA_LITE_TEST_UPSTREAM_DB_URL=fresh_db)
    res = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         '-rs', 'tests/unit/db/test_migrations.py', 'tests/unit/db/test_engine.py'],
        cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=900)
    tail = res.stdout[-4000:] + res.stderr[-2000:]
    assert res.returncode == 0, tail
    assert 'MANILA_LITE_TEST_UPSTREAM_DB_URL is not set' not in res.stdout
    assert 'MANILA_LITE_TEST_PG_URL is not set' not in res.stdout
