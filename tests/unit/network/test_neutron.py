"""The Neutron network plugins against a Neutron-compatible HTTP service (real HTTP through python-neutronclient, real SQLite rows)."""

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa
import tenacity

from manila_lite.conf import network as network_conf
from manila_lite.conf import neutron as neutron_conf
from manila_lite import context as ml_context
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from manila_lite.network import base
from manila_lite.network.neutron import api as neutron_api
from manila_lite.network.neutron import plugin

CONF = cfg.CONF
GROUP = 'netgrp'
PROFILE = 'switchprofile'


@pytest.fixture
def fake(neutron_service):
    return neutron_service


@pytest.fixture
def override():
    """Set options of any group (registered on demand); cleared after the test."""
    neutron_conf.register_client_opts(CONF)
    for group in (GROUP, PROFILE):
        base.register_opts(group, network_conf.network_opts +
                           network_conf.network_base_opts +
                           neutron_conf.plugin_opts)
    CONF.register_opts(neutron_conf.neutron_binding_profile_opts,
                       group=PROFILE)
    done = []

    def set_opt(name, value, group=GROUP):
        CONF.set_override(name, value, group=group)
        done.append((name, group))
    yield set_opt
    for name, group in done:
        CONF.clear_override(name, group=group)


@pytest.fixture
def neutron(fake, override):
    override('url', fake.url, group='neutron')
    override('auth_type', 'none', group='neutron')
    net_id = fake.add_network()
    subnet_id = fake.add_subnet(net_id, '10.20.0.0/24')
    return fake, net_id, subnet_id


def build(override, kind='neutron', label='user', **options):
    override('network_api_class', kind)
    for name, value in options.items():
        override(name, value)
    return base.API(config_group_name=GROUP, label=label)


def make_subnet(db, net_id=None, subnet_id=None, project_id='p1'):
    ctx = ml_context.get_admin_context()
    """A share network (project ``project_id``) with one subnet naming the Neutron ids; returns (network row, subnet row)."""
    sn_id, sub_id = uuidutils.generate_uuid(), uuidutils.generate_uuid()
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models.ShareNetwork.__table__).values(
            id=sn_id, project_id=project_id, user_id='u1', name='net',
            deleted='False', status='active', created_at=timeutils.utcnow()))
        conn.execute(sa.insert(models.ShareNetworkSubnet.__table__).values(
            id=sub_id, share_network_id=sn_id, deleted='False',
            neutron_net_id=net_id, neutron_subnet_id=subnet_id,
            created_at=timeutils.utcnow()))
    return (db.share_network_get(ctx, sn_id),
            db.share_network_subnet_get(ctx, sub_id))


def make_server(db, ctx):
    return db.share_server_create(ctx, {'host': 'hostA@alpha',
                                        'status': 'creating'})


def rows(db, ctx, server_id, label=None):
    return db.network_allocations_get_for_share_server(ctx, server_id,
                                                       label=label)


def test_allocate_creates_ports_rows_and_fills_the_subnet(neutron, override,
                                                          db, admin_ctx):
    fake, net_id, subnet_id = neutron
    network, subnet = make_subnet(db, net_id, subnet_id)
    server = make_server(db, admin_ctx)
    api = build(override)
    assert isinstance(api, plugin.NeutronNetworkPlugin)
    made = api.allocate_network(admin_ctx, server, network, subnet, count=2)
    ports = sorted(fake.ports_of(server['id']), key=lambda p: p['name'])
    assert [p['name'] for p in ports] == [
        server['id'] + '_0', server['id'] + '_1']
    assert {(p['device_owner'], p['project_id'], p['admin_state_up'])
            for p in ports} == {('manila:share', 'p1', True)}
    found = rows(db, admin_ctx, server['id'])
    assert sorted(r['id'] for r in found) == sorted(r['id'] for r in made)
    assert sorted(r['id'] for r in found) == sorted(p['id'] for p in ports)
    assert sorted(r['ip_address'] for r in found) == ['10.20.0.2',
                                                      '10.20.0.3']
    assert {(r['label'], r['cidr'], r['gateway'], r['mtu'], r['ip_version'],
             r['network_type'], r['segmentation_id'],
             r['share_network_subnet_id']) for r in found} == {
        ('user', '10.20.0.0/24', '10.20.0.1', 1450, 4, 'vlan', 1001,
         subnet['id'])}
    assert {r['mac_address'] for r in found} == {p['mac_address']
                                                 for p in ports}
    saved = db.share_network_subnet_get(admin_ctx, subnet['id'])
    assert (saved['cidr'], saved['gateway'], saved['mtu'],
            saved['ip_version'], saved['network_type'],
            saved['segmentation_id']) == ('10.20.0.0/24', '10.20.0.1', 1450,
                                          4, 'vlan', 1001)


def test_deallocate_deletes_ports_rows_and_stray_ports(neutron, override,
                                                       db, admin_ctx):
    fake, net_id, subnet_id = neutron
    network, subnet = make_subnet(db, net_id, subnet_id)
    server, other = make_server(db, admin_ctx), make_server(db, admin_ctx)
    api = build(override)
    api.allocate_network(admin_ctx, server, network, subnet, count=2)
    api.allocate_network(admin_ctx, other, network, subnet, count=1)
    # A port Neutron made whose row was never written.
    fake._route('POST', '/v2.0/ports', {}, {'port': {
        'network_id': net_id, 'device_id': server['id'],
        'device_owner': 'manila:share'}})
    fake._route('POST', '/v2.0/ports', {}, {'port': {
        'network_id': net_id, 'device_id': server['id'],
        'device_owner': 'compute:nova'}})
    api.deallocate_network(admin_ctx, server['id'])
    assert [p['device_owner'] for p in fake.ports_of(server['id'])] == [
        'compute:nova']
    assert rows(db, admin_ctx, server['id']) == []
    assert len(fake.ports_of(other['id'])) == 1
    assert len(rows(db, admin_ctx, other['id'])) == 1
    # Batch release; a port already gone in Neutron counts as released.
    fake.ports.pop(rows(db, admin_ctx, other['id'])[0]['id'])
    api.deallocate_networks(admin_ctx, [server['id'], other['id']])
    assert rows(db, admin_ctx, other['id']) == []


def test_ip_exhaustion_is_a_clear_error_and_release_leaks_nothing(
        fake, neutron, override, db, admin_ctx):
    _, net_id, _ = neutron
    small = fake.add_subnet(net_id, '10.30.0.0/24',
                            pool=('10.30.0.5', '10.30.0.5'))
    network, subnet = make_subnet(db, net_id, small)
    server = make_server(db, admin_ctx)
    api = build(override)
    with pytest.raises(exception.IpAddressGenerationFailureClient) as info:
        api.allocate_network(admin_ctx, server, network, subnet, count=2)
    assert small in str(info.value)
    assert [r['ip_address'] for r in rows(db, admin_ctx, server['id'])] == [
        '10.30.0.5']
    api.deallocate_network(admin_ctx, server['id'])
    assert fake.ports_of(server['id']) == []
    assert rows(db, admin_ctx, server['id']) == []


@pytest.mark.parametrize('status, kind, error', [
    (500, 'InternalServerError', exception.NetworkException),
    (409, 'OverQuota', exception.PortLimitExceeded),
])
def test_port_create_failure_is_raised(neutron, override, db, admin_ctx,
                                       status, kind, error):
    fake, net_id, subnet_id = neutron
    network, subnet = make_subnet(db, net_id, subnet_id)
    server = make_server(db, admin_ctx)
    fake.fail('POST', '/v2.0/ports', status=status, kind=kind,
              message='boom', after=1)
    with pytest.raises(error) as info:
        build(override).allocate_network(admin_ctx, server, network,
                                         subnet, count=2)
    assert 'boom' in str(info.value)
    assert len(fake.ports_of(server['id'])) == 1


def test_missing_network_and_unreachable_neutron(neutron, override, db,
                                                 admin_ctx, monkeypatch):
    fake, _, subnet_id = neutron
    network, subnet = make_subnet(db, uuidutils.generate_uuid(), subnet_id)
    server = make_server(db, admin_ctx)
    api = build(override)
    with pytest.raises(exception.NetworkException) as info:
        api.allocate_network(admin_ctx, server, network, subnet)
    assert info.value.kwargs['code'] == 404
    with pytest.raises(exception.NetworkBadConfigurationException):
        api.allocate_network(admin_ctx, server, None, subnet)
    monkeypatch.setattr(neutron_api.API._call.retry, 'wait',
                        tenacity.wait_none())
    fake.stop()
    with pytest.raises(exception.NetworkException) as info:
        api.allocate_network(admin_ctx, server, network, subnet)
    assert 'Unable to establish connection' in str(info.value)


def test_multi_segment_network_needs_the_physical_network(
        fake, neutron, override, db, admin_ctx):
    net_id = fake.add_network(segments=[
        {'provider:physical_network': 'phys1',
         'provider:network_type': 'vlan', 'provider:segmentation_id': 7},
        {'provider:physical_network': 'phys2',
         'provider:network_type': 'vxlan', 'provider:segmentation_id': 9}])
    subnet_id = fake.add_subnet(net_id, '10.40.0.0/24')
    network, subnet = make_subnet(db, net_id, subnet_id)
    server = make_server(db, admin_ctx)
    with pytest.raises(exception.NetworkBadConfigurationException):
        build(override).allocate_network(admin_ctx, server, network, subnet)
    api = build(override, neutron_physical_net_name='phys2')
    [row] = api.allocate_network(admin_ctx, server, network, subnet)
    assert (row['network_type'], row['segmentation_id']) == ('vxlan', 9)
    info = {'neutron_net_id': net_id, 'neutron_subnet_id': subnet_id}
    api.include_network_info(info)
    assert (info['cidr'], info['segmentation_id']) == ('10.40.0.0/24', 9)


def test_single_network_plugin_user_and_admin(neutron, override, db,
                                              admin_ctx):
    fake, net_id, subnet_id = neutron
    network, subnet = make_subnet(db)
    server = make_server(db, admin_ctx)
    options = dict(neutron_net_id=net_id, neutron_subnet_id=subnet_id)
    api = build(override, 'neutron_single', **options)
    [row] = api.allocate_network(admin_ctx, server, network, subnet)
    saved = db.share_network_subnet_get(admin_ctx, subnet['id'])
    assert (saved['neutron_net_id'], saved['neutron_subnet_id']) == (
        net_id, subnet_id)
    assert row['share_network_subnet_id'] == subnet['id']
    admin = build(override, 'neutron_single', label='admin', **options)
    [arow] = admin.allocate_network(admin_ctx, server, count=1)
    assert (arow['label'], arow['share_network_subnet_id'],
            arow['cidr']) == ('admin', None, '10.20.0.0/24')
    assert 'project_id' not in fake.ports[arow['id']]
    # Each label releases its own rows; both ports go.
    admin.deallocate_network(admin_ctx, server['id'])
    assert [r['label'] for r in rows(db, admin_ctx, server['id'])] == [
        'user']
    api.deallocate_network(admin_ctx, server['id'])
    assert fake.ports_of(server['id']) == []
    other, _ = make_subnet(db, uuidutils.generate_uuid(), subnet_id)
    _, foreign = make_subnet(db, uuidutils.generate_uuid(), subnet_id)
    with pytest.raises(exception.NetworkBadConfigurationException):
        api.allocate_network(admin_ctx, server, other, foreign)


def test_single_network_plugin_configuration_errors(neutron, override, db,
                                                    admin_ctx):
    fake, net_id, subnet_id = neutron
    with pytest.raises(exception.ConfigError) as info:
        build(override, 'neutron_single', neutron_net_id=net_id)
    assert '[%s] neutron_subnet_id' % GROUP in str(info.value)
    stray = fake.add_subnet(fake.add_network(), '10.50.0.0/24')
    api = build(override, 'neutron_single', neutron_net_id=net_id,
                neutron_subnet_id=stray)
    network, subnet = make_subnet(db)
    with pytest.raises(exception.NetworkBadConfigurationException) as info:
        api.allocate_network(admin_ctx, make_server(db, admin_ctx), network,
                             subnet)
    assert 'does not belong' in str(info.value)


def test_bind_plugins_send_the_binding_payload(neutron, override, db,
                                               admin_ctx):
    fake, net_id, subnet_id = neutron
    override('neutron_switch_id', 'sw1', group=PROFILE)
    override('neutron_port_id', 'eth7', group=PROFILE)
    override('neutron_switch_info', {'switch_ip': '10.4.30.5'},
             group=PROFILE)
    network, subnet = make_subnet(db, net_id, subnet_id)
    server = make_server(db, admin_ctx)
    api = build(override, 'manila.network.neutron.neutron_network_plugin.'
                          'NeutronBindNetworkPlugin',
                neutron_host_id='storage-host', neutron_vnic_type='direct',
                neutron_binding_profiles=[PROFILE])
    api.allocate_network(admin_ctx, server, network, subnet)
    [body] = fake.port_bodies()
    assert body['binding:host_id'] == 'storage-host'
    assert body['binding:vnic_type'] == 'direct'
    assert body['binding:profile'] == {'local_link_information': [
        {'switch_id': 'sw1', 'port_id': 'eth7',
         'switch_info': {'switch_ip': '10.4.30.5'}}]}
    bind_single = build(override, 'neutron_bind_single',
                        neutron_net_id=net_id, neutron_subnet_id=subnet_id,
                        neutron_vnic_type='normal')
    assert isinstance(bind_single, plugin.NeutronSingleNetworkPlugin)
    [row] = bind_single.allocate_network(admin_ctx, make_server(db, admin_ctx),
                                         network, subnet)
    assert fake.port_bodies()[-1]['binding:vnic_type'] == 'normal'
    # A port Neutron failed to bind fails the wait at once.
    fake.ports[row['id']]['status'] = 'ERROR'
    with pytest.raises(exception.NetworkException) as info:
        bind_single.update_network_allocation(
            admin_ctx, {'id': row['share_server_id']})
    assert 'Port binding %s failed' % row['id'] in str(info.value)


def test_manage_and_unmanage_allocations(neutron, override, db, admin_ctx):
    fake, net_id, subnet_id = neutron
    network, subnet = make_subnet(db, net_id, subnet_id)
    ports = [fake._route('POST', '/v2.0/ports', {}, {'port': {
        'network_id': net_id, 'fixed_ips': [{'subnet_id': subnet_id}],
        'device_owner': 'manila:share'}})[1]['port'] for _ in range(2)]
    addresses = [p['fixed_ips'][0]['ip_address'] for p in ports]
    server = make_server(db, admin_ctx)
    api = build(override)
    left = api.manage_network_allocations(
        admin_ctx, addresses + ['10.99.0.1'], server, network, subnet)
    assert left == ['10.99.0.1']
    assert sorted(r['id'] for r in rows(db, admin_ctx, server['id'])) == (
        sorted(p['id'] for p in ports))
    other = make_server(db, admin_ctx)
    with pytest.raises(exception.ManageShareServerError):
        api.manage_network_allocations(admin_ctx, addresses[:1], other,
                                       network, subnet)
    api.unmanage_network_allocations(admin_ctx, server['id'])
    assert rows(db, admin_ctx, server['id']) == []
    assert len(fake.ports) == 2
    # Managed again: the soft-deleted rows come back.
    assert api.manage_network_allocations(
        admin_ctx, addresses, other, network, subnet) == []
    assert sorted(r['ip_address'] for r in rows(db, admin_ctx, other['id'])
                  ) == sorted(addresses)


@pytest.mark.parametrize('option, value, named', [
    ('url', 'ftp://127.0.0.1:1', 'url'),
    ('url', None, 'url'),
    ('auth_type', 'nosuchauth', 'auth_type'),
    ('cafile', '/nonexistent/ca.pem', 'cafile'),
])
def test_bad_neutron_option_is_one_config_error(neutron, override, option,
                                                value, named):
    # (Values oslo.config refuses on parsing, e.g. an unknown
    # endpoint_type, are covered by the daemon's start-up test.)
    override(option, value, group='neutron')
    with pytest.raises(exception.ConfigError) as info:
        build(override)
    assert str(info.value).startswith(
        'Invalid configuration: [neutron] %s: ' % named)
    assert '\n' not in str(info.value)


def test_password_auth_without_auth_url_is_one_config_error():
    # A private ConfigOpts: the password plugin registers required options.
    conf = cfg.ConfigOpts()
    neutron_conf.register_client_opts(conf)
    conf.set_override('auth_type', 'password', group='neutron')
    with pytest.raises(exception.ConfigError) as info:
        neutron_api.API(conf=conf)
    assert str(info.value).startswith(
        'Invalid configuration: [neutron] auth_url: required by auth_type '
        'password')


@pytest.mark.parametrize('path, cls', [
    (neutron_conf.NEUTRON_PATH, plugin.NeutronNetworkPlugin),
    (neutron_conf.NEUTRON_SINGLE_PATH, plugin.NeutronSingleNetworkPlugin),
    (neutron_conf.NEUTRON_BIND_PATH, plugin.NeutronBindNetworkPlugin),
    (neutron_conf.NEUTRON_BIND_SINGLE_PATH,
     plugin.NeutronBindSingleNetworkPlugin),
])
def test_upstream_paths_load_our_plugins(neutron, override, path, cls):
    fake, net_id, subnet_id = neutron
    api = build(override, path, neutron_net_id=net_id,
                neutron_subnet_id=subnet_id)
    assert type(api) is cls
    assert api.label == 'user'
    # No call reached Neutron while building the plugin.
    assert fake.requests == []
