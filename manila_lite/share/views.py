"""Plain-dict views of rows handed to drivers, with the keys upstream's manager builds."""

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


def _get(obj, key, default=None):
    try:
        value = obj[key]
    except (KeyError, AttributeError, TypeError):
        return default
    return default if value is None else value


def share_server_dict(server):
    """Return the server dict drivers get inside instance dicts, or None."""
    if not server:
        return None
    return {key: _get(server, key) for key in _SERVER_KEYS}


def share_instance_dict(inst):
    """Return the instance dict drivers get for ensure, status and replica calls."""
    result = {key: _get(inst, key) for key in _INSTANCE_KEYS}
    result['name'] = _get(inst, 'name')
    result['availability_zone'] = _get(inst, 'availability_zone')
    result['share_server'] = share_server_dict(_get(inst, 'share_server'))
    metadata = _get(inst, 'share_instance_metadata', []) or []
    result['metadata'] = {m['key']: m['value'] for m in metadata
                          if isinstance(m, dict) or hasattr(m, 'key')}
    share_type = _get(inst, 'share_type')
    if share_type:
        result['share_type_name'] = _get(share_type, 'name')
    result['export_locations'] = [
        {'id': _get(el, 'uuid'), 'path': _get(el, 'path'),
         'created_at': _get(el, 'created_at'),
         'updated_at': _get(el, 'updated_at'),
         'share_instance_id': _get(el, 'share_instance_id'),
         'is_admin_only': bool(_get(el, 'is_admin_only', False))}
        for el in (_get(inst, 'export_locations', []) or [])]
    return result
