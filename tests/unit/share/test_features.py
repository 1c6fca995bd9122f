"""Capabilities never promise what the service refuses.

Every registered driver, in every mode the tests run it in, is checked
against the one feature list (manila_lite/share/features.py).
"""

import importlib.metadata

import pytest

from manila_lite.share import features
from tests.unit.share import helpers

NAMESPACE = 'manila_lite.share.drivers'

# Every registered driver alias -> the backend options of each configuration
# mode the test suite runs it in (a new driver must add its modes here).
MODES = {
    'dummy': {
        'plain': {},
        'replication_domain': {'replication_domain': 'rd1'},
        'dhss': helpers.dhss_options(),
        'reserved_space': {'reserved_share_percentage': 5,
                           'reserved_share_from_snapshot_percentage': 6,
                           'reserved_share_extend_percentage': 7},
    },
    'localfs': {
        'plain': {},
        'two_pools_ipv6': {'localfs_export_ips': ['192.0.2.10',
                                                  '2001:db8::10'],
                           'localfs_admin_export_ips': ['10.0.0.10'],
                           'localfs_pools': ['POOL_a', 'POOL_b']},
        'nfs_only_ipv6': {'localfs_enabled_share_protocols': ['nfs'],
                          'localfs_export_ips': ['2001:db8::10']},
        'replication_domain': {'replication_domain': 'rd1'},
    },
}

# The capabilities upstream's scheduler reads as feature promises (rpc.md
# 3.1 and the pool keys), each of which the feature list must classify.
UPSTREAM_FEATURE_CAPABILITIES = (
    'snapshot_support', 'create_share_from_snapshot_support',
    'revert_to_snapshot_support', 'mount_snapshot_support',
    'replication_type', 'replication_domain', 'driver_handles_share_servers',
    'max_shares_per_share_server', 'max_share_server_size',
    'server_pools_mapping', 'security_service_update_support',
    'network_allocation_update_support',
    'share_server_multiple_subnet_support', 'mount_point_name_support',
    'share_replicas_migration_support', 'encryption_support',
    'qos_type_support', 'snapshot_inherit_share_access_support',
    'share_group_stats', 'sg_consistent_snapshot_support',
)

CASES = [(alias, mode) for alias in sorted(MODES)
         for mode in sorted(MODES[alias])]


def _registered():
    return sorted(ep.name for ep in
                  importlib.metadata.entry_points(group=NAMESPACE))


def _options(alias, mode, tmp_path):
    options = dict(MODES[alias][mode], share_driver=alias)
    if alias == 'localfs':
        pools = options.get('localfs_pools', ['POOL_a'])
        options['localfs_pools'] = [str(tmp_path / p.split('_', 1)[1])
                                    for p in pools]
    return options


def _published(mgr, admin_ctx):
    """What the manager would send the scheduler after one stats refresh."""
    mgr._report_driver_status(admin_ctx)
    return mgr.last_capabilities


def _promised_missing(capabilities):
    """``[(where, capability, feature)]`` of promises of unimplemented features."""
    found = []
    levels = [('backend', capabilities)] + [
        ('pool %s' % p.get('pool_name'), p)
        for p in capabilities.get('pools') or [] if isinstance(p, dict)]
    for where, caps in levels:
        for name, value in caps.items():
            feature = features.missing_feature(name, value)
            if feature:
                found.append((where, name, feature))
    return found


def test_every_registered_driver_has_its_modes_listed():
    assert _registered() == sorted(MODES)


def test_the_feature_list_classifies_every_feature_capability():
    assert set(UPSTREAM_FEATURE_CAPABILITIES) <= set(features.CAPABILITIES)
    for name, (feature, _off) in features.CAPABILITIES.items():
        assert feature in features.IMPLEMENTED, name


@pytest.mark.parametrize('alias, mode', CASES,
                         ids=['%s-%s' % c for c in CASES])
def test_published_capabilities_promise_only_implemented_features(
        manager_factory, admin_ctx, tmp_path, alias, mode):
    mgr = manager_factory(**_options(alias, mode, tmp_path))
    raw = mgr.driver.get_share_stats(refresh=True)
    published = _published(mgr, admin_ctx)
    if mgr.driver_handles_share_servers and \
            not features.IMPLEMENTED['share_servers']:
        # No honest report exists for a mode the service cannot serve.
        assert published is None
        return
    assert published is not None and published['pools']
    assert _promised_missing(published) == []
    # Everything else the driver said goes through unchanged.
    for name, value in raw.items():
        if name != 'pools' and features.missing_feature(name, value) is None:
            assert published[name] == value, name


def test_the_dummy_backend_withholds_its_unimplemented_promises(
        manager_factory, admin_ctx):
    mgr = manager_factory(replication_domain='rd1')
    raw = mgr.driver.get_share_stats(refresh=True)
    # The dummy driver is written for the whole surface ...
    assert raw['replication_type'] == 'readable'
    assert raw['share_group_stats'] == {'consistent_snapshot_support': 'pool'}
    assert raw['share_server_multiple_subnet_support'] is True
    published = _published(mgr, admin_ctx)
    # ... the service publishes only what it implements (replication
    # since issue 13).
    assert published['replication_type'] == 'readable'
    assert published['pools'][0]['replication_type'] == 'readable'
    assert published['replication_domain'] == 'rd1'
    # Share groups are implemented: the dummy's group snapshots (no data)
    # are consistent, so its promise goes through.
    assert published['share_group_stats'] == {
        'consistent_snapshot_support': 'pool'}
    assert published['share_server_multiple_subnet_support'] is False
    assert published['snapshot_support'] is True
    assert published['revert_to_snapshot_support'] is True
    assert published['mount_point_name_support'] is True


def test_flipping_a_feature_lets_its_capability_through(
        manager_factory, admin_ctx, monkeypatch):
    mgr = manager_factory(replication_domain='rd1')
    monkeypatch.setitem(features.IMPLEMENTED, 'replication', False)
    published = _published(mgr, admin_ctx)
    assert 'replication_type' not in published
    assert 'replication_type' not in published['pools'][0]
    assert published['replication_domain'] is None
    monkeypatch.setitem(features.IMPLEMENTED, 'replication', True)
    published = _published(mgr, admin_ctx)
    assert published['replication_type'] == 'readable'
    assert published['replication_domain'] == 'rd1'


def test_a_dhss_backend_publishes_its_servers_pools(
        manager_factory, admin_ctx, monkeypatch):
    mgr = manager_factory(**helpers.dhss_options(max_shares_per_share_server=3))
    published = _published(mgr, admin_ctx)
    assert published['driver_handles_share_servers'] is True
    assert published['max_shares_per_share_server'] == 3
    assert published['max_share_server_size'] == -1
    assert published['server_pools_mapping'] == {}


def test_trimming_rules(monkeypatch):
    stats = {'replication_type': 'dr', 'snapshot_support': True,
             'encryption_support': ['share_server'],
             'share_group_stats': {'consistent_snapshot_support': None},
             'custom_key': 'kept',
             'pools': [{'pool_name': 'p', 'replication_type': 'dr',
                        'sg_consistent_snapshot_support': 'host'}]}
    published, withheld = features.reportable(stats)
    assert published == {
        'replication_type': 'dr',          # implemented since issue 13
        'snapshot_support': True, 'encryption_support': None,
        'share_group_stats': {'consistent_snapshot_support': None},
        'custom_key': 'kept',
        'pools': [{'pool_name': 'p', 'replication_type': 'dr',
                   'sg_consistent_snapshot_support': 'host'}]}
    assert withheld == ['encryption_support']
    assert stats['replication_type'] == 'dr'      # the input is not changed
    # A mode the service cannot serve at all: nothing is published.
    monkeypatch.setitem(features.IMPLEMENTED, 'share_servers', False)
    assert features.reportable({'driver_handles_share_servers': True,
                                'pools': []})[0] is None
    assert features.reportable({'pools': [
        {'pool_name': 'p', 'driver_handles_share_servers': True}]})[0] \
        is None
