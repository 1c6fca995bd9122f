"""Share instance flows of the share service: create, delete, and the start-up ensure."""

from concurrent import futures
import hashlib
import time

from oslo_concurrency import lockutils
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
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import states
from manila_lite.share import views

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

_DEFERRED = (c.STATUS_DEFERRED_DELETING, c.STATUS_ERROR_DEFERRED_DELETING)
SIZE_LOCK = 'share_size_and_quota_%s'


def size_lock(share_id):
    """External lock over a share's size and its quota charge (extend's commit vs delete's release)."""
    return lockutils.lock(SIZE_LOCK % share_id, lock_file_prefix='manila-',
                          external=True)


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
    """Provision one instance on the driver: ``creating`` → ``available`` (or ``error`` + message)."""
    inst = rows.instance(context, share_instance_id)
    if not guard.expect_status('Share instance', inst,
                               states.CREATE_SOURCES, 'create'):
        return
    az_values = _assign_availability_zone(mgr, context, inst)
    if inst.get('share_network_id') and not mgr.driver_handles_share_servers:
        exc = exception.ManilaException(
            'Share instance %s names a share network, but driver mode '
            'driver_handles_share_servers is False.' % inst['id'])
        _fail_create(mgr, context, inst, exc, mf.Detail.UNEXPECTED_NETWORK,
                     az_values)
        raise exc
    if mgr.driver_handles_share_servers:
        exc = exception.NotSupportedYet(
            method='create_share_instance with driver_handles_share_servers')
        _fail_create(mgr, context, inst, exc, values=az_values)
        raise exc
    if snapshot_id:
        # Imported here: snapshots builds on this module's helpers.
        from manila_lite.share import snapshots
        snapshots.create_share_from_snapshot(mgr, context, inst, snapshot_id,
                                             az_values=az_values)
        return
    try:
        raw = mgr.driver.create_share(context, inst,
                                      share_server=rows.server(inst))
        locations = export_locations.normalize(raw)
    except Exception as exc:
        detail = getattr(exc, 'detail_data', None)
        if isinstance(detail, dict):
            partial = detail.get('export_locations',
                                 detail.get('export_location'))
            _store_partial_locations(context, inst['id'], partial)
        _fail_create(mgr, context, inst, exc, values=az_values)
        raise guard.driver_error('create_share', exc)
    _store_creation_metadata(mgr, context, inst)
    values = {'launched_at': timeutils.utcnow(), 'progress': '100%'}
    values.update(az_values)
    if inst.get('replication_type'):
        values['replica_state'] = c.REPLICA_STATE_ACTIVE
    # The locations and the status in one transaction.
    if states.advance(context, states.SHARE_INSTANCE, inst['id'],
                      'create_succeeded', values,
                      export_locations=locations):
        LOG.info('Share instance %s created.', inst['id'])


def _store_partial_locations(context, instance_id, partial):
    try:
        locations = export_locations.normalize(partial)
    except exception.InvalidShareInstance:
        return
    if locations:
        db_api.export_locations_update(context, instance_id, locations)


def _store_creation_metadata(mgr, context, inst):
    getter = getattr(mgr.driver, 'get_optional_share_creation_data', None)
    if getter is None:
        return
    data = getter(inst, share_server=rows.server(inst)) or {}
    metadata = data.get('metadata') if isinstance(data, dict) else None
    if isinstance(metadata, dict) and metadata:
        db_api.share_metadata_update(context, inst['share_id'],
                                     {str(k): str(v)
                                      for k, v in metadata.items()})


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
    """Remove one instance from the driver and soft-delete its rows, releasing quota."""
    inst = rows.instance(context, share_instance_id, check_access_rules=True)
    if not guard.expect_status('Share instance', inst,
                               states.DELETE_SOURCES, 'delete'):
        return
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
    """Deny all rules, delete on the driver, soft-delete the rows.

    ``retry`` (the periodic deferred deletion) only logs a failure, as
    upstream's do_deferred_share_deletion: the user message was written
    when the deletion first failed, not once per retry.
    """
    deferred = (deferred_delete or
                inst['status'] in _DEFERRED)
    steps = (('update_access', mf.Action.DELETE_ACCESS_RULES, _deny_all),
             ('delete_share', mf.Action.DELETE,
              lambda m, ctx, i: m.driver.delete_share(
                 ctx, i, share_server=rows.server(i))))
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
    with size_lock(inst['share_id']):
        # The quota goes back in the deletion's transaction, sized by the
        # share row it locks: an extend that finished meanwhile committed
        # its quota and wrote the new size.
        db_api.share_instance_delete(context, inst['id'],
                                     need_to_update_usages=not deferred)
    LOG.info('Share instance %s deleted.', inst['id'])


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
    """Re-check every available instance of this host with the driver (batched reads and writes)."""
    backend_hash = _backend_info_hash(mgr, context, skip_backend_info_check)
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
            db_api.share_instance_status_update(
                context, ids, {'status': c.STATUS_ENSURING},
                expected_statuses=list(states.ENSURE_SOURCES))
        updates = _driver_ensure(mgr, context, instances)
        _save_backend_hash(context, mgr.host, backend_hash)
        _apply_ensure_updates(context, instances, updates)
        access.resync_after_ensure(mgr, context, instances, updates)
    finally:
        db_api.service_update(context, mgr.service_id, {'ensuring': False})
    LOG.info('Ensured %d share instances.', len(instances))


_UNCHANGED = object()


def _backend_info_hash(mgr, context, skip_check):
    try:
        info = mgr.driver.get_backend_info(context)
    except NotImplementedError:
        return None
    if not info:
        return None
    digest = hashlib.sha1(str(sorted(info.items())).encode()).hexdigest()
    if not skip_check:
        stored = db_api.backend_info_get(context, mgr.host)
        if stored and stored.get('info_hash') == digest:
            return _UNCHANGED
    return digest


def _save_backend_hash(context, host, digest):
    if digest and digest is not _UNCHANGED:
        db_api.backend_info_update(context, host, digest)


def _assign_pools(mgr, context, instances):
    for inst in instances:
        if '#' in (inst['host'] or ''):
            continue
        pool = mgr.driver.get_pool(inst)
        if pool:
            host = '%s#%s' % (inst['host'], pool)
            db_api.share_instance_update(context, inst['id'], {'host': host})
            inst['host'] = host


def _driver_ensure(mgr, context, instances):
    """Return ``{instance_id: update}`` from the driver's bulk or per-share ensure."""
    dicts = [views.share_instance_dict(i) for i in _paced(instances)]
    try:
        updates = mgr.driver.ensure_shares(context, dicts)
    except NotImplementedError:
        return _ensure_one_by_one(mgr, context, dicts)
    except Exception:
        LOG.exception('Driver ensure_shares failed; instances stay as they '
                      'were.')
        return {}
    if updates is None:
        return {}
    if not isinstance(updates, dict):
        LOG.error('Driver ensure_shares returned %s, not a dict; ignored.',
                  type(updates).__name__)
        return {}
    return updates


def _ensure_one(mgr, context, share_dict):
    try:
        locations = mgr.driver.ensure_share(
            context, share_dict, share_server=share_dict.get('share_server'))
    except Exception:
        LOG.exception('Driver ensure_share failed for share instance %s.',
                      share_dict['id'])
        return {}
    return {'export_locations': locations} if locations else {}


def _ensure_one_by_one(mgr, context, dicts):
    if CONF.share_service_inithost_offload and len(dicts) > 1:
        with futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(
                lambda d: _ensure_one(mgr, context, d), dicts))
    else:
        results = [_ensure_one(mgr, context, d) for d in _paced(dicts)]
    return {d['id']: r for d, r in zip(dicts, results)}


def _apply_ensure_updates(context, instances, updates):
    """Write driver updates, then return the rest to ``available`` in one UPDATE."""
    by_id = {i['id']: i for i in instances}
    unknown = set(updates) - set(by_id)
    if unknown:
        LOG.warning('Driver ensure returned updates for unknown instances '
                    '%s; ignored.', sorted(unknown))
    plain = []
    for inst_id, inst in _paced(by_id.items()):
        update = updates.get(inst_id) or {}
        if not isinstance(update, dict):
            LOG.error('Driver ensure update for %s is not a dict; ignored.',
                      inst_id)
            update = {}
        _apply_one_update(context, inst, update, plain)
    if plain and CONF.update_shares_status_on_ensure:
        db_api.share_instance_status_update(
            context, plain, {'status': c.STATUS_AVAILABLE},
            expected_statuses=[c.STATUS_ENSURING])


def _apply_one_update(context, inst, update, plain):
    locations = update.get('export_locations')
    if locations is not None:
        try:
            db_api.export_locations_update(
                context, inst['id'], export_locations.normalize(locations))
        except exception.InvalidShareInstance as exc:
            LOG.error('Ensure of share instance %s: %s', inst['id'], exc)
    metadata = update.get('metadata')
    if isinstance(metadata, dict) and metadata:
        db_api.share_metadata_update(context, inst['share_id'],
                                     {str(k): str(v)
                                      for k, v in metadata.items()})
    status = update.get('status')
    if status and status != c.STATUS_AVAILABLE:
        db_api.share_instance_status_update(
            context, [inst['id']], {'status': status},
            expected_statuses=list(states.ENSURE_SOURCES))
    else:
        plain.append(inst['id'])


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
