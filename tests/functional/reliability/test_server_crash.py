"""A daemon killed while share servers are created, deleted or managed leaves, once restarted, no server stranded, no address leaked."""

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_share_servers as tss
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional

SLOW = '_setup_server:60,_teardown_server:60,manage_server:60'
TRANSITIONAL = ('creating', 'deleting', 'manage_starting',
                'unmanage_starting')


def _server(daemon, server_id):
    return daemon.db.row('SELECT * FROM share_servers WHERE id = :i',
                         i=server_id)


def _stranded(daemon):
    return daemon.db.scalar(
        "SELECT count(*) FROM share_servers WHERE deleted = 'False' AND "
        "status IN :s", s=TRANSITIONAL)


def _leaked(daemon):
    """Live allocations of servers that are gone or ended in an error of their own."""
    return daemon.db.rows(
        "SELECT a.share_server_id, a.ip_address, s.status FROM "
        "network_allocations a JOIN share_servers s ON "
        "s.id = a.share_server_id WHERE a.deleted = 'False' AND "
        "(s.deleted != 'False' OR s.status IN ('error', 'manage_error'))")


def test_kill_during_share_server_operations(fresh_db, pg_facade,
                                             daemon_factory, share_rpc):
    pg = pg_facade
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'transitional_state_timeout': 2,
                    'transitional_state_check_interval': 1},
        'alpha': tss.backend_options('alpha', '10.254.0.10', '10.254.0.199'),
    })
    host = daemon.pool_host('alpha').split('#')[0]
    # Three servers, one per network (a network's server takes its shares).
    doomed, backend_only, letting_go = [
        tss.emptied_server(pg, daemon, share_rpc,
                           test_servers.make_network(pg)[0], 'alpha')
        for _ in range(3)]
    tss.request_unmanage(pg, share_rpc, backend_only)
    assert tss.status_after(daemon, backend_only['id'],
                            'unmanage_starting')['deleted'] != 'False'
    daemon.stop()
    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': SLOW}})
    daemon.start()

    # Three operations the driver holds up: managing the unmanaged server
    # (its addresses recorded first), deleting one, creating a new one.
    managing = tss.request_manage(
        pg, share_rpc, host, backend_only['share_network_subnet_ids'][0],
        backend_only['id'])
    daemon.wait_for(lambda: len(tss.allocated_ips(daemon, managing)) == 3,
                    timeout=60, message='addresses of the managed server')
    share_rpc.delete_share_server(rows.admin_ctx(), {
        'id': doomed['id'], 'host': host,
        'share_network_subnet_ids': doomed['share_network_subnet_ids']})
    share = rows.share(pg, daemon, 'creating',
                       share_network_id=test_servers.make_network(pg)[0])
    pg.share_instance_update(rows.admin_ctx(), share['instance']['id'],
                             {'host': daemon.pool_host('alpha')})
    inst = pg.share_instance_get(rows.admin_ctx(), share['instance']['id'])
    share_rpc.create_share_instance(rows.user_ctx(), inst, inst['host'],
                                    request_spec={}, filter_properties={})
    daemon.wait_for(lambda: daemon.db.scalar(
        "SELECT count(*) FROM share_servers WHERE deleted = 'False' AND "
        "status = 'creating' AND id IN (SELECT share_server_id FROM "
        "network_allocations WHERE deleted = 'False')") == 1 and
        _server(daemon, doomed['id'])['status'] == 'deleting',
        timeout=60, message='three server operations under way')
    daemon.kill()
    # The API accepted an unmanage meanwhile; its cast was lost.
    pg.share_server_update(rows.admin_ctx(), letting_go['id'],
                           {'status': 'unmanage_starting'})
    assert _stranded(daemon) == 4

    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': ''}})
    daemon.start()
    daemon.wait_for(lambda: _stranded(daemon) == 0, timeout=120,
                    message='share servers settled after the restart')
    assert _leaked(daemon) == []
    assert _server(daemon, doomed['id'])['deleted'] == doomed['id']
    assert _server(daemon, managing)['status'] == 'manage_error'
    assert tss.allocated_ips(daemon, managing) == []
    assert _server(daemon, letting_go['id'])['status'] == 'unmanage_error'
    assert len(tss.allocated_ips(daemon, letting_go['id'])) == 3
    # The share being created got its server set up by its own re-drive.
    daemon.wait_for(lambda: rows.instance(daemon, share['id'])['status']
                    != 'creating', timeout=60, message='share settled')
    created = rows.instance(daemon, share['id'])
    assert created['status'] == 'available'
    server = _server(daemon, created['share_server_id'])
    assert server['status'] == 'active'
    assert len(tss.allocated_ips(daemon, server['id'])) == 3
