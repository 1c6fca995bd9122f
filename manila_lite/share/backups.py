"""Share backups through the driver (RPC 1.26): create, delete, restore, and the periodic progress polls.

The API writes the backup row (``creating``/``deleting``/``restoring``)
and puts the share in ``backup_creating``/``backup_restoring`` before
casting; the driver starts the work here and the periodic polls
(``create_backup_continue``/``restore_backup_continue``) finish it when
the driver reports ``total_progress`` '100'.
"""

import collections

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import strutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import guard
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import states

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

_FAIL_REASON_MAX = 255


def _backup_row(context, backup, status, operation):
    """The live row of the backup the API sent, or None (logged) if it is not in ``status``."""
    backup_id = backup.get('id')
    if not isinstance(backup_id, str) or not backup_id:
        raise exception.InvalidInput(
            reason='backup must carry its id, got %r' % (backup_id,))
    row = db_api.share_backup_get(context, backup_id)
    if not guard.expect_status('Share backup', row, (status,), operation):
        return None
    return row


def _reason(exc):
    text = '%s: %s' % (type(exc).__name__, exc)
    return text[:_FAIL_REASON_MAX]


def create_backup(mgr, context, backup):
    """Start a backup on the driver; failure → share ``available``, backup ``error`` (+ fail_reason)."""
    row = _backup_row(context, backup, c.STATUS_CREATING, 'create_backup')
    if row is None:
        return
    try:
        share, inst = rows.share_and_instance(context, row['share_id'])
        mgr.driver.create_backup(context, inst, backup,
                                 share_server=rows.server(inst))
    except Exception as exc:
        _share_event(context, row['share_id'], 'backup_create_failed')
        states.advance(context, states.SHARE_BACKUP, row['id'],
                       'create_failed', {'fail_reason': _reason(exc)})
        raise guard.driver_error('create_backup', exc)
    LOG.info('Share backup %(backup)s of share %(share)s started.',
             {'backup': row['id'], 'share': row['share_id']})


def _share_event(context, share_id, event):
    """Move the share's current instance (if any is left) through ``event``."""
    try:
        share = db_api.share_get(context, share_id)
    except exception.ShareNotFound:
        LOG.warning('Share %s is gone; its status is not updated.', share_id)
        return
    if share['instance'] is not None:
        states.advance(context, states.SHARE_INSTANCE,
                       share['instance']['id'], event)


def delete_backup(mgr, context, backup):
    """Delete a backup on the driver, give its quota back and soft-delete it; failure → ``error_deleting``."""
    row = _backup_row(context, backup, c.STATUS_DELETING, 'delete_backup')
    if row is None:
        return
    try:
        _share, inst = rows.share_and_instance(context, row['share_id'])
        mgr.driver.delete_backup(context, backup, inst,
                                 share_server=rows.server(inst))
    except Exception as exc:
        states.advance(context, states.SHARE_BACKUP, row['id'],
                       'delete_failed')
        raise guard.driver_error('delete_backup', exc)
    quota.release(context,
                  {'backups': 1, 'backup_gigabytes': row['size'] or 0},
                  row['project_id'], context.user_id,
                  what='share backup %s' % row['id'])
    db_api.share_backup_delete(context, row['id'])
    LOG.info('Share backup %s deleted.', row['id'])


def restore_backup(mgr, context, backup, share_id):
    """Start restoring a backup into ``share_id``; failure → share ``backup_restoring_error``, backup ``error``.

    Restoring into another share than the backed-up one needs the driver's
    ``restore_to_target_support`` (else user message 028/032).
    """
    row = _backup_row(context, backup, c.STATUS_RESTORING,
                      'restore_backup')
    if row is None:
        return
    try:
        share, inst = rows.share_and_instance(context, share_id)
        if (share_id != row['share_id'] and
                not getattr(mgr.driver, 'restore_to_target_support', False)):
            mgr.message_api.create(
                context, mf.Action.RESTORE_BACKUP, share['project_id'],
                resource_type=mf.Resource.SHARE, resource_id=share_id,
                detail=mf.Detail.TARGETED_RESTORE_UNSUPPORTED)
            raise exception.BackupException(
                reason='cannot restore backup %s to share %s: the driver '
                       'does not support targeted restores'
                       % (row['id'], share_id))
        mgr.driver.restore_backup(context, backup, inst,
                                  share_server=rows.server(inst))
    except Exception as exc:
        _share_event(context, share_id, 'backup_restore_failed')
        states.advance(context, states.SHARE_BACKUP, row['id'],
                       'restore_failed')
        raise guard.driver_error('restore_backup', exc)
    LOG.info('Restore of share backup %(backup)s into share %(share)s '
             'started.', {'backup': row['id'], 'share': share_id})


def _progress(result):
    """The driver's ``total_progress`` as a string '0'..'100'; ValueError if it is not one."""
    if not isinstance(result, dict):
        raise ValueError('driver returned %s, not a dict'
                         % type(result).__name__)
    value = result.get('total_progress', '0')
    if isinstance(value, bool) or not strutils.is_int_like(value) or \
            not 0 <= int(value) <= 100:
        raise ValueError('total_progress %r is not 0..100' % (value,))
    return str(int(value))


def _host_instances(mgr, context, status=None):
    """This host's instances with share data, by share id (one query)."""
    found = db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=status)
    return {row['share_id']: row for row in found}


def create_backup_continue(mgr, context):
    """Periodic: poll the driver for backups ``creating`` on this host; '100' → both ``available``."""
    backups = db_api.share_backups_get_all(context, {
        'status': c.STATUS_CREATING, 'host': mgr.host,
        'topic': CONF.share_topic})
    if not backups:
        return
    instances = _host_instances(mgr, context)
    for backup in backups:
        inst = instances.get(backup['share_id'])
        if inst is None:
            LOG.warning('Share %(share)s of backup %(backup)s has no '
                        'instance on %(host)s; not polled.',
                        {'share': backup['share_id'],
                         'backup': backup['id'], 'host': mgr.host})
            continue
        _poll_create(mgr, context, backup, inst)


def _poll_create(mgr, context, backup, inst):
    _poll(mgr, context, backup, inst, _CREATE_POLL,
          lambda server: mgr.driver.create_backup_continue(
              context, inst, backup, share_server=server))


def restore_backup_continue(mgr, context):
    """Periodic: poll restores into this host's ``backup_restoring`` shares; '100' → both ``available``."""
    backups = db_api.share_backups_get_all(context, {
        'status': c.STATUS_RESTORING, 'host': mgr.host,
        'topic': CONF.share_topic})
    if not backups:
        return
    by_backup = {}
    for inst in _host_instances(
            mgr, context, status=c.STATUS_BACKUP_RESTORING).values():
        source = (inst['share'] or {}).get('source_backup_id')
        by_backup.setdefault(source, []).append(inst)
    for backup in backups:
        for inst in by_backup.get(backup['id'], []):
            _poll_restore(mgr, context, backup, inst)


def _poll_restore(mgr, context, backup, inst):
    _poll(mgr, context, backup, inst, _RESTORE_POLL,
          lambda server: mgr.driver.restore_backup_continue(
              context, backup, inst, share_server=server))


# What a progress poll writes: the backup status it expects, its progress
# column, the share instance and backup events on failure and at '100',
# and the words of its log lines.
_Poll = collections.namedtuple(
    '_Poll', 'status column share_failed backup_failed share_done '
             'backup_done doing done')
_CREATE_POLL = _Poll(c.STATUS_CREATING, 'progress', 'backup_create_failed',
                     'create_failed', 'backup_create_succeeded',
                     'create_succeeded', 'creating', 'created')
_RESTORE_POLL = _Poll(c.STATUS_RESTORING, 'restore_progress',
                      'backup_restore_failed', 'restore_poll_failed',
                      'backup_restore_succeeded', 'restore_succeeded',
                      'restoring', 'restored')


def _poll(mgr, context, backup, inst, poll, ask_driver):
    """Ask the driver how far a backup's creation or restore got and write it ('100' ends both rows' transition)."""
    try:
        progress = _progress(ask_driver(rows.server(inst)))
    except Exception as exc:
        LOG.error('Could not get the progress of %(doing)s share backup '
                  '%(backup)s of share %(share)s: %(exc)s',
                  {'doing': poll.doing, 'backup': backup['id'],
                   'share': inst['share_id'], 'exc': exc})
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       poll.share_failed)
        states.advance(context, states.SHARE_BACKUP, backup['id'],
                       poll.backup_failed, {poll.column: '0'})
        return
    db_api.share_backup_conditional_update(
        context, backup['id'], [poll.status], {poll.column: progress})
    if progress == '100':
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       poll.share_done)
        states.advance(context, states.SHARE_BACKUP, backup['id'],
                       poll.backup_done)
        LOG.info('Share backup %(backup)s %(done)s (share %(share)s).',
                 {'backup': backup['id'], 'done': poll.done,
                  'share': inst['share_id']})
