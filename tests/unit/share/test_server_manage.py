"""Managing and unmanaging share servers on a DHSS=True dummy backend with standalone allocations (share/server_manage.py)."""

import logging

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_serialization import jsonutils
from oslo_utils import uuidutils
import pytest

from manila_lite import exception
from manila_lite.share import reconcile
from tests.unit.share import helpers
from tests.unit.share import test_servers as ts

CONF = cfg.CONF
dhss = ts.dhss
timeout = ts.timeout


def unmanaged_server(mgr, db, ctx):
    """``(subnet id, old server)`` of a server set up, emptied, then unmanaged: the backend still has it."""
    server_id = ts.emptied_server(mgr, db, ctx)
    old = db.share_server_get(ctx, server_id)
    old_ips = ts.allocations(db, ctx, server_id)
    db.share_server_update(ctx, server_id, {'status': 'unmanage_starting'})
    mgr.unmanage_share_server(ctx, server_id, force=False)
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(ctx, server_id)
    assert ts.allocations(db, ctx, server_id) == []
    return old['share_network_subnet_ids'][0], old, old_ips


def managing_row(mgr, db, ctx, subnet_id, identifier):
    """A ``manage_starting`` server row as upstream's API writes it."""
    return db.share_server_create(ctx, {
        'host': mgr.host, 'status': 'manage_starting',
        'share_network_subnets': [subnet_id], 'is_auto_deletable': False,
        'identifier': identifier})['id']


def subnet_messages(db, ctx, subnet_id):
    return helpers.messages(db, ctx, subnet_id, 'action_id',
                            'resource_type', 'project_id')


def test_unmanage_then_manage_again(dhss, db, admin_ctx):
    mgr = dhss()
    subnet_id, old, old_ips = unmanaged_server(mgr, db, admin_ctx)
    new_id = managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
    mgr.manage_share_server(admin_ctx, new_id, old['id'], {})
    server = db.share_server_get(admin_ctx, new_id)
    assert server['status'] == 'active'
    assert server['identifier'] == old['id']
    assert server['backend_details']['service_ip'] == \
        old['backend_details']['service_ip']
    assert server['network_allocation_update_support'] is True
    # The same addresses, recorded again (the admin plugin serves the same
    # range here, so it takes them all, as upstream's would).
    assert ts.allocations(db, admin_ctx, new_id) == old_ips
    assert subnet_messages(db, admin_ctx, subnet_id) == []
    # A second, stale cast changes nothing.
    mgr.manage_share_server(admin_ctx, new_id, old['id'], {})
    assert ts.allocations(db, admin_ctx, new_id) == old_ips
    # The managed server serves new shares of its network.
    net_id = server['share_network_subnets'][0]['share_network_id']
    inst = ts.create(mgr, db, admin_ctx, net_id)
    assert inst['status'] == 'available'
    assert inst['share_server_id'] == new_id


def assert_manage_failed(mgr, db, ctx, subnet_id, server_id, identifier):
    """The manage cast fails: ``manage_error``, a user message, no allocation; returns the error."""
    with pytest.raises(messaging.ExpectedException) as info:
        mgr.manage_share_server(ctx, server_id, identifier, {})
    assert db.share_server_get(ctx, server_id)['status'] == 'manage_error'
    assert ts.allocations(db, ctx, server_id) == []
    assert subnet_messages(db, ctx, subnet_id) == [
        ('002', 'SHARE_NETWORK_SUBNET', 'p1')]
    return helpers.unwrap(info)


def manage_fails_on_a_new_network(mgr, db, ctx, identifier):
    """Managing ``identifier`` on a new network fails (see assert_manage_failed); returns the error."""
    _net_id, subnet_id = ts.make_network(db)
    server_id = managing_row(mgr, db, ctx, subnet_id, identifier)
    return assert_manage_failed(mgr, db, ctx, subnet_id, server_id,
                                identifier)


def test_manage_of_an_unknown_identifier_fails(dhss, db, admin_ctx):
    error = manage_fails_on_a_new_network(dhss(), db, admin_ctx, 'no-such')
    assert 'no-such' in str(error)


def test_manage_failure_releases_the_recorded_allocations(dhss, db,
                                                          admin_ctx):
    mgr = dhss()
    subnet_id, old, _ips = unmanaged_server(mgr, db, admin_ctx)
    CONF.set_override('dummy_driver_fail_methods', ['manage_server'],
                      group='alpha')
    try:
        server_id = managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
        error = assert_manage_failed(mgr, db, admin_ctx, subnet_id,
                                     server_id, old['id'])
    finally:
        CONF.clear_override('dummy_driver_fail_methods', group='alpha')
    assert 'injected failure of manage_server' in str(error)


@pytest.mark.parametrize('method', ['manage_server',
                                    'get_share_server_network_info'])
def test_garbage_from_the_driver_fails_the_manage_with_one_line(
        dhss, db, admin_ctx, caplog, method):
    mgr = dhss(dummy_driver_invalid_return_methods=[method])
    subnet_id, old, _ips = unmanaged_server(mgr, db, admin_ctx)
    server_id = managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    error = assert_manage_failed(mgr, db, admin_ctx, subnet_id, server_id,
                                 old['id'])
    assert isinstance(error, exception.ManageShareServerError)
    assert method in str(error)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING and
            not r.name.endswith('dummy')]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert 'manage_share_server failed' in loud[0].getMessage()


def test_addresses_of_another_server_are_not_taken(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, subnet_id = ts.make_network(db)
    live = ts.create(mgr, db, admin_ctx, net_id)
    live_ips = ts.allocations(db, admin_ctx, live['share_server_id'])
    server = db.share_server_get(admin_ctx, live['share_server_id'])
    copy = uuidutils.generate_uuid()
    mgr.driver.private_storage.update(copy, dict(
        server['backend_details'], server_id=copy))
    server_id = managing_row(mgr, db, admin_ctx, subnet_id, copy)
    error = assert_manage_failed(mgr, db, admin_ctx, subnet_id, server_id,
                                 copy)
    assert 'were not managed' in str(error)
    assert ts.allocations(db, admin_ctx, live['share_server_id']) == live_ips


def test_addresses_outside_the_network_fail_the_manage(dhss, db, admin_ctx):
    mgr = dhss()
    _net_id, subnet_id = ts.make_network(db)
    far = uuidutils.generate_uuid()
    mgr.driver.private_storage.update(far, {
        'server_id': far, 'service_ip': '192.168.7.7',
        'subnet_allocations': jsonutils.dumps([{
            'primary_public_ip': '10.254.0.50',
            'secondary_public_ip': '10.254.0.51'}])})
    server_id = managing_row(mgr, db, admin_ctx, subnet_id, far)
    error = assert_manage_failed(mgr, db, admin_ctx, subnet_id, server_id,
                                 far)
    assert '192.168.7.7' in str(error)


def test_manage_on_a_dhss_false_backend_fails(manager_factory, db,
                                              admin_ctx):
    error = manage_fails_on_a_new_network(manager_factory(), db, admin_ctx,
                                          'x')
    assert 'driver_handles_share_servers' in str(error)


def unmanaging(mgr, db, ctx):
    server_id = ts.emptied_server(mgr, db, ctx)
    db.share_server_update(ctx, server_id, {'status': 'unmanage_starting'})
    return db.share_server_get(ctx, server_id)


def test_unmanage_driver_failure_then_forced(dhss, db, admin_ctx):
    mgr = dhss(dummy_driver_fail_methods=['unmanage_server'])
    server = unmanaging(mgr, db, admin_ctx)
    ips = ts.allocations(db, admin_ctx, server['id'])
    with pytest.raises(messaging.ExpectedException):
        mgr.unmanage_share_server(admin_ctx, server['id'], force=False)
    assert db.share_server_get(admin_ctx, server['id'])['status'] == \
        'unmanage_error'
    assert ts.allocations(db, admin_ctx, server['id']) == ips
    subnet_id = server['share_network_subnet_ids'][0]
    assert subnet_messages(db, admin_ctx, subnet_id) == [
        ('007', 'SHARE_NETWORK_SUBNET', 'p1')]
    db.share_server_update(admin_ctx, server['id'],
                           {'status': 'unmanage_starting'})
    mgr.unmanage_share_server(admin_ctx, server['id'], force=True)
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, server['id'])
    assert ts.allocations(db, admin_ctx, server['id']) == []


def test_unmanage_of_a_server_with_shares_is_refused(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, _subnet_id = ts.make_network(db)
    inst = ts.create(mgr, db, admin_ctx, net_id)
    server_id = inst['share_server_id']
    db.share_server_update(admin_ctx, server_id,
                           {'status': 'unmanage_starting'})
    with pytest.raises(messaging.ExpectedException) as info:
        mgr.unmanage_share_server(admin_ctx, server_id, force=True)
    assert isinstance(helpers.unwrap(info), exception.ShareServerInUse)
    assert db.share_server_get(admin_ctx, server_id)['status'] == \
        'unmanage_error'
    assert len(ts.allocations(db, admin_ctx, server_id)) == 3


def test_unmanage_of_a_server_not_unmanaging_is_ignored(dhss, db,
                                                        admin_ctx):
    mgr = dhss()
    server_id = ts.emptied_server(mgr, db, admin_ctx)
    mgr.unmanage_share_server(admin_ctx, server_id, force=True)
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'active'


def test_unknown_server_is_one_line(dhss, caplog, admin_ctx):
    mgr = dhss()
    caplog.set_level(logging.DEBUG)
    for call in (lambda: mgr.manage_share_server(admin_ctx, 'nope', 'i', {}),
                 lambda: mgr.unmanage_share_server(admin_ctx, 'nope')):
        caplog.clear()
        with pytest.raises(messaging.ExpectedException) as info:
            call()
        assert isinstance(helpers.unwrap(info),
                          exception.ShareServerNotFound)
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(loud) == 1


def test_crash_during_manage_or_unmanage_is_settled(dhss, db, admin_ctx,
                                                    timeout):
    mgr = dhss()
    subnet_id, old, old_ips = unmanaged_server(mgr, db, admin_ctx)
    # The daemon died after recording the allocations of a manage.
    managing = managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
    server = db.share_server_get(admin_ctx, managing)
    mgr.driver.network_api.manage_network_allocations(
        admin_ctx, old_ips, server,
        db.share_network_get(admin_ctx, old['share_network_subnets'][0][
            'share_network_id']),
        db.share_network_subnet_get(admin_ctx, subnet_id))
    assert ts.allocations(db, admin_ctx, managing) == old_ips
    other = unmanaging(mgr, db, admin_ctx)
    ts._age(db, [managing, other['id']], 5)
    assert reconcile.reconcile(mgr, admin_ctx) == 2
    assert db.share_server_get(admin_ctx, managing)['status'] == \
        'manage_error'
    assert ts.allocations(db, admin_ctx, managing) == []
    assert db.share_server_get(admin_ctx, other['id'])['status'] == \
        'unmanage_error'
    assert len(ts.allocations(db, admin_ctx, other['id'])) == 3
    assert ('002', 'SHARE_NETWORK_SUBNET', 'p1') in subnet_messages(
        db, admin_ctx, subnet_id)


def test_standalone_plugin_takes_each_address_of_its_network_once(
        dhss, db, admin_ctx):
    mgr = dhss()
    _net_id, subnet_id = ts.make_network(db)
    server_id = managing_row(mgr, db, admin_ctx, subnet_id, 'x')
    server = db.share_server_get(admin_ctx, server_id)
    subnet = db.share_network_subnet_get(admin_ctx, subnet_id)
    plugin = mgr.driver.network_api
    left = plugin.manage_network_allocations(
        admin_ctx, ['10.254.0.20', '10.254.0.20', 'fe80::1', '10.9.9.9',
                    '10.254.0.250'], server, None, subnet)
    assert left == ['10.254.0.20', 'fe80::1', '10.9.9.9', '10.254.0.250']
    [row] = db.network_allocations_get_for_share_server(admin_ctx, server_id)
    assert (row['ip_address'], row['label'], row['share_network_subnet_id'],
            row['cidr']) == ('10.254.0.20', 'user', subnet_id,
                             '10.254.0.0/24')
    with pytest.raises(exception.NetworkBadConfigurationException):
        plugin.manage_network_allocations(admin_ctx, ['not an address'],
                                          server, None, subnet)
    assert ts.allocations(db, admin_ctx, server_id) == ['10.254.0.20']
