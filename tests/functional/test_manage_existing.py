"""Unmanage and manage through the real daemon, RabbitMQ and PostgreSQL: rows, export locations, quota, failures."""

import pytest

from tests.functional import share_rows as rows
from tests.unit.share import helpers

pytestmark = pytest.mark.functional


def _paths(daemon, instance_id):
    return [r['path'] for r in daemon.db.rows(
        'SELECT path FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0 ORDER BY updated_at',
        i=instance_id)]


def _managing(pg, daemon, path):
    """Rows as upstream's API writes them for ``manila manage``."""
    share, inst = helpers.make_share(pg, rows.admin_ctx(),
                                     host=daemon.pool_host(),
                                     status='manage_starting', size=None)
    pg.export_locations_update(rows.admin_ctx(), inst['id'], [path])
    return pg.share_get(rows.admin_ctx(), share['id'])


def test_unmanage_then_manage_again(fresh_db, pg_facade,
                                    daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db)
    ctx = rows.user_ctx()
    share = rows.available_share(pg_facade, daemon, share_rpc)
    type_id = share['instance']['share_type_id']
    old = rows.instance(daemon, share['id'])
    path = _paths(daemon, old['id'])[0]
    assert rows.usage(pg_facade, 'shares') == (1, 0)

    rows.set_status(pg_facade, share['id'], 'unmanage_starting')
    share_rpc.unmanage_share(ctx, share)
    daemon.wait_for(lambda: rows.share_row(daemon, share['id'])['deleted']
                    == share['id'], timeout=30, message='share unmanaged')
    gone = daemon.db.row('SELECT * FROM share_instances WHERE id = :i',
                         i=old['id'])
    assert gone['status'] == 'deleted'
    assert rows.usage(pg_facade, 'shares') == (0, 0)
    assert rows.usage(pg_facade, 'gigabytes', type_id) == (0, 0)

    managed = _managing(pg_facade, daemon, path)
    share_rpc.manage_share(ctx, managed, driver_options={})
    rows.wait_status(daemon, managed['id'], 'available')
    inst = rows.instance(daemon, managed['id'])
    assert rows.share_row(daemon, managed['id'])['size'] == 1
    assert inst['launched_at'] is not None
    paths = _paths(daemon, inst['id'])
    assert len(paths) == 3
    assert all(inst['id'].replace('-', '_') in p for p in paths)
    assert daemon.db.scalar(
        "SELECT value FROM share_metadata WHERE share_id = :s AND "
        "key = '__managed_at'", s=managed['id'])
    assert rows.usage(pg_facade, 'shares') == (1, 0)
    assert rows.usage(pg_facade, 'gigabytes') == (1, 0)
    assert rows.usage(pg_facade, 'gigabytes', type_id) == (1, 0)


def test_manage_and_unmanage_driver_failures(fresh_db, pg_facade,
                                             daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': 'manage_existing,unmanage'}})
    ctx = rows.user_ctx()
    managed = _managing(pg_facade, daemon, '10.0.0.10:/somewhere')
    share_rpc.manage_share(ctx, managed, driver_options={})
    rows.wait_status(daemon, managed['id'], 'manage_error')
    assert rows.share_row(daemon, managed['id'])['size'] == 0
    assert rows.usage(pg_facade, 'shares') == (0, 0)
    assert _paths(daemon, managed['instance']['id']) == [
        '10.0.0.10:/somewhere']

    share = rows.available_share(pg_facade, daemon, share_rpc)
    rows.set_status(pg_facade, share['id'], 'unmanage_starting')
    share_rpc.unmanage_share(ctx, share)
    daemon.wait_for(lambda: 'unmanage_share failed' in daemon.log_text(),
                    timeout=30, message='unmanage failure logged')
    # upstream leaves a share the driver failed to unmanage as it was
    assert rows.instance(daemon, share['id'])['status'] == \
        'unmanage_starting'
    assert rows.usage(pg_facade, 'shares') == (1, 0)
    assert rows.messages(daemon, share['id']) == []


@pytest.mark.parametrize('backend', ['alpha', 'beta'])
def test_manage_invalid_export_path(fresh_db, pg_facade, daemon_factory,
                                    share_rpc, tmp_path, backend):
    """dummy (alpha) and localfs (beta): manage_error, size 0, one user message, one clear log line."""
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta'},
        'beta': {'share_driver': 'localfs', 'share_backend_name': 'beta',
                 'driver_handles_share_servers': False,
                 'localfs_pools': str(tmp_path / 'pools' / 'beta'),
                 'localfs_export_ips': '127.0.0.1'}})
    path = '10.0.0.1:/not a uuid'
    share, inst = helpers.make_share(pg_facade, rows.admin_ctx(),
                                     host=daemon.pool_host(backend),
                                     status='manage_starting', size=None)
    pg_facade.export_locations_update(rows.admin_ctx(), inst['id'], [path])
    share = pg_facade.share_get(rows.admin_ctx(), share['id'])
    share_rpc.manage_share(rows.user_ctx(), share, driver_options={})
    rows.wait_status(daemon, share['id'], 'manage_error')
    assert rows.share_row(daemon, share['id'])['size'] == 0
    assert rows.messages(daemon, share['id']) == [
        ('002', '001', 'SHARE', 'p1')]
    assert rows.usage(pg_facade, 'shares') == (0, 0)
    # one ERROR record (with debug=True the driver's traceback is also
    # logged, at DEBUG level, its lines prefixed ERROR by oslo.log)
    errors = [line for line in daemon.log_text().splitlines()
              if ' ERROR ' in line and 'failed (request ' in line]
    assert len(errors) == 1, errors
    assert ('manage_share failed' in errors[0] and
            'ManageInvalidShare' in errors[0] and '/not a uuid' in errors[0]
            ), errors
    # the daemon keeps serving: a share on the same backend gets created
    created, created_inst = helpers.make_share(
        pg_facade, rows.admin_ctx(), host=daemon.pool_host(backend))
    share_rpc.create_share_instance(rows.user_ctx(), created_inst,
                                    daemon.pool_host(backend),
                                    request_spec={}, filter_properties={})
    rows.wait_status(daemon, created['id'], 'available')
