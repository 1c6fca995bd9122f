"""ShareAPI sends exactly what upstream's client sends (the contract table of rpc.md section 2)."""

import collections
import datetime
import importlib
import inspect

from oslo_config import cfg
import pytest

from manila_lite.common import hosts
from manila_lite import context
from manila_lite import rpc
from manila_lite.share import rpcapi

CONF = cfg.CONF

HOST = 'hostA@backend1#pool0'
SERVER = 'hostA@backend1'
DEST = 'hostB@backend2#poolX'
DEST_SERVER = 'hostB@backend2'
FANOUT = 'fanout'

INSTANCE = {'id': 'SI', 'host': HOST, 'share_id': 'S'}
SHARE = {'id': 'S', 'instance': INSTANCE}
SNAPSHOT = {'id': 'SNAP'}
SNAPSHOT_INSTANCE = {'id': 'SNAPI', 'share_instance': INSTANCE}
REPLICA = {'id': 'R', 'host': HOST, 'share_id': 'S'}
SERVER_ROW = {'id': 'SS', 'host': SERVER, 'backend_details': {'k': 'v'},
              'share_network_subnet_ids': ['SUB']}
DEST_SERVER_ROW = {'id': 'DSS', 'host': DEST_SERVER}
GROUP = {'id': 'G', 'host': HOST}
GROUP_SNAPSHOT = {'id': 'GS'}
BACKUP = {'id': 'B', 'host': HOST, 'share_id': 'S', 'status': 'creating'}
WHEN = datetime.datetime(2026, 11, 24, 16, 42, 59, 574056)
REQUEST_SPEC = {'share_id': 'S', 'when': WHEN}
REQUEST_SPEC_WIRE = {'share_id': 'S', 'when': '2026-11-24T16:42:59.574056'}
FILTERS = {'scheduler_hints': None}

Row = collections.namedtuple('Row', 'method kind version server kwargs send')

# The contract, transcribed from rpc.md section 2: RPC method, cast/call,
# wire version, server, and the exact keyword arguments on the wire, with
# the ShareAPI invocation that produces them.
CONTRACT = [
    # 2.1 shares and share instances
    Row('create_share_instance', 'cast', '1.4', SERVER,
        {'share_instance_id': 'SI', 'request_spec': REQUEST_SPEC_WIRE,
         'filter_properties': FILTERS, 'snapshot_id': None},
        lambda api, ctx: api.create_share_instance(
            ctx, INSTANCE, HOST, request_spec=REQUEST_SPEC,
            filter_properties=FILTERS)),
    Row('delete_share_instance', 'cast', '1.27', SERVER,
        {'share_instance_id': 'SI', 'force': True, 'deferred_delete': False},
        lambda api, ctx: api.delete_share_instance(ctx, INSTANCE,
                                                   force=True)),
    Row('manage_share', 'cast', '1.1', SERVER,
        {'share_id': 'S', 'driver_options': {'opt': 1}},
        lambda api, ctx: api.manage_share(ctx, SHARE, {'opt': 1})),
    Row('unmanage_share', 'cast', '1.1', SERVER, {'share_id': 'S'},
        lambda api, ctx: api.unmanage_share(ctx, SHARE)),
    Row('extend_share', 'cast', '1.2', SERVER,
        {'share_id': 'S', 'new_size': 5, 'reservations': ['r1', 'r2']},
        lambda api, ctx: api.extend_share(ctx, SHARE, 5, ['r1', 'r2'])),
    Row('shrink_share', 'cast', '1.3', SERVER,
        {'share_id': 'S', 'new_size': 1},
        lambda api, ctx: api.shrink_share(ctx, SHARE, 1)),
    Row('revert_to_snapshot', 'cast', '1.18', SERVER,
        {'snapshot_id': 'SNAP', 'reservations': None},
        lambda api, ctx: api.revert_to_snapshot(ctx, SHARE, SNAPSHOT, HOST,
                                                None)),
    Row('update_access', 'cast', '1.14', SERVER, {'share_instance_id': 'SI'},
        lambda api, ctx: api.update_access(ctx, INSTANCE)),
    Row('update_access_for_instances', 'cast', '1.21', DEST_SERVER,
        {'share_instance_ids': ['SI', 'SI2'], 'share_server_id': 'SS'},
        lambda api, ctx: api.update_access_for_instances(
            ctx, DEST, ['SI', 'SI2'], 'SS')),
    Row('connection_get_info', 'call', '1.12', SERVER,
        {'share_instance_id': 'SI'},
        lambda api, ctx: api.connection_get_info(ctx, INSTANCE)),
    Row('transfer_accept', 'call', '1.25', SERVER,
        {'share_id': 'S', 'new_user': 'u2', 'new_project': 'p2',
         'clear_rules': True},
        lambda api, ctx: api.transfer_accept(ctx, SHARE, 'u2', 'p2',
                                             clear_rules=True)),
    Row('update_share_from_metadata', 'cast', '1.28', SERVER,
        {'share_id': 'S', 'metadata': {'k': 'v'}},
        lambda api, ctx: api.update_share_from_metadata(ctx, SHARE,
                                                        {'k': 'v'})),
    Row('ensure_driver_resources', 'cast', '1.29', SERVER,
        {'skip_backend_info_check': True},
        lambda api, ctx: api.ensure_driver_resources(ctx, HOST)),
    # 2.2 snapshots
    Row('create_snapshot', 'cast', '1.0', SERVER,
        {'share_id': 'S', 'snapshot_id': 'SNAP'},
        lambda api, ctx: api.create_snapshot(ctx, SHARE, SNAPSHOT)),
    Row('delete_snapshot', 'cast', '1.27', SERVER,
        {'snapshot_id': 'SNAP', 'force': False, 'deferred_delete': True},
        lambda api, ctx: api.delete_snapshot(ctx, SNAPSHOT, HOST,
                                             deferred_delete=True)),
    Row('manage_snapshot', 'cast', '1.9', SERVER,
        {'snapshot_id': 'SNAP', 'driver_options': {'size': 1}},
        lambda api, ctx: api.manage_snapshot(ctx, SNAPSHOT, HOST,
                                             {'size': 1})),
    Row('unmanage_snapshot', 'cast', '1.9', SERVER, {'snapshot_id': 'SNAP'},
        lambda api, ctx: api.unmanage_snapshot(ctx, SNAPSHOT, HOST)),
    Row('create_replicated_snapshot', 'cast', '1.11', SERVER,
        {'snapshot_id': 'SNAP', 'share_id': 'S'},
        lambda api, ctx: api.create_replicated_snapshot(ctx, SHARE,
                                                        SNAPSHOT)),
    Row('delete_replicated_snapshot', 'cast', '1.11', SERVER,
        {'snapshot_id': 'SNAP', 'share_id': 'S', 'force': True},
        lambda api, ctx: api.delete_replicated_snapshot(
            ctx, SNAPSHOT, HOST, share_id='S', force=True)),
    Row('snapshot_update_access', 'cast', '1.17', SERVER,
        {'snapshot_instance_id': 'SNAPI'},
        lambda api, ctx: api.snapshot_update_access(ctx, SNAPSHOT_INSTANCE)),
    # 2.3 replication
    Row('create_share_replica', 'cast', '1.8', DEST_SERVER,
        {'share_replica_id': 'R', 'request_spec': REQUEST_SPEC_WIRE,
         'filter_properties': FILTERS, 'share_id': 'S'},
        lambda api, ctx: api.create_share_replica(
            ctx, REPLICA, DEST, REQUEST_SPEC, FILTERS)),
    Row('delete_share_replica', 'cast', '1.8', SERVER,
        {'share_replica_id': 'R', 'share_id': 'S', 'force': False},
        lambda api, ctx: api.delete_share_replica(ctx, REPLICA)),
    Row('promote_share_replica', 'cast', '1.24', SERVER,
        {'share_replica_id': 'R', 'share_id': 'S', 'quiesce_wait_time': 30},
        lambda api, ctx: api.promote_share_replica(
            ctx, REPLICA, quiesce_wait_time=30)),
    Row('update_share_replica', 'cast', '1.8', SERVER,
        {'share_replica_id': 'R', 'share_id': 'S'},
        lambda api, ctx: api.update_share_replica(ctx, REPLICA)),
    # 2.4 share servers
    Row('delete_share_server', 'cast', '1.0', SERVER,
        {'share_server': SERVER_ROW},
        lambda api, ctx: api.delete_share_server(ctx, SERVER_ROW)),
    Row('provide_share_server', 'call', '1.12', SERVER,
        {'share_instance_id': 'SI', 'share_network_id': 'SN',
         'snapshot_id': None},
        lambda api, ctx: api.provide_share_server(ctx, INSTANCE, 'SN')),
    Row('create_share_server', 'cast', '1.20', SERVER,
        {'share_server_id': 'SS', 'share_instance_id': 'SI'},
        lambda api, ctx: api.create_share_server(ctx, INSTANCE, 'SS')),
    Row('manage_share_server', 'cast', '1.19', SERVER,
        {'share_server_id': 'SS', 'identifier': 'vs1',
         'driver_opts': {'o': 1}},
        lambda api, ctx: api.manage_share_server(ctx, SERVER_ROW, 'vs1',
                                                 {'o': 1})),
    Row('unmanage_share_server', 'cast', '1.19', SERVER,
        {'share_server_id': 'SS', 'force': True},
        lambda api, ctx: api.unmanage_share_server(ctx, SERVER_ROW,
                                                   force=True)),
    Row('share_server_migration_check', 'call', '1.21', DEST_SERVER,
        {'share_server_id': 'SS', 'dest_host': DEST, 'writable': True,
         'nondisruptive': False, 'preserve_snapshots': True,
         'new_share_network_id': 'SN2'},
        lambda api, ctx: api.share_server_migration_check(
            ctx, 'SS', DEST, True, False, True, 'SN2')),
    Row('share_server_migration_start', 'cast', '1.21', DEST_SERVER,
        {'share_server_id': 'SS', 'dest_host': DEST, 'writable': False,
         'nondisruptive': True, 'preserve_snapshots': False,
         'new_share_network_id': None},
        lambda api, ctx: api.share_server_migration_start(
            ctx, SERVER_ROW, DEST, False, True, False, None)),
    Row('share_server_migration_complete', 'cast', '1.21', DEST_SERVER,
        {'src_share_server_id': 'SS', 'dest_share_server_id': 'DSS'},
        lambda api, ctx: api.share_server_migration_complete(
            ctx, DEST, SERVER_ROW, DEST_SERVER_ROW)),
    Row('share_server_migration_cancel', 'cast', '1.21', DEST_SERVER,
        {'src_share_server_id': 'SS', 'dest_share_server_id': 'DSS'},
        lambda api, ctx: api.share_server_migration_cancel(
            ctx, DEST, SERVER_ROW, DEST_SERVER_ROW)),
    Row('share_server_migration_get_progress', 'call', '1.21', DEST_SERVER,
        {'src_share_server_id': 'SS', 'dest_share_server_id': 'DSS'},
        lambda api, ctx: api.share_server_migration_get_progress(
            ctx, DEST, SERVER_ROW, DEST_SERVER_ROW)),
    Row('update_share_network_security_service', 'cast', '1.22', DEST_SERVER,
        {'share_network_id': 'SN', 'new_security_service_id': 'NSS',
         'current_security_service_id': 'CSS'},
        lambda api, ctx: api.update_share_network_security_service(
            ctx, DEST, 'SN', 'NSS', current_security_service_id='CSS')),
    Row('check_update_share_network_security_service', 'cast', '1.22',
        DEST_SERVER,
        {'share_network_id': 'SN', 'new_security_service_id': 'NSS',
         'current_security_service_id': None},
        lambda api, ctx: api.check_update_share_network_security_service(
            ctx, DEST, 'SN', 'NSS')),
    Row('check_update_share_server_network_allocations', 'cast', '1.23',
        DEST_SERVER,
        {'share_network_id': 'SN',
         'new_share_network_subnet': {'cidr': '10.0.0.0/24'}},
        lambda api, ctx: api.check_update_share_server_network_allocations(
            ctx, DEST, 'SN', {'cidr': '10.0.0.0/24'})),
    Row('update_share_server_network_allocations', 'cast', '1.23',
        DEST_SERVER,
        {'share_network_id': 'SN', 'new_share_network_subnet_id': 'SUB2'},
        lambda api, ctx: api.update_share_server_network_allocations(
            ctx, DEST, 'SN', 'SUB2')),
    Row('update_share_network_subnet_from_metadata', 'cast', '1.30', SERVER,
        {'share_network_id': 'SN', 'share_network_subnet_id': 'SUB',
         'share_server_id': 'SS', 'metadata': {'k': 'v'}},
        lambda api, ctx: api.update_share_network_subnet_from_metadata(
            ctx, 'SN', 'SUB', SERVER_ROW, {'k': 'v'})),
    # 2.5 share migration
    Row('migration_start', 'cast', '1.15', SERVER,
        {'share_id': 'S', 'dest_host': DEST,
         'force_host_assisted_migration': False, 'preserve_metadata': True,
         'writable': True, 'nondisruptive': False,
         'preserve_snapshots': True, 'new_share_network_id': None,
         'new_share_type_id': 'ST2'},
        lambda api, ctx: api.migration_start(
            ctx, SHARE, DEST, False, True, True, False, True, None, 'ST2')),
    Row('migration_complete', 'cast', '1.12', SERVER,
        {'src_instance_id': 'SI', 'dest_instance_id': 'DI'},
        lambda api, ctx: api.migration_complete(ctx, INSTANCE, 'DI')),
    Row('migration_cancel', 'cast', '1.12', SERVER,
        {'src_instance_id': 'SI', 'dest_instance_id': 'DI'},
        lambda api, ctx: api.migration_cancel(ctx, INSTANCE, 'DI')),
    Row('migration_get_progress', 'call', '1.12', SERVER,
        {'src_instance_id': 'SI', 'dest_instance_id': 'DI'},
        lambda api, ctx: api.migration_get_progress(ctx, INSTANCE, 'DI')),
    # 2.6 share groups
    Row('create_share_group', 'cast', '1.16', SERVER,
        {'share_group_id': 'G'},
        lambda api, ctx: api.create_share_group(ctx, GROUP, HOST)),
    Row('delete_share_group', 'cast', '1.16', SERVER,
        {'share_group_id': 'G'},
        lambda api, ctx: api.delete_share_group(ctx, GROUP)),
    Row('create_share_group_snapshot', 'cast', '1.16', SERVER,
        {'share_group_snapshot_id': 'GS'},
        lambda api, ctx: api.create_share_group_snapshot(
            ctx, GROUP_SNAPSHOT, HOST)),
    Row('delete_share_group_snapshot', 'cast', '1.16', SERVER,
        {'share_group_snapshot_id': 'GS'},
        lambda api, ctx: api.delete_share_group_snapshot(
            ctx, GROUP_SNAPSHOT, HOST)),
    # 2.7 backups
    Row('create_backup', 'cast', '1.26', SERVER, {'backup': BACKUP},
        lambda api, ctx: api.create_backup(ctx, BACKUP)),
    Row('delete_backup', 'cast', '1.26', SERVER, {'backup': BACKUP},
        lambda api, ctx: api.delete_backup(ctx, BACKUP)),
    Row('restore_backup', 'cast', '1.26', SERVER,
        {'backup': BACKUP, 'share_id': 'S2'},
        lambda api, ctx: api.restore_backup(ctx, BACKUP, 'S2')),
    # 2.8 fanout
    Row('publish_service_capabilities', 'cast', '1.0', FANOUT, {},
        lambda api, ctx: api.publish_service_capabilities(ctx)),
]

CALL_RESULT = {'result': 'from-server'}


@pytest.fixture
def sent(monkeypatch):
    """Initialise rpc on the fake transport and record every message sent."""
    rpc.cleanup()
    rpc.init(CONF, url='fake://')
    records = []

    def _send(target, ctxt, message, wait_for_reply=None, timeout=None,
              call_monitor_timeout=None, retry=None, transport_options=None):
        records.append({'target': target, 'ctxt': ctxt, 'message': message,
                        'wait_for_reply': wait_for_reply})
        return CALL_RESULT if wait_for_reply else None

    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    yield records
    rpc.cleanup()


def _context():
    return context.RequestContext(user_id='u1', project_id='p1',
                                  request_id='req-1234', roles=['member'])


def test_rpc_api_version():
    assert rpcapi.RPC_API_VERSION == '1.30'
    assert rpcapi.ShareAPI.BASE_RPC_API_VERSION == '1.0'


def test_client_target_and_cap(sent):
    client = rpcapi.ShareAPI().client
    assert client.target.topic == 'manila-share'
    assert client.target.version == '1.0'
    assert client.version_cap == '1.30'
    assert client.target.exchange is None      # oslo default: openstack


def test_table_covers_every_public_method():
    public = {name for name, member in inspect.getmembers(rpcapi.ShareAPI)
              if inspect.isfunction(member) and not name.startswith('_')}
    assert public == {row.method for row in CONTRACT}


@pytest.mark.parametrize('row', CONTRACT, ids=[r.method for r in CONTRACT])
def test_wire_message(sent, row):
    ctx = _context()
    result = row.send(rpcapi.ShareAPI(), ctx)
    assert len(sent) == 1
    record = sent[0]
    message, target = record['message'], record['target']
    assert message['method'] == row.method
    assert message['args'] == row.kwargs
    assert message['version'] == row.version
    assert 'namespace' not in message
    assert target.topic == 'manila-share'
    if row.server == FANOUT:
        assert target.fanout is True
        assert target.server is None
    else:
        assert target.server == row.server
        assert not target.fanout
    assert bool(record['wait_for_reply']) == (row.kind == 'call')
    assert record['ctxt'] == dict(ctx.to_dict(), **{rpc.CALLER_MARK: True})
    if row.kind == 'call' and row.method != 'transfer_accept':
        assert result == CALL_RESULT
    else:
        assert result is None


def test_version_history_lists_every_version():
    doc = rpcapi.ShareAPI.__doc__
    for minor in range(31):
        assert '* 1.%d ' % minor in doc


@pytest.mark.parametrize('host,level,expected', [
    ('hostA@backendB#poolC', 'backend', 'hostA@backendB'),
    ('hostA@backendB#poolC', 'host', 'hostA'),
    ('hostA@backendB#poolC', 'pool', 'poolC'),
    ('hostA@backendB#poolC', 'backend_name', 'backendB'),
    ('hostA@backendB', 'backend', 'hostA@backendB'),
    ('hostA@backendB', 'pool', None),
    ('hostA', 'host', 'hostA'),
])
def test_extract_host(host, level, expected):
    assert hosts.extract_host(host, level) == expected


def test_extract_host_default_pool():
    assert hosts.extract_host('h@b', 'pool', True) == hosts.DEFAULT_POOL_NAME
    assert hosts.append_pool('h@b', 'p') == 'h@b#p'
    assert hosts.append_pool('h@b', None) == 'h@b'


def _manager_class():
    manager = importlib.import_module('manila_lite.share.manager')
    return manager.ShareManager


def test_manager_reads_the_version_from_rpcapi():
    assert _manager_class().RPC_API_VERSION == rpcapi.RPC_API_VERSION


@pytest.mark.parametrize('row', CONTRACT, ids=[r.method for r in CONTRACT])
def test_manager_accepts_what_the_client_sends(row):
    manager_cls = _manager_class()
    method = getattr(manager_cls, row.method, None)
    assert callable(method), 'ShareManager lacks RPC method %s' % row.method
    assert not row.method.startswith('_')
    signature = inspect.signature(method)
    # bind(self, context, **kwargs) fails on a missing or unknown argument
    signature.bind(object(), _context(), **row.kwargs)
