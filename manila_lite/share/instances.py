"""Share instance flows of the share service.

Create (also from a snapshot), delete, deferred deletion, the start-up ensure
and the poll of asynchronous creations and reverts.
"""

from concurrent import futures
import hashlib
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import export_locations
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import servers
from manila_lite.share import snapshots
from manila_lite.share import states
from manila_lite.share import usage
from manila_lite.share import views

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

_DEFERRED = (c.STATUS_DEFERRED_DELETING, c.STATUS_ERROR_DEFERRED_DELETING)


def _assign_availability_zone(mgr, context, inst):
    """Give an instance without a zone this service's zone (in memory; persisted with the outcome)."""
    if inst.get('availability_zone_id'):
        return {}
    zone_id = mgr.availability_zone_id(context)
    inst.availability_zone_id = zone_id
    return {'availability_zone_id': zone_id}


def _fail_create(mgr, context, inst, exc, detail=None, values=None):
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'create_failed', values)
    mgr.message_api.create(
        context, mf.Action.CREATE, inst['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
        exception=exc, detail=detail)


def create(mgr, context, share_instance_id, snapshot_id=None):
    """Provision one instance on the driver: ``creating`` → ``available`` (or ``error`` + message).

    ``share.create.start`` goes out before the work, ``share.create.end``
    after a success (none after a failure), as upstream.
    """
    inst = rows.instance(context, share_instance_id)
    if not guard.expect_status('Share instance', inst,
                               states.CREATE_SOURCES, 'create'):
        return
    usage.notify_about_share_usage(mgr, context, inst['share'], inst,
                                   'create.start')
    _provision(mgr, context, inst, snapshot_id)
    usage.notify_about_share_usage(mgr, context, inst['share'], inst,
                                   'create.end')


def _provision(mgr, context, inst, snapshot_id):
    """Create the instance on the driver and record the outcome; raises on failure."""
    az_values = _assign_availability_zone(mgr, context, inst)
    if inst.get('share_network_id') and not mgr.driver_handles_share_servers:
        exc = exception.ManilaException(
            'Share instance %s names a share network, but driver mode '
            'driver_handles_share_servers is False.' % inst['id'])
        _fail_create(mgr, context, inst, exc, mf.Detail.UNEXPECTED_NETWORK,
                     az_values)
        raise exc
    if mgr.driver_handles_share_servers:
        inst, az_values = _provide_server(mgr, context, inst, snapshot_id,
                                          az_values)
    rows.attach_group_members(context, inst)
    if snapshot_id:
        create_from_snapshot(mgr, context, inst, snapshot_id,
                             az_values=az_values)
        return
    try:
        raw = mgr.driver.create_share(context, inst,
                                      share_server=rows.server(inst))
        locations = export_locations.normalize(raw)
        _store_creation_metadata(mgr, context, inst)
    except Exception as exc:
        _store_failure_locations(context, inst, exc)
        _fail_create(mgr, context, inst, exc, values=az_values)
        raise guard.driver_error('create_share', exc)
    # The locations and the status in one transaction.
    if states.advance(context, states.SHARE_INSTANCE, inst['id'],
                      'create_succeeded',
                      _created_values(inst, az_values, '100%'),
                      export_locations=locations):
        LOG.info('Share instance %s created.', inst['id'])


def _provide_server(mgr, context, inst, snapshot_id, az_values):
    """Place a DHSS=True instance on a share server (states.md 4.1 steps 4-6); returns ``(instance, zone values left to write)``."""
    snapshot = (db_api.share_snapshot_get(context, snapshot_id)
                if snapshot_id else None)
    parent_server_id = (snapshot['share']['instance']['share_server_id']
                        if snapshot else None)
    if not (inst.get('share_network_id') or parent_server_id):
        return inst, az_values
    # a share created into a group goes on the group's server (the
    # driver's choice, as upstream)
    group = (db_api.share_group_get(context, inst['share_group_id'])
             if inst.get('share_group_id') else None)
    try:
        _server, inst = servers.provide(
            mgr, context, inst.get('share_network_id'), inst,
            snapshot=snapshot, share_group=group, values=az_values)
    except Exception as exc:
        LOG.error('Creation of share instance %s failed: failed to get '
                  'share server.', inst['id'])
        _fail_create(mgr, context, inst, exc, mf.Detail.NO_SHARE_SERVER,
                     az_values)
        raise guard.driver_error('provide share server', exc)
    _check_security_services(mgr, context, inst)
    return inst, {}


def _check_security_services(mgr, context, inst):
    """The security service types the driver requires on the share network for the protocol (message 025)."""
    required = (mgr.driver.dhss_mandatory_security_service_association or
                {}).get((inst['share_proto'] or '').lower())
    if not (required and inst.get('share_network_id')):
        return
    network = db_api.share_network_get(context, inst['share_network_id'])
    present = {ss['type'].lower() for ss in network['security_services']}
    missing = [kind for kind in required if kind not in present]
    if missing:
        exc = exception.InvalidRequest(
            'share network %s lacks security service(s) %s required for '
            '%s shares' % (network['id'], ', '.join(missing),
                           inst['share_proto']))
        _fail_create(mgr, context, inst, exc,
                     mf.Detail.MISSING_SECURITY_SERVICE)
        raise exc


def _created_values(inst, az_values, progress):
    """Columns written with a successful creation (the zone given, the replica state of a replicated share)."""
    values = dict(az_values or {}, launched_at=timeutils.utcnow(),
                  progress=progress)
    if inst.get('replication_type'):
        values['replica_state'] = c.REPLICA_STATE_ACTIVE
    return values


def _store_locations(context, instance_id, raw):
    """Write the export locations a driver reported (a failure's partial ones, a poll's); invalid ones are logged."""
    if not raw:
        return
    try:
        locations = export_locations.normalize(raw)
    except exception.InvalidShareInstance as exc:
        LOG.error('Share instance %(id)s: %(exc)s', {'id': instance_id,
                                                     'exc': exc})
        return
    if locations:
        db_api.export_locations_update(context, instance_id, locations)


def _store_failure_locations(context, inst, exc):
    """A failed creation keeps the locations the driver's error carries (``detail_data``)."""
    detail = getattr(exc, 'detail_data', None)
    if isinstance(detail, dict):
        _store_locations(context, inst['id'],
                         detail.get('export_locations',
                                    detail.get('export_location')))


def store_driver_metadata(context, share_id, metadata):
    """Write the share metadata a driver returned (creation data, ensure updates); anything but a dict is ignored."""
    if isinstance(metadata, dict) and metadata:
        db_api.share_metadata_update(context, share_id,
                                     {str(k): str(v)
                                      for k, v in metadata.items()})


def _store_creation_metadata(mgr, context, inst):
    """Ask the driver for metadata of the new share; as upstream it gets the share (``shares`` row), not the instance."""
    getter = getattr(mgr.driver, 'get_optional_share_creation_data', None)
    if getter is None:
        return
    share = inst.get('share') or db_api.share_get(context, inst['share_id'])
    data = getter(share, share_server=rows.server(inst)) or {}
    store_driver_metadata(context, inst['share_id'],
                          data.get('metadata') if isinstance(data, dict)
                          else None)


# -- shares created from snapshots --------------------------------------------

def _from_snapshot_result(raw):
    """Return (status, export locations) of a create_share_from_snapshot answer."""
    if isinstance(raw, list):
        status, locations = c.STATUS_AVAILABLE, raw
    elif isinstance(raw, dict):
        status = raw.get('status')
        if status is None:
            raise exception.InvalidShareInstance(
                reason="driver create_share_from_snapshot didn't provide a "
                       "share status")
        locations = raw.get('export_locations')
    else:
        raise exception.InvalidShareInstance(
            reason='driver create_share_from_snapshot returned %s, not a '
                   'list or dict' % type(raw).__name__)
    if status not in (c.STATUS_AVAILABLE, c.STATUS_CREATING_FROM_SNAPSHOT):
        raise exception.InvalidShareInstance(
            reason='driver create_share_from_snapshot returned an invalid '
                   'status: %s' % (status,))
    return status, export_locations.normalize(locations)


def create_from_snapshot(mgr, context, inst, snapshot_id, az_values=None):
    """Provision a ``creating`` instance from a snapshot (states.md 4.1, from-snapshot branch).

    Ends ``available`` (list answer, or dict with that status),
    ``creating_from_snapshot`` with progress 0% (finished by
    :func:`periodic_share_status_update`), or ``error`` + message 002.
    ``az_values`` (the zone given to the instance) are written with the
    outcome.
    """
    try:
        snapshot, snapinst = rows.snapshot_and_instance(context, snapshot_id)
        parent = rows.instance(context, snapshot['share'].instance['id'])
    except exception.NotFound as exc:
        _fail_create(mgr, context, inst, exc, values=az_values)
        raise
    try:
        raw = mgr.driver.create_share_from_snapshot(
            context, inst, snapinst, share_server=rows.server(inst),
            parent_share=views.share_instance_dict(parent))
        status, locations = _from_snapshot_result(raw)
        _store_creation_metadata(mgr, context, inst)
        if locations:
            db_api.export_locations_update(context, inst['id'], locations)
    except Exception as exc:
        _store_failure_locations(context, inst, exc)
        _fail_create(mgr, context, inst, exc, values=az_values)
        raise guard.driver_error('create_share_from_snapshot', exc)
    done = status == c.STATUS_AVAILABLE
    event = 'create_succeeded' if done else 'create_started_async'
    if states.advance(context, states.SHARE_INSTANCE, inst['id'], event,
                      _created_values(inst, az_values,
                                      '100%' if done else '0%')):
        LOG.info('Share instance %(id)s created from snapshot %(snap)s '
                 '(%(status)s).',
                 {'id': inst['id'], 'snap': snapshot_id, 'status': status})


def _fail_delete(mgr, context, inst, exc, action, force, deferred):
    mgr.message_api.create(
        context, action, inst['project_id'], resource_type=mf.Resource.SHARE,
        resource_id=inst['id'], exception=exc)
    if force:
        LOG.warning('Ignoring %(cls)s while force-deleting share instance '
                    '%(id)s: %(exc)s',
                    {'cls': type(exc).__name__, 'id': inst['id'], 'exc': exc})
        return False
    event = 'deferred_delete_failed' if deferred else 'delete_failed'
    states.advance(context, states.SHARE_INSTANCE, inst['id'], event)
    return True


def _deny_all(mgr, context, inst):
    # Most shares are deleted without a rule: then one SELECT replaces the
    # access sync (which would lock, find nothing queued and stop). delete()
    # read the answer with the instance.
    has_rules = getattr(inst, 'has_access_rules', None)
    if has_rules is None:
        has_rules = db_api.share_instance_has_access_rules(context,
                                                           inst['id'])
    if not has_rules:
        return
    access.deny_all_rules(mgr, context, inst)


def delete(mgr, context, share_instance_id, force=False,
           deferred_delete=False):
    """Remove one instance from the driver and soft-delete its rows, releasing quota.

    ``share.delete.start`` goes out first; ``share.delete.end`` once the
    rows are gone (see :func:`_remove`).
    """
    inst = rows.instance(context, share_instance_id, check_access_rules=True)
    if not guard.expect_status('Share instance', inst,
                               states.DELETE_SOURCES, 'delete'):
        return
    usage.notify_about_share_usage(mgr, context, inst['share'], inst,
                                   'delete.start')
    if deferred_delete:
        # Deferred deletion gives the quota back at once; the backend
        # clean-up may finish later (do_deferred_share_deletion).
        quota.release_deferred(context, inst)
        if _has_snapshot_instances(context, inst['id']):
            states.advance(context, states.SHARE_INSTANCE, inst['id'],
                           'deferred_delete_failed')
            return
    _remove(mgr, context, inst, force, deferred_delete)


def _has_snapshot_instances(context, instance_id):
    return bool(db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': [instance_id]}))


def _remove(mgr, context, inst, force, deferred_delete, retry=False):
    """Deny all rules, delete on the driver, soft-delete the rows, send ``share.delete.end``.

    ``retry`` (the periodic deferred deletion) only logs a failure, as
    upstream's do_deferred_share_deletion: the user message was written
    when the deletion first failed, not once per retry.
    """
    deferred = (deferred_delete or
                inst['status'] in _DEFERRED)
    steps = (('update_access', mf.Action.DELETE_ACCESS_RULES, _deny_all),
             ('delete_share', mf.Action.DELETE, _driver_delete))
    for operation, action, step in steps:
        try:
            step(mgr, context, inst)
        except exception.ShareResourceNotFound:
            LOG.info('Share instance %s is already gone from the backend.',
                     inst['id'])
        except Exception as exc:
            if retry:
                LOG.error('Deferred deletion of share instance %(id)s '
                          'failed again (%(op)s): %(exc)s',
                          {'id': inst['id'], 'op': operation, 'exc': exc})
                return
            if _fail_delete(mgr, context, inst, exc, action, force,
                            deferred):
                if deferred:
                    return
                raise guard.driver_error(operation, exc)
    with locks.size_lock(inst['share_id']):
        # The quota goes back in the deletion's transaction, sized by the
        # share row it locks: an extend that finished meanwhile committed
        # its quota and wrote the new size.
        db_api.share_instance_delete(context, inst['id'],
                                     need_to_update_usages=not deferred)
    LOG.info('Share instance %s deleted.', inst['id'])
    servers.check_delete_after_instance(mgr, context, rows.server(inst))
    usage.notify_about_share_usage(mgr, context, inst['share'], inst,
                                   'delete.end')


# What upstream hands the driver when an instance's lifetime is unknown.
ONE_WEEK_IN_SECONDS = 7 * 24 * 60 * 60


def _driver_delete(mgr, context, inst):
    """``delete_share`` with the instance's ``duration_seconds`` set, as upstream passes it."""
    scheduled, terminated = inst.get('scheduled_at'), inst.get('terminated_at')
    duration = ((terminated - scheduled).total_seconds()
                if scheduled and terminated else ONE_WEEK_IN_SECONDS)
    inst.update({'duration_seconds': duration})
    mgr.driver.delete_share(context, inst, share_server=rows.server(inst))


# The start-up ensure runs beside the RPC server: its per-instance Python
# loops pause briefly every _PACE_EVERY instances, which hands the GIL to
# request threads waiting for it (a plain switch may take 5 ms each time).
_PACE_EVERY = 200
_PACE_SECONDS = 0.001


def _paced(items):
    for count, item in enumerate(items, 1):
        if count % _PACE_EVERY == 0:
            time.sleep(_PACE_SECONDS)
        yield item


def ensure_resources(mgr, context, skip_backend_info_check=False):
    """Re-check every available instance of this host with the driver (batched reads and writes).

    As upstream: unchanged backend info skips the ensure, and
    ``skip_backend_info_check`` neither asks the driver for its backend
    info nor saves it. A failing ``get_pool`` is logged and the instance
    ensured without a pool. Instances the driver leaves out of its
    ``ensure_shares`` answer (all of them when it raises) stay as they
    are: ``ensuring`` with ``update_shares_status_on_ensure``.
    """
    backend_hash = None
    if not skip_backend_info_check:
        backend_hash = _backend_info_hash(mgr, context)
        if backend_hash is _UNCHANGED:
            LOG.info('Backend info unchanged; skipping ensure of shares.')
            return
    instances = [
        i for i in db_api.share_instance_get_all_by_host(
            context, mgr.host, with_share_data=True,
            status=list(states.ENSURE_SOURCES))
        if (i['share'] or {}).get('task_state') not in c.BUSY_TASK_STATES]
    if not instances:
        _save_backend_hash(context, mgr.host, backend_hash)
        return
    _assign_pools(mgr, context, instances)
    ids = [i['id'] for i in instances]
    db_api.service_update(context, mgr.service_id, {'ensuring': True})
    try:
        if CONF.update_shares_status_on_ensure:
            states.advance_many(context, states.SHARE_INSTANCE, ids,
                                'ensure_started')
        updates = _driver_ensure(mgr, context, instances)
        _save_backend_hash(context, mgr.host, backend_hash)
        _apply_ensure_updates(context, instances, updates)
        access.resync_after_ensure(mgr, context, instances, updates)
    finally:
        db_api.service_update(context, mgr.service_id, {'ensuring': False})
    left_out = len(set(ids) - set(updates))
    if left_out:
        LOG.warning('The driver answered for %(done)d of %(all)d share '
                    'instances; the others stay as they are.',
                    {'done': len(ids) - left_out, 'all': len(ids)})
    LOG.info('Ensured %d share instances.', len(ids))


_UNCHANGED = object()


def _backend_info_hash(mgr, context):
    """Hash of the driver's backend info, ``_UNCHANGED`` when it equals the stored one, None when not implemented.

    As upstream, an empty answer with nothing stored counts as unchanged.
    """
    try:
        info = mgr.driver.get_backend_info(context)
    except NotImplementedError:
        return None
    digest = (hashlib.sha1(str(sorted(info.items())).encode()).hexdigest()
              if info else None)
    stored = db_api.backend_info_get(context, mgr.host)
    if (stored or {}).get('info_hash') == digest:
        return _UNCHANGED
    return digest


def _save_backend_hash(context, host, digest):
    if digest:
        db_api.backend_info_update(context, host, digest)


def _assign_pools(mgr, context, instances):
    for inst in instances:
        if '#' in (inst['host'] or ''):
            continue
        try:
            pool = mgr.driver.get_pool(inst)
        except Exception:
            LOG.exception('Driver get_pool failed for share instance %s; '
                          'ensured without a pool.', inst['id'])
            continue
        if pool:
            host = '%s#%s' % (inst['host'], pool)
            db_api.share_instance_update(context, inst['id'], {'host': host})
            inst['host'] = host


def _driver_ensure(mgr, context, instances):
    """Return ``{instance_id: update}`` from the driver's bulk or per-share ensure ({} when it fails)."""
    dicts = [views.share_instance_dict(i) for i in _paced(instances)]
    try:
        updates = mgr.driver.ensure_shares(context, dicts)
    except NotImplementedError:
        return _ensure_one_by_one(mgr, context, dicts)
    except Exception:
        LOG.exception('Driver ensure_shares failed; instances stay as they '
                      'are.')
        return {}
    if updates is None:
        return {}
    if not isinstance(updates, dict):
        LOG.error('Driver ensure_shares returned %s, not a dict; ignored.',
                  type(updates).__name__)
        return {}
    return updates


def _ensure_one(mgr, context, share_dict):
    """One ``ensure_share``; as upstream the instance is ``available`` afterwards even when it failed."""
    update = {'status': c.STATUS_AVAILABLE}
    try:
        locations = mgr.driver.ensure_share(
            context, share_dict, share_server=share_dict.get('share_server'))
    except Exception:
        LOG.exception('Driver ensure_share failed for share instance %s.',
                      share_dict['id'])
        return update
    if locations:
        update['export_locations'] = locations
    return update


def _ensure_one_by_one(mgr, context, dicts):
    if CONF.share_service_inithost_offload and len(dicts) > 1:
        with futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(
                lambda d: _ensure_one(mgr, context, d), dicts))
    else:
        results = [_ensure_one(mgr, context, d) for d in _paced(dicts)]
    return {d['id']: r for d, r in zip(dicts, results)}


def _apply_ensure_updates(context, instances, updates):
    """Write the driver's updates; those back to ``available`` in one UPDATE.

    An instance with an update but no status returns to ``available``
    (with ``update_shares_status_on_ensure``); one without an update is
    left as it is.
    """
    by_id = {i['id']: i for i in instances}
    unknown = set(updates) - set(by_id)
    if unknown:
        LOG.warning('Driver ensure returned updates for unknown instances '
                    '%s; ignored.', sorted(unknown))
    finished = []
    for inst_id, inst in _paced(by_id.items()):
        if inst_id not in updates:
            continue
        update = updates[inst_id] or {}
        if not isinstance(update, dict):
            LOG.error('Driver ensure update for %s is not a dict; ignored.',
                      inst_id)
            update = {}
        if _apply_one_update(context, inst, update):
            finished.append(inst_id)
    if finished:
        states.advance_many(context, states.SHARE_INSTANCE, finished,
                            'ensure_finished')


def _apply_one_update(context, inst, update):
    """Write one instance's locations, metadata and reported status; return whether it goes back to ``available``."""
    locations = update.get('export_locations')
    if locations:
        try:
            db_api.export_locations_update(
                context, inst['id'], export_locations.normalize(locations))
        except exception.InvalidShareInstance as exc:
            LOG.error('Ensure of share instance %s: %s', inst['id'], exc)
    store_driver_metadata(context, inst['share_id'], update.get('metadata'))
    status = update.get('status')
    if status == c.STATUS_AVAILABLE:
        return True
    if status:
        try:
            states.advance(context, states.SHARE_INSTANCE, inst['id'],
                           'ensure_reported', reported=status)
        except ValueError as exc:
            LOG.error('Ensure of share instance %(id)s: the driver reported '
                      'an unknown status: %(exc)s', {'id': inst['id'],
                                                     'exc': exc})
        return False
    return CONF.update_shares_status_on_ensure


def deferred_deletion(mgr, context):
    """Periodic: retry the driver deletion of instances left in error_deferred_deleting."""
    found = db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True,
        status=[c.STATUS_ERROR_DEFERRED_DELETING])
    for inst in found:
        if _has_snapshot_instances(context, inst['id']):
            continue
        try:
            _remove(mgr, context, inst, force=False, deferred_delete=True,
                    retry=True)
        except Exception as exc:
            LOG.error('Deferred deletion of share instance %(id)s failed: '
                      '%(exc)s', {'id': inst['id'], 'exc': exc})


# -- periodic_share_status_update: asynchronous creations and reverts ---------

# Share instances periodic_share_status_update asks the driver about.
_POLLED = (c.STATUS_CREATING_FROM_SNAPSHOT, c.STATUS_REVERTING_TO_SNAPSHOT)
# (current status, status the driver reports) -> share instance event.
_POLL_EVENTS = {
    (c.STATUS_CREATING_FROM_SNAPSHOT, c.STATUS_AVAILABLE):
        'create_finished_async',
    (c.STATUS_CREATING_FROM_SNAPSHOT, c.STATUS_CREATING_FROM_SNAPSHOT):
        'create_progressed',
    (c.STATUS_REVERTING_TO_SNAPSHOT, c.STATUS_AVAILABLE):
        'revert_finished_async',
    (c.STATUS_REVERTING_TO_SNAPSHOT, c.STATUS_REVERTING_TO_SNAPSHOT):
        'revert_progressed',
}


def periodic_share_status_update(mgr, context):
    """Periodic: ask the driver about this host's ``creating_from_snapshot`` and ``reverting_to_snapshot`` instances."""
    found = db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=list(_POLLED))
    if not found:
        return
    restoring = snapshots.restoring_by_instance(
        context, [r['id'] for r in found
                  if r['status'] == c.STATUS_REVERTING_TO_SNAPSHOT])
    for inst in found:
        try:
            _update_share_status(mgr, context, inst,
                                 restoring.get(inst['id'], []))
        except Exception:
            LOG.exception('Status update of share instance %s failed.',
                          inst['id'])


def _poll_driver(mgr, inst):
    reverting = inst['status'] == c.STATUS_REVERTING_TO_SNAPSHOT
    inst_dict = views.share_instance_dict(inst)
    try:
        return mgr.driver.get_share_status(inst_dict,
                                           inst_dict['share_server'])
    except Exception:
        LOG.exception('Driver get_share_status failed for share instance '
                      '%(id)s of share %(share)s.',
                      {'id': inst['id'], 'share': inst['share_id']})
        return {'status': c.STATUS_REVERTING_ERROR if reverting
                else c.STATUS_ERROR}


def _update_share_status(mgr, context, inst, restoring):
    data = _poll_driver(mgr, inst)
    if not isinstance(data, dict):
        LOG.error('Driver get_share_status returned %(type)s for share '
                  'instance %(id)s, not a dict; ignored.',
                  {'type': type(data).__name__, 'id': inst['id']})
        return
    status = data.get('status')
    if isinstance(status, str) and c.STATUS_ERROR in status:
        _async_failed(mgr, context, inst, status, restoring)
        return
    _store_locations(context, inst['id'], data.get('export_locations'))
    event = _POLL_EVENTS.get((inst['status'], status))
    if event is None:
        LOG.warning('Driver get_share_status reported %(status)r for share '
                    'instance %(id)s (%(current)s); ignored.',
                    {'status': status, 'id': inst['id'],
                     'current': inst['status']})
        return
    values = {}
    progress = data.get('progress')
    if status == c.STATUS_AVAILABLE:
        values['progress'] = '100%'
    elif isinstance(progress, str) and len(progress) <= c.PROGRESS_MAX_LENGTH:
        values['progress'] = progress
    if event == 'revert_finished_async':
        snapshots.finish_async_revert(context, inst, restoring)
    if states.advance(context, states.SHARE_INSTANCE, inst['id'], event, values):
        LOG.debug('Share instance %(id)s is now %(status)s.',
                  {'id': inst['id'], 'status': status})
    if event == 'revert_finished_async':
        snapshots.restore_snapshots(context, restoring)


def _async_failed(mgr, context, inst, status, restoring):
    reverting = inst['status'] == c.STATUS_REVERTING_TO_SNAPSHOT
    if reverting and status == c.STATUS_REVERTING_ERROR:
        event = 'revert_failed'
    else:
        event = 'async_failed'
    LOG.error('Driver reports %(status)s for share instance %(id)s of share '
              '%(share)s.', {'status': status, 'id': inst['id'],
                             'share': inst['share_id']})
    if states.advance(context, states.SHARE_INSTANCE, inst['id'], event, {'progress': None}):
        detail = (mf.Detail.DRIVER_FAILED_REVERT_TO_SNAPSHOT
                  if status == c.STATUS_REVERTING_ERROR
                  else mf.Detail.DRIVER_FAILED_CREATING_FROM_SNAP)
        mgr.message_api.create(
            context, mf.Action.UPDATE, inst['project_id'],
            resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
            detail=detail)
    if reverting:
        snapshots.restore_snapshots(context, restoring)
