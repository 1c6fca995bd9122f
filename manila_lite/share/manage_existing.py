"""Adopting existing backend shares into manila (manage) and letting them go (unmanage), with their quota."""

import re

from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import export_locations
from manila_lite.share import guard
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import states

LOG = logging.getLogger(__name__)

DHSS_SPEC = 'driver_handles_share_servers'
MIN_SIZE_SPEC = 'provisioning:min_share_size'
MAX_SIZE_SPEC = 'provisioning:max_share_size'
# columns a driver may set on a managed share besides size/export locations
_SHARE_KEYS = ('display_name', 'display_description', 'share_proto',
               'is_public', 'snapshot_support',
               'create_share_from_snapshot_support',
               'revert_to_snapshot_support', 'mount_snapshot_support',
               'replication_type')
_INSTANCE_KEYS = ('replica_state', 'access_rules_status', 'mount_point_name')


def _spec_bool(value):
    """Upstream's boolean extra spec parsing (``<is> True``, ``false``, ...)."""
    text = str(value).strip()
    match = re.match(r'^<is>\s*(true|false)$', text, re.IGNORECASE)
    if match:
        text = match.group(1)
    try:
        return strutils.bool_from_string(text, strict=True)
    except ValueError:
        raise exception.InvalidShare(
            reason='invalid boolean extra spec %s: %r' % (DHSS_SPEC, value))


def _share_type(context, inst):
    if not inst.get('share_type_id'):
        return {'name': None, 'extra_specs': {}}
    return db_api.share_type_get(context, inst['share_type_id'])


def _check_driver_mode(mgr, share_type, share_id):
    share_dhss = _spec_bool(share_type['extra_specs'].get(DHSS_SPEC) or False)
    if share_dhss != mgr.driver_handles_share_servers:
        raise exception.InvalidShare(
            reason='driver mode of share %s being managed is incompatible '
                   'with mode DHSS=%s configured for this backend'
                   % (share_id, mgr.driver_handles_share_servers))


def _validated_update(update, share_type):
    """Check what ``manage_existing`` returned; returns a copy with an int size."""
    if update is None:
        update = {}
    if not isinstance(update, dict):
        raise exception.InvalidShare(
            reason='driver manage_existing returned %s, not a dict'
                   % type(update).__name__)
    update = dict(update)
    size = update.get('size')
    if isinstance(size, bool) or not strutils.is_int_like(size) \
            or int(size) <= 0:
        raise exception.InvalidShare(
            reason='driver cannot calculate share size (got %r)' % (size,))
    update['size'] = size = int(size)
    specs = share_type['extra_specs']
    low, high = specs.get(MIN_SIZE_SPEC), specs.get(MAX_SIZE_SPEC)
    if low and size < int(low) or high and size > int(high):
        raise exception.InvalidInput(
            reason='share size %s is outside %s..%s of share type %s'
                   % (size, low or '-', high or '-', share_type['name']))
    if 'export_locations' in update:
        update['export_locations'] = export_locations.normalize(
            update['export_locations'])
    return update


def manage_share(mgr, context, share_id, driver_options):
    """``manage_starting`` → driver ``manage_existing`` → ``available``, size and quota charged.

    Any failure, whatever the driver raised → ``manage_error`` with size 0
    (quota untouched) and a user message (action ``create``, as for a
    manage the reconciliation ends; upstream's manager records none).
    """
    share, inst = rows.share_and_instance(context, share_id)
    if not guard.expect_status('Share instance', inst, (c.STATUS_MANAGING,),
                               'manage'):
        return
    db_api.share_metadata_update(
        context, share_id,
        {c.AdminOnlyMetadata.MANAGED_AT_KEY: share['created_at']})
    try:
        share_type = _share_type(context, inst)
        update = _adopt(mgr, context, share, inst, share_type,
                        driver_options)
        _record(mgr, context, share, inst, share_type, update)
    except Exception as exc:
        db_api.share_update(context, share_id, {'size': 0})
        if states.advance(context, states.SHARE_INSTANCE, inst['id'],
                          'manage_failed'):
            mgr.message_api.create(
                context, mf.Action.CREATE, share['project_id'],
                resource_type=mf.Resource.SHARE, resource_id=share_id,
                exception=exc)
        raise guard.driver_error('manage_existing', exc)
    LOG.info('Share %(share)s managed (%(size)s GB).',
             {'share': share_id, 'size': update['size']})


def _adopt(mgr, context, share, inst, share_type, driver_options):
    _check_driver_mode(mgr, share_type, share['id'])
    if mgr.driver_handles_share_servers:
        raw = mgr.driver.manage_existing_with_server(
            inst, driver_options, rows.server(inst))
    else:
        raw = mgr.driver.manage_existing(inst, driver_options)
    return _validated_update(raw, share_type)


def _record(mgr, context, share, inst, share_type, update):
    """Export locations, size, quota (over-quota allowed), then ``available``."""
    size = update['size']
    if 'export_locations' in update:
        db_api.export_locations_update(context, inst['id'],
                                       update['export_locations'],
                                       delete=True)
    share_values = {k: update[k] for k in _SHARE_KEYS if k in update}
    share_values['size'] = size
    db_api.share_update(context, share['id'], share_values)
    quota.charge(context,
                 quota.share_deltas(
                     size, share_type['extra_specs'].get('replication_type')),
                 share['project_id'], context.user_id,
                 share_type_id=inst.get('share_type_id'))
    values = {k: update[k] for k in _INSTANCE_KEYS if k in update}
    values.update({'launched_at': timeutils.utcnow(),
                   'availability_zone': mgr.availability_zone})
    if share.get('replication_type'):
        values['replica_state'] = c.REPLICA_STATE_ACTIVE
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'manage_succeeded', values)


def unmanage_share(mgr, context, share_id):
    """``unmanage_starting`` → driver ``unmanage`` → rows soft-deleted, quota given back.

    A driver refusing (InvalidShare) → ``unmanage_error`` without raising;
    other driver errors raise and leave the status alone (upstream). A
    share in ``manage_error_unmanage_starting`` never charged quota, so
    none is given back.
    """
    share, inst = rows.share_and_instance(context, share_id)
    if not guard.expect_status(
            'Share instance', inst,
            states.SHARE_INSTANCE['unmanage_failed'].sources, 'unmanage'):
        return
    server = rows.server(inst)
    try:
        if mgr.driver_handles_share_servers:
            mgr.driver.unmanage_with_server(inst, server)
        else:
            mgr.driver.unmanage(inst)
    except exception.InvalidShare as exc:
        _unmanage_failed(context, share_id, inst, 'the driver refused', exc)
        return
    except Exception as exc:
        raise guard.driver_error('unmanage', exc)
    if inst['status'] != c.STATUS_MANAGE_ERROR_UNMANAGING:
        _release_quota(context, share, inst)
    if mgr.configuration.safe_get('unmanage_remove_access_rules'):
        try:
            access.deny_all_rules(mgr, context, inst)
        except Exception as exc:
            _unmanage_failed(context, share_id, inst,
                             'its access rules could not be removed', exc)
            return
    db_api.share_instance_delete(context, inst['id'])
    if server and server.get('is_auto_deletable'):
        db_api.share_server_update(context, server['id'],
                                   {'is_auto_deletable': False})
        LOG.warning('Share server %(server)s held unmanaged share '
                    '%(share)s; it must now be removed by hand.',
                    {'server': server['id'], 'share': share_id})
    LOG.info('Share %s unmanaged.', share_id)


def _unmanage_failed(context, share_id, inst, why, exc):
    LOG.error('Share %(share)s cannot be unmanaged: %(why)s: %(cls)s: '
              '%(exc)s', {'share': share_id, 'why': why,
                          'cls': type(exc).__name__, 'exc': exc})
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'unmanage_failed')


def _release_quota(context, share, inst):
    replicated = any(i.get('replica_state') for i in share['instances'])
    quota.release(context, quota.share_deltas(share['size'] or 0, replicated),
                  share['project_id'], context.user_id,
                  share_type_id=inst.get('share_type_id'),
                  what='unmanaged share %s' % share['id'])
