"""A daemon killed mid share server migration start leaves, once restarted, the source server active, its share available, a user message."""

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_server_migration as tsm

pytestmark = pytest.mark.functional

SLOW = 'share_server_migration_start:60'


def test_kill_during_server_migration_start(fresh_db, pg_facade,
                                            daemon_factory, share_rpc):
    pg = pg_facade
    daemon = tsm._daemon(fresh_db, daemon_factory)
    daemon.stop()
    daemon.configure({'DEFAULT': {'transitional_state_timeout': 2,
                                  'transitional_state_check_interval': 1},
                      'beta': {'dummy_driver_driver_methods_delays': SLOW}})
    daemon.start()
    inst, net_id = tsm._server_with_a_share(pg, daemon, share_rpc)
    server_id = tsm._start(pg, daemon, share_rpc, inst, net_id)
    tsm._wait_task(daemon, server_id, 'migration_driver_starting')
    dest = tsm._dest(daemon, server_id)
    daemon.kill()

    daemon.configure({'beta': {'dummy_driver_driver_methods_delays': ''}})
    daemon.start()
    settled = tsm._wait_task(daemon, server_id, 'migration_error',
                             timeout=90)
    assert settled['status'] == 'active'
    assert rows.instance(daemon, inst['share_id'])['status'] == 'available'
    assert '005' in [m[0] for m in rows.messages(daemon, inst['share_id'])]
    daemon.wait_for(lambda: tsm._server(daemon, dest['id'])['deleted']
                    != 'False', timeout=60,
                    message='stranded destination removed')
    assert not [ip for ip in rows_ips(daemon, dest['id'])]


def rows_ips(daemon, server_id):
    return daemon.db.rows(
        "SELECT ip_address FROM network_allocations WHERE share_server_id = "
        ":s AND deleted = 'False'", s=server_id)
