"""Security service and allocation updates of in-use share servers, subnet metadata (share/server_updates.py, RPC 1.22, 1.23, 1.30)."""

import json

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from manila_lite.share import server_updates
from tests.unit.share import helpers
from tests.unit.share import test_servers

CONF = cfg.CONF


@pytest.fixture
def mgr(manager_factory, tooz_coordinator):
    return manager_factory(**helpers.dhss_options())


@pytest.fixture
def faults():
    """Set dummy driver fault options of backend alpha for one test."""
    set_options = []

    def inject(option, methods):
        CONF.set_override(option, methods, group='alpha')
        set_options.append(option)
    yield inject
    for option in set_options:
        CONF.clear_override(option, group='alpha')


def security_service(db, ss_type='ldap', project_id='p1'):
    ss_id = uuidutils.generate_uuid()
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models.SecurityService.__table__).values(
            id=ss_id, project_id=project_id, type=ss_type, deleted='False',
            name='ss-' + ss_type, domain='example.org', password='secret'))
    return ss_id


def in_use(mgr, db, ctx):
    """A network with one server of ``mgr`` carrying one share; returns (network id, subnet id, instance)."""
    net_id, subnet_id = test_servers.make_network(db)
    inst = test_servers.create(mgr, db, ctx, net_id)
    assert inst['status'] == 'available'
    return net_id, subnet_id, inst


def start_change(db, ctx, net_id, server_ids):
    """What upstream's API writes before it casts an update."""
    db.share_networks_conditional_update(ctx, [net_id], ['active'],
                                         {'status': 'network_change'})
    db.share_servers_conditional_update(ctx, server_ids, ['active'],
                                        {'status': 'network_change'})


def hosts_entry(db, ctx, net_id, key, hosts):
    db.async_operation_data_update(ctx, net_id, {key: json.dumps(hosts)})


def test_servers_by_host_and_share_network_go_through_subnets(mgr, db,
                                                              admin_ctx):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    other_net, _ = test_servers.make_network(db)
    found = db.share_server_get_all_by_host_and_share_network(
        admin_ctx, mgr.host, net_id)
    assert [s['id'] for s in found] == [inst['share_server_id']]
    assert db.share_server_get_all_by_host_and_share_network(
        admin_ctx, 'hostB@beta', net_id) == []
    assert [s['id'] for s in db.share_server_get_all_by_host_and_share_network(
        admin_ctx, None, net_id)] == [inst['share_server_id']]
    assert db.share_server_get_all_by_host_and_share_network(
        admin_ctx, mgr.host, other_net) == []


@pytest.mark.parametrize('current', [False, True])
def test_security_service_check_records_the_answer_where_the_api_reads_it(
        mgr, db, admin_ctx, faults, current):
    net_id, _subnet, _inst = in_use(mgr, db, admin_ctx)
    new_id = security_service(db)
    cur_id = security_service(db, 'kerberos') if current else None
    key = server_updates.security_service_update_key('hosts_check', new_id,
                                                     cur_id)
    assert key == (('share_network_sec_service_update_%s_%s_hosts_check'
                    % (cur_id, new_id)) if current else
                   'share_network_sec_service_add_%s_hosts_check' % new_id)
    hosts_entry(db, admin_ctx, net_id, key, {mgr.host: None,
                                             'other@b': None})
    mgr.check_update_share_network_security_service(
        admin_ctx, net_id, new_id, current_security_service_id=cur_id)
    assert json.loads(db.async_operation_data_get(admin_ctx, net_id, key)) == {
        mgr.host: True, 'other@b': None}
    faults('dummy_driver_fail_methods',
           ['check_update_share_server_security_service'])
    mgr.check_update_share_network_security_service(
        admin_ctx, net_id, new_id, current_security_service_id=cur_id)
    assert json.loads(db.async_operation_data_get(
        admin_ctx, net_id, key))[mgr.host] is False


def test_a_garbage_check_answer_counts_as_unsupported(mgr, db, admin_ctx,
                                                      faults):
    net_id, _subnet, _inst = in_use(mgr, db, admin_ctx)
    new_id = security_service(db)
    key = server_updates.security_service_update_key('hosts_check', new_id)
    hosts_entry(db, admin_ctx, net_id, key, {mgr.host: None})
    faults('dummy_driver_invalid_return_methods',
           ['check_update_share_server_security_service'])
    mgr.check_update_share_network_security_service(admin_ctx, net_id, new_id)
    assert json.loads(db.async_operation_data_get(
        admin_ctx, net_id, key)) == {mgr.host: False}


def test_a_check_without_the_api_entry_writes_nothing(mgr, db, admin_ctx):
    net_id, _subnet, _inst = in_use(mgr, db, admin_ctx)
    new_id = security_service(db)
    mgr.check_update_share_network_security_service(admin_ctx, net_id, new_id)
    key = server_updates.security_service_update_key('hosts_check', new_id)
    assert db.async_operation_data_get(admin_ctx, net_id, key) is None


def test_security_service_update_succeeds(mgr, db, admin_ctx):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    server_id = inst['share_server_id']
    new_id = security_service(db)
    start_change(db, admin_ctx, net_id, [server_id])
    mgr.update_share_network_security_service(admin_ctx, net_id, new_id)
    server = db.share_server_get(admin_ctx, server_id)
    assert server['status'] == 'active'
    details = json.loads(server['backend_details']['security_service_ldap'])
    assert details['domain'] == 'example.org'
    assert db.share_network_get(admin_ctx, net_id)['status'] == 'active'
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        'available')


@pytest.mark.parametrize('method', ['fail', 'invalid'])
def test_security_service_replacement_failure(mgr, db, admin_ctx, faults,
                                              method):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    server_id = inst['share_server_id']
    new_id, cur_id = security_service(db), security_service(db, 'kerberos')
    start_change(db, admin_ctx, net_id, [server_id])
    faults('dummy_driver_%s_methods' % ('fail' if method == 'fail'
                                        else 'invalid_return'),
           ['update_share_server_security_service'])
    mgr.update_share_network_security_service(
        admin_ctx, net_id, new_id, current_security_service_id=cur_id)
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'error'
    after = db.share_instance_get(admin_ctx, inst['id'])
    assert (after['status'], after['access_rules_status']) == ('error',
                                                               'error')
    assert db.share_network_get(admin_ctx, net_id)['status'] == 'active'
    assert helpers.messages(db, admin_ctx, new_id, 'action_id',
                            'resource_type') == [('011', 'SECURITY_SERVICE')]


def test_security_service_add_failure_keeps_the_shares(mgr, db, admin_ctx,
                                                       faults):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    new_id = security_service(db)
    start_change(db, admin_ctx, net_id, [inst['share_server_id']])
    faults('dummy_driver_fail_methods',
           ['update_share_server_security_service'])
    mgr.update_share_network_security_service(admin_ctx, net_id, new_id)
    assert db.share_server_get(
        admin_ctx, inst['share_server_id'])['status'] == 'error'
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        'available')


def test_network_stays_in_change_while_a_server_of_another_host_updates(
        mgr, db, admin_ctx):
    net_id, subnet_id, inst = in_use(mgr, db, admin_ctx)
    other = db.share_server_create(admin_ctx, {
        'host': 'hostB@beta', 'status': 'active',
        'share_network_subnets': [subnet_id]})
    start_change(db, admin_ctx, net_id, [inst['share_server_id'],
                                         other['id']])
    mgr.update_share_network_security_service(admin_ctx, net_id,
                                              security_service(db))
    assert db.share_server_get(admin_ctx, other['id'])['status'] == (
        'network_change')
    assert db.share_network_get(admin_ctx, net_id)['status'] == (
        'network_change')


def add_subnet(db, ctx, net_id, server_ids):
    """What upstream's API does to add a subnet to a network in use: the new subnet, mapped to the servers."""
    subnet_id = uuidutils.generate_uuid()
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models.ShareNetworkSubnet.__table__).values(
            id=subnet_id, share_network_id=net_id, deleted='False',
            created_at=timeutils.utcnow()))
        for server_id in server_ids:
            conn.execute(sa.insert(
                models.ShareServerShareNetworkSubnetMapping.__table__).values(
                share_server_id=server_id, share_network_subnet_id=subnet_id,
                deleted=0))
    return subnet_id


def test_allocation_check_records_the_answer(mgr, db, admin_ctx, faults):
    net_id, _subnet, _inst = in_use(mgr, db, admin_ctx)
    key = server_updates.allocations_update_key(net_id, None)
    assert key == ('share_server_update_allocations_%s_None_hosts_check'
                   % net_id)
    hosts_entry(db, admin_ctx, net_id, key, {mgr.host: None})
    new_subnet = {'availability_zone_id': None, 'neutron_net_id': None,
                  'neutron_subnet_id': None}
    mgr.check_update_share_server_network_allocations(admin_ctx, net_id,
                                                      new_subnet)
    assert json.loads(db.async_operation_data_get(
        admin_ctx, net_id, key)) == {mgr.host: True}
    faults('dummy_driver_invalid_return_methods',
           ['check_update_share_server_network_allocations'])
    mgr.check_update_share_server_network_allocations(admin_ctx, net_id,
                                                      new_subnet)
    assert json.loads(db.async_operation_data_get(
        admin_ctx, net_id, key)) == {mgr.host: False}


def test_allocation_update_succeeds(mgr, db, admin_ctx):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    server_id = inst['share_server_id']
    start_change(db, admin_ctx, net_id, [server_id])
    new_subnet = add_subnet(db, admin_ctx, net_id, [server_id])
    mgr.update_share_server_network_allocations(admin_ctx, net_id, new_subnet)
    server = db.share_server_get(admin_ctx, server_id)
    assert server['status'] == 'active'
    new_ips = sorted(a['ip_address'] for a in
                     db.network_allocations_get_for_share_server(
                         admin_ctx, server_id, subnet_id=new_subnet))
    assert len(new_ips) == 2
    assert len(json.loads(server['backend_details']['subnet_allocations'])) == 2
    paths = [el['path'] for el in db.share_instance_get(
        admin_ctx, inst['id'], with_share_data=True)['export_locations']]
    assert any(new_ips[0] in p for p in paths)
    assert db.share_network_get(admin_ctx, net_id)['status'] == 'active'


@pytest.mark.parametrize('option', ['dummy_driver_fail_methods',
                                    'dummy_driver_invalid_return_methods'])
def test_allocation_update_failure(mgr, db, admin_ctx, faults, option):
    net_id, _subnet, inst = in_use(mgr, db, admin_ctx)
    server_id = inst['share_server_id']
    start_change(db, admin_ctx, net_id, [server_id])
    new_subnet = add_subnet(db, admin_ctx, net_id, [server_id])
    faults(option, ['update_share_server_network_allocations'])
    mgr.update_share_server_network_allocations(admin_ctx, net_id, new_subnet)
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'error'
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    assert db.share_network_get(admin_ctx, net_id)['status'] == 'active'
    assert helpers.messages(db, admin_ctx, new_subnet, 'action_id',
                            'resource_type') == [('005',
                                                  'SHARE_NETWORK_SUBNET')]


@pytest.mark.parametrize('fail', [False, True])
def test_subnet_metadata(mgr, db, admin_ctx, faults, fail):
    net_id, subnet_id, inst = in_use(mgr, db, admin_ctx)
    if fail:
        faults('dummy_driver_fail_methods',
               ['update_share_network_subnet_from_metadata'])
    mgr.update_share_network_subnet_from_metadata(
        admin_ctx, net_id, subnet_id, inst['share_server_id'], {'k': 'v'})
    assert helpers.messages(db, admin_ctx, subnet_id, 'action_id',
                            'detail_id') == [('027', '030' if fail else '029')]


def test_reconcile_settles_a_server_stranded_in_network_change(
        mgr, db, admin_ctx):
    from manila_lite.share import reconcile
    CONF.set_override('transitional_state_timeout', 60)
    try:
        net_id, subnet_id, inst = in_use(mgr, db, admin_ctx)
        server_id = inst['share_server_id']
        start_change(db, admin_ctx, net_id, [server_id])
        # Fresh: the update may still be on its way.
        assert reconcile.reconcile(mgr, admin_ctx) == 0
        test_servers._age(db, [server_id], 5)
        assert reconcile.reconcile(mgr, admin_ctx) == 1
    finally:
        CONF.clear_override('transitional_state_timeout')
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'error'
    assert db.share_network_get(admin_ctx, net_id)['status'] == 'active'
    assert helpers.messages(db, admin_ctx, subnet_id, 'action_id') == [
        ('005',)]
