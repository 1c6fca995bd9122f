"""The one list of optional features this share service implements, and the capability report trimmed to it.

The scheduler places work by the capabilities a backend reports. A
capability promising a feature whose flows this service does not have yet
would bring requests it can only refuse, so :func:`reportable` withholds
it, whatever the driver says. When an issue implements a feature, it flips
the feature's entry in ``IMPLEMENTED``; the driver's capability then goes
through unchanged.
"""

# feature -> whether this service implements its flows.
IMPLEMENTED = {
    'snapshots': True,
    'create_share_from_snapshot': True,
    'revert_to_snapshot': True,
    'mountable_snapshots': True,
    # The API copies the rules; the service only runs snapshot_update_access.
    'snapshot_inherit_share_access': True,
    # The instance's mount_point_name reaches the driver with the instance.
    'mount_point_name': True,
    'replication': True,
    'share_servers': True,              # driver_handles_share_servers=True
    # A server on several subnets of one zone: the flows loop over subnets,
    # but no test drives it yet.
    'multiple_subnet_share_servers': False,
    # Share server migration itself is implemented
    # (share/server_migration.py); migrating servers whose shares have
    # replicas along with them is not tested yet, so that promise stays off.
    'share_server_migration': False,
    'security_service_update': True,
    'network_allocation_update': True,
    'share_groups': True,
    'encryption': False,
    'qos_types': False,
}

DROP = 'drop the capability'
NO_REPORT = 'report nothing'

# capability (backend- or pool-level) -> (feature, what is reported while
# the feature is missing: a value, DROP, or NO_REPORT when no value is
# honest and the backend must stay out of the scheduler's sight).
CAPABILITIES = {
    'snapshot_support': ('snapshots', False),
    'create_share_from_snapshot_support':
        ('create_share_from_snapshot', False),
    'revert_to_snapshot_support': ('revert_to_snapshot', False),
    'mount_snapshot_support': ('mountable_snapshots', False),
    'snapshot_inherit_share_access_support':
        ('snapshot_inherit_share_access', False),
    'mount_point_name_support': ('mount_point_name', False),
    'replication_type': ('replication', DROP),
    'replication_domain': ('replication', None),
    'driver_handles_share_servers': ('share_servers', NO_REPORT),
    'max_shares_per_share_server': ('share_servers', DROP),
    'max_share_server_size': ('share_servers', DROP),
    'server_pools_mapping': ('share_servers', DROP),
    'share_server_multiple_subnet_support':
        ('multiple_subnet_share_servers', False),
    'share_replicas_migration_support': ('share_server_migration', False),
    'security_service_update_support': ('security_service_update', False),
    'network_allocation_update_support':
        ('network_allocation_update', False),
    'share_group_stats': ('share_groups',
                          {'consistent_snapshot_support': None}),
    'sg_consistent_snapshot_support': ('share_groups', DROP),
    'encryption_support': ('encryption', None),
    'qos_type_support': ('qos_types', False),
}


def promises(value):
    """Whether a capability value offers its feature (a nested dict: any of its values)."""
    if isinstance(value, dict):
        return any(promises(v) for v in value.values())
    return bool(value)


def missing_feature(name, value):
    """The unimplemented feature that capability ``name`` = ``value`` promises, or None."""
    feature = CAPABILITIES.get(name, (None,))[0]
    if feature is None or IMPLEMENTED[feature] or not promises(value):
        return None
    return feature


def _trim(capabilities, withheld):
    """A copy of one capability dict without unimplemented promises; None for NO_REPORT."""
    result = dict(capabilities)
    for name, value in capabilities.items():
        feature = missing_feature(name, value)
        if feature is None:
            continue
        withheld.add(name)
        replacement = CAPABILITIES[name][1]
        if replacement is NO_REPORT:
            return None
        if replacement is DROP:
            del result[name]
        else:
            result[name] = replacement
    return result


def reportable(stats):
    """Return ``(capabilities to publish or None, sorted names withheld)`` for a driver's stats.

    Backend-level and pool-level capabilities are trimmed alike. None
    means nothing may be published (a mode this service cannot serve).
    """
    withheld = set()
    result = _trim(stats, withheld)
    if result is not None and isinstance(result.get('pools'), list):
        pools = [_trim(p, withheld) if isinstance(p, dict) else p
                 for p in result['pools']]
        result = None if None in pools else dict(result, pools=pools)
    return result, sorted(withheld)
