"""Base behaviour of ShareDriver: mode validation, capabilities, defaults and the generic implementations."""

from unittest import mock

import netaddr
from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.conf import network as network_opts
from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import exception
from manila_lite.network import standalone
from manila_lite.share import configuration
from manila_lite.share import driver

CONF = cfg.CONF


class PlainDriver(driver.ShareDriver):
    """Implements nothing; supports both modes."""

    def __init__(self, *args, **kwargs):
        super().__init__([False, True], *args, **kwargs)


class FalseOnlyDriver(driver.ShareDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(False, *args, **kwargs)


class SnapshotDriver(PlainDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.snapshots = []
        self.deleted = []

    def create_snapshot(self, context, snapshot, share_server=None):
        if snapshot['id'] == 'boom':
            raise exception.ShareBackendException(msg='boom')
        self.snapshots.append(snapshot)
        return {'provider_location': '/snap/%s' % snapshot['id']}

    def delete_snapshot(self, context, snapshot, share_server=None):
        self.deleted.append(snapshot['id'])

    def create_share_from_snapshot(self, context, share, snapshot,
                                   share_server=None, parent_share=None):
        return ['10.0.0.1:/%s' % share['id']]


class ExecDriver(driver.ExecuteMixin, PlainDriver):
    pass


@pytest.fixture
def section():
    """A fresh backend section with every driver option registered."""
    name = 'drvtest_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    for _group, opts in (share_driver_opts.list_opts() +
                         network_opts.list_opts()):
        CONF.register_opts(opts, group=name)
    keys = []

    def set_opt(key, value, group=name):
        CONF.set_override(key, value, group=group)
        keys.append((key, group))

    set_opt('driver_handles_share_servers', False)
    yield name, set_opt
    for key, group in keys:
        CONF.clear_override(key, group=group)


def build(cls, section, **kwargs):
    name, _ = section
    conf = configuration.Configuration([], config_group=name)
    return cls(configuration=conf, private_storage=None, **kwargs)


# ---------------------------------------------------------------------------
# Construction and driver mode
# ---------------------------------------------------------------------------

def test_constructor_sets_contract_attributes(section):
    drv = build(PlainDriver, section)
    assert drv.initialized is False
    assert drv._stats == {}
    assert drv.ipv6_implemented is False
    assert drv.dhss_mandatory_security_service_association == {}
    for flag in ('security_service_update_support',
                 'network_allocation_update_support',
                 'share_replicas_migration_support',
                 'restore_to_target_support', 'qos_type_support'):
        assert getattr(drv, flag) is False, flag
    assert drv.encryption_support is None
    assert drv.network_api is None
    assert drv.admin_network_api is None
    assert drv.private_storage is None
    assert drv.max_shares_per_share_server == -1
    assert drv.max_share_server_size == -1


def test_unset_mode_is_rejected_naming_option_and_section(section):
    name, set_opt = section
    set_opt('driver_handles_share_servers', None)
    with pytest.raises(exception.InvalidParameterValue) as info:
        build(PlainDriver, section)
    assert 'driver_handles_share_servers' in str(info.value)
    assert '[%s]' % name in str(info.value)


def test_unsupported_mode_is_rejected_naming_option_and_section(section):
    name, set_opt = section
    set_opt('driver_handles_share_servers', True)
    with pytest.raises(exception.InvalidDriverMode) as info:
        build(FalseOnlyDriver, section)
    assert 'driver_handles_share_servers=True' in str(info.value)
    assert '[%s]' % name in str(info.value)
    assert isinstance(info.value, exception.ManilaException)


@pytest.mark.parametrize('modes', ['yes', [], [True, 'no'], None])
def test_driver_must_declare_boolean_modes(section, modes):
    class Bad(driver.ShareDriver):
        def __init__(self, *args, **kwargs):
            super().__init__(modes, *args, **kwargs)

    with pytest.raises(exception.InvalidParameterValue):
        build(Bad, section)


def _standalone(set_opt):
    set_opt('driver_handles_share_servers', True)
    set_opt('standalone_network_plugin_gateway', '10.0.0.1')
    set_opt('standalone_network_plugin_mask', '255.255.255.0')


def test_dhss_true_mode_attaches_the_standalone_plugin(section):
    name, set_opt = section
    _standalone(set_opt)
    drv = build(PlainDriver, section)
    assert drv.driver_handles_share_servers is True
    assert isinstance(drv.network_api, standalone.StandaloneNetworkPlugin)
    assert drv.network_api.label == 'user'
    assert drv.network_api.allowed_cidrs == [netaddr.IPNetwork(
        '10.0.0.0/24')]
    assert drv.admin_network_api is None
    set_opt('admin_network_config_group', name)
    admin = build(PlainDriver, section).admin_network_api
    assert admin.label == 'admin'


@pytest.mark.parametrize('option, value, words', [
    ('standalone_network_plugin_gateway', None,
     "'standalone_network_plugin_gateway' is required"),
    ('network_api_class', 'nosuchplugin', 'cannot load network plugin'),
    ('standalone_network_plugin_allowed_ip_ranges', ['10.9.0.1-10.9.0.5'],
     'does not fit network'),
])
def test_bad_network_configuration_stops_the_driver(
        section, option, value, words):
    name, set_opt = section
    _standalone(set_opt)
    set_opt(option, value)
    with pytest.raises(exception.ConfigError) as info:
        build(PlainDriver, section)
    assert '[%s] network_api_class' % name in str(info.value)
    assert words in str(info.value)


def test_standalone_ipv6_ranges(section):
    _, set_opt = section
    _standalone(set_opt)
    set_opt('network_plugin_ipv6_enabled', True)
    set_opt('standalone_network_plugin_gateway', '2001:db8::1')
    set_opt('standalone_network_plugin_mask', '64')
    set_opt('standalone_network_plugin_allowed_ip_ranges',
            ['2001:db8::10-2001:db8::13'])
    plugin = build(PlainDriver, section).network_api
    assert plugin.ip_version == 6
    assert [str(c) for c in plugin.allowed_cidrs] == ['2001:db8::10/126']


def test_config_opts_are_grafted(section):
    name, _ = section
    extra = [cfg.StrOpt('drvtest_extra_option', default='x')]
    drv = build(PlainDriver, section, config_opts=[extra])
    assert drv.configuration.drvtest_extra_option == 'x'
    assert CONF[name].drvtest_extra_option == 'x'


def test_without_configuration_the_default_section_is_used():
    CONF.register_opts(share_driver_opts.share_opts)
    CONF.set_override('driver_handles_share_servers', False)
    try:
        drv = PlainDriver()
        assert drv.configuration.config_group is None
        assert drv.driver_handles_share_servers is False
    finally:
        CONF.clear_override('driver_handles_share_servers')


# ---------------------------------------------------------------------------
# Capabilities
# ---------------------------------------------------------------------------

def test_default_capabilities(section):
    drv = build(PlainDriver, section)
    stats = drv.get_share_stats(refresh=True)
    assert stats['share_backend_name'] == 'Generic_NFS'
    assert stats['vendor_name'] == 'Open Source'
    assert stats['driver_version'] == '1.0'
    assert stats['total_capacity_gb'] == 'unknown'
    assert stats['pools'] is None
    assert stats['snapshot_support'] is False
    assert stats['create_share_from_snapshot_support'] is False
    assert stats['share_group_stats'] == {
        'consistent_snapshot_support': None}
    assert stats['ipv4_support'] is True
    assert stats['ipv6_support'] is False
    assert 'max_shares_per_share_server' not in stats
    assert 'replication_type' not in stats
    assert drv.get_share_stats() is stats


def test_snapshot_capabilities_follow_overrides(section):
    stats = build(SnapshotDriver, section).get_share_stats(refresh=True)
    assert stats['snapshot_support'] is True
    assert stats['create_share_from_snapshot_support'] is True


def test_driver_data_overrides_defaults(section):
    name, set_opt = section
    set_opt('share_backend_name', 'BE1')
    set_opt('replication_domain', 'rd1')
    drv = build(PlainDriver, section)
    drv._update_share_stats({'vendor_name': 'Me', 'custom_key': 1,
                             'share_group_stats': {
                                 'consistent_snapshot_support': 'pool'}})
    stats = drv.get_share_stats()
    assert stats['vendor_name'] == 'Me'
    assert stats['custom_key'] == 1
    assert stats['share_backend_name'] == 'BE1'
    assert stats['replication_domain'] == 'rd1'
    assert stats['share_group_stats'] == {
        'consistent_snapshot_support': 'pool'}


def test_backend_name_falls_back_to_default_section(section):
    drv = build(PlainDriver, section)
    drv.get_share_stats(refresh=True)  # registers the fallback option
    CONF.set_override('share_backend_name', 'FROM_DEFAULT')
    try:
        stats = drv.get_share_stats(refresh=True)
    finally:
        CONF.clear_override('share_backend_name')
    assert stats['share_backend_name'] == 'FROM_DEFAULT'


def test_dhss_true_reports_server_limits(section):
    _, set_opt = section
    _standalone(set_opt)
    set_opt('max_shares_per_share_server', 5)
    stats = build(PlainDriver, section).get_share_stats(refresh=True)
    assert stats['driver_handles_share_servers'] is True
    assert stats['max_shares_per_share_server'] == 5
    assert stats['max_share_server_size'] == -1


def test_ip_versions(section):
    drv = build(PlainDriver, section)
    assert drv.get_configured_ip_versions() == [4]
    drv.ipv6_implemented = True
    with pytest.raises(NotImplementedError):
        drv.get_configured_ip_versions()


def test_ip_versions_narrowed_by_network_plugin(section):
    _, set_opt = section
    _standalone(set_opt)
    drv = build(PlainDriver, section)
    drv.get_configured_ip_versions = lambda: [4, 6]
    drv.network_api = mock.Mock(enabled_ip_versions={6})
    data = drv.add_ip_version_capability({'share_backend_name': 'x'})
    assert data['ipv4_support'] is False
    assert data['ipv6_support'] is True


def test_filter_and_goodness_functions(section):
    _, set_opt = section
    drv = build(PlainDriver, section)
    assert drv.get_filter_function() is None
    assert drv.get_goodness_function() is None
    drv.get_default_filter_function = lambda pool=None: 'default_filter'
    drv.get_default_goodness_function = lambda: 'default_goodness'
    assert drv.get_filter_function() == 'default_filter'
    assert drv.get_goodness_function() == 'default_goodness'
    set_opt('filter_function', 'capabilities.x > 1')
    set_opt('goodness_function', '50')
    assert drv.get_filter_function() == 'capabilities.x > 1'
    assert drv.get_goodness_function() == '50'


# ---------------------------------------------------------------------------
# Defaults of the individual methods
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('method,args', [
    ('create_share', (None, {})),
    ('delete_share', (None, {})),
    ('ensure_share', (None, {})),
    ('ensure_shares', (None, [])),
    ('get_backend_info', (None,)),
    ('update_access', (None, {}, [], [], [])),
    ('allow_access', (None, {}, {})),
    ('deny_access', (None, {}, {})),
    ('extend_share', ({}, 2)),
    ('shrink_share', ({}, 1)),
    ('get_share_status', ({},)),
    ('get_network_allocations_number', ()),
    ('create_replica', (None, [], {}, [], [])),
    ('migration_start', (None, {}, {}, [], {})),
    ('create_backup', (None, {}, {})),
])
def test_unsupported_methods_raise_not_implemented(section, method, args):
    with pytest.raises(NotImplementedError):
        getattr(build(PlainDriver, section), method)(*args)


def test_simple_defaults(section):
    drv = build(PlainDriver, section)
    assert drv.get_pool({'host': 'h@b#p'}) is None
    assert drv.update_share_usage_size(None, [{'id': 'x'}]) == []
    assert drv.get_periodic_hook_data(None, ['a']) == ['a']
    assert drv.get_optional_share_creation_data({}) == {}
    assert drv.get_admin_network_allocations_number() == 0
    assert drv.get_share_server_pools({}) == []
    assert drv.unmanage({}) is None
    assert drv.check_for_setup_error() is None
    assert drv.do_setup(None) is None
    assert set(drv.migration_check_compatibility(None, {}, {}).values()) \
        == {False}
    compat = drv.share_server_migration_check_compatibility(
        None, {}, 'h@b', {}, {}, {})
    assert compat['compatible'] is False
    assert 'migration_get_progress' in compat


def test_choose_share_server(section):
    drv = build(PlainDriver, section)
    servers = [{'id': 's1'}, {'id': 's2'}]
    assert drv.choose_share_server_compatible_with_share(
        None, servers, {}) == {'id': 's1'}
    assert drv.choose_share_server_compatible_with_share(None, [], {}) \
        is None
    assert drv.choose_share_server_compatible_with_share(
        None, servers, {}, share_group={'share_server_id': 's2'}) == \
        {'id': 's2'}
    assert drv.choose_share_server_compatible_with_share(
        None, servers, {}, share_group={'share_server_id': 's9'}) is None
    assert drv.choose_share_server_compatible_with_share_group(
        None, servers, {}) == {'id': 's1'}


def test_connection_get_info(section):
    drv = build(PlainDriver, section)
    share = {'id': 'i1', 'share_proto': 'NFS', 'export_locations': [
        {'path': '10.0.0.1:/a', 'is_admin_only': False},
        {'path': '11.0.0.1:/a', 'is_admin_only': True}]}
    info = drv.connection_get_info(None, share)
    assert info == {
        'mount': 'mount -vt nfs %(options)s 11.0.0.1:/a %(path)s',
        'unmount': 'umount -v %(path)s',
        'access_mapping': {'ip': ['nfs']},
    }
    share['export_locations'][1]['is_admin_only'] = False
    share['share_proto'] = 'CIFS'
    info = drv.connection_get_info(None, share)
    assert '10.0.0.1:/a' in info['mount']
    assert info['access_mapping'] == {'user': ['cifs']}


def test_setup_and_teardown_only_in_dhss_mode(section):
    _, set_opt = section
    drv = build(PlainDriver, section)
    drv._setup_server = mock.Mock(return_value={'a': 'b'})
    drv._teardown_server = mock.Mock()
    assert drv.setup_server([{}], metadata={}) is None
    assert drv.teardown_server(server_details={}) is None
    assert not drv._setup_server.called
    set_opt('driver_handles_share_servers', True)
    assert drv.setup_server([{}], metadata={}) == {'a': 'b'}
    drv.teardown_server(server_details={}, security_services=[])
    drv._teardown_server.assert_called_once_with(server_details={},
                                                 security_services=[])


def test_network_allocation_without_plugin(section):
    drv = build(PlainDriver, section)
    drv.get_network_allocations_number = lambda: 0
    assert drv.allocate_network(None, {}, {}, {}) is None
    drv.get_network_allocations_number = lambda: 2
    with pytest.raises(exception.NetworkBadConfigurationException):
        drv.allocate_network(None, {}, {}, {})
    drv.get_admin_network_allocations_number = lambda: 1
    with pytest.raises(exception.NetworkBadConfigurationException):
        drv.allocate_admin_network(None, {})
    drv.deallocate_network(None, 'srv')  # no plugin: nothing to release
    drv.update_network_allocation(None, {})


def test_network_allocation_with_plugins(section):
    drv = build(PlainDriver, section)
    drv.get_network_allocations_number = lambda: 2
    drv.get_admin_network_allocations_number = lambda: 1
    drv.network_api = mock.Mock()
    drv.admin_network_api = mock.Mock()
    drv.allocate_network('ctx', 'srv', 'net', 'subnet')
    drv.network_api.allocate_network.assert_called_once_with(
        'ctx', 'srv', share_network='net', share_network_subnet='subnet',
        count=2)
    drv.allocate_admin_network('ctx', 'srv')
    drv.admin_network_api.allocate_network.assert_called_once_with(
        'ctx', 'srv', count=1)
    drv.deallocate_network('ctx', 'srv-id')
    drv.network_api.deallocate_network.assert_called_once_with(
        'ctx', 'srv-id', share_network=None, share_network_subnet=None)
    drv.update_admin_network_allocation('ctx', 'srv')
    drv.admin_network_api.update_network_allocation.assert_called_once_with(
        'ctx', 'srv')


# ---------------------------------------------------------------------------
# Generic share group implementation
# ---------------------------------------------------------------------------

def _member(member_id, share_id='s1'):
    share = {'id': 'inst-' + share_id, 'size': 1, 'share_proto': 'NFS'}
    return {'id': member_id, 'share_group_snapshot_id': 'gs1',
            'share_id': share_id, 'share': share, 'share_name': 'n',
            'name': 'snap-' + member_id, 'provider_location': '/p'}


def test_group_snapshot_needs_snapshot_support(section):
    drv = build(PlainDriver, section)
    drv.get_share_stats(refresh=True)
    with pytest.raises(exception.ShareGroupSnapshotNotSupported):
        drv.create_share_group_snapshot(None, {
            'id': 'gs1', 'share_group_id': 'g1',
            'share_group_snapshot_members': [_member('m1')]})


def test_group_snapshot_loops_and_rolls_back(section):
    drv = build(SnapshotDriver, section)
    drv.get_share_stats(refresh=True)
    snap = {'id': 'gs1', 'share_group_id': 'g1',
            'share_group_snapshot_members': [_member('m1'), _member('m2')]}
    group_update, members = drv.create_share_group_snapshot(None, snap)
    assert group_update is None
    assert members == [{'provider_location': '/snap/m1', 'id': 'm1'},
                       {'provider_location': '/snap/m2', 'id': 'm2'}]
    snap['share_group_snapshot_members'].append(_member('boom'))
    with pytest.raises(exception.ShareBackendException):
        drv.create_share_group_snapshot(None, snap)
    assert drv.deleted == ['m1', 'm2']
    assert drv.delete_share_group_snapshot(None, snap) == (None, None)
    assert drv.create_share_group_snapshot(None, {
        'id': 'gs2', 'share_group_id': 'g1',
        'share_group_snapshot_members': []}) == (None, None)


def test_group_from_group_snapshot(section):
    drv = build(SnapshotDriver, section)
    group = {'shares': [{'id': 'new1',
                         'source_share_group_snapshot_member_id': 'm1'}]}
    snap = {'id': 'gs1', 'share_group_snapshot_members': [_member('m1')]}
    assert drv.create_share_group_from_share_group_snapshot(
        None, group, snap) == (None, [
            {'id': 'new1', 'export_locations': ['10.0.0.1:/new1']}])
    group['shares'][0]['source_share_group_snapshot_member_id'] = 'other'
    with pytest.raises(exception.InvalidShareGroup):
        drv.create_share_group_from_share_group_snapshot(None, group, snap)
    assert drv.create_share_group_from_share_group_snapshot(
        None, group, {'id': 'x', 'share_group_snapshot_members': []}) == \
        (None, None)


def test_group_clone_status_is_validated(section):
    drv = build(SnapshotDriver, section)
    group = {'shares': [{'id': 'new1',
                         'source_share_group_snapshot_member_id': 'm1'}]}
    snap = {'id': 'gs1', 'share_group_snapshot_members': [_member('m1')]}
    drv.create_share_from_snapshot = mock.Mock(
        return_value={'status': 'creating_from_snapshot'})
    _, updates = drv.create_share_group_from_share_group_snapshot(
        None, group, snap)
    assert updates == [{'id': 'new1', 'status': 'creating_from_snapshot',
                        'export_locations': []}]
    drv.create_share_from_snapshot.return_value = {'status': 'weird'}
    with pytest.raises(exception.InvalidShareInstance):
        drv.create_share_group_from_share_group_snapshot(None, group, snap)


# ---------------------------------------------------------------------------
# ExecuteMixin
# ---------------------------------------------------------------------------

def test_execute_mixin_retries(section):
    _, set_opt = section
    runner = mock.Mock(side_effect=[
        processutils.ProcessExecutionError(), None])
    drv = build(ExecDriver, section, execute=runner)
    with mock.patch.object(driver.time, 'sleep') as sleep:
        assert drv._try_execute('ls', '-l') is True
    assert runner.call_count == 2
    sleep.assert_called_once_with(1)
    assert drv.configuration.ssh_conn_timeout == 60
    set_opt('num_shell_tries', 1)
    runner.side_effect = processutils.ProcessExecutionError()
    with pytest.raises(processutils.ProcessExecutionError):
        drv._try_execute('ls')
