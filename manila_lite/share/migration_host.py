"""Host-assisted share migration, run by the source host's share service: destination, data copy, completion, cancellation.

When the driver cannot move a share itself (or the administrator forced
it), the share service of the source creates the destination instance
through the destination host's share service (another manila_lite or an
upstream ``manila-share``), makes the source read-only, asks both hosts how
the data service mounts them (``connection_get_info``) and casts
``migration_start`` to the data service (topic ``manila-data``). The data
service writes the ``data_copying_*`` task states itself; once it reports
``data_copying_completed`` the API casts ``migration_complete`` here. A
failed or cancelled copy also ends here: the data service casts
``migration_complete`` with ``data_copying_error`` or
``data_copying_cancelled``, and the destination is deleted through its host.
"""

import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import hosts
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import instances
from manila_lite.share import rows
from manila_lite.share import shares
from manila_lite.share import states

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

SHARE = states.SHARE_INSTANCE
TASK = states.SHARE_TASK

# task states migration_complete handles here (the copy ended one way or
# the other) and those migration_cancel handles here.
COMPLETE_STATES = (c.TASK_STATE_DATA_COPYING_COMPLETED,
                   c.TASK_STATE_DATA_COPYING_ERROR,
                   c.TASK_STATE_DATA_COPYING_CANCELLED)
COPYING_STATES = (c.TASK_STATE_DATA_COPYING_STARTING,
                  c.TASK_STATE_DATA_COPYING_IN_PROGRESS)
CANCEL_STATES = COPYING_STATES + (c.TASK_STATE_DATA_COPYING_COMPLETED,)
# What the data service leaves behind when its migration_complete cast is
# lost (it restarted, or the broker dropped it): reconciliation ends them.
LEFT_BY_DATA_SERVICE = (c.TASK_STATE_DATA_COPYING_ERROR,
                        c.TASK_STATE_DATA_COPYING_CANCELLED)
# Share attributes that follow the share type (upstream's list).
_TYPE_BOOL_ATTRIBUTES = ('snapshot_support',
                         'create_share_from_snapshot_support',
                         'revert_to_snapshot_support',
                         'mount_snapshot_support')
_GONE = 'gone'


class DataCopyFailed(exception.ManilaException):
    message = ('The data service could not copy share %(share_id)s to its '
               'destination; the share stays at its source.')


def message(mgr, context, share, exc):
    """The user message (action UPDATE) of a failed migration of ``share``; both migration kinds write it."""
    mgr.message_api.create(
        context, mf.Action.UPDATE, share['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=share['id'],
        exception=exc)


def _wait(read, done, failed, timeout, what):
    """Poll ``read()`` until it gives one of ``done``; ShareMigrationFailed on one of ``failed`` or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        value = read()
        if value in done:
            return value
        if value in failed:
            raise exception.ShareMigrationFailed(
                reason='%s ended in %s' % (what, value))
        if time.monotonic() > deadline:
            raise exception.ShareMigrationFailed(
                reason='%s is still %s after %ss' % (what, value, timeout))
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def _instance_value(context, instance_id, key):
    try:
        return db_api.share_instance_get(context, instance_id)[key]
    except exception.ShareInstanceNotFound:
        return _GONE


# -- the destination, through its own host ------------------------------------

def _request_spec(share, dest):
    """The request spec upstream's API sends with create_share_instance (the fields a share service reads)."""
    props = {name: share[name] for name in (
        'id', 'size', 'user_id', 'project_id', 'share_proto', 'is_public',
        'share_group_id', 'snapshot_id', 'replication_type',
        'snapshot_support', 'create_share_from_snapshot_support',
        'revert_to_snapshot_support', 'mount_snapshot_support')}
    props['share_type_id'] = dest['share_type_id']
    props['share_server_id'] = None
    instance_props = {name: dest[name] for name in (
        'id', 'availability_zone_id', 'share_network_id', 'share_server_id',
        'share_id', 'host', 'status', 'replica_state', 'share_type_id')}
    return {'share_properties': props,
            'share_instance_properties': instance_props,
            'share_proto': share['share_proto'], 'share_id': share['id'],
            'snapshot_id': None,
            'availability_zone_id': dest['availability_zone_id']}


def create_destination(mgr, context, share, src, dest_host,
                       new_share_network_id, new_share_type_id):
    """Create the destination on ``dest_host`` through its service and wait until it is ``available``; returns it ``migrating_to``.

    The destination is created empty (no ``snapshot_id``): the data
    service fills it. A destination that fails or does not come up within
    ``migration_create_delete_share_timeout`` is deleted again.
    """
    service = db_api.service_get_by_args(
        context, hosts.extract_host(dest_host), 'manila-share')
    dest = db_api.share_instance_create(context, share['id'], {
        'status': c.STATUS_CREATING, 'host': dest_host,
        'scheduled_at': timeutils.utcnow(),
        'share_network_id': new_share_network_id,
        'availability_zone_id': service['availability_zone_id'],
        'share_type_id': new_share_type_id or src['share_type_id'],
        'cast_rules_to_readonly': False})
    LOG.info('Share instance %(dest)s on %(host)s is being created as the '
             'destination of the host-assisted migration of share '
             '%(share)s.', {'dest': dest['id'], 'host': dest_host,
                            'share': share['id']})
    try:
        mgr.share_rpcapi.create_share_instance(
            context, dest, dest_host, request_spec=_request_spec(share, dest),
            filter_properties={'scheduler_hints': None}, snapshot_id=None)
        _wait(lambda: _instance_value(context, dest['id'], 'status'),
              (c.STATUS_AVAILABLE,), (c.STATUS_ERROR, _GONE),
              CONF.migration_create_delete_share_timeout,
              'destination share instance %s' % dest['id'])
        if not states.advance(context, SHARE, dest['id'],
                              'migration_destination_ready'):
            raise exception.ShareMigrationFailed(
                reason='destination share instance %s left available'
                % dest['id'])
    except Exception:
        delete_instance(mgr, context, dest['id'], suppress_errors=True)
        raise
    return rows.instance(context, dest['id'])


def delete_instance(mgr, context, instance_id, suppress_errors=False):
    """Delete a migration instance through its host (this service's own flow when it is ours) and wait until its row is gone."""
    try:
        if not states.advance(context, SHARE, instance_id,
                              'migration_instance_dropped'):
            raise exception.ShareMigrationFailed(
                reason='share instance %s cannot be deleted from status %s'
                % (instance_id, _instance_value(context, instance_id,
                                                'status')))
        inst = rows.instance(context, instance_id)
        if hosts.extract_host(inst['host']) == mgr.host:
            instances.delete(mgr, context, instance_id, force=True)
        else:
            mgr.share_rpcapi.delete_share_instance(context, inst, force=True)
        _wait(lambda: _instance_value(context, instance_id, 'status'),
              (_GONE,), (c.STATUS_ERROR_DELETING,),
              CONF.migration_create_delete_share_timeout,
              'deletion of share instance %s' % instance_id)
        LOG.info('Share instance %s of a host-assisted migration deleted.',
                 instance_id)
    except Exception as exc:
        if not suppress_errors:
            raise
        LOG.warning('Share instance %(id)s of a host-assisted migration '
                    'could not be deleted: %(exc)s',
                    {'id': instance_id, 'exc': exc})


# -- start ---------------------------------------------------------------------

def set_readonly(mgr, context, instance_id, readonly):
    """Cast the source's rules to read-only (or back) and sync them with the driver."""
    db_api.share_instance_update(context, instance_id,
                                 {'cast_rules_to_readonly': readonly})
    access.reset_for_reapply(mgr, context, [instance_id], reapply=True)
    access.update_access(mgr, context, instance_id)


def start(mgr, context, share, src, dest_host, new_share_network_id=None,
          new_share_type_id=None):
    """Phase 1 of a host-assisted migration (task_state ``migration_in_progress``): the source read-only, the destination, the data service's copy.

    Raises on failure with no destination left; the caller gives the
    source back (upstream: ``migration_error``, source ``available``).
    """
    if not states.advance(context, TASK, share['id'], 'host_assisted_begun'):
        raise exception.ShareMigrationFailed(
            reason='share %s left migration_in_progress' % share['id'])
    set_readonly(mgr, context, src['id'], True)
    dest = create_destination(mgr, context, share, src, dest_host,
                              new_share_network_id, new_share_type_id)
    try:
        src_info = shares.connection_get_info(mgr, context, src['id'])
        dest_info = mgr.share_rpcapi.connection_get_info(context, dest)
        mgr.data_rpcapi.migration_start(
            context, share['id'],
            mgr.configuration.safe_get('migration_ignore_files') or [],
            src['id'], dest['id'], src_info, dest_info)
    except Exception:
        delete_instance(mgr, context, dest['id'], suppress_errors=True)
        raise
    # The data service may have moved on already; then this is a no-op.
    states.advance(context, TASK, share['id'], 'data_copy_requested')
    LOG.info('Host-assisted migration of share %(share)s to %(host)s: the '
             'data service copies it to share instance %(dest)s.',
             {'share': share['id'], 'host': dest_host, 'dest': dest['id']})


# -- complete --------------------------------------------------------------------

def complete(mgr, context, share, src, dest):
    """RPC migration_complete of a host-assisted migration: cut over after a finished copy, or clean up after a failed or cancelled one."""
    task_state = share['task_state']
    if task_state in LEFT_BY_DATA_SERVICE:
        _end_copy(mgr, context, share, src, dest)
        return
    if not states.advance(context, TASK, share['id'], 'host_complete_begun'):
        raise exception.InvalidShare(
            reason='data copy of share %s has not completed (task_state %s)'
            % (share['id'], task_state))
    try:
        _apply_rules_to_destination(mgr, context, share, dest)
    except Exception as exc:
        LOG.error('Access rules could not be applied to the destination of '
                  'share %(share)s: %(exc)s', {'share': share['id'],
                                               'exc': exc})
        delete_instance(mgr, context, dest['id'], suppress_errors=True)
        _give_back_source(mgr, context, src, 'complete_failed')
        message(mgr, context, share, exc)
        raise exception.ShareMigrationFailed(
            reason='access rules of the destination of share %s: %s'
            % (share['id'], exc))
    _switch_to_destination(mgr, context, share, src, dest)
    LOG.info('Host-assisted migration of share %s completed.', share['id'])


def _end_copy(mgr, context, share, src, dest):
    """The data service gave up (error) or was cancelled: destination deleted, source ``available`` and writable again."""
    cancelled = share['task_state'] == c.TASK_STATE_DATA_COPYING_CANCELLED
    delete_instance(mgr, context, dest['id'], suppress_errors=True)
    _give_back_source(mgr, context, src,
                      'copy_cancelled' if cancelled else 'copy_failed',
                      suppress_errors=not cancelled)
    if cancelled:
        LOG.info('Host-assisted migration of share %s was cancelled.',
                 share['id'])
        return
    error = DataCopyFailed(share_id=share['id'])
    LOG.error('%s', error.msg)
    message(mgr, context, share, error)
    raise error


def _give_back_source(mgr, context, src, event, suppress_errors=True):
    try:
        set_readonly(mgr, context, src['id'], False)
    except Exception as exc:
        if not suppress_errors:
            raise
        LOG.warning('Access rules of share instance %(id)s could not be '
                    'made writable again: %(exc)s',
                    {'id': src['id'], 'exc': exc})
    states.advance(context, SHARE, src['id'], 'migration_given_back')
    states.advance(context, TASK, src['share_id'], event)


def _apply_rules_to_destination(mgr, context, share, dest):
    """Copy the share's rules to the destination, have its host apply them, wait up to migration_wait_access_rules_timeout."""
    if not db_api.share_instance_access_copy(context, share['id'],
                                             dest['id']):
        return
    states.advance_all(context, states.ACCESS_RULES_STATUS, dest['id'],
                       'reapply_requested')
    mgr.share_rpcapi.update_access(context, dest)
    _wait(lambda: _instance_value(context, dest['id'],
                                  'access_rules_status'),
          (c.STATUS_ACTIVE,), (c.SHARE_INSTANCE_RULES_ERROR, _GONE),
          CONF.migration_wait_access_rules_timeout,
          'access rules of share instance %s' % dest['id'])


def _switch_to_destination(mgr, context, share, src, dest):
    values = {'progress': '100%'}
    if share['replication_type']:
        values['replica_state'] = c.REPLICA_STATE_ACTIVE
    states.advance(context, SHARE, dest['id'], 'migration_completed', values)
    _retire_source(mgr, context, share, src, dest)


def _retire_source(mgr, context, share, src, dest):
    """After the cut-over (destination ``available``): the source deleted (or its deletion finished), type attributes, ``migration_success``."""
    status = _instance_value(context, src['id'], 'status')
    if status == c.STATUS_MIGRATING:
        states.advance(context, SHARE, src['id'], 'migration_source_retired')
        status = c.STATUS_INACTIVE
    if status == c.STATUS_INACTIVE:
        delete_instance(mgr, context, src['id'])
    elif status != _GONE:           # a deletion a restart interrupted
        instances.delete(mgr, context, src['id'], force=True)
    db_api.share_update(context, share['id'],
                        type_attributes(context, dest['share_type_id']))
    states.advance(context, TASK, share['id'], 'complete_succeeded')


def type_attributes(context, type_id):
    """The share columns that follow the (new) share type."""
    specs = db_api.share_type_get(context, type_id).get('extra_specs') or {}
    values = {name: strutils.bool_from_string(specs.get(name, False))
              for name in _TYPE_BOOL_ATTRIBUTES}
    values['replication_type'] = specs.get('replication_type')
    return values


# -- cancel ----------------------------------------------------------------------

def cancel(mgr, context, share, src, dest):
    """RPC migration_cancel of a host-assisted migration.

    While the data service copies, it is told to stop (its cancelled copy
    comes back here as migration_complete); after the copy the
    destination is deleted and the source is ``available`` again.
    """
    if share['task_state'] in COPYING_STATES:
        mgr.data_rpcapi.data_copy_cancel(context, share['id'])
        LOG.info('Data copy of share %s asked to stop.', share['id'])
        return
    delete_instance(mgr, context, dest['id'])
    _give_back_source(mgr, context, src, 'copy_cancelled',
                      suppress_errors=False)
    LOG.info('Host-assisted migration of share %s cancelled.', share['id'])


# -- reconciliation ------------------------------------------------------------

# Source statuses a completion whose handler died can leave on this host:
# before the cut-over (migrating), after it (inactive), while deleting it.
COMPLETING_SOURCE_STATUSES = (c.STATUS_MIGRATING, c.STATUS_INACTIVE,
                              c.STATUS_DELETING, c.STATUS_ERROR_DELETING)


def created_by_its_host(dest):
    """Whether a destination instance is a host-assisted one: its own host created it (``launched_at``); a driver-assisted one never was."""
    return dest['launched_at'] is not None


def settle_completing(mgr, context, share, src, dest, error):
    """A host-assisted migration_complete whose handler died.

    Before the cut-over (destination still ``migrating_to``) the source's
    data were never touched: it is given back (``available``, writable
    rules, ``migration_error`` and a user message) and the destination is
    deleted through its host. After it the completion is finished.
    """
    if dest['status'] == c.STATUS_MIGRATING_TO:
        delete_instance(mgr, context, dest['id'], suppress_errors=True)
        _give_back_source(mgr, context, src, 'migration_stranded')
        message(mgr, context, share, error)
        return 'migration failed, destination deleted, source available again'
    _retire_source(mgr, context, share, src, dest)
    LOG.info('Host-assisted migration of share %s completed after a '
             'restart.', share['id'])
    return 'migration completed'


def settle_stranded(mgr, context, row):
    """Do what the lost migration_complete would have done: destination deleted, source usable again."""
    with mgr.in_flight.track([row['id'], row['share_id']]):
        share = db_api.share_get(context, row['share_id'])
        src = rows.instance(context, row['id'])
        dest = next((i for i in share.instances
                     if i['status'] == c.STATUS_MIGRATING_TO), None)
        if dest is None:
            _give_back_source(mgr, context, src, 'copy_failed')
        else:
            try:
                _end_copy(mgr, context, share, src, dest)
            except DataCopyFailed:
                pass
        return 'destination deleted, source available again'
