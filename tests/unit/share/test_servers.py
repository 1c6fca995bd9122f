"""Share server lifecycle on a DHSS=True dummy backend with standalone allocations (share/servers.py)."""

import datetime

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.share import helpers

CONF = cfg.CONF


def make_network(db, project_id='p1', security_services=()):
    """A share network with one default subnet (no Neutron ids), as upstream's API writes it; returns (network id, subnet id)."""
    net_id, subnet_id = (uuidutils.generate_uuid(),
                         uuidutils.generate_uuid())
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models.ShareNetwork.__table__).values(
            id=net_id, project_id=project_id, user_id='u1', name='net',
            deleted='False', status='active',
            created_at=timeutils.utcnow()))
        conn.execute(sa.insert(models.ShareNetworkSubnet.__table__).values(
            id=subnet_id, share_network_id=net_id, deleted='False',
            created_at=timeutils.utcnow()))
        for ss in security_services:
            ss_id = uuidutils.generate_uuid()
            conn.execute(sa.insert(models.SecurityService.__table__).values(
                id=ss_id, project_id=project_id, type=ss, deleted='False',
                name=ss, password='secret'))
            conn.execute(sa.insert(
                models.ShareNetworkSecurityServiceAssociation.__table__)
                .values(share_network_id=net_id, security_service_id=ss_id,
                        deleted=0))
    return net_id, subnet_id


@pytest.fixture
def dhss(manager_factory):
    def build(**options):
        return manager_factory(**helpers.dhss_options(**options))
    return build


def create(mgr, db, ctx, net_id, size=1, **extra):
    share, inst = helpers.make_share(db, ctx, host=mgr.host + '#pool',
                                     size=size, share_network_id=net_id,
                                     **extra)
    mgr.create_share_instance(ctx, inst['id'])
    return db.share_instance_get(ctx, inst['id'], with_share_data=True)


def allocations(db, ctx, server_id, label=None):
    return sorted(a['ip_address'] for a in
                  db.network_allocations_get_for_share_server(
                      ctx, server_id, label=label))


def test_first_share_creates_a_server_second_reuses_it(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, subnet_id = make_network(db)
    first = create(mgr, db, admin_ctx, net_id)
    assert first['status'] == 'available'
    server = db.share_server_get(admin_ctx, first['share_server_id'])
    assert server['status'] == 'active'
    assert server['host'] == mgr.host
    assert server['identifier'] == server['id']
    assert server['share_network_subnet_ids'] == [subnet_id]
    assert allocations(db, admin_ctx, server['id'], 'user') == [
        '10.254.0.10', '10.254.0.11']
    assert allocations(db, admin_ctx, server['id'], 'admin') == [
        '10.254.0.12']
    user = db.network_allocations_get_for_share_server(
        admin_ctx, server['id'], label='user')[0]
    assert (user['cidr'], user['gateway'], user['mtu'], user['ip_version'],
            user['share_network_subnet_id']) == (
        '10.254.0.0/24', '10.254.0.1', 1500, 4, subnet_id)
    subnet = db.share_network_subnet_get(admin_ctx, subnet_id)
    assert (subnet['cidr'], subnet['gateway'], subnet['ip_version']) == (
        '10.254.0.0/24', '10.254.0.1', 4)
    assert server['backend_details']['service_ip'] == '10.254.0.12'
    paths = [el['path'] for el in first['export_locations']]
    assert any('10.254.0.10' in p for p in paths)
    second = create(mgr, db, admin_ctx, net_id)
    assert second['status'] == 'available'
    assert second['share_server_id'] == server['id']
    assert len(db.share_server_get_all_by_host(admin_ctx, mgr.host)) == 1


def test_server_limits_make_a_new_server(dhss, db, admin_ctx):
    mgr = dhss(max_shares_per_share_server=1)
    net_id, _ = make_network(db)
    first = create(mgr, db, admin_ctx, net_id)
    second = create(mgr, db, admin_ctx, net_id)
    assert first['share_server_id'] != second['share_server_id']
    sized = dhss(name='beta', max_share_server_size=3)
    net_id, _ = make_network(db)
    a = create(sized, db, admin_ctx, net_id, size=2)
    b = create(sized, db, admin_ctx, net_id, size=1)
    c = create(sized, db, admin_ctx, net_id, size=1)
    assert a['share_server_id'] == b['share_server_id']
    assert c['share_server_id'] != a['share_server_id']


def assert_failed_with_server_in_error(mgr, db, ctx, net_id):
    """A share whose creation fails: it and its new server end ``error``, no address kept; returns the share."""
    share, inst = helpers.make_share(db, ctx, host=mgr.host + '#pool',
                                     share_network_id=net_id)
    with pytest.raises(Exception):
        mgr.create_share_instance(ctx, inst['id'])
    inst = db.share_instance_get(ctx, inst['id'])
    assert inst['status'] == 'error'
    server = db.share_server_get(ctx, inst['share_server_id'])
    assert server['status'] == 'error'
    assert allocations(db, ctx, server['id']) == []
    return share


def test_setup_failure_fails_share_and_server_and_frees_addresses(
        dhss, db, admin_ctx):
    mgr = dhss(dummy_driver_fail_methods=['_setup_server'])
    net_id, _ = make_network(db)
    share = assert_failed_with_server_in_error(mgr, db, admin_ctx, net_id)
    assert helpers.messages(db, admin_ctx, share['id'], 'action_id',
                            'detail_id') == [('002', '004')]


def test_missing_mandatory_security_service(dhss, db, admin_ctx):
    mgr = dhss()
    mgr.driver.dhss_mandatory_security_service_association = {
        'nfs': ['ldap']}
    net_id, _ = make_network(db)
    share, inst = helpers.make_share(db, admin_ctx, host=mgr.host + '#pool',
                                     share_network_id=net_id)
    with pytest.raises(Exception):
        mgr.create_share_instance(admin_ctx, inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    assert ('002', '025') in helpers.messages(db, admin_ctx, share['id'],
                                              'action_id', 'detail_id')
    ok_net, _ = make_network(db, security_services=['ldap'])
    assert create(mgr, db, admin_ctx, ok_net)['status'] == 'available'
    server = db.share_server_get_all_by_host(admin_ctx, mgr.host)[-1]
    assert 'security_service_ldap' in server['backend_details']


def test_delete_share_server(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, _ = make_network(db)
    inst = create(mgr, db, admin_ctx, net_id)
    server = db.share_server_get(admin_ctx, inst['share_server_id'])
    with pytest.raises(Exception) as info:
        mgr.delete_share_server(admin_ctx, dict(server.to_dict()))
    assert isinstance(helpers.unwrap(info), exception.ShareServerInUse)
    assert db.share_server_get(admin_ctx, server['id'])['status'] == 'active'
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(admin_ctx, inst['id'])
    mgr.delete_share_server(admin_ctx, {
        'id': server['id'],
        'share_network_subnet_ids': server['share_network_subnet_ids']})
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, server['id'])
    assert allocations(db, admin_ctx, server['id']) == []
    # The addresses are free for the next server.
    again = create(mgr, db, admin_ctx, net_id)
    assert allocations(db, admin_ctx, again['share_server_id'], 'user') == [
        '10.254.0.10', '10.254.0.11']


def emptied_server(mgr, db, ctx):
    """The id of a server whose only share was created and deleted again."""
    net_id, _ = make_network(db)
    inst = create(mgr, db, ctx, net_id)
    db.share_instance_update(ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(ctx, inst['id'])
    return inst['share_server_id']


def test_teardown_failure_leaves_server_in_error(dhss, db, admin_ctx):
    mgr = dhss()
    server_id = emptied_server(mgr, db, admin_ctx)
    CONF.set_override('dummy_driver_fail_methods', ['_teardown_server'],
                      group='alpha')
    try:
        with pytest.raises(Exception):
            mgr.delete_share_server(admin_ctx, {'id': server_id})
    finally:
        CONF.clear_override('dummy_driver_fail_methods', group='alpha')
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'error'


def test_delete_with_last_share(dhss, db, admin_ctx):
    mgr = dhss(delete_share_server_with_last_share=True)
    net_id, _ = make_network(db)
    a = create(mgr, db, admin_ctx, net_id)
    b = create(mgr, db, admin_ctx, net_id)
    for inst in (a, b):
        db.share_instance_update(admin_ctx, inst['id'],
                                 {'status': 'deleting'})
        mgr.delete_share_instance(admin_ctx, inst['id'])
        live = db.share_server_get_all_by_host(admin_ctx, mgr.host)
        assert len(live) == (1 if inst is a else 0)


def provided_server(mgr, db, ctx):
    """``(network id, instance, server id)`` after provide_share_server: the server row ``creating``, nothing set up."""
    net_id, _ = make_network(db)
    _share, inst = helpers.make_share(db, ctx, host=mgr.host + '#pool',
                                      share_network_id=net_id)
    return net_id, inst, mgr.provide_share_server(ctx, inst['id'], net_id)


def test_provide_then_create_share_server(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, inst, server_id = provided_server(mgr, db, admin_ctx)
    server = db.share_server_get(admin_ctx, server_id)
    assert server['status'] == 'creating'
    assert allocations(db, admin_ctx, server_id) == []
    assert db.share_instance_get(admin_ctx, inst['id'])[
        'share_server_id'] == server_id
    mgr.create_share_server(admin_ctx, server_id,
                            share_instance_id=inst['id'])
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'active'
    assert len(allocations(db, admin_ctx, server_id)) == 3
    # A stale second cast changes nothing.
    mgr.create_share_server(admin_ctx, server_id,
                            share_instance_id=inst['id'])
    assert len(allocations(db, admin_ctx, server_id)) == 3


def _age(db, server_ids, minutes):
    table = models.ShareServer.__table__
    with db.get_engine().begin() as conn:
        conn.execute(sa.update(table).where(table.c.id.in_(server_ids))
                     .values(updated_at=timeutils.utcnow() -
                             datetime.timedelta(minutes=minutes)))


def test_delete_free_share_servers(dhss, db, admin_ctx):
    mgr = dhss()
    net_id, _ = make_network(db)
    used = create(mgr, db, admin_ctx, net_id)
    limited = dhss(name='beta', max_shares_per_share_server=1)
    free = create(limited, db, admin_ctx, net_id)
    db.share_instance_update(admin_ctx, free['id'], {'status': 'deleting'})
    limited.delete_share_instance(admin_ctx, free['id'])
    _age(db, [used['share_server_id'], free['share_server_id']], 11)
    mgr.delete_free_share_servers(admin_ctx)          # only alpha's servers
    limited.delete_free_share_servers(admin_ctx)
    assert db.share_server_get(admin_ctx, used['share_server_id'])
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, free['share_server_id'])
    assert allocations(db, admin_ctx, free['share_server_id']) == []


def test_free_server_cleanup_respects_options(dhss, db, admin_ctx):
    mgr = dhss(automatic_share_server_cleanup=False)
    net_id, inst, server_id = provided_server(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'], {'share_server_id': None})
    _age(db, [server_id], 11)
    mgr.delete_free_share_servers(admin_ctx)
    assert db.share_server_get(admin_ctx, server_id)
    CONF.set_override('automatic_share_server_cleanup', True, group='alpha')
    _age(db, [server_id], 5)                    # not unused long enough
    mgr.delete_free_share_servers(admin_ctx)
    assert db.share_server_get(admin_ctx, server_id)
    _age(db, [server_id], 11)
    mgr.delete_free_share_servers(admin_ctx)
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, server_id)


def test_servers_pass_to_driver_and_pools_mapping(dhss, db, admin_ctx,
                                                  monkeypatch):
    mgr = dhss()
    net_id, _ = make_network(db)
    inst = create(mgr, db, admin_ctx, net_id)
    seen = []
    real = mgr.driver.extend_share

    def extend(share, new_size, share_server=None):
        seen.append(share_server['id'])
        return real(share, new_size, share_server=share_server)
    monkeypatch.setattr(mgr.driver, 'extend_share', extend)
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'extending'})
    mgr.extend_share(admin_ctx, inst['share_id'], 2, [])
    assert seen == [inst['share_server_id']]
    monkeypatch.setattr(mgr.driver, 'get_share_server_pools',
                        lambda server: [{'pool_name': 'pool'}])
    mgr._report_driver_status(admin_ctx)
    assert mgr.last_capabilities['server_pools_mapping'] == {
        inst['share_server_id']: [{'pool_name': 'pool'}]}


def test_range_exhaustion_fails_the_share(dhss, db, admin_ctx):
    mgr = dhss(standalone_network_plugin_allowed_ip_ranges=[
        '10.254.0.10-10.254.0.13'], max_shares_per_share_server=1)
    net_id, _ = make_network(db)
    assert create(mgr, db, admin_ctx, net_id)['status'] == 'available'
    assert_failed_with_server_in_error(mgr, db, admin_ctx, net_id)


@pytest.fixture
def timeout():
    CONF.set_override('transitional_state_timeout', 60)
    yield 60
    CONF.clear_override('transitional_state_timeout')


def test_crash_while_creating_leaves_no_server_or_allocation(
        dhss, db, admin_ctx, timeout):
    from manila_lite.share import reconcile
    from manila_lite.share import servers
    mgr = dhss()
    net_id, inst, server_id = provided_server(mgr, db, admin_ctx)
    server = db.share_server_get(admin_ctx, server_id)
    network = db.share_network_get(admin_ctx, net_id)
    # The daemon died after allocating, before setup_server answered.
    servers.allocate(mgr, admin_ctx, server, network,
                     server['share_network_subnets'])
    assert len(allocations(db, admin_ctx, server_id)) == 3
    _age(db, [server_id], 5)
    # Its instance is still creating: that instance's re-drive sets it up.
    reconcile.reconcile(mgr, admin_ctx)
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'creating'
    assert len(allocations(db, admin_ctx, server_id)) == 3
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'error'})
    _age(db, [server_id], 5)
    assert reconcile.reconcile(mgr, admin_ctx) == 1
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'error'
    assert allocations(db, admin_ctx, server_id) == []


def test_crash_while_deleting_is_finished(dhss, db, admin_ctx, timeout):
    from manila_lite.share import reconcile
    mgr = dhss()
    server_id = emptied_server(mgr, db, admin_ctx)
    db.share_server_update(admin_ctx, server_id,
                           {'status': 'deleting', 'is_auto_deletable': False})
    _age(db, [server_id], 5)
    assert reconcile.reconcile(mgr, admin_ctx) == 1
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, server_id)
    assert allocations(db, admin_ctx, server_id) == []


def test_creating_instance_redrive_sets_its_server_up(dhss, db, admin_ctx,
                                                      timeout):
    from manila_lite.share import reconcile
    mgr = dhss()
    net_id, inst, server_id = provided_server(mgr, db, admin_ctx)
    import sqlalchemy
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE share_instances SET updated_at = :w WHERE id = :i'),
            {'w': timeutils.utcnow() - datetime.timedelta(minutes=5),
             'i': inst['id']})
    _age(db, [server_id], 5)
    reconcile.reconcile(mgr, admin_ctx)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        'available'
    assert db.share_server_get(admin_ctx, server_id)['status'] == 'active'
    assert len(allocations(db, admin_ctx, server_id)) == 3


def test_startup_ensure_passes_each_instance_its_server(dhss, db, admin_ctx,
                                                        monkeypatch):
    mgr = dhss()
    net_id, _ = make_network(db)
    inst = create(mgr, db, admin_ctx, net_id)
    seen = {}

    def ensure_shares(context, shares):
        seen.update({s['id']: s['share_server'] for s in shares})
        return {}
    monkeypatch.setattr(mgr.driver, 'ensure_shares', ensure_shares)
    mgr.ensure_driver_resources(admin_ctx, skip_backend_info_check=True)
    server = seen[inst['id']]
    assert server['id'] == inst['share_server_id']
    assert server['backend_details']['service_ip'] == '10.254.0.12'
