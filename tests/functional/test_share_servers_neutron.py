"""Share servers of a DHSS=True dummy backend with upstream's Neutron plugin paths, through the real daemon, RabbitMQ, PostgreSQL and a fake Neutron.

The backend names ``manila.network.neutron.neutron_network_plugin.
NeutronNetworkPlugin`` for the user network and the single-network plugin
for its admin network; ``[neutron]`` points at a Neutron-compatible HTTP
service of the test process (keystoneauth ``none`` auth, no Keystone).
"""

from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from tests.functional import share_rows as rows
from tests.functional import test_share_servers
from tests.functional import test_startup_failures

pytestmark = pytest.mark.functional

PLUGINS = 'manila.network.neutron.neutron_network_plugin.'


@pytest.fixture
def neutron(neutron_service):
    return neutron_service


def _options(fake, admin_net, admin_subnet, **neutron):
    return {
        'alpha': {
            'driver_handles_share_servers': True,
            'network_api_class': PLUGINS + 'NeutronNetworkPlugin',
            'admin_network_config_group': 'adminnet',
        },
        'adminnet': {
            'network_api_class': PLUGINS + 'NeutronSingleNetworkPlugin',
            'neutron_net_id': admin_net,
            'neutron_subnet_id': admin_subnet,
        },
        'neutron': dict({'url': fake.url, 'auth_type': 'none',
                         'timeout': 30}, **neutron),
    }


def _share_network(pg, net_id, subnet_id):
    """A share network of project p1 whose subnet names Neutron's ids; returns its id."""
    sn_id = uuidutils.generate_uuid()
    with pg.get_engine().begin() as conn:
        conn.execute(sa.insert(models.ShareNetwork.__table__).values(
            id=sn_id, project_id='p1', user_id='u1', name='net',
            deleted='False', status='active', created_at=timeutils.utcnow()))
        conn.execute(sa.insert(models.ShareNetworkSubnet.__table__).values(
            id=uuidutils.generate_uuid(), share_network_id=sn_id,
            neutron_net_id=net_id, neutron_subnet_id=subnet_id,
            deleted='False', created_at=timeutils.utcnow()))
    return sn_id


def _allocations(daemon, server_id):
    return daemon.db.rows(
        "SELECT * FROM network_allocations WHERE share_server_id = :s AND "
        "deleted = 'False'", s=server_id)


def _failed_share(pg, daemon, share_rpc, neutron, net_id, subnet_id):
    """Create a share that fails; check share, server, message, no port, no row."""
    inst = test_share_servers._create(
        pg, daemon, share_rpc, _share_network(pg, net_id, subnet_id),
        'alpha')
    assert inst['status'] == 'error'
    assert rows.messages(daemon, inst['share_id']) == [
        ('002', '004', 'SHARE', 'p1')]
    server = pg.share_server_get(rows.admin_ctx(), inst['share_server_id'])
    assert server['status'] == 'error'
    assert neutron.ports_of(server['id']) == []
    assert _allocations(daemon, server['id']) == []
    return server


def test_neutron_share_server_lifecycle(fresh_db, pg_facade, daemon_factory,
                                        share_rpc, neutron):
    net_id = neutron.add_network(segmentation_id=2001, mtu=1400)
    subnet_id = neutron.add_subnet(net_id, '10.60.0.0/24')
    admin_net = neutron.add_network(network_type='flat',
                                    segmentation_id=None)
    admin_subnet = neutron.add_subnet(admin_net, '10.61.0.0/24')
    daemon = daemon_factory(fresh_db, options=_options(
        neutron, admin_net, admin_subnet))
    host = daemon.pool_host('alpha').split('#')[0]

    share = test_share_servers._create(
        pg_facade, daemon, share_rpc,
        _share_network(pg_facade, net_id, subnet_id), 'alpha')
    assert share['status'] == 'available', daemon.diagnostics()
    [server] = test_share_servers._servers(daemon, host)
    assert server['status'] == 'active'
    ports = {p['id']: p for p in neutron.ports_of(server['id'])}
    allocations = _allocations(daemon, server['id'])
    assert sorted(ports) == sorted(a['id'] for a in allocations)
    assert sorted((a['label'], a['ip_address'], a['network_type'],
                   a['segmentation_id'], a['mtu']) for a in allocations) == [
        ('admin', '10.61.0.2', 'flat', None, 1450),
        ('user', '10.60.0.2', 'vlan', 2001, 1400),
        ('user', '10.60.0.3', 'vlan', 2001, 1400)]
    assert {p['device_owner'] for p in ports.values()} == {'manila:share'}
    subnet = daemon.db.row(
        'SELECT * FROM share_network_subnets WHERE share_network_id = :n',
        n=share['share_network_id'])
    assert (subnet['cidr'], subnet['gateway'], subnet['network_type'],
            subnet['segmentation_id'], subnet['mtu']) == (
        '10.60.0.0/24', '10.60.0.1', 'vlan', 2001, 1400)

    # Neutron answers 500 on the second port; then the subnet runs dry.
    neutron.fail('POST', '/v2.0/ports', status=500, after=1)
    _failed_share(pg_facade, daemon, share_rpc, neutron, net_id, subnet_id)
    small = neutron.add_subnet(net_id, '10.62.0.0/24',
                               pool=('10.62.0.9', '10.62.0.9'))
    _failed_share(pg_facade, daemon, share_rpc, neutron, net_id, small)
    assert 'No free IP addresses available in neutron subnet %s' % small \
        in daemon.log_text()

    # Deleting the share, then the server: every port and row goes.
    test_share_servers.delete_shares(pg_facade, daemon, share_rpc,
                                     server['id'], [share])
    share_rpc.delete_share_server(
        rows.admin_ctx(), test_share_servers.server_arg(pg_facade, server))
    daemon.wait_for(lambda: server['id'] not in [
        s['id'] for s in test_share_servers._servers(daemon, host)],
        timeout=30, message='server %s deleted' % server['id'])
    assert neutron.ports_of(server['id']) == []
    assert _allocations(daemon, server['id']) == []
    assert neutron.ports == {}


def test_bad_neutron_option_stops_start_up(fresh_db, daemon_factory,
                                           neutron):
    daemon = daemon_factory(fresh_db, start=False, options=_options(
        neutron, 'n', 's', endpoint_type='sideways'))
    code, _seconds = test_startup_failures._run_to_exit(daemon)
    test_startup_failures._assert_one_line(
        daemon, code, 2, "Invalid configuration: [neutron] endpoint_type: ")
