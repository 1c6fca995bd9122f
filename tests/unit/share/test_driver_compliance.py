"""Compliance of ShareDriver with upstream's interface, and of every registered driver with ShareDriver."""

import importlib.metadata
import inspect
import os
import re

import pytest

from manila_lite.share import compliance
from manila_lite.share import driver

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

# Extra backend options a registered driver needs to build and report
# stats in a unit test (keyed by entry-point alias).
DRIVER_TEST_OPTIONS = {
    'dummy': {'dummy_driver_default_driver_method_delay': 0,
              'dummy_driver_driver_methods_delays': {}},
}

SEED_DOCUMENT = '/work/shared/seed/000_82c88e1340a924e7.txt'

_KIND = compliance.KIND


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


_params_of = compliance.params_of
_incompatibilities = compliance.incompatibilities


def _registered_drivers():
    return sorted(importlib.metadata.entry_points(group=NAMESPACE),
                  key=lambda ep: ep.name)


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
    assert compliance.signature_problems(entry_point.load()) == {}


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_builds_in_dhss_false_mode_and_reports_stats(entry_point,
                                                            tmp_path):
    # The check shipped in the package, as an out-of-tree driver runs it.
    assert compliance.check(
        entry_point.load(),
        options=DRIVER_TEST_OPTIONS.get(entry_point.name, {}),
        state_path=str(tmp_path)) == []


def test_check_reports_each_problem_of_a_broken_driver(tmp_path):
    from manila_lite.share.drivers import dummy

    class Broken(dummy.DummyDriver):
        def create_share(self, context, share):       # lost share_server
            pass

        def get_share_stats(self, refresh=False):
            return {'pools': [{'pool_name': 'p'}],
                    'driver_handles_share_servers': False}

    problems = compliance.check(Broken, options=DRIVER_TEST_OPTIONS['dummy'],
                                state_path=str(tmp_path))
    assert any(p.startswith('create_share: ') for p in problems), problems
    assert "capability 'vendor_name' is missing" in problems
    assert "pool 'p' lacks total_capacity_gb, free_capacity_gb, " \
        "reserved_percentage, reserved_snapshot_percentage, " \
        "reserved_share_extend_percentage" in problems
    assert compliance.check(object) == ["<class 'object'> is not a "
                                        "ShareDriver subclass"]


def test_compliance_runs_from_a_shell(tmp_path):
    import subprocess
    import sys
    res = subprocess.run(
        [sys.executable, '-m', 'manila_lite.share.compliance', 'dummy',
         '--option', 'dummy_driver_default_driver_method_delay=0',
         '--state-path', str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().splitlines()[-1] == 'dummy: compliant'


def test_share_group_stats_must_name_a_known_consistency():
    good = {'consistent_snapshot_support': None}
    for value, ok in ((None, True), ('pool', True), ('host', True),
                      ('always', False)):
        stats = {'share_group_stats': dict(
            good, consistent_snapshot_support=value)}
        problems = [p for p in compliance.stats_problems(stats)
                    if 'share_group_stats' in p]
        assert (problems == []) is ok, (value, problems)
    assert 'share_group_stats lacks consistent_snapshot_support' in \
        compliance.stats_problems({'share_group_stats': {}})


# DHSS=True: alias -> whether the driver runs share servers yet. A driver
# that does must set servers up and tear them down itself; one that does
# not must refuse the mode when it is built.
DHSS_TRUE = {'dummy': True, 'localfs': True}
SERVER_METHODS = ('_setup_server', '_teardown_server',
                  'get_network_allocations_number')


def test_every_driver_declares_its_dhss_true_support():
    assert set(DHSS_TRUE) == {ep.name for ep in _registered_drivers()}


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_in_dhss_true_mode(entry_point, manager_factory, admin_ctx):
    from manila_lite import exception
    from manila_lite.share import driver_base
    from tests.unit.share import helpers
    options = dict(DRIVER_TEST_OPTIONS.get(entry_point.name, {}),
                   share_driver=entry_point.name, **helpers.dhss_options())
    if not DHSS_TRUE[entry_point.name]:
        with pytest.raises(exception.ManilaException):
            manager_factory(**options)
        return
    mgr = manager_factory(**options)
    cls = type(mgr.driver)
    for name in SERVER_METHODS:
        assert getattr(cls, name) is not getattr(
            driver_base.ShareServerMixin, name), name
    mgr._report_driver_status(admin_ctx)
    caps = mgr.last_capabilities
    assert caps['driver_handles_share_servers'] is True
    for key in ('max_shares_per_share_server', 'max_share_server_size',
                'server_pools_mapping'):
        assert key in caps, key


# DHSS=True drivers: alias -> whether they adopt existing backend servers
# (manage_share_server / unmanage_share_server). One that does overrides
# the three methods and passes an unmanage / manage round trip.
MANAGES_SERVERS = {'dummy': True, 'localfs': True}
MANAGE_SERVER_METHODS = ('get_share_server_network_info', 'manage_server',
                         'unmanage_server')


def test_every_dhss_true_driver_declares_its_server_manage_support():
    assert set(MANAGES_SERVERS) == {name for name, ok in DHSS_TRUE.items()
                                    if ok}


@pytest.mark.parametrize('name', sorted(MANAGES_SERVERS))
def test_driver_unmanages_and_manages_a_share_server(name, manager_factory,
                                                     db, admin_ctx):
    from manila_lite.share import driver_base
    from tests.unit.share import helpers
    from tests.unit.share import test_server_manage as tsm
    options = dict(DRIVER_TEST_OPTIONS.get(name, {}), share_driver=name,
                   **helpers.dhss_options())
    mgr = manager_factory(**options)
    overridden = [m for m in MANAGE_SERVER_METHODS
                  if getattr(type(mgr.driver), m) is not getattr(
                      driver_base.ShareServerMixin, m)]
    assert overridden == (list(MANAGE_SERVER_METHODS)
                          if MANAGES_SERVERS[name] else [])
    if not MANAGES_SERVERS[name]:
        return
    subnet_id, old, old_ips = tsm.unmanaged_server(mgr, db, admin_ctx)
    new_id = tsm.managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
    mgr.manage_share_server(admin_ctx, new_id, old['id'], {})
    server = db.share_server_get(admin_ctx, new_id)
    assert server['status'] == 'active'
    assert server['identifier']
    assert sorted(a['ip_address'] for a in
                  db.network_allocations_get_for_share_server(
                      admin_ctx, new_id)) == old_ips


# Share server updates (RPC 1.22, 1.23): capability flag -> the driver
# methods a driver claiming it must implement. The share service calls
# them only on backends that report the flag (upstream's API checks it).
SERVER_UPDATE_METHODS = {
    'security_service_update_support': (
        'check_update_share_server_security_service',
        'update_share_server_security_service'),
    'network_allocation_update_support': (
        'check_update_share_server_network_allocations',
        'update_share_server_network_allocations'),
}


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_server_update_support_matches_the_methods(entry_point,
                                                   manager_factory,
                                                   admin_ctx):
    """A driver reporting an update capability implements its calls, and their answers have the documented shape."""
    from manila_lite.share import driver_base
    from tests.unit.share import helpers
    if not DHSS_TRUE[entry_point.name]:
        pytest.skip('no share servers')
    mgr = manager_factory(**dict(DRIVER_TEST_OPTIONS.get(
        entry_point.name, {}), share_driver=entry_point.name,
        **helpers.dhss_options()))
    cls = type(mgr.driver)
    for flag, methods in SERVER_UPDATE_METHODS.items():
        if not getattr(mgr.driver, flag):
            continue
        for name in methods:
            assert getattr(cls, name) is not getattr(
                driver_base.ShareServerMixin, name), (flag, name)
    if not mgr.driver.security_service_update_support:
        return
    server = {'id': 'srv', 'backend_details': {
        'service_ip': '10.254.0.12', 'subnet_allocations':
            '[{"primary_public_ip": "10.254.0.10", '
            '"secondary_public_ip": "10.254.0.11"}]'}}
    ss = {'id': 'ss1', 'type': 'ldap'}
    assert mgr.driver.check_update_share_server_security_service(
        admin_ctx, server, [], [], [], ss) in (True, False)
    assert isinstance(mgr.driver.update_share_server_security_service(
        admin_ctx, server, [], [], [], ss) or {}, dict)
    if not mgr.driver.network_allocation_update_support:
        return
    new = {'share_network_subnet_id': 'sub2', 'network_allocations': [
        {'ip_address': '10.254.0.20'}, {'ip_address': '10.254.0.21'}]}
    assert mgr.driver.check_update_share_server_network_allocations(
        admin_ctx, server, {'subnets': []}, {'id': 'sub2'}, [], [],
        []) in (True, False)
    update = mgr.driver.update_share_server_network_allocations(
        admin_ctx, server, {'subnets': []}, new, [], [], [])
    assert isinstance(update, dict)
    for key in ('server_details', 'share_updates', 'snapshot_updates'):
        assert isinstance(update.get(key) or {}, dict), key


# Driver-assisted share migration (share/migration.py): a driver that
# overrides the compatibility check overrides every step, and its check
# answers the contract's dict of booleans (the base answers "incompatible",
# so the share service refuses the migration cleanly).
MIGRATION_STEPS = ('migration_start', 'migration_continue',
                   'migration_complete', 'migration_cancel',
                   'migration_get_progress')
MIGRATION_FLAGS = ('compatible', 'writable', 'preserve_metadata',
                   'nondisruptive', 'preserve_snapshots')


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_migration_steps_come_together(entry_point):
    cls = entry_point.load()
    if cls.migration_check_compatibility is \
            driver.ShareDriver.migration_check_compatibility:
        return
    for name in MIGRATION_STEPS:
        assert getattr(cls, name) is not getattr(driver.ShareDriver,
                                                 name), name


def test_base_migration_check_answers_incompatible():
    answer = driver.ShareDriver.migration_check_compatibility(
        object.__new__(driver.ShareDriver), None, {}, {})
    assert answer['compatible'] is False
    assert set(MIGRATION_FLAGS) <= set(answer)


def test_dummy_migration_check_answers_the_contract(manager_factory,
                                                    admin_ctx):
    mgr = manager_factory(**DRIVER_TEST_OPTIONS['dummy'])
    manager_factory(name='beta', **DRIVER_TEST_OPTIONS['dummy'])
    src = {'id': 'src', 'share_id': 'share', 'host': mgr.host + '#p'}
    answer = mgr.driver.migration_check_compatibility(
        admin_ctx, src, dict(src, id='dest', host='hostA@beta#p'))
    assert {k: type(answer[k]) for k in MIGRATION_FLAGS} == dict.fromkeys(
        MIGRATION_FLAGS, bool)
    assert answer['compatible'] is True
    from manila_lite.share.drivers import dummy
    for name in ('migration_check_compatibility',) + MIGRATION_STEPS:
        assert getattr(dummy.DummyDriver, name).dummy_injectable, name
        assert name in dummy.INVALID_RETURNS or name in (
            'migration_start', 'migration_cancel'), name


# Which registered drivers migrate shares themselves (driver-assisted); a
# new driver declares it here. Each migrating driver answers its check
# with the contract's booleans, compatible with a backend of its own kind
# and incompatible with an unknown one.
MIGRATES = {'dummy': True, 'localfs': True}


def test_every_driver_declares_its_migration_support():
    assert set(MIGRATES) == {ep.name for ep in _registered_drivers()}
    for entry_point in _registered_drivers():
        cls = entry_point.load()
        overrides = cls.migration_check_compatibility is not \
            driver.ShareDriver.migration_check_compatibility
        assert overrides == MIGRATES[entry_point.name], entry_point.name


def test_localfs_migration_check_answers_the_contract(manager_factory,
                                                      admin_ctx, tmp_path):
    from oslo_config import cfg
    cfg.CONF.set_override('host', 'hostA')
    try:
        mgr, _beta = [manager_factory(
            name=name, share_driver='localfs',
            localfs_pools=[str(tmp_path / name)],
            localfs_export_ips=['127.0.0.1'],
            localfs_exports_file=str(tmp_path / ('%s.exports' % name)),
            localfs_apply_samba_config=False) for name in ('alpha', 'beta')]
    finally:
        cfg.CONF.clear_override('host')
    src = {'id': 'src', 'share_id': 'share', 'host': mgr.host + '#alpha',
           'share_proto': 'NFS'}
    for host, compatible in (('hostA@beta#beta', True),
                             ('hostA@beta#nope', False),
                             ('hostB@beta#beta', False)):
        answer = mgr.driver.migration_check_compatibility(
            admin_ctx, src, dict(src, id='dest', host=host))
        assert {k: type(answer[k]) for k in MIGRATION_FLAGS} == \
            dict.fromkeys(MIGRATION_FLAGS, bool)
        assert answer['compatible'] is compatible, host
        assert answer['nondisruptive'] is False


# Driver-assisted share server migration (share/server_migration.py): the
# destination backend's driver runs every step. A driver that overrides the
# check overrides every step, declares it below, and its check answers the
# contract's booleans.
SERVER_MIGRATION_STEPS = (
    'share_server_migration_start', 'share_server_migration_continue',
    'share_server_migration_complete', 'share_server_migration_cancel',
    'share_server_migration_get_progress')
SERVER_MIGRATION_FLAGS = ('compatible', 'writable', 'nondisruptive',
                          'preserve_snapshots', 'migration_cancel',
                          'migration_get_progress')
MIGRATES_SERVERS = {'dummy': True, 'localfs': True}


@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_driver_server_migration_steps_come_together(entry_point):
    cls = entry_point.load()
    overrides = cls.share_server_migration_check_compatibility is not \
        driver.ShareDriver.share_server_migration_check_compatibility
    assert overrides == MIGRATES_SERVERS[entry_point.name], entry_point.name
    for name in SERVER_MIGRATION_STEPS if overrides else ():
        assert getattr(cls, name) is not getattr(driver.ShareDriver,
                                                 name), name


def test_every_driver_declares_its_server_migration_support():
    assert set(MIGRATES_SERVERS) == {ep.name for ep in _registered_drivers()}


def test_localfs_server_migration_check_answers_the_contract(
        manager_factory, admin_ctx, tmp_path):
    from oslo_config import cfg
    from tests.unit.share import helpers
    cfg.CONF.set_override('host', 'hostA')
    try:
        mgr, _beta = [manager_factory(
            name=name, share_driver='localfs',
            localfs_pools=[str(tmp_path / name)], localfs_export_ips=[],
            localfs_exports_file=str(tmp_path / ('%s.exports' % name)),
            localfs_apply_samba_config=False,
            **helpers.dhss_options(name)) for name in ('alpha', 'beta')]
    finally:
        cfg.CONF.clear_override('host')
    spec = {'shares_req_spec': [{'share_properties': {'share_proto': 'NFS'}}]}
    for src_host, compatible in (('hostA@beta', True), ('hostB@beta', False)):
        answer = mgr.driver.share_server_migration_check_compatibility(
            admin_ctx, {'id': 'srv', 'host': src_host}, mgr.host,
            {'id': 'old'}, {'id': 'new'}, spec)
        assert {k: type(answer[k]) for k in SERVER_MIGRATION_FLAGS} == \
            dict.fromkeys(SERVER_MIGRATION_FLAGS, bool)
        assert answer['compatible'] is compatible, src_host
        assert answer['nondisruptive'] is False
        assert answer['share_network_id'] == 'new'


# Host-assisted migration: what every driver tells the data service. The
# data service fills %(path)s (and %(options)s) and runs the command split
# on whitespace; it grants its own address an access rule of a type listed
# in access_mapping first.
@pytest.mark.parametrize('entry_point', _registered_drivers(),
                         ids=lambda ep: ep.name)
def test_connection_info_is_what_the_data_service_runs(
        entry_point, manager_factory, db, admin_ctx, tmp_path):
    from tests.unit.share import helpers
    options = dict(DRIVER_TEST_OPTIONS.get(entry_point.name, {}),
                   share_driver=entry_point.name)
    if entry_point.name == 'localfs':
        options['localfs_pools'] = str(tmp_path / 'pool')
    mgr = manager_factory(name='conninfo', **options)
    caps = mgr.driver.get_share_stats(refresh=True)
    pool = caps['pools'][0]['pool_name'] if caps.get('pools') else 'p'
    share, inst = helpers.make_share(db, admin_ctx,
                                     host='%s#%s' % (mgr.host, pool))
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    info = mgr.connection_get_info(helpers.user_ctx(),
                                   share_instance_id=inst['id'])
    mount = info['mount'] % {'path': '/mnt/x', 'options': ''}
    assert '/mnt/x' in mount.split()
    assert (info['unmount'] % {'path': '/mnt/x'}).split()[-1] == '/mnt/x'
    assert info['access_mapping'] and all(
        isinstance(protos, list) and 'nfs' in protos
        for protos in info['access_mapping'].values())
