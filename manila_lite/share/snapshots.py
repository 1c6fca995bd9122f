"""Snapshot flows of the share service: create, delete, manage, unmanage, revert, and the deferred deletion of snapshots."""

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import quota
from manila_lite.share.replication import snapshots as replicated_snapshots
from manila_lite.share import rows
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)

SNAP = states.SNAPSHOT_INSTANCE
SHARE = states.SHARE_INSTANCE

_DEFERRED = (c.STATUS_DEFERRED_DELETING, c.STATUS_ERROR_DEFERRED_DELETING)
# Statuses a driver may put in a create_snapshot model update.
_DRIVER_SNAPSHOT_STATUSES = (c.STATUS_AVAILABLE, c.STATUS_CREATING,
                             c.STATUS_ERROR)
_MAX_PROVIDER_LOCATION = 255
_MAX_PATH = 2000
MANAGED_AT_KEY = '__managed_at'


# -- shared helpers -----------------------------------------------------------

def _snapshot_message(mgr, context, action, snapshot, snapinst_id, exc):
    """Upstream records snapshot failures against the snapshot *instance* id."""
    mgr.message_api.create(
        context, action, snapshot['project_id'],
        resource_type=mf.Resource.SHARE_SNAPSHOT, resource_id=snapinst_id,
        exception=exc)


def _invalid(method, reason):
    return exception.InvalidShareSnapshot(
        reason='driver %s returned %s' % (method, reason))


def _answer_dict(method, update):
    """A driver's snapshot answer as a dict (None is an empty one), else InvalidShareSnapshot."""
    if update is None:
        return {}
    if not isinstance(update, dict):
        raise _invalid(method, '%s, not a dict' % type(update).__name__)
    return update


def _positive_int(method, key, value):
    """An int (or digit string) of at least 1, else InvalidShareSnapshot."""
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(value)
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise _invalid(method, '%s=%r, not a positive integer' % (key, value))
    return number


def _snapshot_locations(method, raw, mountable):
    """Validated ``[{'path', 'is_admin_only'}]`` to store ([] unless mountable, as upstream)."""
    if not mountable or raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raise _invalid(method, 'export_locations of type %s, not a list'
                       % type(raw).__name__)
    result = []
    for item in raw:
        if not isinstance(item, dict) or 'is_admin_only' not in item:
            raise _invalid(method, 'export location %r without path and '
                                   'is_admin_only' % (item,))
        path = item.get('path')
        if not isinstance(path, str) or not path or len(path) > _MAX_PATH:
            raise _invalid(method, 'export location path %r' % (path,))
        result.append({'path': path,
                       'is_admin_only': bool(item['is_admin_only'])})
    return result


def _store_snapshot_locations(context, snapinst, locations):
    for location in locations:
        db_api.share_snapshot_instance_export_location_create(context, dict(
            location, share_snapshot_instance_id=snapinst['id']))


def _provider_location(method, value):
    if not isinstance(value, str) or len(value) > _MAX_PROVIDER_LOCATION:
        raise _invalid(method, 'provider_location %r' % (value,))
    return value


def _mountable(snapinst):
    return bool((snapinst['share'] or {}).get('mount_snapshot_support'))


def _release_snapshot_quota(context, snapshot, snapinst, user_id=None):
    """Snapshots -1 and snapshot_gigabytes -size, per user and per share type."""
    quota.release(context, quota.snapshot_deltas(snapshot['size'] or 0),
                  snapshot['project_id'], user_id or snapshot['user_id'],
                  (snapinst['share'] or {}).get('share_type_id'),
                  what='snapshot %s' % snapshot['id'])


# -- create -------------------------------------------------------------------

def _snapshot_model_update(update, snapinst):
    """Check a create_snapshot answer; returns (instance values, export locations)."""
    method = 'create_snapshot'
    update = _answer_dict(method, update)
    status = update.get('status')
    if status is not None and status not in _DRIVER_SNAPSHOT_STATUSES:
        raise _invalid(method, 'status %r' % (status,))
    values = {'status': status}
    if update.get('provider_location') is not None:
        values['provider_location'] = _provider_location(
            method, update['provider_location'])
    if update.get('size') is not None:
        values['size'] = _positive_int(method, 'size', update['size'])
    progress = update.get('progress')
    if isinstance(progress, str) and len(progress) <= c.PROGRESS_MAX_LENGTH:
        values['progress'] = progress
    locations = _snapshot_locations(method, update.get('export_locations'),
                                    _mountable(snapinst))
    return values, locations


def create_snapshot(mgr, context, share_id, snapshot_id):
    """Take a snapshot on the driver: ``creating`` → ``available`` (or ``error`` + message)."""
    snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
    if not guard.expect_status('Snapshot instance', snapinst, (c.STATUS_CREATING,), 'create'):
        return
    try:
        update = mgr.driver.create_snapshot(
            context, views.snapshot_instance_dict(snapinst, snapshot),
            share_server=rows.snapshot_server(snapinst))
        values, locations = _snapshot_model_update(update, snapinst)
    except Exception as exc:
        states.advance(context, SNAP, snapinst['id'], 'create_failed')
        _snapshot_message(mgr, context, mf.Action.CREATE, snapshot,
                          snapinst['id'], exc)
        raise guard.driver_error('create_snapshot', exc)
    _store_snapshot_locations(context, snapinst, locations)
    status = values.pop('status')
    if status in (None, c.STATUS_AVAILABLE):
        values['progress'] = '100%'
        if states.advance(context, SNAP, snapinst['id'], 'create_succeeded',
                          values):
            LOG.info('Snapshot %s created.', snapshot_id)
    elif status == c.STATUS_ERROR:
        states.advance(context, SNAP, snapinst['id'], 'create_failed', values)
    elif values:
        # Still creating on the backend: keep the driver's details.
        db_api.share_snapshot_instance_update(context, snapinst['id'], values)


# -- delete -------------------------------------------------------------------

def _deny_snapshot_access(mgr, context, snapinst):
    """Deny every access rule of a snapshot instance (mountable snapshots)."""
    access.snapshot_update_access_rules(mgr, context, snapinst,
                                        delete_all_rules=True)


def delete_snapshot(mgr, context, snapshot_id, force=False,
                    deferred_delete=False):
    """Delete a snapshot on the driver and soft-delete its rows, releasing quota."""
    snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
    if not guard.expect_status('Snapshot instance', snapinst, states.DELETE_SOURCES, 'delete'):
        return
    deferred = deferred_delete or snapinst['status'] in _DEFERRED
    if deferred_delete:
        # Deferred deletion gives the quota back at once; the backend
        # clean-up may finish later (do_deferred_snapshot_deletion).
        _release_snapshot_quota(context, snapshot, snapinst)
    if _mountable(snapinst):
        try:
            _deny_snapshot_access(mgr, context, snapinst)
        except Exception:
            LOG.exception('Could not remove the access rules of snapshot '
                          'instance %s; deleting anyway.', snapinst['id'])
    try:
        mgr.driver.delete_snapshot(
            context, views.snapshot_instance_dict(snapinst, snapshot),
            share_server=rows.snapshot_server(snapinst))
    except Exception as exc:
        _snapshot_message(mgr, context, mf.Action.DELETE, snapshot,
                          snapinst['id'], exc)
        if not force:
            if deferred:
                states.advance(context, SNAP, snapinst['id'],
                               'deferred_delete_failed')
                LOG.error('Deferred deletion of snapshot instance %(id)s '
                          'failed; retried periodically: %(exc)s',
                          {'id': snapinst['id'], 'exc': exc})
                return
            states.advance(context, SNAP, snapinst['id'], 'delete_failed')
            raise guard.driver_error('delete_snapshot', exc)
        LOG.warning('Ignoring %(cls)s while force-deleting snapshot '
                    '%(id)s; the backend may need a clean-up: %(exc)s',
                    {'cls': type(exc).__name__, 'id': snapshot_id,
                     'exc': exc})
    db_api.share_snapshot_instance_delete(context, snapinst['id'])
    if not deferred:
        _release_snapshot_quota(context, snapshot, snapinst)
    LOG.info('Snapshot instance %s deleted.', snapinst['id'])


def deferred_deletion(mgr, context):
    """Periodic: retry the driver deletion of this host's snapshot instances in error_deferred_deleting."""
    found = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'host': mgr.host,
                  'statuses': [c.STATUS_ERROR_DEFERRED_DELETING]},
        with_share_data=True)
    for snapinst in found:
        try:
            mgr.driver.delete_snapshot(
                context, views.snapshot_instance_dict(snapinst, snapinst.snapshot),
                share_server=rows.snapshot_server(snapinst))
        except Exception as exc:
            LOG.error('Deferred deletion of snapshot instance %(id)s failed '
                      'again: %(exc)s', {'id': snapinst['id'], 'exc': exc})
            continue
        db_api.share_snapshot_instance_delete(context, snapinst['id'])
        LOG.info('Snapshot instance %s deleted (deferred).', snapinst['id'])


# -- revert -------------------------------------------------------------------

def _finish_reservations(context, reservations, inst, commit):
    quota.finish(context, reservations, commit,
                 'the revert of share %s' % inst['share_id'],
                 **quota.owner(inst))


def _revert_result(result, snapshot):
    """Return (status, new size) of a revert_to_snapshot answer (states.md 4.8)."""
    if isinstance(result, dict):
        status = result.get('status')
        if status in (None, c.STATUS_AVAILABLE):
            return c.STATUS_AVAILABLE, snapshot['size']
        if status == c.STATUS_REVERTING_TO_SNAPSHOT:
            return status, None
        raise exception.InvalidShareInstance(
            reason='driver revert_to_snapshot returned status %r' % (status,))
    if result is None or isinstance(result, bool):
        return c.STATUS_AVAILABLE, snapshot['size']
    try:
        size = int(result)
    except (TypeError, ValueError):
        LOG.warning('Driver revert_to_snapshot returned %r, not a size; '
                    'using the snapshot size.', result)
        return c.STATUS_AVAILABLE, snapshot['size']
    return c.STATUS_AVAILABLE, size if size > 0 else snapshot['size']


def _revert_failed(mgr, context, snapshot, inst, snapinst, reservations, exc):
    _finish_reservations(context, reservations, inst, commit=False)
    states.advance(context, SHARE, inst['id'], 'revert_failed')
    states.advance(context, SNAP, snapinst['id'], 'restore_finished')
    mgr.message_api.create(
        context, mf.Action.REVERT_TO_SNAPSHOT, inst['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
        exception=exc)


def _revert_on_driver(mgr, context, snapshot, snapinst, inst):
    share_rules = db_api.share_instance_access_get_all(
        context, inst['id'], filters={'state': c.ACCESS_STATE_ACTIVE})
    get_snapshot_rules = (
        db_api.share_snapshot_access_get_all_for_snapshot_instance)
    snapshot_rules = get_snapshot_rules(context, snapinst['id'])
    result = mgr.driver.revert_to_snapshot(
        context, views.snapshot_instance_dict(snapinst, snapshot), share_rules,
        snapshot_rules, share_server=rows.snapshot_server(snapinst))
    return _revert_result(result, snapshot)


def revert_to_snapshot(mgr, context, snapshot_id, reservations=None):
    """Revert a share: ``reverting`` → ``available`` (size = snapshot size) or ``reverting_error``; snapshot ``restoring`` → ``available``."""
    snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
    inst = snapinst['share']
    if snapshot['share'].has_replicas:
        # Its own flow (share/replication/snapshots.py), under the replica lock.
        return replicated_snapshots.revert(mgr, context, snapshot,
                                           reservations)
    if not (guard.expect_status('Share instance', inst,
                                (c.STATUS_REVERTING,), 'revert') and
            guard.expect_status('Snapshot instance', snapinst,
                                (c.STATUS_RESTORING,), 'revert')):
        _finish_reservations(context, reservations, inst, commit=False)
        return
    try:
        status, new_size = _revert_on_driver(mgr, context, snapshot,
                                             snapinst, inst)
    except Exception as exc:
        _revert_failed(mgr, context, snapshot, inst, snapinst, reservations,
                       exc)
        raise guard.driver_error('revert_to_snapshot', exc)
    if status == c.STATUS_REVERTING_TO_SNAPSHOT:
        # Async: the periodic task reserves and commits the size change.
        _finish_reservations(context, reservations, inst, commit=False)
        states.advance(context, SHARE, inst['id'], 'revert_started_async')
        LOG.info('Share %s is reverting to snapshot %s on the backend.',
                 inst['share_id'], snapshot_id)
        return
    commit = new_size == snapshot['size']
    if not commit and new_size != inst['size']:
        LOG.error('Driver reverted share %(share)s to size %(size)s, which '
                  'is neither the snapshot nor the share size; the quota '
                  'needs an adjustment.',
                  {'share': inst['share_id'], 'size': new_size})
    _finish_reservations(context, reservations, inst, commit=commit)
    db_api.share_update(context, inst['share_id'], {'size': new_size})
    states.advance(context, SHARE, inst['id'], 'revert_succeeded')
    states.advance(context, SNAP, snapinst['id'], 'restore_finished')
    LOG.info('Share %s reverted to snapshot %s.', inst['share_id'],
             snapshot_id)


# -- manage / unmanage --------------------------------------------------------

def _managed_snapshot_update(update, snapshot, snapinst):
    """Check a manage_existing_snapshot answer; returns (instance values, locations, size)."""
    method = 'manage_existing_snapshot'
    update = _answer_dict(method, update)
    size = update.get('size')
    if size:
        size = _positive_int(method, 'size', size)
    else:
        LOG.warning('Driver gave no size for snapshot %s; using the size of '
                    'its share.', snapshot['id'])
        size = snapshot['share']['size']
    values = {}
    if update.get('provider_location') is not None:
        values['provider_location'] = _provider_location(
            method, update['provider_location'])
    locations = _snapshot_locations(method, update.get('export_locations'),
                                    _mountable(snapinst))
    return values, locations, size


def manage_snapshot(mgr, context, snapshot_id, driver_options):
    """Adopt a backend snapshot: ``manage_starting`` → ``available`` (or ``manage_error``, size 1)."""
    snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
    if not guard.expect_status('Snapshot instance', snapinst, (c.STATUS_MANAGING,), 'manage'):
        return
    db_api.share_snapshot_metadata_update(
        context, snapshot['id'], {MANAGED_AT_KEY: snapshot['created_at']})
    try:
        if mgr.driver_handles_share_servers:
            update = mgr.driver.manage_existing_snapshot_with_server(
                snapinst, driver_options, rows.snapshot_server(snapinst))
        else:
            update = mgr.driver.manage_existing_snapshot(snapinst,
                                                         driver_options)
        values, locations, size = _managed_snapshot_update(update, snapshot,
                                                           snapinst)
    except Exception as exc:
        # Upstream sets size 1 so that deleting or unmanaging the errored
        # snapshot keeps the quota consistent.
        db_api.share_snapshot_update(context, snapshot['id'], {'size': 1})
        states.advance(context, SNAP, snapinst['id'], 'manage_failed')
        raise guard.driver_error('manage_existing_snapshot', exc)
    # As upstream: usages of the (project, caller) pair, no share type rows.
    quota.charge(context, quota.snapshot_deltas(size), snapshot['project_id'],
                 context.user_id, what='snapshot %s' % snapshot['id'])
    _store_snapshot_locations(context, snapinst, locations)
    db_api.share_snapshot_update(context, snapshot['id'], {'size': size})
    values['progress'] = '100%'
    if states.advance(context, SNAP, snapinst['id'], 'manage_succeeded',
                      values):
        LOG.info('Snapshot %s managed (%d GiB).', snapshot_id, size)


def _unmanage_failed(context, snapinst, reason):
    LOG.error('Snapshot instance %(id)s cannot be unmanaged: %(reason)s',
              {'id': snapinst['id'], 'reason': reason})
    states.advance(context, SNAP, snapinst['id'], 'unmanage_failed')


def unmanage_snapshot(mgr, context, snapshot_id):
    """Forget a snapshot without deleting it on the backend: soft-delete and release quota (or ``unmanage_error``)."""
    snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
    if not guard.expect_status('Snapshot instance', snapinst, (c.STATUS_UNMANAGING,), 'unmanage'):
        return
    if mgr.configuration.safe_get('unmanage_remove_access_rules'):
        try:
            _deny_snapshot_access(mgr, context, snapinst)
        except Exception as exc:
            _unmanage_failed(context, snapinst,
                             'removing its access rules failed: %s' % exc)
            return
    try:
        if mgr.driver_handles_share_servers:
            mgr.driver.unmanage_snapshot_with_server(
                snapinst, rows.snapshot_server(snapinst))
        else:
            mgr.driver.unmanage_snapshot(snapinst)
    except exception.UnmanageInvalidShareSnapshot as exc:
        _unmanage_failed(context, snapinst, exc)
        return
    except Exception as exc:
        # As upstream: only the driver's refusal ends in unmanage_error;
        # any other failure leaves the snapshot unmanage_starting.
        raise guard.driver_error('unmanage_snapshot', exc)
    # As upstream: reserved for the caller (the admin), like manage.
    _release_snapshot_quota(context, snapshot, snapinst,
                            user_id=context.user_id)
    db_api.share_snapshot_instance_delete(context, snapinst['id'])
    LOG.info('Snapshot %s unmanaged.', snapshot_id)


# -- the end of an asynchronous revert (polled by instances.py) ---------------

def restoring_by_instance(context, share_instance_ids):
    """``{share_instance_id: [restoring snapshot instances]}`` in one query."""
    result = {}
    if not share_instance_ids:
        return result
    found = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': share_instance_ids,
                  'statuses': [c.STATUS_RESTORING]})
    for row in found:
        result.setdefault(row['share_instance_id'], []).append(row)
    return result


def finish_async_revert(context, inst, restoring):
    """Take the size of the snapshot reverted to, committing the quota delta (over quota allowed)."""
    if not restoring:
        LOG.warning('No restoring snapshot found for share %s after its '
                    'revert finished.', inst['share_id'])
        return
    size = restoring[0].snapshot['size']
    delta = size - (inst['size'] or 0)
    if delta:
        quota.charge(context, {'gigabytes': delta}, **quota.owner(inst),
                     what='share %s after its revert' % inst['share_id'])
    db_api.share_update(context, inst['share_id'], {'size': size})
    LOG.info('Share %(share)s reverted to snapshot %(snap)s.',
             {'share': inst['share_id'],
              'snap': restoring[0]['snapshot_id']})


def restore_snapshots(context, restoring):
    """The snapshots a share was reverted to (or failed to revert to) are usable again."""
    for snapinst in restoring:
        states.advance(context, SNAP, snapinst['id'], 'restore_finished')
