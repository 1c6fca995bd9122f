"""Upstream manila 23.0.1 (its own DB schema, DB API and RPC client) drives the manila-lite-share daemon."""

import pytest

from tests.functional import fixtures

pytestmark = [pytest.mark.functional, pytest.mark.interop]

UPSTREAM_HEAD = 'afc3b5e1f406'


def _instance(db, instance_id):
    return db.row('SELECT * FROM share_instances WHERE id = :id',
                  id=instance_id)


def _export_paths(db, instance_id):
    return [r['path'] for r in db.rows(
        'SELECT path FROM share_instance_export_locations '
        'WHERE share_instance_id = :id AND deleted = 0 ORDER BY updated_at',
        id=instance_id)]


def test_upstream_schema_sync(upstream, fresh_db):
    out = upstream('db_sync.py', '--connection', fresh_db)
    assert out['version'] == UPSTREAM_HEAD
    tables = fixtures.Database(fresh_db).tables()
    assert {'services', 'shares', 'share_instances',
            'share_instance_export_locations'} <= tables


def test_our_db_sync_refuses_upstream_schema(upstream, fresh_db,
                                             daemon_factory):
    upstream('db_sync.py', '--connection', fresh_db)
    db = fixtures.Database(fresh_db)
    tables = db.tables()
    daemon = daemon_factory(fresh_db, db_sync=False, start=False)
    res = daemon.db_sync(check=False)
    output = res.stdout + res.stderr
    assert res.returncode != 0, output
    assert output.strip(), 'db sync refused silently'
    assert 'Traceback' not in output, output
    assert db.scalar('SELECT version_num FROM alembic_version') == (
        UPSTREAM_HEAD)
    assert db.tables() == tables


def test_upstream_client_creates_and_deletes_share(upstream, fresh_db,
                                                   daemon_factory):
    upstream('db_sync.py', '--connection', fresh_db)
    daemon = daemon_factory(fresh_db, db_sync=False)
    db = daemon.db

    seen = upstream('show.py', '--connection', fresh_db)
    assert {s['host'] for s in seen['services']} >= set(daemon.service_hosts)

    ids = upstream('cast_create.py', '--connection', fresh_db,
                   '--host', daemon.pool_host())
    instance_id = ids['share_instance_id']
    row = daemon.wait_for(
        lambda: (_instance(db, instance_id)['status'] != 'creating'
                 and _instance(db, instance_id)),
        timeout=60, message='share instance %s leaves creating' % instance_id)
    assert row['status'] == 'available', row
    assert _export_paths(db, instance_id)

    # Upstream's own ORM reads what the daemon wrote.
    seen = upstream('show.py', '--connection', fresh_db,
                    '--share-id', ids['share_id'])
    assert seen['share']['status'] == 'available'
    assert seen['instance']['progress'] == '100%'
    assert seen['share']['export_locations'] == _export_paths(db, instance_id)

    upstream('cast_delete.py', '--connection', fresh_db,
             '--share-instance-id', instance_id)
    row = daemon.wait_for(
        lambda: (_instance(db, instance_id)['deleted'] != 'False'
                 and _instance(db, instance_id)),
        timeout=60, message='share instance %s soft-deleted' % instance_id)
    assert row['deleted'] == instance_id
    assert row['status'] == 'deleted'
    assert row['deleted_at'] is not None
    assert _export_paths(db, instance_id) == []
    share = db.row('SELECT deleted FROM shares WHERE id = :id',
                   id=ids['share_id'])
    assert share['deleted'] == ids['share_id']
