"""Share groups through the real daemon, RabbitMQ and PostgreSQL, on the dummy and localfs drivers: success and failure paths.

One daemon serves the module with five backends: ``alpha`` (dummy),
``beta`` (localfs), ``gamma`` (dummy whose group snapshot and group
deletion fail), and on share networks (DHSS=True) ``delta`` (localfs) and
``epsilon`` (dummy whose servers cannot be set up).
"""

import os

import pytest

from manila_lite import context as ml_context
from tests.functional import fixtures
from tests.functional import test_share_servers
from tests.unit.share import helpers
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional


def _ctx():
    return ml_context.RequestContext(user_id='u1', project_id='p1',
                                     roles=['member'])


ADMIN = ml_context.get_admin_context()


class Stack(object):
    def __init__(self, daemon, db, rpc):
        self.daemon, self.db, self.rpc = daemon, db, rpc

    def status(self, table, row_id):
        return self.daemon.db.scalar(
            'SELECT status FROM %s WHERE id = :i' % table, i=row_id)

    def wait(self, table, row_id, status, timeout=30):
        self.daemon.wait_for(
            lambda: self.status(table, row_id) == status, timeout=timeout,
            message='%s %s never became %s (is %s)' % (
                table, row_id, status, self.status(table, row_id)))

    def wait_deleted(self, table, row_id, timeout=30):
        self.daemon.wait_for(lambda: self.daemon.db.scalar(
            'SELECT deleted FROM %s WHERE id = :i' % table, i=row_id) ==
            row_id, timeout=timeout, message='%s %s not deleted' % (
                table, row_id))

    def group(self, backend, source_snapshot=None, share_network_id=None):
        host = self.daemon.pool_host(backend)
        group_id, clones = helpers.make_group(
            self.db, ADMIN, host=host, source_snapshot=source_snapshot,
            share_network_id=share_network_id)
        self.rpc.create_share_group(_ctx(), {'id': group_id}, host)
        return group_id, clones

    def share_into(self, group_id, backend, share_network_id=None):
        _share, inst = helpers.make_share(
            self.db, ADMIN, host=self.daemon.pool_host(backend),
            share_group_id=group_id, share_network_id=share_network_id)
        self.rpc.create_share_instance(_ctx(), inst, inst['host'], {}, {})
        self.wait('share_instances', inst['id'], 'available')
        return self.db.share_instance_get(ADMIN, inst['id'],
                                          with_share_data=True)

    def group_snapshot(self, group_id, backend):
        snapshot_id = helpers.make_group_snapshot(self.db, ADMIN, group_id)
        self.rpc.create_share_group_snapshot(
            _ctx(), {'id': snapshot_id}, self.daemon.pool_host(backend))
        return snapshot_id

    def members(self, snapshot_id):
        return self.daemon.db.rows(
            'SELECT * FROM share_snapshot_instances WHERE '
            'share_group_snapshot_id = :i ORDER BY share_instance_id',
            i=snapshot_id)

    def delete_group_snapshot(self, snapshot_id, backend):
        self.daemon.db.execute("UPDATE share_group_snapshots SET status = "
                               "'deleting' WHERE id = :i", i=snapshot_id)
        self.rpc.delete_share_group_snapshot(
            _ctx(), {'id': snapshot_id}, self.daemon.pool_host(backend))

    def delete_group(self, group_id, backend):
        self.daemon.db.execute("UPDATE share_groups SET status = 'deleting' "
                               "WHERE id = :i", i=group_id)
        self.rpc.delete_share_group(
            _ctx(), {'id': group_id, 'host': self.daemon.pool_host(backend)})

    def messages(self, resource_id):
        return sorted((m['action_id'], m['resource_type'])
                      for m in self.daemon.db.rows(
                          'SELECT * FROM messages WHERE resource_id = :r',
                          r=resource_id))


@pytest.fixture(scope='module')
def stack(module_db, rabbitmq, tmp_path_factory):
    from manila_lite.db import api as db_api
    from oslo_config import cfg
    workdir = tmp_path_factory.mktemp('groups')
    factory = fixtures.DaemonFactory(workdir, rabbitmq.url,
                                     amqp_url=rabbitmq.amqp_url)
    dummy = fixtures.base_options('', '', '', '')['alpha']
    options = {
        'DEFAULT': {'enabled_share_backends':
                    'alpha,beta,gamma,delta,epsilon'},
        'beta': {'share_driver': 'localfs', 'share_backend_name': 'beta',
                 'driver_handles_share_servers': False,
                 'localfs_pools': str(workdir / 'beta'),
                 'localfs_export_ips': '127.0.0.1'},
        'gamma': dict(dummy, share_backend_name='gamma',
                      dummy_driver_fail_methods=(
                          'create_share_group_snapshot,delete_share_group')),
        'delta': test_share_servers.backend_options(
            'delta', '10.254.0.10', '10.254.0.99', share_driver='localfs',
            localfs_pools=str(workdir / 'delta'), localfs_export_ips=''),
        'epsilon': test_share_servers.backend_options(
            'epsilon', '10.254.0.100', '10.254.0.199',
            dummy_driver_fail_methods='_setup_server'),
    }
    cfg.CONF.set_override('connection', module_db, group='database')
    db_api.dispose_engine()
    try:
        daemon = factory(module_db, options=options)
        with fixtures.share_client(rabbitmq.url) as rpc:
            yield Stack(daemon, db_api, rpc)
    finally:
        errors = factory.cleanup()
        db_api.dispose_engine()
        cfg.CONF.clear_override('connection', group='database')
    if errors:
        pytest.fail('\n\n'.join(errors), pytrace=False)


def _write(inst, name, text):
    path = inst['export_locations'][0]['path'].split(':', 1)[1]
    with open(os.path.join(path, name), 'w') as f:
        f.write(text)
    return path


@pytest.mark.parametrize('backend', ['alpha', 'beta'])
def test_group_snapshot_and_clone(stack, backend):
    group_id, _ = stack.group(backend)
    stack.wait('share_groups', group_id, 'available')
    group = stack.daemon.db.row('SELECT * FROM share_groups WHERE id = :i',
                                i=group_id)
    assert group['consistent_snapshot_support'] == (
        'pool' if backend == 'alpha' else 'host')
    assert group['availability_zone_id']
    shares = [stack.share_into(group_id, backend) for _ in range(2)]
    if backend == 'beta':
        for number, inst in enumerate(shares):
            _write(inst, 'data', 'share %d' % number)

    snapshot_id = stack.group_snapshot(group_id, backend)
    stack.wait('share_group_snapshots', snapshot_id, 'available')
    members = stack.members(snapshot_id)
    assert [m['status'] for m in members] == ['available'] * 2
    assert all(m['provider_location'] for m in members)

    clone_id, clones = stack.group(backend, source_snapshot=snapshot_id)
    stack.wait('share_groups', clone_id, 'available')
    for clone in clones:
        stack.wait('share_instances', clone['id'], 'available')
    if backend == 'beta':
        copied = sorted(open(os.path.join(stack.db.share_instance_get(
            ADMIN, c['id'])['export_locations'][0]['path'].split(':', 1)[1],
            'data')).read() for c in clones)
        assert copied == ['share 0', 'share 1']

    stack.delete_group_snapshot(snapshot_id, backend)
    stack.wait_deleted('share_group_snapshots', snapshot_id)
    assert all(m['deleted'] == m['id'] for m in stack.members(snapshot_id))
    for inst in shares + clones:
        stack.daemon.db.execute("UPDATE share_instances SET status = "
                                "'deleting' WHERE id = :i", i=inst['id'])
        stack.rpc.delete_share_instance(_ctx(), inst)
    for inst in shares + clones:
        stack.wait_deleted('share_instances', inst['id'])
    for gid in (group_id, clone_id):
        stack.delete_group(gid, backend)
        stack.wait_deleted('share_groups', gid)


def test_driver_failures_end_in_error_with_a_message(stack):
    group_id, _ = stack.group('gamma')
    stack.wait('share_groups', group_id, 'available')
    stack.share_into(group_id, 'gamma')
    snapshot_id = stack.group_snapshot(group_id, 'gamma')
    stack.wait('share_group_snapshots', snapshot_id, 'error')
    assert [m['status'] for m in stack.members(snapshot_id)] == ['error']
    assert stack.messages(snapshot_id) == [('002', 'SHARE_GROUP')]
    stack.delete_group(group_id, 'gamma')
    stack.wait('share_groups', group_id, 'error')
    assert stack.messages(group_id) == [('007', 'SHARE_GROUP')]


def test_localfs_group_snapshot_of_a_missing_share_fails(stack):
    group_id, _ = stack.group('beta')
    stack.wait('share_groups', group_id, 'available')
    inst = stack.share_into(group_id, 'beta')
    path = _write(inst, 'data', 'x')
    os.rename(path, path + '.moved')
    try:
        snapshot_id = stack.group_snapshot(group_id, 'beta')
        stack.wait('share_group_snapshots', snapshot_id, 'error')
    finally:
        os.rename(path + '.moved', path)
    assert stack.messages(snapshot_id) == [('002', 'SHARE_GROUP')]
    assert 'is missing' in stack.daemon.log_text()


def test_localfs_group_on_a_share_network(stack, tmp_path_factory):
    net_id, _subnet = test_servers.make_network(stack.db)
    group_id, _ = stack.group('delta', share_network_id=net_id)
    stack.wait('share_groups', group_id, 'available')
    group = stack.db.share_group_get(ADMIN, group_id)
    server = stack.db.share_server_get(ADMIN, group['share_server_id'])
    assert server['status'] == 'active'
    shares = [stack.share_into(group_id, 'delta', share_network_id=net_id)
              for _ in range(2)]
    for number, inst in enumerate(shares):
        assert inst['share_server_id'] == server['id']
        path = _write(inst, 'data', 'share %d' % number)
        assert '/server-%s/' % server['id'] in path
        assert inst['export_locations'][0]['path'].startswith('10.254.0.')
    snapshot_id = stack.group_snapshot(group_id, 'delta')
    stack.wait('share_group_snapshots', snapshot_id, 'available')
    clone_id, clones = stack.group('delta', source_snapshot=snapshot_id,
                                   share_network_id=net_id)
    stack.wait('share_groups', clone_id, 'available')
    assert stack.db.share_group_get(ADMIN, clone_id)[
        'share_server_id'] == server['id']
    for clone in clones:
        stack.wait('share_instances', clone['id'], 'available')
    copied = sorted(open(os.path.join(stack.db.share_instance_get(
        ADMIN, c['id'])['export_locations'][0]['path'].split(':', 1)[1],
        'data')).read() for c in clones)
    assert copied == ['share 0', 'share 1']
    stack.delete_group_snapshot(snapshot_id, 'delta')
    stack.wait_deleted('share_group_snapshots', snapshot_id)
    for inst in shares + clones:
        stack.daemon.db.execute("UPDATE share_instances SET status = "
                                "'deleting' WHERE id = :i", i=inst['id'])
        stack.rpc.delete_share_instance(_ctx(), inst)
    for inst in shares + clones:
        stack.wait_deleted('share_instances', inst['id'])
    for gid in (group_id, clone_id):
        stack.delete_group(gid, 'delta')
        stack.wait_deleted('share_groups', gid)


def test_group_without_a_share_server_fails_with_a_message(stack):
    net_id, _subnet = test_servers.make_network(stack.db)
    group_id, _ = stack.group('epsilon', share_network_id=net_id)
    stack.wait('share_groups', group_id, 'error')
    assert [(m['action_id'], m['detail_id']) for m in stack.daemon.db.rows(
        'SELECT * FROM messages WHERE resource_id = :r', r=group_id)] == [
        ('002', '004')]
    server_id = stack.db.share_group_get(ADMIN, group_id)['share_server_id']
    assert stack.status('share_servers', server_id) == 'error'
