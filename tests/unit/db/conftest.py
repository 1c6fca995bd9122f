"""Fixtures pointing the DB facade at a fresh migrated SQLite file per test."""

from oslo_config import cfg
import pytest

from manila_lite import context as ml_context
from manila_lite.db import api as db
from manila_lite.db import migration

CONF = cfg.CONF


@pytest.fixture
def db_url(tmp_path):
    """Point CONF at an empty SQLite file under tmp_path (no schema)."""
    CONF.set_override('state_path', str(tmp_path))
    url = 'sqlite:///%s' % (tmp_path / 'manila_lite.sqlite')
    CONF.set_override('connection', url, group='database')
    db.dispose_engine()
    yield url
    db.dispose_engine()
    CONF.clear_override('connection', group='database')
    CONF.clear_override('state_path')


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

