"""Behaviour of the dummy driver: upstream-compatible results, delays and injected faults."""

import json
import threading
from unittest import mock

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.common import constants
from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import exception
from manila_lite.share import configuration
from manila_lite.share.drivers import dummy
from manila_lite.share import drivers_private_data
from tests.unit.conftest import configure_backend
from tests.unit.share import helpers

CONF = cfg.CONF
ADMIN_IP, PRIMARY_IP, SECONDARY_IP = '11.0.0.11', '10.0.0.10', '10.0.0.20'


@pytest.fixture
def backend():
    """Factory of dummy drivers in fresh backend sections (instant by default)."""
    cleanups = []

    def make(name=None, **options):
        name = name or 'dummytest_%s' % uuidutils.generate_uuid(
            dashed=False)[:12]
        options.setdefault('share_backend_name', None)
        cleanups.append(configure_backend(name, **options))
        conf = configuration.Configuration([], config_group=name)
        storage = drivers_private_data.DriverPrivateData(
            storage=drivers_private_data.MemoryStorageDriver())
        return dummy.DummyDriver(configuration=conf, private_storage=storage)

    yield make
    for cleanup in cleanups:
        cleanup()


def set_option(drv, key, value):
    CONF.set_override(key, value, group=drv.configuration.config_group)


def make_share(proto='NFS', **extra):
    share = {'id': uuidutils.generate_uuid(),
             'share_id': uuidutils.generate_uuid(), 'share_proto': proto,
             'size': 2, 'host': 'hostA@dummy1#fake_pool_for_DummyDriver',
             'mount_point_name': None}
    share.update(extra)
    return share


def make_snapshot(share):
    return {'id': uuidutils.generate_uuid(),
            'snapshot_id': uuidutils.generate_uuid(), 'share': share,
            'share_id': share['id'], 'share_instance_id': share['id'],
            'provider_location': None}


def rule(access_type, access_to='10.0.0.1'):
    return {'access_id': uuidutils.generate_uuid(), 'access_type':
            access_type, 'access_to': access_to, 'access_level': 'rw'}


def expected_exports(mountpoint, admin=ADMIN_IP, primary=PRIMARY_IP,
                     secondary=SECONDARY_IP):
    return [
        {'path': '%s:%s' % (admin, mountpoint), 'is_admin_only': True,
         'metadata': {'preferred': False}},
        {'path': '%s:%s' % (primary, mountpoint), 'is_admin_only': False,
         'metadata': {'preferred': True}},
        {'path': '%s:%s' % (secondary, mountpoint), 'is_admin_only': False,
         'metadata': {'preferred': False}},
    ]


# ---------------------------------------------------------------------------
# Shares, access, snapshots
# ---------------------------------------------------------------------------

def test_create_share_export_locations_and_private_data(backend):
    drv = backend()
    share = make_share()
    name = 'share_%s_%s' % (share['share_id'].replace('-', '_'),
                            share['id'].replace('-', '_'))
    mountpoint = '/path/to/fake/share/%s' % name
    assert drv.create_share(None, share) == expected_exports(mountpoint)
    assert drv.private_storage.get(share['id']) == {
        'fake_provider_share_name': name,
        'fake_provider_location': mountpoint}
    drv.delete_share(None, share)
    assert drv.private_storage.get(share['id']) == {}


def test_mount_point_name_is_used(backend):
    drv = backend()
    locations = drv.create_share(None, make_share(mount_point_name='mp1'))
    assert locations[1]['path'] == '10.0.0.10:/path/to/fake/share/mp1'


def test_unsupported_protocol(backend):
    with pytest.raises(exception.InvalidShareAccess):
        backend().create_share(None, make_share(proto='CEPHFS'))


@pytest.mark.parametrize('proto,access_type,ok', [
    ('NFS', 'ip', True), ('NFS', 'user', False), ('CIFS', 'user', True),
    ('CIFS', 'ip', False), ('nfs', 'IP', True),
])
def test_update_access_validates_rules(backend, proto, access_type, ok):
    drv = backend()
    share = make_share(proto=proto)
    rules = [rule(access_type)]
    if ok:
        assert drv.update_access(None, share, rules, rules, [], []) is None
        assert drv.update_access(None, share, [], [], rules) is None
    else:
        with pytest.raises(exception.InvalidShareAccess):
            drv.update_access(None, share, rules, [], [], [])


def test_access_keys_option(backend):
    drv = backend(dummy_driver_access_keys=True)
    share = make_share()
    first, second = rule('ip'), rule('ip')
    added = drv.update_access(None, share, [first], [first], [], [])
    key = added[first['access_id']]['access_key']
    assert added == {first['access_id']: {'access_key': key,
                                          'state': 'active'}}
    assert len(key) >= 24
    # Recovery mode (every rule, none added) answers the same key again.
    both = drv.update_access(None, share, [first, second], [], [], [])
    assert both[first['access_id']]['access_key'] == key
    assert both[second['access_id']]['access_key'] not in (key, None)
    # A denied rule's key is forgotten.
    drv.update_access(None, share, [second], [], [first], [])
    again = drv.update_access(None, share, [first], [first], [], [])
    assert again[first['access_id']]['access_key'] != key
    assert backend().update_access(None, share, [first], [first], [],
                                   []) is None


def test_snapshots(backend):
    drv = backend()
    share = make_share()
    snap = make_snapshot(share)
    result = drv.create_snapshot(None, snap)
    name = 'snapshot_%s_%s' % (snap['snapshot_id'].replace('-', '_'),
                               snap['id'].replace('-', '_'))
    mountpoint = '/path/to/fake/snapshot/%s' % name
    assert result['provider_location'] == mountpoint
    assert result['export_locations'] == expected_exports(mountpoint)
    assert result['fake_key1'] == 'fake_value1'
    assert drv.private_storage.get(snap['id'], 'fake_provider_location') \
        == mountpoint
    drv.snapshot_update_access(None, snap, [rule('ip')], [], [])
    assert drv.revert_to_snapshot(None, snap, [], []) is None
    drv.delete_snapshot(None, snap)
    assert drv.private_storage.get(snap['id']) == {}
    created = drv.create_share_from_snapshot(None, make_share(), snap)
    assert created['status'] == constants.STATUS_AVAILABLE
    assert len(created['export_locations']) == 3


def test_pool_status_ensure_and_usage(backend):
    drv = backend()
    share = make_share()
    drv.create_share(None, share)
    assert drv.get_pool(share) == 'fake_pool_for_DummyDriver'
    assert drv.get_pool(make_share(host='h@b')) is None
    assert drv.ensure_share(None, share) is None
    with pytest.raises(NotImplementedError):
        drv.ensure_shares(None, [share])
    with pytest.raises(NotImplementedError):
        drv.get_backend_info(None)
    status = drv.get_share_status(share)
    assert status['status'] == constants.STATUS_AVAILABLE
    assert len(status['export_locations']) == 3
    usage = drv.update_share_usage_size(None, [share])
    assert usage[0]['id'] == share['id']
    assert usage[0]['used_size'] == 1.0
    assert usage[0]['gathered_at'] is not None


def test_extend_and_shrink(backend):
    drv = backend()
    share = make_share(size=10)
    assert drv.extend_share(share, 20) is None
    assert drv.shrink_share(share, 1) is None
    drv.set_share_used_size(share['id'], 5)
    with pytest.raises(exception.ShareShrinkingPossibleDataLoss) as info:
        drv.shrink_share(share, 4)
    assert share['id'] in str(info.value)
    drv.shrink_share(share, 5)
    assert drv.update_share_usage_size(None, [share])[0]['used_size'] == 5
    drv.set_share_used_size(share['id'], None)
    set_option(drv, 'dummy_driver_share_used_size', 3)
    with pytest.raises(exception.ShareShrinkingPossibleDataLoss):
        drv.shrink_share(share, 2)


def test_manage_and_unmanage_share(backend):
    drv = backend()
    old = make_share()
    locations = drv.create_share(None, old)
    old['export_location'] = locations[1]['path']
    drv.unmanage(old)
    new = make_share()
    new['export_location'] = old['export_location']
    result = drv.manage_existing(new, {})
    assert result['size'] == 1
    assert len(result['export_locations']) == 3
    assert drv.private_storage.get(old['id']) == {}
    bogus = make_share()
    bogus['export_location'] = '10.0.0.10:/path/share_%s_%s' % (
        'x' * 36, uuidutils.generate_uuid().replace('-', '_'))
    with pytest.raises(exception.ShareBackendException):
        drv.manage_existing_with_server(bogus, {})


def test_manage_and_unmanage_snapshot(backend):
    drv = backend()
    share = make_share()
    old = make_snapshot(share)
    old['provider_location'] = drv.create_snapshot(
        None, old)['provider_location']
    drv.unmanage_snapshot(old)
    new = make_snapshot(share)
    new['provider_location'] = old['provider_location']
    assert drv.manage_existing_snapshot(new, {}) == {
        'size': 1, 'provider_location': old['provider_location']}
    new['provider_location'] = '/path/snapshot_%s_%s' % (
        'x' * 36, uuidutils.generate_uuid().replace('-', '_'))
    with pytest.raises(exception.ShareBackendException):
        drv.manage_existing_snapshot_with_server(new, {})


# ---------------------------------------------------------------------------
# Stats
# ---------------------------------------------------------------------------

def test_stats(backend):
    drv = backend(share_backend_name='DUMMY1', reserved_share_percentage=5,
                  reserved_share_from_snapshot_percentage=6,
                  reserved_share_extend_percentage=7)
    stats = drv.get_share_stats(refresh=True)
    assert stats['share_backend_name'] == 'DUMMY1'
    assert stats['storage_protocol'] == 'NFS_CIFS'
    assert stats['driver_name'] == 'Dummy'
    assert stats['driver_handles_share_servers'] is False
    for flag in ('snapshot_support', 'create_share_from_snapshot_support',
                 'revert_to_snapshot_support', 'mount_snapshot_support',
                 'share_server_multiple_subnet_support',
                 'mount_point_name_support', 'qos_type_support',
                 'security_service_update_support'):
        assert stats[flag] is True, flag
    assert stats['encryption_support'] == ['share_server']
    assert stats['share_group_stats'] == {
        'consistent_snapshot_support': 'pool'}
    assert stats['reserved_percentage'] == 5
    assert stats['pools'] == [{
        'pool_name': 'fake_pool_for_DUMMY1', 'total_capacity_gb': 1230.0,
        'free_capacity_gb': 1210.0, 'reserved_percentage': 5,
        'reserved_snapshot_percentage': 6,
        'reserved_share_extend_percentage': 7}]
    assert 'replication_type' not in stats


def test_stats_with_replication_domain(backend):
    stats = backend(replication_domain='rd').get_share_stats(refresh=True)
    assert stats['replication_type'] == 'readable'
    assert stats['pools'][0]['replication_type'] == 'readable'
    assert stats['share_backend_name'] == 'DummyDriver'


# ---------------------------------------------------------------------------
# Delays and injected faults
# ---------------------------------------------------------------------------

def test_zero_delay_does_not_sleep(backend):
    drv = backend()
    with mock.patch.object(dummy.time, 'sleep') as sleep:
        drv.create_share(None, make_share())
        drv.get_share_stats(refresh=True)
    assert not sleep.called


def test_delays_follow_options(backend):
    drv = backend(dummy_driver_default_driver_method_delay=0.25,
                  dummy_driver_driver_methods_delays={'create_share': '1.5'})
    with mock.patch.object(dummy.time, 'sleep') as sleep:
        drv.create_share(None, make_share())
        sleep.assert_called_once_with(1.5)
        sleep.reset_mock()
        drv.extend_share(make_share(), 3)
        sleep.assert_called_once_with(0.25)
        sleep.reset_mock()
        drv.get_network_allocations_number()
        drv.update_share_usage_size(None, [])
        assert not sleep.called


def test_upstream_default_delays():
    opts = {o.dest: o for o in share_driver_opts.dummy_opts}
    assert opts['dummy_driver_default_driver_method_delay'].default == 2.0
    delays = opts['dummy_driver_driver_methods_delays'].default
    assert delays['create_share'] == '3.98'
    assert delays['update_share_network_subnet_from_metadata'] == '0.5'
    assert len(delays) == 22


@pytest.mark.parametrize('options', [
    {'dummy_driver_driver_methods_delays': {'no_such_method': '1'}},
    {'dummy_driver_driver_methods_delays': {
        'get_network_allocations_number': '1'}},
    {'dummy_driver_driver_methods_delays': {'create_share': 'slow'}},
    {'dummy_driver_fail_methods': ['no_such_method']},
    {'dummy_driver_invalid_return_methods': ['_get_share_name']},
])
def test_bad_dummy_options_are_rejected(backend, options):
    with pytest.raises(exception.BadConfigurationException):
        backend(**options)


def test_injected_failure_has_no_side_effect(backend):
    drv = backend(dummy_driver_fail_methods=['create_share', 'shrink_share'])
    share = make_share()
    with pytest.raises(exception.ShareBackendException) as info:
        drv.create_share(None, share)
    assert 'create_share' in str(info.value)
    assert drv.private_storage.get(share['id']) == {}
    with pytest.raises(exception.ShareBackendException):
        drv.shrink_share(share, 1)
    drv.extend_share(share, 3)


def test_failures_can_be_switched_at_run_time(backend):
    drv = backend()
    drv.delete_share(None, make_share())
    set_option(drv, 'dummy_driver_fail_methods',
               ['delete_share', 'check_for_setup_error', 'get_share_stats'])
    for call in (lambda: drv.delete_share(None, make_share()),
                 drv.check_for_setup_error,
                 lambda: drv.get_share_stats(refresh=True)):
        with pytest.raises(exception.ShareBackendException):
            call()
    set_option(drv, 'dummy_driver_fail_methods', [])
    drv.check_for_setup_error()


def test_invalid_returns(backend):
    drv = backend(dummy_driver_invalid_return_methods=[
        'create_share', 'get_share_status', 'update_replica_state',
        'delete_share', 'get_share_stats'])
    share = make_share()
    locations = drv.create_share(None, share)
    assert locations == dummy.INVALID_RETURNS['create_share']
    assert 'path' not in locations[0]
    # the work itself was done
    assert drv.private_storage.get(share['id'], 'fake_provider_location')
    assert drv.get_share_status(share)['status'] not in (
        constants.STATUS_AVAILABLE, constants.STATUS_ERROR)
    assert drv.update_replica_state(None, [], {}, [], []) not in (
        'in_sync', 'out_of_sync', 'error', None)
    assert drv.delete_share(None, share) == dummy.DEFAULT_INVALID_RETURN
    pools = drv.get_share_stats(refresh=True)['pools']
    assert 'total_capacity_gb' not in pools[0]
    # a fresh copy each time: callers may mutate what they get
    drv.create_share(None, make_share())[0]['path'] = 'mutated'
    assert 'path' not in dummy.INVALID_RETURNS['create_share'][0]


def test_every_invalid_return_names_a_faultable_method(backend):
    injectable = backend()._injectable_methods()
    assert set(dummy.INVALID_RETURNS) <= set(injectable)


# ---------------------------------------------------------------------------
# DHSS=True, replication, migration, backups
# ---------------------------------------------------------------------------

def network_info(server_id, n_subnets=1):
    return [{'server_id': server_id,
             'admin_network_allocations': [{'ip_address': '192.168.0.2'}],
             'network_allocations': [
                 {'ip_address': '172.16.%d.10' % i},
                 {'ip_address': '172.16.%d.20' % i}]}
            for i in range(n_subnets)]


def test_share_servers(backend):
    drv = backend(**helpers.dhss_options(admin_network_config_group=None))
    assert drv.driver_handles_share_servers is True
    assert drv.get_network_allocations_number() == 2
    assert drv.get_admin_network_allocations_number() == 1
    server_id = uuidutils.generate_uuid()
    details = drv.setup_server(network_info(server_id, 2), metadata={})
    assert details['service_ip'] == '192.168.0.2'
    assert details['server_id'] == server_id
    assert json.loads(details['subnet_allocations']) == [
        {'primary_public_ip': '172.16.0.10',
         'secondary_public_ip': '172.16.0.20'},
        {'primary_public_ip': '172.16.1.10',
         'secondary_public_ip': '172.16.1.20'}]
    server = {'id': server_id, 'backend_details': details}
    locations = drv.create_share(None, make_share(mount_point_name='m'),
                                 share_server=server)
    assert [loc['path'].split(':')[0] for loc in locations] == [
        '192.168.0.2', '172.16.0.10', '172.16.0.20', '172.16.1.10',
        '172.16.1.20']
    drv.unmanage_server(details)
    assert drv.get_share_server_network_info(None, server, server_id, {}) \
        == ['192.168.0.2', '172.16.0.10', '172.16.0.20', '172.16.1.10',
            '172.16.1.20']
    identifier, managed = drv.manage_server(None, server, server_id, {})
    assert identifier == server_id and managed['service_ip'] == '192.168.0.2'
    with pytest.raises(exception.ShareBackendException):
        drv.get_share_server_network_info(None, server, server_id, {})
    assert drv.teardown_server(server_details=details) is None


def test_replication(backend):
    drv = backend(replication_domain='rd')
    active = make_share(replica_state='active')
    new = make_share(share_id=active['share_id'])
    result = drv.create_replica(None, [active, new], new, [], [])
    assert result['replica_state'] == constants.REPLICA_STATE_IN_SYNC
    assert result['access_rules_status'] == constants.STATUS_ACTIVE
    assert len(result['export_locations']) == 3
    assert drv.promote_replica(None, [active, new], new, []) == [
        {'id': active['id'], 'replica_state': 'in_sync'},
        {'id': new['id'], 'replica_state': 'active'}]
    assert drv.update_replica_state(None, [], new, [], []) == 'in_sync'
    snaps = [{'id': 'a'}, {'id': 'b'}]
    assert drv.create_replicated_snapshot(None, [], snaps) == [
        {'id': 'a', 'status': 'available'},
        {'id': 'b', 'status': 'available'}]
    assert drv.delete_replicated_snapshot(None, [], snaps)[0]['status'] == \
        'deleted'
    assert drv.update_replicated_snapshot(None, [], new, snaps,
                                          snaps[0]) == {
        'id': 'a', 'status': 'available'}
    drv.delete_replica(None, [], [], new)
    assert drv.private_storage.get(new['id']) == {}


def test_migration(backend):
    source = backend(name='dummytest_src')
    backend(name='dummytest_dst')
    src, dst = make_share(), make_share(host='hostB@dummytest_dst#p')
    compat = source.migration_check_compatibility(None, src, dst)
    assert compat == {'compatible': True, 'writable': True,
                      'preserve_metadata': True, 'nondisruptive': False,
                      'preserve_snapshots': True}
    source.migration_start(None, src, dst, [], {})
    assert source.migration_get_progress(None, src, dst, [], {}) == {
        'total_progress': 0}
    assert source.migration_continue(None, src, dst, [], {}) is False
    assert source.migration_continue(None, src, dst, [], {}) is True
    dest_snap = make_snapshot(dst)
    done = source.migration_complete(None, src, dst, [],
                                     {'src-snap': dest_snap})
    assert len(done['export_locations']) == 3
    assert set(done['snapshot_updates']) == {dest_snap['id']}
    source.migration_cancel(None, src, dst, [], {})


def test_migration_to_a_foreign_backend_is_incompatible(backend):
    source = backend()
    backend(name='dummytest_generic',
            share_driver='manila.share.drivers.generic.GenericShareDriver')
    dst = make_share(host='hostB@dummytest_generic#p')
    assert source.migration_check_compatibility(
        None, make_share(), dst)['compatible'] is False
    with pytest.raises(exception.BadConfigurationException):
        source.migration_check_compatibility(
            None, make_share(), make_share(host='h@no_such_section_x#p'))


def test_server_migration(backend):
    drv = backend(name='dummytest_srv',
                  **helpers.dhss_options('dummytest_srv'))
    server = {'id': uuidutils.generate_uuid(), 'backend_details':
              drv.setup_server(network_info('s1'))}
    compat = drv.share_server_migration_check_compatibility(
        None, server, 'hostB@dummytest_srv', {}, {'id': 'net'}, {})
    assert compat['compatible'] is True
    assert compat['share_network_id'] == 'net'
    drv.share_server_migration_start(None, server, server, [], [])
    assert drv.share_server_migration_continue(None, server, server, [],
                                               []) is False
    assert drv.share_server_migration_get_progress(
        None, server, server, [], []) == {'total_progress': 50}
    share = make_share()
    done = drv.share_server_migration_complete(
        None, server, server, [share], [make_snapshot(share)], {})
    assert done['share_updates'][share['id']]['pool_name'] == \
        'fake_pool_for_DummyDriver'
    assert len(done['snapshot_updates']) == 1


def test_backups_and_groups(backend):
    drv = backend()
    share = make_share()
    backup = {'id': uuidutils.generate_uuid()}
    drv.create_backup(None, share, backup)
    assert drv.create_backup_continue(None, share, backup) == {
        'total_progress': '100'}
    drv.restore_backup(None, backup, share)
    assert drv.restore_backup_continue(None, backup, share) == {
        'total_progress': '100'}
    drv.delete_backup(None, backup, share)
    drv.get_share_stats(refresh=True)
    member = {'id': uuidutils.generate_uuid(),
              'share_group_snapshot_id': uuidutils.generate_uuid(),
              'share_id': share['share_id'], 'share': share,
              'share_name': 'n', 'name': 'm', 'provider_location': None}
    _, updates = drv.create_share_group_snapshot(None, {
        'id': 'g', 'share_group_id': 'g1',
        'share_group_snapshot_members': [member]})
    assert updates[0]['id'] == member['id']
    assert 'provider_location' in updates[0]


def test_concurrent_use(backend):
    drv = backend()
    shares = [make_share() for _ in range(20)]
    errors = []

    def work(share):
        try:
            drv.create_share(None, share)
            for _ in range(2):
                drv.migration_continue(None, share, share, [], {})
            drv.set_share_used_size(share['id'], 1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(drv.migration_get_progress(None, s, s, [], {}) ==
               {'total_progress': 100} for s in shares)
