"""Driver-assisted share migration, run by the source host's share service: start, the continue poll, progress, complete and cancel.

The API put the share in task_state ``migration_starting`` and its
instance in ``migrating``; this service writes the destination instance
row (``migrating_to``, host = the destination backend, which may be
served by another process: the source's driver does all the work, as
upstream) and drives the driver through phase 1 (start, continue until
done), then phase 2 (complete) or a cancel. When the driver preserves
snapshots, each source snapshot instance goes ``migrating`` and gets a
``migrating_to`` twin on the destination (upstream's snapshot mappings),
which becomes ``available`` at completion; a failure or cancel before
completion gives the source ones back, a failed completion leaves them
all ``error``. A migration the driver cannot do goes host-assisted (the
data service copies the data), in ``migration_host.py``.
"""

import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import hosts
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import migration_host
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import servers
from manila_lite.share import states
from manila_lite.share import views

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

SHARE = states.SHARE_INSTANCE
SNAPSHOT = states.SNAPSHOT_INSTANCE
TASK = states.SHARE_TASK

# Options of migration_start the driver must support when requested.
_FLAGS = ('nondisruptive', 'preserve_metadata', 'writable',
          'preserve_snapshots')
_RULES_POLL_INTERVAL = 0.5


def _task_state(inst):
    share = inst['share'] if inst.get('share') is not None else inst
    return share['task_state']


# -- what every migration call of the driver gets -----------------------------

def _snapshot_views(context, instance_ids):
    """``{share instance id: [snapshot instance dicts]}`` of the given instances (one read)."""
    found = {}
    for snapinst in db_api.share_snapshot_instance_get_all_with_filters(
            context, {'share_instance_ids': list(instance_ids)},
            with_share_data=True):
        found.setdefault(snapinst['share_instance_id'], []).append(
            views.snapshot_instance_dict(snapinst, snapinst['snapshot']))
    return found


def _mappings(src, dest, snapshots):
    """``(source snapshots, {source snapshot instance id: destination one})`` as upstream hands them to the driver.

    Without destination snapshot instances (snapshots not migrated) both
    are empty.
    """
    dest_snaps = snapshots.get(dest['id']) or []
    if not dest_snaps:
        return [], {}
    by_snapshot = {d['snapshot_id']: d for d in dest_snaps}
    sources = snapshots.get(src['id']) or []
    return sources, {s['id']: by_snapshot[s['snapshot_id']]
                     for s in sources if s['snapshot_id'] in by_snapshot}


def _call(mgr, context, method, src, dest, snapshots=None):
    """Call a migration step of the driver with upstream's arguments; ``snapshots`` as ``_snapshot_views`` answers (read when None)."""
    if snapshots is None:
        snapshots = _snapshot_views(context, (src['id'], dest['id']))
    source_snaps, mappings = _mappings(src, dest, snapshots)
    return getattr(mgr.driver, method)(
        context, views.share_instance_dict(src),
        views.share_instance_dict(dest), source_snaps, mappings,
        share_server=views.share_server_dict(rows.server(src)),
        destination_share_server=views.share_server_dict(rows.server(dest)))


def check_bool_answers(method, answer, keys):
    """The driver's dict answer, or ShareBackendException when it is no dict or a flag is no boolean."""
    if not isinstance(answer, dict):
        raise exception.ShareBackendException(
            msg='driver %s returned %s, not a dict'
            % (method, type(answer).__name__))
    for key in keys:
        if answer.get(key) not in (None, True, False):
            raise exception.ShareBackendException(
                msg='driver %s returned %s=%r, not a boolean'
                % (method, key, answer[key]))
    return answer


def check_progress(answer, method='migration_get_progress'):
    """The driver's progress answer, or ShareBackendException when it is no dict with ``total_progress``."""
    if not isinstance(answer, dict) or 'total_progress' not in answer:
        raise exception.ShareBackendException(
            msg='driver %s returned %r, not a dict with total_progress'
            % (method, answer))
    return answer


def _check_complete_answer(answer):
    if answer is None:
        return {}
    if not isinstance(answer, dict):
        raise exception.ShareBackendException(
            msg='driver migration_complete returned %s, not a dict'
            % type(answer).__name__)
    locations = answer.get('export_locations')
    if locations is not None and not isinstance(locations, list):
        raise exception.ShareBackendException(
            msg='driver migration_complete returned export locations that '
                'are not a list')
    if not isinstance(answer.get('snapshot_updates') or {}, dict):
        raise exception.ShareBackendException(
            msg='driver migration_complete returned snapshot updates that '
                'are not a dict')
    return answer


# -- the rows of one migration -------------------------------------------------

def _pair(context, src_instance_id, dest_instance_id):
    """``(share, source, destination)`` of a migration; InvalidShare when they are not one."""
    src = rows.instance(context, src_instance_id)
    dest = rows.instance(context, dest_instance_id)
    if (src['share_id'] != dest['share_id'] or
            src['status'] != c.STATUS_MIGRATING or
            dest['status'] != c.STATUS_MIGRATING_TO):
        raise exception.InvalidShare(
            reason='share instances %s (%s) and %s (%s) are not the source '
                   'and destination of one migration'
                   % (src['id'], src['status'], dest['id'], dest['status']))
    return db_api.share_get(context, src['share_id']), src, dest


def _type_quota_deltas(context, share, type_id):
    replicated = (db_api.share_type_get(context, type_id)
                  .get('extra_specs', {}).get('replication_type'))
    return quota.share_deltas(share['size'], bool(replicated))


def _release_type_quota(context, share, type_id, what):
    """Give back the quota a share holds in one share type (upstream's revert of migration type quotas)."""
    try:
        deltas = _type_quota_deltas(context, share, type_id)
    except exception.NotFound:
        LOG.warning('Share type %s is gone; its quota is left as it is.',
                    type_id)
        return
    quota.release(context, deltas, share['project_id'], share['user_id'],
                  share_type_id=type_id, what=what)


def _delete_instance(context, inst):
    """Drop one migration instance from the database: its snapshot instances, then the instance (rules and exports with it)."""
    for snapinst in db_api.share_snapshot_instance_get_all_with_filters(
            context, {'share_instance_ids': [inst['id']]}):
        db_api.share_snapshot_instance_delete(context, snapinst['id'])
    db_api.share_instance_delete(context, inst['id'])
    LOG.info('Share instance %s of a migration deleted.', inst['id'])


def _discard_destination(context, share, src, dest):
    """Remove a destination that will not be used; the quota its new share type took goes back."""
    if dest['share_type_id'] != src['share_type_id']:
        _release_type_quota(context, share, dest['share_type_id'],
                            'the destination of a migration of share %s'
                            % share['id'])
    _delete_instance(context, dest)


def _set_readonly(mgr, context, inst, readonly):
    """Cast the instance's rules to read-only (or back) and sync them with the driver."""
    db_api.share_instance_update(context, inst['id'],
                                 {'cast_rules_to_readonly': readonly})
    access.reset_for_reapply(mgr, context, [inst['id']], reapply=True)
    access.update_access(mgr, context, inst['id'])


def _restore_rules(mgr, context, src_instance_id, suppress_errors=True):
    """Give the source its writable rules back if the migration made them read-only."""
    inst = rows.instance(context, src_instance_id)
    if not inst['cast_rules_to_readonly']:
        return
    try:
        _set_readonly(mgr, context, inst, False)
    except exception.ManilaException as exc:
        if not suppress_errors:
            raise
        LOG.warning('Access rules of share instance %(id)s could not be '
                    'made writable again: %(exc)s',
                    {'id': src_instance_id, 'exc': exc})


def _give_back_source(mgr, context, share, src, dest, event):
    """Failure or cancel: drop the destination, source ``available`` with its writable rules, task_state by ``event``."""
    if dest is not None:
        _discard_destination(context, share, src, dest)
    _give_back_snapshots(context, src['id'])
    _restore_rules(mgr, context, src['id'],
                   suppress_errors=event != 'cancelled')
    states.advance(context, SHARE, src['id'], 'migration_given_back')
    states.advance(context, TASK, share['id'], event)


# -- start -----------------------------------------------------------------------

def start(mgr, context, share_id, dest_host, force_host_assisted_migration,
          preserve_metadata, writable, nondisruptive, preserve_snapshots,
          new_share_network_id=None, new_share_type_id=None):
    """RPC migration_start: phase 1 of a driver-assisted migration to ``dest_host``.

    ``migration_starting`` → ``migration_in_progress`` → destination
    instance → compatibility check → ``migration_driver_starting`` →
    driver migration_start → ``migration_driver_in_progress``. Any failure:
    destination removed, source ``available``, ``migration_error`` and a
    user message.
    """
    share, src = rows.share_and_instance(context, share_id)
    if not (guard.expect_status('Share', share,
                                (c.TASK_STATE_MIGRATION_STARTING,),
                                'migration_start', status_key='task_state')
            and guard.expect_status('Share instance', src,
                                    (c.STATUS_MIGRATING,),
                                    'migration_start')):
        return
    if not states.advance(context, TASK, share_id, 'migration_accepted'):
        return
    requested = {'writable': writable, 'preserve_metadata': preserve_metadata,
                 'nondisruptive': nondisruptive,
                 'preserve_snapshots': preserve_snapshots}
    dest = None
    try:
        if not force_host_assisted_migration:
            dest = _create_destination(context, share, src, dest_host,
                                       new_share_network_id,
                                       new_share_type_id)
            _start_driver(mgr, context, share, src, dest, requested)
            LOG.info('Migration of share %(share)s to %(host)s started.',
                     {'share': share_id, 'host': dest_host})
            return
    except Exception as exc:
        LOG.warning('Driver-assisted migration of share %(share)s failed: '
                    '%(exc)s', {'share': share_id,
                                'exc': guard.driver_error('migration', exc)})
    refusal = _host_assisted_refusal(context, share, src, requested)
    if dest is not None:
        dest = _live_destination(context, dest['id'])
    if refusal is None:
        if dest is not None:
            _discard_destination(context, share, src, dest)
            dest = None
        refusal = _start_host_assisted(mgr, context, share, src, dest_host,
                                       new_share_network_id,
                                       new_share_type_id)
        if refusal is None:
            return
    _give_back_source(mgr, context, share, src, dest, 'start_failed')
    migration_host.message(mgr, context, share, refusal)
    raise refusal


def _live_destination(context, dest_id):
    try:
        return rows.instance(context, dest_id)
    except exception.ShareInstanceNotFound:
        return None


def _host_assisted_refusal(context, share, src, requested):
    """Upstream's checks before a host-assisted migration: the error that refuses it, or None."""
    wanted = [name for name in _FLAGS if requested[name]]
    if wanted:
        return exception.ShareMigrationFailed(
            reason='migration of share %s could not be performed by the '
                   'driver, and host-assisted migration is not allowed when '
                   'the share must %s' % (share['id'], ', '.join(wanted)))
    if db_api.share_snapshot_instance_get_all_with_filters(
            context, {'share_instance_ids': [src['id']]}):
        return exception.ShareMigrationFailed(
            reason='share %s must not have snapshots in order to perform a '
                   'host-assisted migration' % share['id'])
    return None


def _start_host_assisted(mgr, context, share, src, dest_host,
                         new_share_network_id, new_share_type_id):
    """Hand the migration to the data service (share/migration_host.py); the error that ends it, or None."""
    try:
        migration_host.start(mgr, context, share, rows.instance(
            context, src['id']), dest_host, new_share_network_id,
            new_share_type_id)
    except Exception as exc:
        LOG.error('Host-assisted migration of share %(share)s failed: '
                  '%(exc)s', {'share': share['id'], 'exc': exc})
        return exception.ShareMigrationFailed(
            reason='host-assisted migration of share %s failed: %s'
            % (share['id'], exc))
    return None


def _create_destination(context, share, src, dest_host, new_share_network_id,
                        new_share_type_id):
    """The destination instance row, ``migrating_to`` on ``dest_host`` in the destination service's zone."""
    service = db_api.service_get_by_args(
        context, hosts.extract_host(dest_host), 'manila-share')
    values = {'status': c.STATUS_MIGRATING_TO, 'host': dest_host,
              'scheduled_at': timeutils.utcnow(),
              'share_network_id': new_share_network_id,
              'availability_zone_id': service['availability_zone_id'],
              'share_type_id': new_share_type_id or src['share_type_id'],
              'cast_rules_to_readonly': False,
              'access_rules_status': c.STATUS_ACTIVE}
    dest = db_api.share_instance_create(context, share['id'], values)
    LOG.info('Share instance %(dest)s on %(host)s is the destination of the '
             'migration of share %(share)s.',
             {'dest': dest['id'], 'host': dest_host, 'share': share['id']})
    return dest


def _destination_server(mgr, context, src, dest, nondisruptive):
    """``(destination re-read, its server)``: on a share network, the source's server for a nondisruptive move, else a new one.

    As upstream: the destination host's service is asked for a server of
    the network (an RPC call), told to create it when it is new, and the
    server is waited for (``migration_create_delete_share_timeout``).
    """
    if not dest['share_network_id']:
        return dest, None
    if nondisruptive:
        server_id = src['share_server_id']
    else:
        server_id = mgr.share_rpcapi.provide_share_server(
            context, dest, dest['share_network_id'])
    dest = db_api.share_instance_update(
        context, dest['id'], {'share_server_id': server_id},
        with_share_data=True)
    server = db_api.share_server_get(context, server_id)
    if server['status'] == c.STATUS_CREATING:
        mgr.share_rpcapi.create_share_server(context, dest, server_id)
    return dest, _wait_for_server(context, server_id)


def _wait_for_server(context, server_id):
    deadline = time.monotonic() + CONF.migration_create_delete_share_timeout
    while True:
        server = db_api.share_server_get(context, server_id)
        if server['status'] == c.STATUS_ACTIVE:
            return server
        if server['status'] == c.STATUS_ERROR:
            raise exception.ShareServerNotCreated(share_server_id=server_id)
        if time.monotonic() > deadline:
            raise exception.ShareMigrationFailed(
                reason='share server %s of the destination is %s after %ss'
                % (server_id, server['status'],
                   CONF.migration_create_delete_share_timeout))
        time.sleep(_RULES_POLL_INTERVAL)


def _start_driver(mgr, context, share, src, dest, requested):
    dest, dest_server = _destination_server(mgr, context, src, dest,
                                            requested['nondisruptive'])
    compat = check_bool_answers(
        'migration_check_compatibility',
        mgr.driver.migration_check_compatibility(
            context, views.share_instance_dict(src),
            views.share_instance_dict(dest),
            share_server=views.share_server_dict(rows.server(src)),
            destination_share_server=views.share_server_dict(dest_server)),
        ('compatible',) + _FLAGS)
    if not compat.get('compatible'):
        raise exception.ShareMigrationFailed(
            reason='destination host %s is not compatible with share %s\'s '
                   'source backend for driver-assisted migration'
                   % (dest['host'], share['id']))
    for name in _FLAGS:
        if requested[name] and not compat.get(name):
            raise exception.ShareMigrationFailed(
                reason='the driver cannot migrate share %s with %s'
                % (share['id'], name))
    snapshots = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': [src['id']]})
    if snapshots and not compat.get('preserve_snapshots'):
        raise exception.ShareMigrationFailed(
            reason='the driver does not preserve snapshots, and share %s '
                   'has snapshots' % share['id'])
    _map_snapshots(context, share, snapshots, dest)
    if not compat.get('writable'):
        _set_readonly(mgr, context, src, True)
    if not states.advance(context, TASK, share['id'], 'driver_start_begun'):
        raise exception.ShareMigrationFailed(
            reason='share %s left migration_in_progress' % share['id'])
    try:
        _call(mgr, context, 'migration_start', src, dest)
    except Exception as exc:
        raise guard.driver_error('migration_start', exc)
    states.advance(context, TASK, share['id'], 'driver_started')


def _map_snapshots(context, share, snapshots, dest):
    """Every source snapshot instance goes along: a ``migrating_to`` twin on the destination, the source one ``migrating``."""
    if not snapshots:
        return
    if any(s['status'] != c.STATUS_AVAILABLE for s in snapshots):
        raise exception.ShareMigrationFailed(
            reason='every snapshot of share %s must be %s to be migrated '
                   'with it' % (share['id'], c.STATUS_AVAILABLE))
    for snapinst in snapshots:
        db_api.share_snapshot_instance_create(
            context, snapinst['snapshot_id'],
            {'status': c.STATUS_MIGRATING_TO, 'progress': '0%',
             'share_instance_id': dest['id']})
    moved = states.advance_many(context, SNAPSHOT, [s['id'] for s in snapshots],
                                'migration_snapshot_moving')
    if moved != len(snapshots):
        raise exception.ShareMigrationFailed(
            reason='a snapshot of share %s changed status meanwhile'
            % share['id'])


def _snapshots_in(context, instance_ids, status):
    return [s['id'] for s in db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': list(instance_ids),
                  'statuses': [status]})]


def _give_back_snapshots(context, src_id):
    """The source's snapshot instances that went along are usable again."""
    states.advance_many(context, SNAPSHOT,
                        _snapshots_in(context, [src_id], c.STATUS_MIGRATING),
                        'migration_snapshot_given_back')


def _fail_snapshots(context, instance_ids):
    """A failed completion: every snapshot instance of the migration is ``error`` (upstream)."""
    ids = []
    for status in (c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO):
        ids += _snapshots_in(context, instance_ids, status)
    states.advance_many(context, SNAPSHOT, ids, 'migration_snapshot_failed')


def _finish_snapshots(context, dest, updates):
    """Completion: the destination's snapshot instances become ``available`` with what the driver said of them."""
    mountable = migration_host.type_attributes(context, dest['share_type_id'])[
        'mount_snapshot_support']
    for snap_id in _snapshots_in(context, [dest['id']],
                                 c.STATUS_MIGRATING_TO):
        update = dict((updates or {}).get(snap_id) or {})
        locations = update.pop('export_locations', None) or []
        values = {'progress': '100%'}
        if update.get('provider_location'):
            values['provider_location'] = update['provider_location']
        states.advance(context, SNAPSHOT, snap_id,
                       'migration_snapshot_completed', values)
        if mountable and locations:
            db_api.share_snapshot_instance_export_locations_update(
                context, snap_id, locations)


# -- the continue poll (periodic) and progress (call) --------------------------

def _destinations(context, sources):
    """``{share id: destination instance}`` of the sources' migrations (one read)."""
    found = db_api.share_instance_get_all(
        context, {'share_id': [s['share_id'] for s in sources],
                  'status': c.STATUS_MIGRATING_TO}, with_share_data=True)
    return {d['share_id']: d for d in found}


def driver_continue(mgr, context):
    """Periodic: ask the driver to go on with each of this host's migrations in phase 1; finished ones → phase1_done (one UPDATE)."""
    sources = [s for s in db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=c.STATUS_MIGRATING)
        if _task_state(s) == c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS]
    if not sources:
        return
    dests = _destinations(context, sources)
    snapshots = _snapshot_views(
        context, [s['id'] for s in sources] + [d['id'] for d in dests.values()])
    finished = []
    for src in sources:
        dest = dests.get(src['share_id'])
        try:
            if dest is None:
                raise exception.ShareMigrationFailed(
                    reason='the destination instance of share %s is gone'
                    % src['share_id'])
            with mgr.in_flight.track([src['id'], src['share_id']]):
                done = _call(mgr, context, 'migration_continue', src, dest,
                             snapshots)
            if done not in (True, False, None):
                raise exception.ShareBackendException(
                    msg='driver migration_continue returned %r, not a '
                        'boolean' % (done,))
        except Exception as exc:
            _continue_failed(mgr, context, src, dest, exc)
            continue
        if done:
            finished.append(src['share_id'])
    for share_id in states.advance_many(context, TASK, finished,
                                        'phase1_done', return_ids=True):
        LOG.info('Migration of share %s completed its first phase.',
                 share_id)


def _continue_failed(mgr, context, src, dest, exc):
    error = guard.driver_error('migration_continue', exc)
    LOG.error('Driver-assisted migration of share %(share)s failed: '
              '%(exc)s', {'share': src['share_id'], 'exc': error})
    share = db_api.share_get(context, src['share_id'])
    try:
        _give_back_source(mgr, context, share, src, dest, 'continue_failed')
    except Exception:
        LOG.exception('Clean-up of the failed migration of share %s '
                      'failed.', src['share_id'])
    migration_host.message(mgr, context, share, error)


def get_progress(mgr, context, src_instance_id, dest_instance_id):
    """RPC migration_get_progress (call): the driver's progress dict of a migration in phase 1."""
    share, src, dest = _pair(context, src_instance_id, dest_instance_id)
    if share['task_state'] != c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS:
        raise exception.InvalidShare(
            reason='the driver is not migrating share %s at this moment'
            % share['id'])
    try:
        return check_progress(
            _call(mgr, context, 'migration_get_progress', src, dest))
    except Exception as exc:
        raise guard.driver_error('migration_get_progress', exc)


# -- complete ----------------------------------------------------------------------

def complete(mgr, context, src_instance_id, dest_instance_id):
    """RPC migration_complete: phase 2; the destination becomes the share's instance and the source is deleted.

    A driver failure leaves both instances ``error`` and
    ``migration_error`` (upstream: data at the source is no longer
    guaranteed; an administrator decides).
    """
    share, src, dest = _pair(context, src_instance_id, dest_instance_id)
    if share['task_state'] in migration_host.COMPLETE_STATES:
        migration_host.complete(mgr, context, share, src, dest)
        return
    if share['task_state'] != c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE:
        raise exception.InvalidShare(
            reason='first migration phase of share %s not completed yet '
                   '(task_state %s)' % (share['id'], share['task_state']))
    if not states.advance(context, TASK, share['id'], 'complete_begun'):
        raise exception.InvalidShare(
            reason='migration of share %s moved on meanwhile' % share['id'])
    try:
        answer = _check_complete_answer(
            _call(mgr, context, 'migration_complete', src, dest))
        if answer.get('export_locations'):
            db_api.export_locations_update(context, dest['id'],
                                           answer['export_locations'])
        _finish_snapshots(context, dest, answer.get('snapshot_updates'))
        _apply_rules_to_destination(mgr, context, share, dest)
    except Exception as exc:
        error = guard.driver_error('migration_complete', exc)
        _fail_snapshots(context, (src['id'], dest['id']))
        for inst in (src, dest):
            states.advance(context, SHARE, inst['id'],
                           'migration_complete_failed')
        states.advance(context, TASK, share['id'], 'complete_failed')
        migration_host.message(mgr, context, share, error)
        raise error
    _switch_to_destination(mgr, context, share, src, dest)
    LOG.info('Migration of share %s completed.', share['id'])


def _switch_to_destination(mgr, context, share, src, dest):
    values = {'progress': '100%'}
    if share['replication_type']:
        values['replica_state'] = c.REPLICA_STATE_ACTIVE
    states.advance(context, SHARE, dest['id'], 'migration_completed', values)
    states.advance(context, SHARE, src['id'], 'migration_source_retired')
    _retire_source(mgr, context, share, src, dest)


def _retire_source(mgr, context, share, src, dest):
    """After the cut-over: the source's rows dropped, type attributes, ``migration_success``."""
    if dest['share_type_id'] != src['share_type_id']:
        _release_type_quota(context, share, src['share_type_id'],
                            'the source of a migration of share %s'
                            % share['id'])
    _delete_instance(context, src)
    servers.check_delete_after_instance(mgr, context, rows.server(src))
    db_api.share_update(context, share['id'],
                        migration_host.type_attributes(context, dest['share_type_id']))
    states.advance(context, TASK, share['id'], 'complete_succeeded')


def _apply_rules_to_destination(mgr, context, share, dest):
    """Copy the share's rules to the destination and have its backend apply them; waits up to migration_wait_access_rules_timeout."""
    if not db_api.share_instance_access_copy(context, share['id'],
                                             dest['id']):
        return
    states.advance_all(context, states.ACCESS_RULES_STATUS, dest['id'],
                       'reapply_requested')
    if hosts.extract_host(dest['host']) == mgr.host:
        access.update_access(mgr, context, dest['id'])
    else:
        mgr.share_rpcapi.update_access(context, dest)
    wait_for_rules(context, dest['id'])


def wait_for_rules(context, instance_id):
    """Wait up to migration_wait_access_rules_timeout for an instance's rules to be active; ShareMigrationFailed otherwise."""
    deadline = time.monotonic() + CONF.migration_wait_access_rules_timeout
    while True:
        status = db_api.share_instance_get(
            context, instance_id)['access_rules_status']
        if status == c.STATUS_ACTIVE:
            return
        if status == c.SHARE_INSTANCE_RULES_ERROR:
            raise exception.ShareMigrationFailed(
                reason='access rules of share instance %s ended in error'
                % instance_id)
        if time.monotonic() > deadline:
            raise exception.ShareMigrationFailed(
                reason='access rules of share instance %s not applied '
                       'within %ss' % (instance_id,
                                       CONF.migration_wait_access_rules_timeout))
        time.sleep(_RULES_POLL_INTERVAL)


# -- cancel --------------------------------------------------------------------

def cancel(mgr, context, src_instance_id, dest_instance_id):
    """RPC migration_cancel: the driver stops, the destination goes, the source is ``available`` again."""
    share, src, dest = _pair(context, src_instance_id, dest_instance_id)
    if share['task_state'] in migration_host.CANCEL_STATES:
        migration_host.cancel(mgr, context, share, src, dest)
        return
    if share['task_state'] not in states.MIGRATION_CANCELLABLE:
        raise exception.InvalidShare(
            reason='migration of share %s cannot be cancelled at this '
                   'moment (task_state %s)'
            % (share['id'], share['task_state']))
    try:
        _call(mgr, context, 'migration_cancel', src, dest)
    except Exception as exc:
        error = guard.driver_error('migration_cancel', exc)
        migration_host.message(mgr, context, share, error)
        raise error
    _give_back_source(mgr, context, share, src, dest, 'cancelled')
    LOG.info('Migration of share %s cancelled.', share['id'])


# -- reconciliation ------------------------------------------------------------

# task states whose handler runs in this process: a crash leaves them behind.
STRANDABLE = states.MIGRATION_STARTING + (c.TASK_STATE_MIGRATION_COMPLETING,)


def stranded_candidates(context, host, task_states=STRANDABLE):
    """This host's migration sources whose share is in one of ``task_states`` (a handler's, by default), as rows the reconciliation ages (one read).

    ``updated_at`` is the share's: task_state moves there.
    """
    found = []
    for src in db_api.share_instance_get_all_by_host(
            context, host, with_share_data=True,
            status=list(migration_host.COMPLETING_SOURCE_STATUSES)):
        share = src['share']
        if share['task_state'] in task_states and (
                src['status'] == c.STATUS_MIGRATING or
                share['task_state'] == c.TASK_STATE_MIGRATION_COMPLETING):
            found.append({'id': src['id'], 'share_id': src['share_id'],
                          'status': share['task_state'],
                          'updated_at': share['updated_at'],
                          'created_at': share['created_at']})
    return found


class StrandedMigration(exception.ManilaException):
    message = ('The share service restarted during this migration '
               '(%(task_state)s); the migration failed.')


def _driver_cleanup(mgr, context, src, dest):
    """The driver may have begun when the service died: have it drop what it made at the destination (best effort)."""
    if dest is None:
        return
    try:
        _call(mgr, context, 'migration_cancel', src, dest)
    except Exception as exc:
        LOG.warning('The driver could not clean up the destination of the '
                    'stranded migration of share %(share)s: %(exc)s',
                    {'share': src['share_id'], 'exc': exc})


def _drop_unfinished_destinations(mgr, context, share, src):
    """A host-assisted start died before its destination became ``migrating_to``: delete that instance through its host.

    While a share migrates it has no other instance (the API refuses
    migrating replicated shares), so any other live one is the destination
    its host was creating.
    """
    if share['task_state'] != c.TASK_STATE_MIGRATION_IN_PROGRESS:
        return
    for inst in share.instances:
        if inst['id'] != src['id'] and inst['status'] in (
                c.STATUS_CREATING, c.STATUS_AVAILABLE, c.STATUS_ERROR):
            migration_host.delete_instance(mgr, context, inst['id'],
                                           suppress_errors=True)


def _completing_destination(share, src):
    """The destination of a host-assisted completion (``migrating_to``, or ``available`` after the cut-over), else None."""
    return next((i for i in share.instances
                 if i['id'] != src['id'] and i['status'] in (
                     c.STATUS_MIGRATING_TO, c.STATUS_AVAILABLE) and
                 migration_host.created_by_its_host(i)), None)


def settle_stranded(mgr, context, row):
    """Bring a migration whose handler died to an end: mostly ``migration_error`` with the source usable again.

    A driver-assisted completion before its cut-over leaves both instances
    ``error``; after it, it is finished. A host-assisted completion goes to
    migration_host.settle_completing.
    """
    with mgr.in_flight.track([row['id'], row['share_id']]):
        share = db_api.share_get(context, row['share_id'])
        src = rows.instance(context, row['id'])
        dest = next((i for i in share.instances
                     if i['status'] == c.STATUS_MIGRATING_TO), None)
        error = StrandedMigration(task_state=share['task_state'])
        completing = share['task_state'] == c.TASK_STATE_MIGRATION_COMPLETING
        host_dest = _completing_destination(share, src) if completing \
            else None
        if host_dest is not None:
            return migration_host.settle_completing(mgr, context, share, src,
                                                    host_dest, error)
        cut_over = next((i for i in share.instances
                         if i['status'] == c.STATUS_AVAILABLE), None)
        if completing and src['status'] != c.STATUS_MIGRATING and cut_over:
            # driver-assisted, after the cut-over: finish it
            _retire_source(mgr, context, share, src, cut_over)
            return 'migration completed'
        if completing:
            _fail_snapshots(context, [i['id'] for i in (src, dest) if i])
            for inst in filter(None, (src, dest)):
                states.advance(context, SHARE, inst['id'],
                               'migration_complete_failed')
            states.advance(context, TASK, share['id'], 'migration_stranded')
            outcome = 'both instances error'
        else:
            dest = dest and rows.instance(context, dest['id'])
            if share['task_state'] == c.TASK_STATE_MIGRATION_DRIVER_STARTING:
                _driver_cleanup(mgr, context, src, dest)
            _drop_unfinished_destinations(mgr, context, share, src)
            _give_back_source(mgr, context, share, src, dest,
                              'migration_stranded')
            outcome = 'source available again'
        migration_host.message(mgr, context, share, error)
        return 'migration failed, %s' % outcome
