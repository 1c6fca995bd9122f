"""Security service and allocation updates of in-use share servers, and subnet metadata, through the real daemon, RabbitMQ and PostgreSQL.

One daemon runs two DHSS=True dummy backends on one share network:
``alpha`` works, ``beta`` fails the update calls of its driver. The test
plays upstream's API: it writes the ``async_operation_data`` entry and the
``network_change`` statuses the API writes, casts upstream's messages,
and reads what each host answered. One test walks every flow to keep
suite time low.
"""

import json

import pytest

from manila_lite.share import server_updates
from tests.functional import share_rows as rows
from tests.functional import test_share_servers as servers_test
from tests.unit.share import test_server_updates as unit
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional

_BETA_FAULTS = ('check_update_share_server_security_service,'
                'update_share_server_security_service,'
                'update_share_server_network_allocations,'
                'update_share_network_subnet_from_metadata')


def _server(daemon, server_id):
    return daemon.db.row('SELECT * FROM share_servers WHERE id = :i',
                         i=server_id)


def _status(daemon, table, row_id):
    return daemon.db.row('SELECT status FROM %s WHERE id = :i' % table,
                         i=row_id)['status']


def _answers(daemon, net_id, key):
    row = daemon.db.row('SELECT value FROM async_operation_data WHERE '
                        'entity_uuid = :e AND key = :k', e=net_id, k=key)
    return json.loads(row['value'])


def _wait_answers(daemon, net_id, key, hosts):
    daemon.wait_for(lambda: None not in _answers(daemon, net_id, key)
                    .values(), timeout=30, message='hosts answered %s' % key)
    assert _answers(daemon, net_id, key) == hosts


def _wait_settled(daemon, net_id, server_ids):
    daemon.wait_for(
        lambda: _status(daemon, 'share_networks', net_id) == 'active'
        and all(_status(daemon, 'share_servers', s) != 'network_change'
                for s in server_ids), timeout=30,
        message='network %s settled' % net_id)


def test_share_network_updates(fresh_db, pg_facade, daemon_factory,
                               share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta'},
        'alpha': servers_test.backend_options('alpha', '10.254.0.10',
                                              '10.254.0.99'),
        'beta': servers_test.backend_options(
            'beta', '10.254.0.100', '10.254.0.199',
            dummy_driver_fail_methods=_BETA_FAULTS),
    })
    alpha = daemon.pool_host('alpha').split('#')[0]
    beta = daemon.pool_host('beta').split('#')[0]
    ctx = rows.admin_ctx()
    net_id, subnet_id = test_servers.make_network(pg_facade)
    insts = {host: servers_test._create(pg_facade, daemon, share_rpc, net_id,
                                        backend)
             for host, backend in ((alpha, 'alpha'), (beta, 'beta'))}
    assert {i['status'] for i in insts.values()} == {'available'}
    server_ids = {host: i['share_server_id'] for host, i in insts.items()}

    # 1.22 check: each host answers in the API's entry.
    new_ss = unit.security_service(pg_facade)
    key = server_updates.security_service_update_key('hosts_check', new_ss)
    unit.hosts_entry(pg_facade, ctx, net_id, key, {alpha: None, beta: None})
    for host in (alpha, beta):
        share_rpc.check_update_share_network_security_service(
            ctx, host, net_id, new_ss)
    _wait_answers(daemon, net_id, key, {alpha: True, beta: False})

    # 1.22 update: alpha's server back to active, beta's to error with a
    # user message; the network back to active.
    unit.start_change(pg_facade, ctx, net_id, list(server_ids.values()))
    for host in (alpha, beta):
        share_rpc.update_share_network_security_service(ctx, host, net_id,
                                                        new_ss)
    _wait_settled(daemon, net_id, server_ids.values())
    assert _status(daemon, 'share_servers', server_ids[alpha]) == 'active'
    assert _status(daemon, 'share_servers', server_ids[beta]) == 'error'
    assert [m[0] for m in rows.messages(daemon, new_ss)] == ['011']
    details = daemon.db.row(
        "SELECT value FROM share_server_backend_details WHERE "
        "share_server_id = :s AND key = 'security_service_ldap'",
        s=server_ids[alpha])
    assert json.loads(details['value'])['domain'] == 'example.org'

    # 1.23 check, then the update on a new subnet (the admin reset beta).
    pg_facade.share_server_update(ctx, server_ids[beta], {'status': 'active'})
    key = server_updates.allocations_update_key(net_id, None)
    unit.hosts_entry(pg_facade, ctx, net_id, key, {alpha: None, beta: None})
    for host in (alpha, beta):
        share_rpc.check_update_share_server_network_allocations(
            ctx, host, net_id, {'availability_zone_id': None,
                                'neutron_net_id': None,
                                'neutron_subnet_id': None})
    _wait_answers(daemon, net_id, key, {alpha: True, beta: True})
    unit.start_change(pg_facade, ctx, net_id, list(server_ids.values()))
    new_subnet = unit.add_subnet(pg_facade, ctx, net_id, server_ids.values())
    for host in (alpha, beta):
        share_rpc.update_share_server_network_allocations(ctx, host, net_id,
                                                          new_subnet)
    _wait_settled(daemon, net_id, server_ids.values())
    assert _status(daemon, 'share_servers', server_ids[alpha]) == 'active'
    new_ips = [r['ip_address'] for r in daemon.db.rows(
        "SELECT ip_address FROM network_allocations WHERE share_server_id = "
        ":s AND share_network_subnet_id = :n AND deleted = 'False'",
        s=server_ids[alpha], n=new_subnet)]
    assert len(new_ips) == 2
    paths = [r['path'] for r in daemon.db.rows(
        "SELECT path FROM share_instance_export_locations WHERE "
        "share_instance_id = :i AND deleted = 0", i=insts[alpha]['id'])]
    assert any(new_ips[0] in p for p in paths)
    assert _status(daemon, 'share_servers', server_ids[beta]) == 'error'
    assert _status(daemon, 'share_instances', insts[beta]['id']) == 'error'
    assert [m[0] for m in rows.messages(daemon, new_subnet)] == ['005']

    # 1.30: 029 from the working driver, 030 from the failing one.
    for host in (alpha, beta):
        share_rpc.update_share_network_subnet_from_metadata(
            ctx, net_id, subnet_id, {'id': server_ids[host], 'host': host},
            {'key': 'value'})
    daemon.wait_for(lambda: len(rows.messages(daemon, subnet_id)) == 2,
                    timeout=30, message='subnet metadata messages')
    assert sorted(m[1] for m in rows.messages(daemon, subnet_id)) == [
        '029', '030']
