"""A daemon killed during a security service update leaves no share server or network in network_change (dummy DHSS=True, RabbitMQ, PostgreSQL)."""

import time

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_share_servers as servers_test
from tests.unit.share import test_server_updates as unit
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional


def _options(timeout, **backend):
    return {'DEFAULT': {'enabled_share_backends': 'alpha',
                        'transitional_state_timeout': timeout,
                        'transitional_state_check_interval': 1},
            'alpha': servers_test.backend_options('alpha', '10.254.0.10',
                                                  '10.254.0.99', **backend)}


def _status(daemon, table, row_id):
    return daemon.db.scalar('SELECT status FROM %s WHERE id = :i' % table,
                            i=row_id)


def test_a_crash_during_a_security_service_update_strands_nothing(
        daemon_factory, fresh_db, pg_facade, share_rpc):
    slow = {'dummy_driver_driver_methods_delays':
            'update_share_server_security_service:120'}
    daemon = daemon_factory(fresh_db, options=_options(3600, **slow))
    host = daemon.pool_host('alpha').split('#')[0]
    ctx = rows.admin_ctx()
    net_id, subnet_id = test_servers.make_network(pg_facade)
    inst = servers_test._create(pg_facade, daemon, share_rpc, net_id,
                                'alpha')
    server_id = inst['share_server_id']
    new_ss = unit.security_service(pg_facade)
    unit.start_change(pg_facade, ctx, net_id, [server_id])
    share_rpc.update_share_network_security_service(ctx, host, net_id,
                                                    new_ss)
    # The details are written just before the (slow) driver call.
    daemon.wait_for(lambda: daemon.db.scalar(
        "SELECT count(*) FROM share_server_backend_details WHERE "
        "share_server_id = :s AND key = 'security_service_ldap'",
        s=server_id) == 1, timeout=60, message='update under way')
    daemon.kill()
    assert _status(daemon, 'share_servers', server_id) == 'network_change'
    daemon.configure(_options(2))
    time.sleep(2)       # the stranded rows outlive the short timeout
    daemon.start()
    daemon.wait_for(
        lambda: _status(daemon, 'share_networks', net_id) == 'active' and
        _status(daemon, 'share_servers', server_id) != 'network_change',
        timeout=120, message='network change settled')
    # The killed process had taken (acknowledged) the cast: the start-up
    # reconciliation fails the server, with a user message, and settles
    # the network.
    assert _status(daemon, 'share_servers', server_id) == 'error'
    assert [m[0] for m in rows.messages(daemon, subnet_id)] == ['005']
    assert 'was stranded in network_change' in daemon.log_text()
