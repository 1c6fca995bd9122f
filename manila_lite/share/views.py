"""Every dict a driver receives, built from rows with the keys upstream's manager builds."""

_INSTANCE_KEYS = (
    'id', 'share_id', 'host', 'status', 'replica_state',
    'availability_zone_id', 'share_network_id', 'share_server_id', 'deleted',
    'terminated_at', 'launched_at', 'scheduled_at', 'updated_at',
    'deleted_at', 'created_at', 'access_rules_status', 'user_id',
    'project_id', 'size', 'display_name', 'display_description',
    'snapshot_id', 'share_proto', 'share_type_id', 'is_public',
    'share_group_id', 'source_share_group_snapshot_member_id',
    'mount_point_name', 'qos_type_id',
)

_SERVER_KEYS = (
    'id', 'project_id', 'updated_at', 'status', 'host', 'share_network_name',
    'share_network_id', 'created_at', 'backend_details',
    'share_network_subnet_ids', 'is_auto_deletable', 'identifier',
    'network_allocations',
)


def field(obj, key, default=None):
    """``obj[key]`` of a row or dict; ``default`` when missing or None."""
    try:
        value = obj[key]
    except (KeyError, AttributeError, TypeError):
        return default
    return default if value is None else value


def share_server_dict(server):
    """Return the server dict drivers get inside instance dicts, or None."""
    if not server:
        return None
    return {key: field(server, key) for key in _SERVER_KEYS}


def share_instance_dict(inst):
    """Return the instance dict drivers get for ensure, status and replica calls."""
    result = {key: field(inst, key) for key in _INSTANCE_KEYS}
    result['name'] = field(inst, 'name')
    result['availability_zone'] = field(inst, 'availability_zone')
    result['share_server'] = share_server_dict(field(inst, 'share_server'))
    metadata = field(inst, 'share_instance_metadata', []) or []
    result['metadata'] = {m['key']: m['value'] for m in metadata
                          if isinstance(m, dict) or hasattr(m, 'key')}
    share_type = field(inst, 'share_type')
    if share_type:
        result['share_type_name'] = field(share_type, 'name')
    result['export_locations'] = [
        {'id': field(el, 'uuid'), 'path': field(el, 'path'),
         'created_at': field(el, 'created_at'),
         'updated_at': field(el, 'updated_at'),
         'share_instance_id': field(el, 'share_instance_id'),
         'is_admin_only': bool(field(el, 'is_admin_only', False))}
        for el in (field(inst, 'export_locations', []) or [])]
    return result


def snapshot_instance_dict(snapinst, snapshot=None):
    """The dict drivers get for snapshot create/delete/revert (driver-contract.md 2.3)."""
    result = {
        'name': snapinst['name'],
        'share_id': snapinst['share_instance_id'],
        'share_name': snapinst['share_name'],
        'status': snapinst['status'],
        'id': snapinst['id'],
        'deleted': snapinst['deleted'] or False,
        'created_at': snapinst['created_at'],
        'share': snapinst.get('share'),
        'updated_at': snapinst['updated_at'],
        'share_instance_id': snapinst['share_instance_id'],
        'snapshot_id': snapinst['snapshot_id'],
        'progress': snapinst['progress'],
        'deleted_at': snapinst['deleted_at'],
        'provider_location': snapinst['provider_location'],
    }
    if snapshot is not None:
        result['size'] = snapshot['size']
        if snapshot['display_name']:
            result['display_name'] = snapshot['display_name']
    return result


def access_share_dict(inst, metadata):
    """The share dict update_access/allow_access/deny_access get: the instance's columns and its share's metadata."""
    share = inst.to_dict()
    if metadata:
        share['metadata'] = metadata
    return share


_GROUP_KEYS = (
    'id', 'name', 'description', 'host', 'status', 'user_id', 'project_id',
    'share_network_id', 'share_server_id', 'share_group_type_id',
    'availability_zone_id', 'consistent_snapshot_support',
    'source_share_group_snapshot_id', 'created_at', 'updated_at',
)
_GROUP_SNAPSHOT_KEYS = ('id', 'share_group_id', 'name', 'description',
                        'status', 'user_id', 'project_id', 'created_at',
                        'updated_at')


def share_group_dict(group, shares, host):
    """The group dict drivers get: its columns, ``host``, ``share_types`` and ``shares`` (member instance dicts)."""
    result = {key: field(group, key) for key in _GROUP_KEYS}
    result['host'] = host
    result['availability_zone'] = field(group, 'availability_zone')
    result['share_types'] = [{'share_type_id': m['share_type_id']}
                             for m in (field(group, 'share_types', []))]
    result['shares'] = [share_instance_dict(inst) for inst in shares]
    return result


def group_snapshot_member_dict(member):
    """One member of a group snapshot: a snapshot instance whose ``share`` is its share instance dict."""
    share = share_instance_dict(member['share'])
    return {
        'id': member['id'],
        'share_group_snapshot_id': member['share_group_snapshot_id'],
        'share_instance_id': member['share_instance_id'],
        'share_id': member['share_instance_id'],
        'share_name': member['share_name'],
        'name': member['name'],
        'status': member['status'],
        'size': member['size'] or share['size'],
        'share_proto': member['share_proto'] or share['share_proto'],
        'provider_location': member['provider_location'],
        'user_id': member['user_id'],
        'project_id': member['project_id'],
        'created_at': member['created_at'],
        'updated_at': member['updated_at'],
        'share': share,
    }


def share_group_snapshot_dict(snapshot, members, group=None):
    """The group snapshot dict drivers get, with ``share_group_snapshot_members`` and ``share_group``."""
    result = {key: field(snapshot, key) for key in _GROUP_SNAPSHOT_KEYS}
    result['share_group'] = (
        {key: field(group, key) for key in _GROUP_KEYS} if group is not None
        else None)
    result['share_group_snapshot_members'] = [
        group_snapshot_member_dict(m) for m in members]
    return result


_RULE_KEYS = ('id', 'share_id', 'access_type', 'access_to', 'access_level',
              'access_key', 'state', 'created_at', 'updated_at')


def access_rule_dict(rule):
    """A share access rule as the replica calls of the driver get it."""
    return {key: field(rule, key) for key in _RULE_KEYS}
