"""Replicated snapshot flows: create, delete (with force), revert of a replicated share, and the periodic snapshot update."""

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import quota
from manila_lite.share.replication import replicas as replica_flows
from manila_lite.share import rows
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)

SHARE = states.SHARE_INSTANCE
SNAP = states.SNAPSHOT_INSTANCE
_TRANSITIONAL = (c.STATUS_CREATING, c.STATUS_DELETING)


def _family(context, snapshot_id, share_id):
    """``(replicas, snapshot instances)`` of a replicated snapshot, loaded for the driver."""
    replicas = db_api.share_replicas_get_all_by_share(
        context, share_id, with_share_data=True)
    snapinsts = replica_flows.snapshot_instances(
        context, replicas, {'snapshot_ids': [snapshot_id]})
    return replicas, snapinsts


def _snapshot_dicts(snapinsts):
    return [views.snapshot_instance_dict(s) for s in snapinsts]


def _answer_list(method, answer):
    if answer is None:
        return []
    if not isinstance(answer, list) or not all(
            isinstance(u, dict) and u.get('id') for u in answer):
        raise exception.InvalidShareSnapshot(
            reason='driver %s returned %r, not a list of dicts with an id'
            % (method, answer))
    return answer


_UPDATE_KEYS = ('status', 'progress', 'provider_location')


def apply_updates(context, updates, known):
    """Write drivers' snapshot instance updates: status as reported, progress 100% when available; one UPDATE per distinct update."""
    groups = {}
    for update in updates:
        if update.get('id') not in known:
            LOG.warning('Driver reported unknown snapshot instance %s; '
                        'ignored.', update.get('id'))
            continue
        values = {k: update[k] for k in _UPDATE_KEYS
                  if update.get(k) is not None}
        status = values.get('status')
        if (status is not None and
                status not in states.REPLICA_SNAPSHOT_REPORTS):
            LOG.warning('Driver reported status %r for snapshot instance '
                        '%s; ignored.', status, update['id'])
            continue
        if status == c.STATUS_AVAILABLE:
            values['progress'] = '100%'
        if values:
            groups.setdefault(tuple(sorted(values.items())), []).append(
                update['id'])
    for key, ids in groups.items():
        values = dict(key)
        status = values.pop('status', None)
        if status is None:
            for snapinst_id in ids:
                db_api.share_snapshot_instance_update(context, snapinst_id,
                                                      values)
            continue
        states.advance_many(context, SNAP, ids,
                            states.REPLICA_SNAPSHOT_REPORTS[status],
                            values=values)


def _ask_about_all(mgr, context, method, replicas, snapinsts):
    """Call the driver's ``method`` (create/delete_replicated_snapshot) with every replica and snapshot instance; its checked answer."""
    answer = getattr(mgr.driver, method)(
        context, replica_flows.replica_dicts(replicas),
        _snapshot_dicts(snapinsts),
        share_server=rows.server(replica_flows.active_of(replicas)))
    return _answer_list(method, answer)


def create(mgr, context, snapshot_id, share_id):
    """Snapshot every replica of a share at once; each instance takes the status the driver reports."""
    snapshot = db_api.share_snapshot_get(context, snapshot_id)
    replicas, snapinsts = _family(context, snapshot_id, share_id)
    try:
        answer = _ask_about_all(mgr, context, 'create_replicated_snapshot',
                                replicas, snapinsts)
    except Exception as exc:
        for snapinst in snapinsts:
            states.advance(context, SNAP, snapinst['id'], 'create_failed')
        mgr.message_api.create(
            context, mf.Action.CREATE, snapshot['project_id'],
            resource_type=mf.Resource.SHARE_SNAPSHOT, resource_id=snapshot_id,
            exception=exc)
        raise guard.driver_error('create_replicated_snapshot', exc)
    apply_updates(context, answer, {s['id'] for s in snapinsts})
    LOG.info('Replicated snapshot %s created.', snapshot_id)


def delete(mgr, context, snapshot_id, share_id, force=False):
    """Delete a replicated snapshot; instances the driver reports ``deleted`` (all of them when forced) go."""
    replicas, snapinsts = _family(context, snapshot_id, share_id)
    if not snapinsts:
        # An unknown snapshot (or share) is bad input: one error line.
        raise exception.ShareSnapshotNotFound(snapshot_id=snapshot_id)
    try:
        answer = _ask_about_all(mgr, context, 'delete_replicated_snapshot',
                                replicas, snapinsts)
    except Exception as exc:
        if not force:
            for snapinst in snapinsts:
                states.advance(context, SNAP, snapinst['id'],
                               'replicated_delete_failed')
            raise guard.driver_error('delete_replicated_snapshot', exc)
        answer = []
    if force:
        LOG.warning('Replicated snapshot %s: the driver may have left some '
                    'of its instances on the backends; as the deletion is '
                    'forced, they are deleted from the database.',
                    snapshot_id)
        gone, updates = [s['id'] for s in snapinsts], []
    else:
        gone = [u['id'] for u in answer if u.get('status') == c.STATUS_DELETED]
        updates = [u for u in answer if u.get('status') != c.STATUS_DELETED]
    _delete_instances(context, snapinsts, gone)
    apply_updates(context, updates, {s['id'] for s in snapinsts})


def _delete_instances(context, snapinsts, gone):
    """Soft-delete the instances in ``gone``; the snapshot's quota goes back with its last one."""
    by_id = {s['id']: s for s in snapinsts}
    for snapinst_id in gone:
        if snapinst_id not in by_id:
            continue
        result = db_api.share_snapshot_instance_delete(context, snapinst_id)
        if result.get('snapshot_deleted'):
            snapinst = by_id[snapinst_id]
            snapshot = snapinst['snapshot']
            quota.release(context, quota.snapshot_deltas(snapshot['size'] or 0),
                          snapshot['project_id'], snapshot['user_id'],
                          (snapinst['share'] or {}).get('share_type_id'),
                          what='snapshot %s' % snapshot['id'])


# -- revert of a replicated share ---------------------------------------------

def revert(mgr, context, snapshot, reservations):
    """Revert the active replica (on this host) to a replicated snapshot, under the share's replica lock."""
    _locked_revert(mgr, context, snapshot, reservations,
                   share_id=snapshot['share_id'])


@locks.locked_share_replica_operation
def _locked_revert(mgr, context, snapshot, reservations, share_id=None):
    replicas, snapinsts = _family(context, snapshot['id'], share_id)
    active = replica_flows.active_of(replicas)
    on_active = [s for s in snapinsts
                 if active is not None and s['share_instance_id'] == active['id']]
    if active is None or not on_active:
        raise exception.ReplicationException(
            reason='share %s has no active replica with snapshot %s'
            % (share_id, snapshot['id']))
    active_snap = on_active[0]
    owner = quota.owner(active)
    if not (guard.expect_status('Share replica', active,
                                (c.STATUS_REVERTING,), 'revert') and
            guard.expect_status('Snapshot instance', active_snap,
                                (c.STATUS_RESTORING,), 'revert')):
        quota.finish(context, reservations, False,
                     'the revert of share %s' % share_id, **owner)
        return
    share_rules = db_api.share_instance_access_get_all(
        context, active['id'], filters={'state': c.ACCESS_STATE_ACTIVE})
    snapshot_rules = db_api.share_snapshot_access_get_all_for_snapshot_instance(
        context, active_snap['id'])
    try:
        mgr.driver.revert_to_replicated_snapshot(
            context, views.share_instance_dict(active),
            replica_flows.replica_dicts(replicas),
            views.snapshot_instance_dict(active_snap, snapshot),
            _snapshot_dicts(snapinsts), share_rules, snapshot_rules,
            share_server=rows.server(active))
    except Exception as exc:
        quota.finish(context, reservations, False,
                     'the revert of share %s' % share_id, **owner)
        states.advance(context, SHARE, active['id'], 'revert_failed')
        states.advance(context, SNAP, active_snap['id'], 'restore_finished')
        mgr.message_api.create(
            context, mf.Action.REVERT_TO_SNAPSHOT, active['project_id'],
            resource_type=mf.Resource.SHARE, resource_id=share_id,
            exception=exc)
        raise guard.driver_error('revert_to_replicated_snapshot', exc)
    quota.finish(context, reservations, True,
                 'the revert of share %s' % share_id, **owner)
    db_api.share_update(context, share_id, {'size': snapshot['size']})
    states.advance(context, SHARE, active['id'], 'revert_succeeded')
    states.advance(context, SNAP, active_snap['id'], 'restore_finished')
    LOG.info('Share %s reverted to replicated snapshot %s.', share_id,
             snapshot['id'])


# -- periodic -------------------------------------------------------------------

def periodic_update(mgr, context):
    """Ask the driver about snapshot instances creating/deleting on this host's non-active replicas; batched reads."""
    replicas = db_api.share_replicas_get_all(
        context, with_share_data=True, host=mgr.host, exclude_active=True)
    if not replicas:
        return
    pending = replica_flows.snapshot_instances(
        context, replicas, {'share_instance_ids': [r['id'] for r in replicas],
                            'statuses': list(_TRANSITIONAL)})
    if not pending:
        return
    share_ids = sorted({r['share_id'] for r in replicas})
    everyone = db_api.share_replicas_get_all(
        context, with_share_data=True, share_ids=share_ids)
    family = {}
    for replica in everyone:
        family.setdefault(replica['share_id'], []).append(replica)
    siblings = {}
    for snapinst in replica_flows.snapshot_instances(
            context, everyone,
            {'snapshot_ids': sorted({p['snapshot_id'] for p in pending})}):
        siblings.setdefault(snapinst['snapshot_id'], []).append(snapinst)
    by_id = {r['id']: r for r in replicas}
    outcome = {'deleted': [], 'updates': []}
    for snapinst in pending:
        replica = by_id[snapinst['share_instance_id']]
        _ask_driver(mgr, context, snapinst, replica,
                    family[replica['share_id']],
                    siblings.get(snapinst['snapshot_id'], []), outcome)
    for snapinst_id in outcome['deleted']:
        db_api.share_snapshot_instance_delete(context, snapinst_id)
    apply_updates(context, outcome['updates'], {p['id'] for p in pending})


def _ask_driver(mgr, context, snapinst, replica, family, siblings, outcome):
    """One update_replicated_snapshot call under the share's replica lock; its outcome goes to ``outcome``."""
    try:
        with locks.replica_operation_lock(replica['share_id']):
            update = mgr.driver.update_replicated_snapshot(
                context, replica_flows.replica_dicts(family),
                views.share_instance_dict(replica),
                _snapshot_dicts(siblings),
                views.snapshot_instance_dict(snapinst),
                share_server=rows.server(replica)) or {}
    except exception.SnapshotResourceNotFound:
        if snapinst['status'] == c.STATUS_DELETING:
            LOG.info('Snapshot instance %s of replica %s is deleted.',
                     snapinst['id'], replica['id'])
            outcome['deleted'].append(snapinst['id'])
        else:
            LOG.error('Snapshot instance %s of replica %s was not found on '
                      'the backend.', snapinst['id'], replica['id'])
            outcome['updates'].append({'id': snapinst['id'],
                                       'status': c.STATUS_ERROR})
        return
    except Exception as exc:
        LOG.error('Driver update_replicated_snapshot failed for snapshot '
                  'instance %s: %s: %s', snapinst['id'],
                  type(exc).__name__, exc)
        outcome['updates'].append({'id': snapinst['id'],
                                   'status': c.STATUS_ERROR})
        return
    if not isinstance(update, dict):
        LOG.error('Driver update_replicated_snapshot returned %r for '
                  'snapshot instance %s; ignored.', update, snapinst['id'])
        return
    if update:
        outcome['updates'].append(dict(update, id=snapinst['id']))


def settle(mgr, context, snapshot, status):
    """Drive a stranded replicated snapshot's create or delete again (reconciliation) under the share's replica lock."""
    share_id = snapshot['share_id']
    with locks.replica_operation_lock(share_id):
        if status == c.STATUS_CREATING:
            create(mgr, context, snapshot['id'], share_id)
            return 'replicated snapshot created again'
        delete(mgr, context, snapshot['id'], share_id)
        return 'replicated snapshot deleted again'
