"""Compliance of ShareDriver with upstream's interface, and of every registered driver with ShareDriver."""

import importlib.metadata
import inspect
import os
import re

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import context as ml_context
from manila_lite.share import configuration
from manila_lite.share import driver
from manila_lite.share import drivers_private_data

CONF = cfg.CONF
NAMESPACE = 'manila_lite.share.drivers'

# Every method of upstream's ShareDriver listed in the seed document
# (/work/shared/seed/000_82c88e1340a924e7.txt), with its parameters as the
# document prints them. Parsed once; test_seed_table_matches_document
# re-checks it when the document is around.
SEED_METHODS = {
    'add_ip_version_capability': 'data',
    'allocate_admin_network': 'context, share_server, count=None, **kwargs',
    'allocate_network': 'context, share_server, share_network, '
                        'share_network_subnet, count=None, **kwargs',
    'allow_access': 'context, share, access, share_server=None',
    'check_for_setup_error': '',
    'choose_share_server_compatible_with_share':
        'context, share_servers, share, snapshot=None, share_group=None',
    'choose_share_server_compatible_with_share_group':
        'context, share_servers, share_group_ref, share_group_snapshot=None',
    'connection_get_info': 'context, share, share_server=None',
    'create_replica': 'context, replica_list, new_replica, access_rules, '
                      'replica_snapshots, share_server=None',
    'create_replicated_snapshot':
        'context, replica_list, replica_snapshots, share_server=None',
    'create_share': 'context, share, share_server=None',
    'create_share_from_snapshot':
        'context, share, snapshot, share_server=None, parent_share=None',
    'create_share_group': 'context, share_group_dict, share_server=None',
    'create_share_group_from_share_group_snapshot':
        'context, share_group_dict, share_group_snapshot_dict, '
        'share_server=None',
    'create_share_group_snapshot': 'context, snap_dict, share_server=None',
    'create_snapshot': 'context, snapshot, share_server=None',
    'deallocate_network': 'context, share_server_id',
    'delete_replica': 'context, replica_list, replica_snapshots, replica, '
                      'share_server=None',
    'delete_replicated_snapshot':
        'context, replica_list, replica_snapshots, share_server=None',
    'delete_share': 'context, share, share_server=None',
    'delete_share_group': 'context, share_group_dict, share_server=None',
    'delete_share_group_snapshot': 'context, snap_dict, share_server=None',
    'delete_snapshot': 'context, snapshot, share_server=None',
    'deny_access': 'context, share, access, share_server=None',
    'do_setup': 'context',
    'ensure_share': 'context, share, share_server=None',
    'ensure_shares': 'context, shares',
    'extend_share': 'share, new_size, share_server=None',
    'get_admin_network_allocations_number': '',
    'get_backend_info': 'context',
    'get_configured_ip_versions': '',
    'get_default_filter_function': '',
    'get_default_goodness_function': '',
    'get_filter_function': '',
    'get_goodness_function': '',
    'get_network_allocations_number': '',
    'get_periodic_hook_data': 'context, share_instances',
    'get_pool': 'share',
    'get_share_server_network_info':
        'context, share_server, identifier, driver_options',
    'get_share_server_pools': 'share_server',
    'get_share_stats': 'refresh=False',
    'get_share_status': 'share, share_server=None',
    'manage_existing': 'share, driver_options',
    'manage_existing_snapshot': 'snapshot, driver_options',
    'manage_existing_snapshot_with_server':
        'snapshot, driver_options, share_server=None',
    'manage_existing_with_server': 'share, driver_options, share_server=None',
    'manage_server': 'context, share_server, identifier, driver_options',
    'migration_cancel': 'context, source_share, destination_share, '
                        'source_snapshots, snapshot_mappings, '
                        'share_server=None, destination_share_server=None',
    'migration_check_compatibility':
        'context, source_share, destination_share, share_server=None, '
        'destination_share_server=None',
    'migration_complete': 'context, source_share, destination_share, '
                          'source_snapshots, snapshot_mappings, '
                          'share_server=None, destination_share_server=None',
    'migration_continue': 'context, source_share, destination_share, '
                          'source_snapshots, snapshot_mappings, '
                          'share_server=None, destination_share_server=None',
    'migration_get_progress':
        'context, source_share, destination_share, source_snapshots, '
        'snapshot_mappings, share_server=None, destination_share_server=None',
    'migration_start': 'context, source_share, destination_share, '
                       'source_snapshots, snapshot_mappings, '
                       'share_server=None, destination_share_server=None',
    'promote_replica': 'context, replica_list, replica, access_rules, '
                       'share_server=None',
    'revert_to_replicated_snapshot':
        'context, active_replica, replica_list, active_replica_snapshot, '
        'replica_snapshots, share_access_rules, snapshot_access_rules, '
        'share_server=None',
    'revert_to_snapshot': 'context, snapshot, share_access_rules, '
                          'snapshot_access_rules, share_server=None',
    'setup_server': '*args, **kwargs',
    'share_server_migration_cancel':
        'context, src_share_server, dest_share_server, shares, snapshots',
    'share_server_migration_check_compatibility':
        'context, share_server, dest_host, old_share_network, '
        'new_share_network, shares_request_spec',
    'share_server_migration_complete':
        'context, src_share_server, dest_share_server, shares, snapshots, '
        'new_network_info',
    'share_server_migration_continue':
        'context, src_share_server, dest_share_server, shares, snapshots',
    'share_server_migration_get_progress':
        'context, src_share_server, dest_share_server, shares, snapshots',
    'share_server_migration_start':
        'context, src_share_server, dest_share_server, shares, snapshots',
    'shrink_share': 'share, new_size, share_server=None',
    'snapshot_update_access': 'context, snapshot, access_rules, add_rules, '
                              'delete_rules, share_server=None',
    'teardown_server': '*args, **kwargs',
    'unmanage': 'share',
    'unmanage_server': 'server_details, security_services=None',
    'unmanage_snapshot': 'snapshot',
    'unmanage_snapshot_with_server': 'snapshot, share_server=None',
    'unmanage_with_server': 'share, share_server=None',
    'update_access': 'context, share, access_rules, add_rules, '
                     'delete_rules, share_server=None',
    'update_admin_network_allocation': 'context, share_server',
    'update_network_allocation': 'context, share_server',
    'update_replica_state': 'context, replica_list, replica, access_rules, '
                            'replica_snapshots, share_server=None',
    'update_replicated_snapshot':
        'context, replica_list, share_replica, replica_snapshots, '
        'replica_snapshot, share_server=None',
    'update_share_usage_size': 'context, shares',
}

# Where upstream 23.x changed a seed signature, calls must fit the 23.x one
# (and the seed's parameter names must still be accepted by keyword).
UPSTREAM_23_SIGNATURES = {
    'update_access': 'context, share, access_rules, add_rules, '
                     'delete_rules, update_rules, share_server=None',
}

SEED_PROPERTIES = (
    'admin_network_api', 'creating_shares_from_snapshots_is_supported',
    'driver_handles_share_servers', 'replication_domain',
    'snapshots_are_supported',
)

# Interfaces upstream 23.x added after the seed document (driver-contract.md
# section 3.9 and the manager call sites).
LATER_METHODS = (
    'transfer_accept', 'get_optional_share_creation_data',
    'update_share_server_security_service',
    'check_update_share_server_security_service',
    'check_update_share_server_network_allocations',
    'update_share_server_network_allocations', 'create_backup',
    'create_backup_continue', 'delete_backup', 'restore_backup',
    'restore_backup_continue', 'update_share_from_metadata',
    'update_share_network_subnet_from_metadata',
)

REQUIRED_CAPABILITIES = (
    'share_backend_name', 'driver_handles_share_servers', 'vendor_name',
    'driver_version', 'storage_protocol', 'total_capacity_gb',
    'free_capacity_gb', 'reserved_percentage',
    'reserved_snapshot_percentage', 'reserved_share_extend_percentage',
    'qos', 'pools', 'snapshot_support',
    'create_share_from_snapshot_support', 'revert_to_snapshot_support',
    'mount_snapshot_support', 'replication_domain', 'filter_function',
    'goodness_function', 'security_service_update_support',
    'network_allocation_update_support',
    'share_server_multiple_subnet_support', 'mount_point_name_support',
    'share_replicas_migration_support', 'encryption_support',
    'qos_type_support', 'snapshot_inherit_share_access_support',
    'share_group_stats', 'ipv4_support', 'ipv6_support',
)

REQUIRED_POOL_KEYS = (
    'pool_name', 'total_capacity_gb', 'free_capacity_gb',
    'reserved_percentage', 'reserved_snapshot_percentage',
    'reserved_share_extend_percentage',
)

# Extra backend options a registered driver needs to build and report
# stats in a unit test (keyed by entry-point alias).
DRIVER_TEST_OPTIONS = {
    'dummy': {'dummy_driver_default_driver_method_delay': 0,
              'dummy_driver_driver_methods_delays': {}},
}

SEED_DOCUMENT = '/work/shared/seed/000_82c88e1340a924e7.txt'

_KIND = inspect.Parameter


def _parse_seed_params(text):
    """Turn 'a, b=None, *args, **kwargs' into (name, kind, has_default)."""
    params = []
    for item in filter(None, (p.strip() for p in text.split(','))):
        if item.startswith('**'):
            params.append((item[2:], _KIND.VAR_KEYWORD, False))
        elif item.startswith('*'):
            params.append((item[1:], _KIND.VAR_POSITIONAL, False))
        else:
            name, eq, _ = item.partition('=')
            params.append((name, _KIND.POSITIONAL_OR_KEYWORD, bool(eq)))
    return params


def _params_of(func):
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if params and params[0].name == 'self':
        params = params[1:]
    return [(p.name, p.kind, p.default is not _KIND.empty) for p in params]


def _incompatibilities(base, override):
    """Why a call valid for ``base`` params could fail on ``override``."""
    kinds = {kind for _, kind, _ in override}
    if {_KIND.VAR_POSITIONAL, _KIND.VAR_KEYWORD} <= kinds:
        return []
    problems = []
    positional = [p for p in base if p[1] == _KIND.POSITIONAL_OR_KEYWORD]
    over_pos = [p for p in override
                if p[1] in (_KIND.POSITIONAL_ONLY,
                            _KIND.POSITIONAL_OR_KEYWORD)]
    for index, (name, _, has_default) in enumerate(positional):
        if index >= len(over_pos) or over_pos[index][0] != name:
            if _KIND.VAR_POSITIONAL not in kinds:
                problems.append('positional parameter %d is not %r'
                                % (index, name))
            continue
        if has_default and not over_pos[index][2]:
            problems.append('%r lost its default' % name)
    base_names = {name for name, _, _ in base}
    for name, kind, has_default in override:
        if (name not in base_names and not has_default and kind in
                (_KIND.POSITIONAL_OR_KEYWORD, _KIND.KEYWORD_ONLY)):
            problems.append('new parameter %r has no default' % name)
    for name, kind, _ in base:
        if kind in (_KIND.VAR_POSITIONAL, _KIND.VAR_KEYWORD) and \
                kind not in kinds:
            problems.append('does not accept %s' % (
                '*args' if kind == _KIND.VAR_POSITIONAL else '**kwargs'))
    return problems


def _registered_drivers():
    return sorted(importlib.metadata.entry_points(group=NAMESPACE),
                  key=lambda ep: ep.name)


def _public_base_methods():
    return sorted(name for name, member in
                  inspect.getmembers(driver.ShareDriver, inspect.isfunction)
                  if not name.startswith('__'))


# ---------------------------------------------------------------------------
# The base class against upstream's interface
# ---------------------------------------------------------------------------

def test_seed_table_matches_document():
    if not os.path.exists(SEED_DOCUMENT):
        pytest.skip('seed document not available')
    with open(SEED_DOCUMENT, encoding='utf-8') as f:
        text = f.read()
    section = text[text.index('ShareDriver\n(driver_handles_share_servers'):]
    for name in list(SEED_METHODS) + list(SEED_PROPERTIES):
        assert re.search(r'(^|\))%s\n' % name, section, re.M), name


@pytest.mark.parametrize('name', sorted(SEED_METHODS))
def test_every_seed_method_exists_on_share_driver(name):
    member = getattr(driver.ShareDriver, name, None)
    assert callable(member), name


@pytest.mark.parametrize('name', SEED_PROPERTIES)
def test_every_seed_property_exists_on_share_driver(name):
    assert isinstance(inspect.getattr_static(driver.ShareDriver, name),
                      property), name


@pytest.mark.parametrize('name', LATER_METHODS)
def test_later_upstream_methods_exist(name):
    assert callable(getattr(driver.ShareDriver, name, None)), name


@pytest.mark.parametrize('name', sorted(SEED_METHODS))
def test_base_signatures_accept_seed_calls(name):
    seed = _parse_seed_params(SEED_METHODS[name])
    ours = _params_of(getattr(driver.ShareDriver, name))
    if name in UPSTREAM_23_SIGNATURES:
        newer = _parse_seed_params(UPSTREAM_23_SIGNATURES[name])
        assert _incompatibilities(newer, ours) == [], name
        assert {p[0] for p in seed} <= {p[0] for p in ours}, name
    else:
        assert _incompatibilities(seed, ours) == [], name


def test_constructor_signature_is_upstreams():
    params = _params_of(driver.ShareDriver.__init__)
    assert params[0][0] == 'driver_handles_share_servers'
    assert {p[1] for p in params[1:]} == {_KIND.VAR_POSITIONAL,
                                          _KIND.VAR_KEYWORD}


def test_signature_checker_catches_breakage():
    base = _parse_seed_params('context, share, share_server=None')
    assert _incompatibilities(
        base, _parse_seed_params('context, share')) != []
    assert _incompatibilities(
        base, _parse_seed_params('context, shr, share_server=None')) != []
    assert _incompatibilities(
        base, _parse_seed_params('context, share, share_server')) != []
    assert _incompatibilities(
        base, _parse_seed_params('context, share, share_server=None, x')
    ) != []
    assert _incompatibilities(
        base, _parse_seed_params('context, share, share_server=None, x=1')
    ) == []


# ---------------------------------------------------------------------------
# Every registered driver against the base class
# ---------------------------------------------------------------------------

@pytest.fixture
def backend_section():
    name = 'compliance_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    for _group, opts in share_driver_opts.list_opts():
        CONF.register_opts(opts, group=name)
    overrides = []

    def override(key, value):
        CONF.set_override(key, value, group=name)
        overrides.append(key)

    yield name, override
    for key in overrides:
        CONF.clear_override(key, group=name)


def test_namespace_is_not_empty():
    assert 'dummy' in [ep.name for ep in _registered_drivers()]


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_subclasses_share_driver(entry_point):
    cls = entry_point.load()
    assert inspect.isclass(cls)
    assert issubclass(cls, driver.ShareDriver)


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_overrides_keep_base_signatures(entry_point):
    cls = entry_point.load()
    problems = {}
    for name in _public_base_methods():
        override = getattr(cls, name)
        base = getattr(driver.ShareDriver, name)
        if override is base or name == '__init__':
            continue
        found = _incompatibilities(_params_of(base), _params_of(override))
        if found:
            problems[name] = found
    assert problems == {}


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_builds_in_dhss_false_mode_and_reports_stats(
        entry_point, backend_section, tmp_path):
    name, override = backend_section
    CONF.set_override('state_path', str(tmp_path))
    try:
        override('driver_handles_share_servers', False)
        for key, value in DRIVER_TEST_OPTIONS.get(entry_point.name,
                                                  {}).items():
            override(key, value)
        cls = entry_point.load()
        conf = configuration.Configuration([], config_group=name)
        storage = drivers_private_data.DriverPrivateData(
            storage=drivers_private_data.MemoryStorageDriver())
        drv = cls(configuration=conf, private_storage=storage)
        assert drv.driver_handles_share_servers is False
        assert drv.initialized is False
        drv.do_setup(ml_context.get_admin_context())
        drv.check_for_setup_error()
        stats = drv.get_share_stats(refresh=True)
    finally:
        CONF.clear_override('state_path')
    _check_stats(stats)


def _check_stats(stats):
    missing = [key for key in REQUIRED_CAPABILITIES if key not in stats]
    assert missing == []
    assert stats['driver_handles_share_servers'] is False
    assert 'consistent_snapshot_support' in stats['share_group_stats']
    pools = stats['pools']
    assert pools, 'drivers must report pools'
    for pool in pools:
        assert [k for k in REQUIRED_POOL_KEYS if k not in pool] == []
