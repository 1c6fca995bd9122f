"""Fixtures pointing the DB facade at a fresh migrated database per test.

SQLite in tmp_path always; when ``MANILA_LITE_TEST_PG_URL`` names a
PostgreSQL server (a URL whose user may CREATE DATABASE), every test also
runs against a throwaway database created there; likewise with
``MANILA_LITE_TEST_MYSQL_URL`` for MySQL/MariaDB (``mysql+pymysql://``).
"""

import os
import uuid

from oslo_config import cfg
import pytest
import sqlalchemy as sa

from manila_lite import context as ml_context
from manila_lite.db import api as db
from manila_lite.db import migration

CONF = cfg.CONF
SERVER_URLS = {'postgresql': os.environ.get('MANILA_LITE_TEST_PG_URL'),
               'mysql': os.environ.get('MANILA_LITE_TEST_MYSQL_URL')}
BACKENDS = ['sqlite'] + [name for name, url in SERVER_URLS.items() if url]


def _server_database(backend):
    admin_url = sa.engine.make_url(SERVER_URLS[backend])
    name = 'ml_test_%s' % uuid.uuid4().hex[:12]
    admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    create = 'CREATE DATABASE %s' % name
    if backend == 'mysql':
        create += ' CHARACTER SET utf8mb4'
    with admin.connect() as conn:
        conn.execute(sa.text(create))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()
    return admin_url.set(database=name).render_as_string(False), drop


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """Point CONF at an empty database (no schema) of each tested backend."""
    drop = None
    if request.param != 'sqlite':
        url, drop = _server_database(request.param)
    else:
        url = 'sqlite:///%s' % (tmp_path / 'manila_lite.sqlite')
    CONF.set_override('state_path', str(tmp_path))
    CONF.set_override('connection', url, group='database')
    db.dispose_engine()
    yield url
    db.dispose_engine()
    CONF.clear_override('connection', group='database')
    CONF.clear_override('state_path')
    if drop:
        drop()


@pytest.fixture
def sqlite_only(db_url):
    if not db_url.startswith('sqlite'):
        pytest.skip('SQLite-specific behaviour')


@pytest.fixture
def synced_db(db_url):
    """A database migrated to head by our own alembic history."""
    migration.db_sync()
    return db_url


@pytest.fixture
def ctxt(synced_db):
    """An admin context on a migrated database."""
    return ml_context.get_admin_context()


@pytest.fixture
def make_share(ctxt):
    """Create a share (and its instance) with sensible defaults."""
    def make(**values):
        base = {'user_id': 'user1', 'project_id': 'proj1', 'size': 1,
                'share_proto': 'NFS', 'display_name': 'share',
                'status': 'available', 'host': 'hostA@alpha#pool0'}
        base.update(values)
        return db.share_create(ctxt, base)
    return make
