"""Settling share instances stranded in transitional states by lost casts or crashes.

Upstream leaves an instance whose cast was lost (broker failover) or whose
handler died (daemon killed) in ``creating``, ``deleting``, ``extending``
... forever. Here a periodic pass (and the first pass after start-up) finds
this host's instances that stayed in such a status longer than
``transitional_state_timeout`` seconds and are not being worked on by this
process, and settles each one: creation and deletion are driven again
through the driver (both flows tolerate work the driver already did), an
interrupted ensure returns the instance to ``available``, and operations
whose request cannot be recovered (extend, shrink, manage, unmanage,
revert) end in their upstream error status with a user message.
Rule changes waiting as long on an available instance
(``access_rules_status`` ``syncing``) are synced to the driver again.
Snapshot instances stranded in ``creating`` or ``deleting`` are driven
again the same way; share servers stranded there are finished by
``servers.settle_stranded`` (no server row stranded, no allocation leaked),
and those stranded in ``manage_starting`` / ``unmanage_starting`` end in
``manage_error`` / ``unmanage_error`` (``server_manage.settle_stranded``);
those a security service or allocation update left in
``network_change`` end ``error`` by ``server_updates.settle_stranded``.
A share migration whose start or completion handler died is failed by
``migration.settle_stranded`` (a start leaves the share usable at its
source; migrations in the driver's phase 1, or waiting for completion,
are left alone: their own requests and periodic task drive them). A
host-assisted copy the data service ended (``data_copying_error`` or
``_cancelled``) without its migration_complete reaching this service is
ended by ``migration_host.settle_stranded`` (destination deleted, source
usable); a
share server migration likewise by ``server_migration.settle_stranded``
(run by the destination host, or by the source's host before any
destination row exists).

A row is settled only when no message still queued for this backend can
reach it: its status must already have been ``transitional_state_timeout``
old when a marker was cast to the backend's queue that has since been
taken (``backlog.py``); a row still waiting for that is left for a later
pass. So a daemon that starts after a long stop, with casts queued for it,
carries those casts out first however long its backlog takes.
"""

import datetime

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import groups
from manila_lite.share import instances
from manila_lite.share import locks
from manila_lite.share import migration
from manila_lite.share import migration_host
from manila_lite.share.replication import replicas
from manila_lite.share.replication import snapshots as replicated_snapshots
from manila_lite.share import server_manage
from manila_lite.share import server_migration
from manila_lite.share import server_updates
from manila_lite.share import servers
from manila_lite.share import snapshots
from manila_lite.share import states

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# status -> (event of states.SHARE_INSTANCE, user message action) for the
# operations that cannot be driven again.
_FAIL = {
    c.STATUS_EXTENDING: ('extend_failed', mf.Action.EXTEND),
    c.STATUS_SHRINKING: ('shrink_failed', mf.Action.SHRINK),
    c.STATUS_MANAGING: ('manage_failed', mf.Action.CREATE),
    c.STATUS_UNMANAGING: ('unmanage_failed', mf.Action.DELETE),
    c.STATUS_MANAGE_ERROR_UNMANAGING: ('unmanage_failed', mf.Action.DELETE),
    c.STATUS_REVERTING: ('revert_failed', mf.Action.REVERT_TO_SNAPSHOT),
}
_REDRIVE = (c.STATUS_CREATING, c.STATUS_DELETING, c.STATUS_DEFERRED_DELETING)
STRANDABLE = (_REDRIVE + (c.STATUS_ENSURING, c.STATUS_REPLICATION_CHANGE) +
              tuple(_FAIL))


class StaleOperation(exception.ManilaException):
    message = ('The share service lost track of this %(operation)s: no '
               'progress for %(seconds)s seconds (lost request or restart).')


def _last_change(inst):
    return inst['updated_at'] or inst['created_at']


def _window(mgr, now=None):
    """``(stale, settle)``: rows last changed before ``stale`` are stranded, before ``settle`` out of reach of queued messages.

    None when the reconciliation is disabled; ``settle`` None while no
    queue marker came back yet. Read before the rows and the in-flight
    set, so a message taken before the marker is seen in flight.
    """
    timeout = CONF.transitional_state_timeout
    if not timeout:
        return None
    delta = datetime.timedelta(seconds=timeout)
    stale = (now or timeutils.utcnow()) - delta
    backlog = getattr(mgr, 'backlog', None)
    if backlog is None:         # no RPC queue: nothing can be on its way
        return stale, stale
    drained = backlog.drained_until()
    return stale, (min(stale, drained - delta) if drained else None)


def _stranded(mgr, context, rows, window, parent='share_id'):
    """The ``rows`` stale in ``window`` that this process is not working on (by id or ``parent`` id) and no queued message can reach.

    Rows that wait for a queue marker to tell ask for one.
    """
    stale, settle = window
    busy = mgr.in_flight.snapshot()
    candidates = [r for r in rows
                  if _last_change(r) is not None and _last_change(r) <= stale
                  and r['id'] not in busy and r[parent] not in busy]
    ready = [r for r in candidates
             if settle is not None and _last_change(r) <= settle]
    if len(ready) < len(candidates):
        LOG.debug('%d stranded rows wait until the messages queued for '
                  '%s before them have been taken.',
                  len(candidates) - len(ready), mgr.host)
        mgr.backlog.request(context)
    return ready


def find_stranded(mgr, context, now=None):
    """This host's instances stuck in a transitional status (one query)."""
    window = _window(mgr, now)
    if window is None:
        return []
    rows = [r for r in db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=list(STRANDABLE))
        if not _completing_migration_source(r)]
    return _stranded(mgr, context, rows, window)


def _completing_migration_source(inst):
    """A source whose deletion a migration completion began: the migration's reconciliation finishes both."""
    return (inst['status'] == c.STATUS_DELETING and inst['share'][
        'task_state'] == c.TASK_STATE_MIGRATION_COMPLETING)


def find_stranded_access(mgr, context, now=None):
    """This host's available instances whose rule changes (``syncing``) waited as long (one query).

    E.g. an ``update_access`` cast the broker lost.
    """
    window = _window(mgr, now)
    if window is None:
        return []
    rows = db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=c.STATUS_AVAILABLE,
        access_rules_status=c.SHARE_INSTANCE_RULES_SYNCING)
    return _stranded(mgr, context, rows, window)


def settle(mgr, context, inst):
    """Bring one stranded instance to a final status; returns what was done."""
    status = inst['status']
    with mgr.in_flight.track([inst['id'], inst['share_id']]):
        if replicas.settles(inst):
            return replicas.settle(mgr, context, inst)
        if status == c.STATUS_CREATING:
            instances.create(mgr, context, inst['id'])
            return 'created again'
        if status in (c.STATUS_DELETING, c.STATUS_DEFERRED_DELETING):
            instances.delete(mgr, context, inst['id'], force=False,
                             deferred_delete=(
                                 status == c.STATUS_DEFERRED_DELETING))
            return 'deleted again'
        if status == c.STATUS_ENSURING:
            states.advance(context, states.SHARE_INSTANCE, inst['id'],
                           'ensure_finished')
            return 'ensure finished'
        event, action = _FAIL[status]
        if states.advance(context, states.SHARE_INSTANCE, inst['id'], event):
            error = StaleOperation(operation=status,
                                   seconds=CONF.transitional_state_timeout)
            mgr.message_api.create(
                context, action, inst['project_id'],
                resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
                exception=error)
        return 'marked failed'


def reconcile(mgr, context):
    """Settle every stranded instance of this host; returns how many were settled.

    One pass at a time per backend: the start-up pass and the periodic
    one would otherwise drive the same rows at the same time.
    """
    pass_lock = locks.reconcile_pass_lock(mgr.host)
    if not pass_lock.acquire(blocking=False):
        LOG.debug('A reconciliation pass of %s is running; skipped.',
                  mgr.host)
        return 0
    try:
        return _reconcile(mgr, context)
    finally:
        pass_lock.release()


def settle_access(mgr, context, inst):
    """Sync one instance's waiting rule changes to the driver again."""
    with mgr.in_flight.track([inst['id'], inst['share_id']]):
        access.resync(mgr, context, inst)
    return 'access rules synced again'


def _reconcile(mgr, context):
    gone = (exception.ShareInstanceNotFound,)
    settled = _settle_each(mgr, context, find_stranded(mgr, context), settle,
                           'Share instance', gone)
    settled += _settle_each(mgr, context,
                            find_stranded_access(mgr, context),
                            settle_access, 'Access rules of share instance',
                            gone)
    settled += reconcile_servers(mgr, context)
    settled += reconcile_migrations(mgr, context)
    settled += reconcile_server_migrations(mgr, context)
    return (settled + reconcile_snapshots(mgr, context) +
            reconcile_groups(mgr, context))


def find_stranded_migrations(mgr, context, now=None):
    """This host's migrations whose start or completion handler died (one read)."""
    return _stranded_by(mgr, context, migration.stranded_candidates, now)


def find_stranded_copies(mgr, context, now=None):
    """This host's host-assisted migrations whose copy ended without the data service's migration_complete reaching us (one read)."""
    return _stranded_by(
        mgr, context, lambda ctx, host: migration.stranded_candidates(
            ctx, host, migration_host.LEFT_BY_DATA_SERVICE), now)


def _stranded_by(mgr, context, candidates, now):
    window = _window(mgr, now)
    if window is None:
        return []
    return _stranded(mgr, context, candidates(context, mgr.host), window)


def reconcile_migrations(mgr, context):
    """Fail every stranded migration of this host, leaving the share usable; returns how many."""
    gone = (exception.ShareInstanceNotFound, exception.ShareNotFound)
    return (_settle_each(mgr, context, find_stranded_migrations(mgr, context),
                         migration.settle_stranded,
                         'Migration of share instance', gone) +
            _settle_each(mgr, context, find_stranded_copies(mgr, context),
                         migration_host.settle_stranded,
                         'Host-assisted migration of share instance', gone))


def find_stranded_server_migrations(mgr, context, now=None):
    """Share server migrations of this host whose start, completion or cancel handler died (two reads)."""
    window = _window(mgr, now)
    if window is None or not mgr.driver_handles_share_servers:
        return []
    return _stranded(mgr, context,
                     server_migration.stranded_candidates(context, mgr.host),
                     window, parent='id')


def reconcile_server_migrations(mgr, context):
    """Fail every stranded share server migration of this host, leaving the source usable; returns how many."""
    return _settle_each(mgr, context,
                        find_stranded_server_migrations(mgr, context),
                        server_migration.settle_stranded,
                        'Migration of share server',
                        (exception.ShareServerNotFound,))


def _settle_each(mgr, context, rows, settle_one, kind, gone):
    """Settle ``rows`` one by one, logging each outcome; returns how many settled.

    ``gone`` are the errors meaning the row's own request, delayed (broker
    or database outage), got there first between the query and now.
    """
    settled = 0
    for row in rows:
        try:
            outcome = settle_one(mgr, context, row)
        except gone:
            LOG.info('%(kind)s %(id)s was settled meanwhile.',
                     {'kind': kind, 'id': row['id']})
            continue
        except Exception as exc:
            LOG.error('Reconciling %(kind)s %(id)s (%(status)s) failed: '
                      '%(cls)s: %(exc)s',
                      {'kind': kind.lower(), 'id': row['id'],
                       'status': row['status'], 'cls': type(exc).__name__,
                       'exc': exc})
            continue
        settled += 1
        LOG.warning('%(kind)s %(id)s was stranded in %(status)s; '
                    '%(outcome)s.', {'kind': kind, 'id': row['id'],
                                     'status': row['status'],
                                     'outcome': outcome})
    return settled


# Snapshot instances: creation and deletion are driven again (the localfs
# and dummy drivers tolerate work they already did).
_SNAPSHOT_REDRIVE = (c.STATUS_CREATING, c.STATUS_DELETING,
                     c.STATUS_DEFERRED_DELETING)


def find_stranded_snapshots(mgr, context, now=None):
    """This host's snapshot instances stuck in creating or deleting (one query)."""
    window = _window(mgr, now)
    if window is None:
        return []
    rows = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'host': mgr.host, 'statuses': list(_SNAPSHOT_REDRIVE),
                  'group_members': False})
    # Those of non-active replicas are the periodic replica snapshot
    # update's (the driver reports on them there).
    rows = [r for r in rows if r.share_instance is None or
            r.share_instance['replica_state'] in (None,
                                                  c.REPLICA_STATE_ACTIVE)]
    return _stranded(mgr, context, rows, window, parent='snapshot_id')


def settle_snapshot(mgr, context, snapinst):
    """Drive one stranded snapshot instance's create or delete again."""
    with mgr.in_flight.track([snapinst['id'], snapinst['snapshot_id']]):
        snapshot = db_api.share_snapshot_get(context, snapinst['snapshot_id'])
        if snapshot['share'] is not None and snapshot['share'].has_replicas:
            return replicated_snapshots.settle(mgr, context, snapshot,
                                               snapinst['status'])
        if snapinst['status'] == c.STATUS_CREATING:
            snapshots.create_snapshot(mgr, context, snapshot['share_id'],
                                      snapinst['snapshot_id'])
            return 'created again'
        snapshots.delete_snapshot(
            mgr, context, snapinst['snapshot_id'],
            deferred_delete=snapinst['status'] ==
            c.STATUS_DEFERRED_DELETING)
        return 'deleted again'


def reconcile_snapshots(mgr, context):
    """Settle every stranded snapshot instance of this host; returns how many."""
    return _settle_each(mgr, context, find_stranded_snapshots(mgr, context),
                        settle_snapshot, 'Snapshot instance',
                        (exception.ShareSnapshotNotFound,
                         exception.ShareSnapshotInstanceNotFound))


# Share groups and group snapshots (their members go with them): creation
# and deletion are driven again.
_GROUP_REDRIVE = (c.STATUS_CREATING, c.STATUS_DELETING)


def find_stranded_groups(mgr, context, now=None):
    """``(groups, group snapshots)`` of this host stuck in creating or deleting (two queries)."""
    window = _window(mgr, now)
    if window is None:
        return [], []
    filters = {'host': mgr.host, 'status': list(_GROUP_REDRIVE)}
    found = db_api.share_group_get_all(context, filters)
    snapshots = db_api.share_group_snapshot_get_all(context, filters)
    return (_stranded(mgr, context, found, window, parent='id'),
            _stranded(mgr, context, snapshots, window,
                      parent='share_group_id'))


def settle_group(mgr, context, group):
    with mgr.in_flight.track([group['id']]):
        if group['status'] == c.STATUS_CREATING:
            groups.create_share_group(mgr, context, group['id'])
            return 'created again'
        groups.delete_share_group(mgr, context, group['id'])
        return 'deleted again'


def settle_group_snapshot(mgr, context, snapshot):
    with mgr.in_flight.track([snapshot['id'], snapshot['share_group_id']]):
        if snapshot['status'] == c.STATUS_CREATING:
            groups.create_share_group_snapshot(mgr, context, snapshot['id'])
            return 'created again'
        groups.delete_share_group_snapshot(mgr, context, snapshot['id'])
        return 'deleted again'


def reconcile_groups(mgr, context):
    """Settle this host's stranded share groups and group snapshots; returns how many."""
    found, snapshots = find_stranded_groups(mgr, context)
    settled = _settle_each(mgr, context, snapshots, settle_group_snapshot,
                           'Share group snapshot',
                           (exception.ShareGroupSnapshotNotFound,))
    return settled + _settle_each(mgr, context, found, settle_group,
                                  'Share group',
                                  (exception.ShareGroupNotFound,))


_SERVER_STRANDABLE = (servers.STRANDABLE + server_manage.STRANDABLE +
                      (c.STATUS_SERVER_NETWORK_CHANGE,))


def find_stranded_servers(mgr, context, now=None):
    """This host's share servers stuck in creating, deleting, manage_starting, unmanage_starting or network_change (one read)."""
    window = _window(mgr, now)
    if window is None or not mgr.driver_handles_share_servers:
        return []
    rows = db_api.share_server_get_all_by_host(
        context, mgr.host, filters={'status': list(_SERVER_STRANDABLE)})
    return _stranded(mgr, context, rows, window, parent='id')


def settle_server(mgr, context, server):
    """Finish one stranded share server: lifecycle statuses in servers.py, manage ones in server_manage.py."""
    if server['status'] == c.STATUS_SERVER_NETWORK_CHANGE:
        return server_updates.settle_stranded(mgr, context, server)
    if server['status'] in server_manage.STRANDABLE:
        return server_manage.settle_stranded(
            mgr, context, server, CONF.transitional_state_timeout)
    return servers.settle_stranded(mgr, context, server)


def reconcile_servers(mgr, context):
    """Settle every stranded share server of this host; returns how many."""
    return _settle_each(mgr, context, find_stranded_servers(mgr, context),
                        settle_server, 'Share server',
                        (exception.ShareServerNotFound,))
