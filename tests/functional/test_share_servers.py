"""Share servers of a DHSS=True dummy backend through the real daemon, RabbitMQ and PostgreSQL, with standalone allocations.

Each test's daemon runs two DHSS=True backends: ``alpha`` works, ``beta``
fails one driver method (``setup_server``; ``unmanage_server``). One test
walks the whole lifecycle, one unmanage and manage, to keep suite time low.
"""

from oslo_serialization import jsonutils
import pytest

from tests.functional import share_rows as rows
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional


def backend_options(name, first, last, **extra):
    """Options of a DHSS=True dummy backend allocating from first..last with the standalone plugin."""
    values = {
        'share_driver': 'dummy', 'share_backend_name': name,
        'driver_handles_share_servers': True,
        'dummy_driver_default_driver_method_delay': 0,
        'dummy_driver_driver_methods_delays': '',
        'standalone_network_plugin_gateway': '10.254.0.1',
        'standalone_network_plugin_mask': '24',
        'standalone_network_plugin_allowed_ip_ranges': '%s-%s' % (first,
                                                                  last),
        'admin_network_config_group': name,
    }
    values.update(extra)
    return values


def _servers(daemon, host):
    return daemon.db.rows("SELECT * FROM share_servers WHERE host = :h AND "
                          "deleted = 'False'", h=host)


def allocated_ips(daemon, server_id):
    """Sorted ``(label, address)`` of a server's live allocations."""
    return sorted((r['label'], r['ip_address']) for r in daemon.db.rows(
        "SELECT * FROM network_allocations WHERE share_server_id = :s AND "
        "deleted = 'False'", s=server_id))


def _create(pg, daemon, share_rpc, net_id, backend):
    row = rows.share(pg, daemon, 'creating', share_network_id=net_id)
    pg.share_instance_update(rows.admin_ctx(), row['instance']['id'],
                             {'host': daemon.pool_host(backend)})
    inst = pg.share_instance_get(rows.admin_ctx(), row['instance']['id'])
    share_rpc.create_share_instance(rows.user_ctx(), inst, inst['host'],
                                    request_spec={}, filter_properties={})
    daemon.wait_for(lambda: rows.instance(daemon, row['id'])['status']
                    != 'creating', timeout=30,
                    message='share %s left creating' % row['id'])
    return rows.instance(daemon, row['id'])


def server_arg(pg, server):
    """The share server dict upstream's API casts ``delete_share_server`` with."""
    loaded = pg.share_server_get(rows.admin_ctx(), server['id'])
    return jsonutils.to_primitive(dict(
        server, backend_details=loaded['backend_details'],
        share_network_subnet_ids=loaded['share_network_subnet_ids']))


def delete_shares(pg, daemon, share_rpc, server_id, instances):
    """Delete share ``instances`` of a server and wait till the server has none."""
    for inst in instances:
        rows.set_status(pg, inst['share_id'], 'deleting')
        share_rpc.delete_share_instance(rows.user_ctx(), inst)
    daemon.wait_for(lambda: not daemon.db.rows(
        "SELECT id FROM share_instances WHERE share_server_id = :s AND "
        "deleted = 'False'", s=server_id), timeout=30,
        message='shares of server %s deleted' % server_id)


def _two_backends(daemon_factory, fresh_db, pg, beta_fails):
    """A daemon: ``alpha`` works, ``beta`` fails ``beta_fails``; returns (daemon, alpha host, network id, subnet id)."""
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta'},
        'alpha': backend_options('alpha', '10.254.0.10', '10.254.0.99'),
        'beta': backend_options('beta', '10.254.0.100', '10.254.0.199',
                                dummy_driver_fail_methods=beta_fails),
    })
    net_id, subnet_id = test_servers.make_network(pg)
    return daemon, daemon.pool_host('alpha').split('#')[0], net_id, subnet_id


def test_dhss_share_server_lifecycle(fresh_db, pg_facade, daemon_factory,
                                     share_rpc):
    daemon, alpha, net_id, subnet_id = _two_backends(
        daemon_factory, fresh_db, pg_facade, '_setup_server')

    first = _create(pg_facade, daemon, share_rpc, net_id, 'alpha')
    assert first['status'] == 'available'
    [server] = _servers(daemon, alpha)
    assert server['status'] == 'active'
    assert first['share_server_id'] == server['id']
    assert allocated_ips(daemon, server['id']) == [
        ('admin', '10.254.0.12'), ('user', '10.254.0.10'),
        ('user', '10.254.0.11')]
    subnet = daemon.db.row('SELECT * FROM share_network_subnets WHERE '
                           'id = :i', i=subnet_id)
    assert (subnet['cidr'], subnet['gateway'], subnet['mtu']) == (
        '10.254.0.0/24', '10.254.0.1', 1500)
    second = _create(pg_facade, daemon, share_rpc, net_id, 'alpha')
    assert second['share_server_id'] == server['id']

    # The failing backend: share and server in error, addresses given back.
    failed = _create(pg_facade, daemon, share_rpc, net_id, 'beta')
    assert failed['status'] == 'error'
    assert rows.messages(daemon, failed['share_id']) == [
        ('002', '004', 'SHARE', 'p1')]
    bad = pg_facade.share_server_get(rows.admin_ctx(),
                                     failed['share_server_id'])
    assert bad['status'] == 'error'
    assert allocated_ips(daemon, bad['id']) == []

    # A server with shares is not deleted; once empty it is, network too.
    full = server_arg(pg_facade, server)
    share_rpc.delete_share_server(rows.admin_ctx(), full)
    daemon.wait_for(lambda: 'ShareServerInUse' in daemon.log_text(),
                    timeout=30, message='in-use server refused')
    delete_shares(pg_facade, daemon, share_rpc, server['id'],
                  (first, second))
    share_rpc.delete_share_server(rows.admin_ctx(), full)
    daemon.wait_for(lambda: not _servers(daemon, alpha), timeout=30,
                    message='server %s deleted' % server['id'])
    assert allocated_ips(daemon, server['id']) == []


def test_localfs_share_servers(fresh_db, pg_facade, daemon_factory,
                               share_rpc, tmp_path):
    """localfs: a server is a namespace with its own addresses; it is reused, refused while it holds data, then deleted with its files."""
    pool = tmp_path / 'pools' / 'gamma'
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'gamma'},
        'gamma': backend_options(
            'gamma', '10.254.0.10', '10.254.0.99', share_driver='localfs',
            localfs_pools=str(pool), localfs_export_ips='',
            localfs_exports_file=str(tmp_path / 'gamma.exports'),
            localfs_apply_samba_config=False)})
    host = daemon.pool_host('gamma').split('#')[0]
    net_id, _subnet_id = test_servers.make_network(pg_facade)
    first = _create(pg_facade, daemon, share_rpc, net_id, 'gamma')
    assert first['status'] == 'available'
    [server] = _servers(daemon, host)
    assert server['status'] == 'active'
    assert allocated_ips(daemon, server['id']) == [
        ('admin', '10.254.0.11'), ('user', '10.254.0.10')]
    namespace = pool / ('server-' + server['id'])
    share_dir = namespace / ('share-' + first['id'])
    assert share_dir.is_dir()
    paths = sorted(r['path'] for r in daemon.db.rows(
        "SELECT path FROM share_instance_export_locations WHERE "
        "share_instance_id = :i AND deleted = 0", i=first['id']))
    assert paths == ['10.254.0.10:%s' % share_dir,
                     '10.254.0.11:%s' % share_dir]
    server_file = tmp_path / ('gamma-server-%s.exports' % server['id'])
    assert '10.254.0.10' in server_file.read_text()
    second = _create(pg_facade, daemon, share_rpc, net_id, 'gamma')
    assert second['share_server_id'] == server['id']
    assert (namespace / ('share-' + second['id'])).is_dir()

    for inst in (first, second):
        rows.set_status(pg_facade, inst['share_id'], 'deleting')
        share_rpc.delete_share_instance(rows.user_ctx(), inst)
    daemon.wait_for(lambda: not daemon.db.rows(
        "SELECT id FROM share_instances WHERE share_server_id = :s AND "
        "deleted = 'False'", s=server['id']), timeout=30,
        message='shares of the server deleted')
    loaded = pg_facade.share_server_get(rows.admin_ctx(), server['id'])
    full = jsonutils.to_primitive(dict(
        server, backend_details=loaded['backend_details'],
        share_network_subnet_ids=loaded['share_network_subnet_ids']))
    # data left in the namespace by hand: the driver refuses, server error
    (namespace / 'stray').write_text('not the driver\'s')
    share_rpc.delete_share_server(rows.admin_ctx(), full)
    daemon.wait_for(lambda: _servers(daemon, host)[0]['status'] == 'error',
                    timeout=30, message='teardown refused')
    assert (namespace / 'stray').exists()
    (namespace / 'stray').unlink()
    pg_facade.share_server_update(rows.admin_ctx(), server['id'],
                                  {'status': 'active'})
    share_rpc.delete_share_server(rows.admin_ctx(), full)
    daemon.wait_for(lambda: not _servers(daemon, host), timeout=30,
                    message='server %s deleted' % server['id'])
    assert not namespace.exists()
    assert not server_file.exists()


def emptied_server(pg, daemon, share_rpc, net_id, backend):
    """A server of ``backend`` whose only share was created and deleted: returns its row."""
    inst = _create(pg, daemon, share_rpc, net_id, backend)
    assert inst['status'] == 'available'
    rows.set_status(pg, inst['share_id'], 'deleting')
    share_rpc.delete_share_instance(rows.user_ctx(), inst)
    daemon.wait_for(lambda: not daemon.db.rows(
        "SELECT id FROM share_instances WHERE id = :i AND deleted = "
        "'False'", i=inst['id']), timeout=30, message='share deleted')
    return pg.share_server_get(rows.admin_ctx(), inst['share_server_id'])


def request_unmanage(pg, share_rpc, server, force=False):
    """Do what upstream's API does: ``unmanage_starting``, then the cast."""
    pg.share_server_update(rows.admin_ctx(), server['id'],
                           {'status': 'unmanage_starting'})
    share_rpc.unmanage_share_server(rows.admin_ctx(), {
        'id': server['id'], 'host': server['host']}, force=force)


def request_manage(pg, share_rpc, host, subnet_id, identifier):
    """Do what upstream's API does: a ``manage_starting`` row, then the cast; returns the row's id."""
    row = pg.share_server_create(rows.admin_ctx(), {
        'host': host, 'status': 'manage_starting',
        'share_network_subnets': [subnet_id], 'is_auto_deletable': False,
        'identifier': identifier})
    share_rpc.manage_share_server(rows.admin_ctx(), {
        'id': row['id'], 'host': host}, identifier, {})
    return row['id']


def status_after(daemon, server_id, transitional):
    """Wait until the server left ``transitional``; returns its row."""
    daemon.wait_for(lambda: daemon.db.scalar(
        'SELECT status FROM share_servers WHERE id = :i', i=server_id)
        != transitional, timeout=30,
        message='server %s left %s' % (server_id, transitional))
    return daemon.db.row('SELECT * FROM share_servers WHERE id = :i',
                         i=server_id)


def test_unmanage_and_manage_share_servers(fresh_db, pg_facade,
                                           daemon_factory, share_rpc):
    daemon, alpha, net_id, subnet_id = _two_backends(
        daemon_factory, fresh_db, pg_facade, 'unmanage_server')

    # Unmanage: the row and its addresses go, the backend keeps the server.
    old = emptied_server(pg_facade, daemon, share_rpc, net_id, 'alpha')
    old_ips = [ip for _label, ip in allocated_ips(daemon, old['id'])]
    request_unmanage(pg_facade, share_rpc, old)
    row = status_after(daemon, old['id'], 'unmanage_starting')
    assert row['deleted'] == old['id']
    assert allocated_ips(daemon, old['id']) == []

    # Manage it again: active, same identifier and addresses.
    new_id = request_manage(pg_facade, share_rpc, alpha, subnet_id, old['id'])
    row = status_after(daemon, new_id, 'manage_starting')
    assert (row['status'], row['identifier']) == ('active', old['id'])
    assert sorted(ip for _label, ip in allocated_ips(daemon, new_id)) == sorted(
        old_ips)
    details = pg_facade.share_server_get(rows.admin_ctx(),
                                         new_id)['backend_details']
    assert details['service_ip'] == old['backend_details']['service_ip']
    assert rows.messages(daemon, subnet_id) == []

    # A backend server that does not exist: manage_error, a user message,
    # no address kept.
    unknown = request_manage(pg_facade, share_rpc, alpha, subnet_id,
                             '0b7a4b1c-1111-4222-8333-944455556666')
    assert status_after(daemon, unknown, 'manage_starting')['status'] == \
        'manage_error'
    assert allocated_ips(daemon, unknown) == []
    assert rows.messages(daemon, subnet_id) == [
        ('002', '001', 'SHARE_NETWORK_SUBNET', 'p1')]

    # A driver failing unmanage_server: unmanage_error, addresses kept;
    # forced, the server is forgotten all the same.
    failing = emptied_server(pg_facade, daemon, share_rpc, net_id, 'beta')
    request_unmanage(pg_facade, share_rpc, failing)
    assert status_after(daemon, failing['id'],
                        'unmanage_starting')['status'] == 'unmanage_error'
    assert len(allocated_ips(daemon, failing['id'])) == 3
    assert ('007', '001', 'SHARE_NETWORK_SUBNET', 'p1') in rows.messages(
        daemon, subnet_id)
    request_unmanage(pg_facade, share_rpc, failing, force=True)
    assert status_after(daemon, failing['id'],
                        'unmanage_starting')['deleted'] == failing['id']
    assert allocated_ips(daemon, failing['id']) == []
