"""Replica flows of the share service: create, delete, promote, resync, and the periodic replica_state update."""

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import rows
from manila_lite.share import servers
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)

SHARE = states.SHARE_INSTANCE
SNAP = states.SNAPSHOT_INSTANCE


# -- what every replica call of the driver gets -----------------------------

def replica_dicts(replicas):
    """The driver's view of a share's replicas."""
    return [views.share_instance_dict(r) for r in replicas]


def active_of(replicas, available=False):
    """The active replica of a list (if ``available``: only an available one), or None."""
    for replica in replicas:
        if (replica['replica_state'] == c.REPLICA_STATE_ACTIVE and
                (not available or replica['status'] == c.STATUS_AVAILABLE)):
            return replica
    return None


def rule_dicts(rules):
    """Access rules as the replica calls of the driver get them."""
    return [views.access_rule_dict(r) for r in rules]


def _message(mgr, context, action, replica, exc=None, detail=None):
    mgr.message_api.create(
        context, action, replica['project_id'],
        resource_type=mf.Resource.SHARE_REPLICA, resource_id=replica['id'],
        exception=exc, detail=detail)


# -- create -------------------------------------------------------------------

def _create_refused(mgr, context, replica, detail, error):
    states.advance(context, SHARE, replica['id'], 'replica_create_failed',
                   {'replica_state': c.STATUS_ERROR})
    _message(mgr, context, mf.Action.CREATE, replica, detail=detail)
    raise error


def _provide_server(mgr, context, replica):
    """A DHSS=True replica goes on a share server of its share network here (chosen or created); returns it reloaded."""
    if not (mgr.driver_handles_share_servers and replica['share_network_id']):
        return replica
    try:
        servers.provide(mgr, context, replica['share_network_id'], replica)
    except Exception as exc:
        LOG.error('Share replica %s: failed to get a share server.',
                  replica['id'])
        _create_refused(mgr, context, replica, mf.Detail.NO_SHARE_SERVER,
                        guard.driver_error('provide share server', exc))
    return db_api.share_replica_get(context, replica['id'],
                                    with_share_data=True)


def _check_create_answer(answer):
    if answer is None:
        return {}
    if not isinstance(answer, dict):
        raise exception.ReplicationException(
            reason='driver create_replica returned %s, not a dict'
            % type(answer).__name__)
    state = answer.get('replica_state')
    if state is not None and state not in (c.REPLICA_STATE_IN_SYNC,
                                           c.REPLICA_STATE_OUT_OF_SYNC,
                                           c.STATUS_ERROR,
                                           c.REPLICA_STATE_ACTIVE):
        raise exception.ReplicationException(
            reason='driver create_replica returned replica_state %r'
            % (state,))
    return answer


def create(mgr, context, replica_id):
    """Create a replica from the share's active one: ``creating`` → ``available`` (or ``error`` + message)."""
    replica = db_api.share_replica_get(context, replica_id,
                                       with_share_data=True)
    if not guard.expect_status('Share replica', replica,
                               (c.STATUS_CREATING,), 'create'):
        return
    if not replica['availability_zone']:
        replica = db_api.share_replica_update(
            context, replica_id,
            {'availability_zone': mgr.availability_zone},
            with_share_data=True)
    replicas = db_api.share_replicas_get_all_by_share(
        context, replica['share_id'], with_share_data=True)
    active = active_of(replicas, available=True)
    if active is None:
        _create_refused(mgr, context, replica, mf.Detail.NO_ACTIVE_REPLICA,
                        exception.ReplicationException(
                            reason="An 'active' replica must exist in "
                                   "'available' state to create a new "
                                   "replica for share %s."
                                   % replica['share_id']))
    if bool(replica['share_network_id']) != mgr.driver_handles_share_servers:
        _create_refused(mgr, context, replica, mf.Detail.UNEXPECTED_NETWORK,
                        exception.InvalidDriverMode(
                            'The share-network value provided does not '
                            'match with the current driver configuration.'))
    replica = _provide_server(mgr, context, replica)
    rules = db_api.share_instance_access_copy(context, replica['share_id'],
                                              replica_id)
    pairs = snapshot_pairs(context, {replica['share_id']: active},
                           {replica['share_id']: [replica_id]},
                           replicas)[replica_id]
    try:
        answer = _check_create_answer(mgr.driver.create_replica(
            context, replica_dicts(replicas),
            views.share_instance_dict(replica), rule_dicts(rules), pairs,
            share_server=rows.server(replica)))
    except Exception as exc:
        states.advance(context, SHARE, replica_id, 'replica_create_failed',
                       {'replica_state': c.STATUS_ERROR})
        states.advance_all(context, states.ACCESS_RULES_STATUS, replica_id,
                           'sync_failed')
        _message(mgr, context, mf.Action.CREATE, replica, exc=exc)
        raise guard.driver_error('create_replica', exc)
    _store_create_answer(context, replica_id, answer, rules)
    LOG.info('Share replica %s created.', replica_id)


def _store_create_answer(context, replica_id, answer, rules):
    locations = answer.get('export_locations')
    if locations and not isinstance(locations, list):
        LOG.warning('Driver create_replica returned export locations that '
                    'are not a list; ignored.')
        locations = None
    if answer.get('replica_state'):
        states.advance(context, SHARE, replica_id, 'replica_create_succeeded',
                       {'replica_state': answer['replica_state'],
                        'progress': '100%'},
                       export_locations=locations or None)
    elif locations:
        db_api.export_locations_update(context, replica_id, locations)
    reported = answer.get('access_rules_status')
    if reported in (None, c.STATUS_ACTIVE):
        states.advance_all(context, states.ACCESS_RULE, replica_id,
                           'replica_rules_applied')
        states.advance_all(context, states.ACCESS_RULES_STATUS, replica_id,
                           'replica_rules_applied')
        return
    by_id = {r['id']: r for r in rules}
    for update in answer.get('share_access_rules') or []:
        by_id.pop(update['id'], None)
        db_api.share_instance_access_update(
            context, update['id'], replica_id, {'state': update['state']})
    for rule_id in by_id:
        db_api.share_instance_access_update(
            context, rule_id, replica_id, {'state': c.ACCESS_STATE_ACTIVE})
    _rules_status(context, replica_id, reported)


def _rules_status(context, replica_id, reported):
    """Write the access_rules_status a driver reported for a replica (anything but active is an error)."""
    event = ('replica_rules_applied' if reported == c.STATUS_ACTIVE
             else 'replica_rules_failed')
    states.advance_all(context, states.ACCESS_RULES_STATUS, replica_id, event)


# -- delete -------------------------------------------------------------------

def delete(mgr, context, replica_id, force=False):
    """Deny the replica's rules, delete it on the driver, soft-delete it with its snapshot instances (quota given back)."""
    replica = db_api.share_replica_get(context, replica_id,
                                       with_share_data=True)
    if not guard.expect_status('Share replica', replica,
                               states.DELETE_SOURCES, 'delete'):
        return
    replicas = db_api.share_replicas_get_all_by_share(
        context, replica['share_id'], with_share_data=True)
    snapinsts = snapshot_instances(context, replicas,
                                   {'share_instance_ids': [replica_id]})
    _deny_rules(mgr, context, replica, force)
    try:
        mgr.driver.delete_replica(
            context, replica_dicts(replicas),
            [views.snapshot_instance_dict(s) for s in snapinsts],
            views.share_instance_dict(replica),
            share_server=rows.server(replica))
    except Exception as exc:
        _message(mgr, context, mf.Action.DELETE, replica, exc=exc)
        if not force:
            states.advance(context, SHARE, replica_id, 'delete_failed',
                           {'replica_state': c.STATUS_ERROR})
            raise guard.driver_error('delete_replica', exc)
        LOG.warning('The driver could not delete share replica %s; as the '
                    'deletion is forced, it is deleted from the database. '
                    'A clean-up on the backend may be needed.', replica_id)
    for snapinst in snapinsts:
        db_api.share_snapshot_instance_delete(context, snapinst['id'])
    db_api.share_replica_delete(context, replica_id)
    LOG.info('Share replica %s deleted.', replica_id)


def _deny_rules(mgr, context, replica, force):
    try:
        access.deny_all_rules(mgr, context, replica)
    except exception.ShareResourceNotFound:
        LOG.warning('Share replica %s does not exist on the backend.',
                    replica['id'])
    except Exception as exc:
        states.advance(context, SHARE, replica['id'],
                       'replica_access_delete_failed')
        _message(mgr, context, mf.Action.DELETE_ACCESS_RULES, replica,
                 exc=exc)
        if not force:
            raise guard.driver_error('update_access', exc)
        LOG.warning('The driver could not remove the access rules of share '
                    'replica %s; deleting it anyway (forced).', replica['id'])


# -- promote ------------------------------------------------------------------

def promote(mgr, context, replica_id, quiesce_wait_time=None):
    """Make a replica the active one: ``replication_change`` → ``available``; every replica's state, exports and rules follow the driver."""
    replica = db_api.share_replica_get(context, replica_id,
                                       with_share_data=True)
    if not guard.expect_status('Share replica', replica,
                               (c.STATUS_REPLICATION_CHANGE,), 'promote'):
        return
    replicas = db_api.share_replicas_get_all_by_share(
        context, replica['share_id'], with_share_data=True)
    old_active = active_of(replicas)
    if old_active is None:
        states.advance(context, SHARE, replica_id, 'promote_without_active')
        _message(mgr, context, mf.Action.PROMOTE, replica,
                 detail=mf.Detail.NO_ACTIVE_REPLICA)
        raise exception.ReplicationException(
            reason="Share %s has no replica with 'replica_state' set to "
                   "active. Promoting %s is not possible."
                   % (replica['share_id'], replica_id))
    rules = db_api.share_access_get_all_for_share(context,
                                                  replica['share_id'])
    try:
        answer = mgr.driver.promote_replica(
            context, replica_dicts(replicas),
            views.share_instance_dict(replica), rule_dicts(rules),
            share_server=rows.server(replica),
            quiesce_wait_time=quiesce_wait_time)
        if answer is not None and not isinstance(answer, list):
            raise exception.ReplicationException(
                reason='driver promote_replica returned %s, not a list'
                % type(answer).__name__)
    except Exception as exc:
        for other in replicas:
            states.advance(context, SHARE, other['id'], 'promote_failed')
            _message(mgr, context, mf.Action.PROMOTE, other, exc=exc)
        raise guard.driver_error('promote_replica', exc)
    _fail_unfinished_snapshots(context, replica_id)
    readonly = replica['replication_type'] == c.REPLICATION_TYPE_READABLE
    db_api.share_replicas_apply_promotion(context, _promotion_changes(
        replica_id, old_active['id'], readonly, answer))
    for update in answer or []:
        if update.get('access_rules_status'):
            # As upstream: written on the promoted replica.
            _rules_status(context, replica_id, update['access_rules_status'])
    LOG.info('Share replica %s promoted to active.', replica_id)


def _fail_unfinished_snapshots(context, replica_id):
    """Snapshots still creating/deleting on the promoted replica cannot finish: error, as upstream."""
    for snapinst in db_api.share_snapshot_instance_get_all_with_filters(
            context, {'share_instance_ids': [replica_id],
                      'statuses': [c.STATUS_CREATING, c.STATUS_DELETING]}):
        LOG.info('Snapshot instance %s of promoted replica %s was %s; set '
                 'to error.', snapinst['id'], replica_id, snapinst['status'])
        states.advance(context, SNAP, snapinst['id'], 'promote_interrupted')


def _promotion_changes(replica_id, old_active_id, readonly, answer):
    """``[(id, values, export locations)]`` for share_replicas_apply_promotion; the promoted replica last, as upstream."""
    if not answer:
        return [
            (old_active_id, {'replica_state': c.REPLICA_STATE_OUT_OF_SYNC,
                             'cast_rules_to_readonly': readonly}, None),
            (replica_id, {'status': c.STATUS_AVAILABLE,
                          'replica_state': c.REPLICA_STATE_ACTIVE,
                          'cast_rules_to_readonly': False}, None)]
    ordered = sorted(answer, key=lambda u: u.get('id') == replica_id)
    changes = []
    promoted_seen = False
    for update in ordered:
        values = {}
        if update.get('id') == replica_id:
            promoted_seen = True
            values.update(cast_rules_to_readonly=False,
                          status=c.STATUS_AVAILABLE)
        elif update.get('id') == old_active_id:
            values['cast_rules_to_readonly'] = readonly
        state = update.get('replica_state')
        if state == c.STATUS_ERROR:
            values['status'] = c.STATUS_ERROR
        if state is not None:
            values['replica_state'] = state
        locations = update.get('export_locations')
        changes.append((update['id'], values,
                        locations if isinstance(locations, list) else None))
    if not promoted_seen:
        # The promoted replica must leave replication_change in any case.
        changes.append((replica_id, {'status': c.STATUS_AVAILABLE}, None))
    return changes


# -- resync and the periodic update -----------------------------------------

def update(mgr, context, replica_id):
    """Resync request: ask the driver for one replica's state (update_replica_state) under the share's replica lock."""
    try:
        replica = db_api.share_replica_get(context, replica_id)
    except exception.ShareReplicaNotFound:
        return
    _locked_poll(mgr, context, [replica['id']], share_id=replica['share_id'])


def periodic_update(mgr, context):
    """Poll the driver for every non-active replica of this host; batched reads, one UPDATE per reported state."""
    replicas = db_api.share_replicas_get_all(
        context, with_share_data=True, host=mgr.host, exclude_active=True)
    replicas = [r for r in replicas if r['status'] in states.REPLICA_POLLABLE]
    by_share = {}
    for replica in replicas:
        by_share.setdefault(replica['share_id'], []).append(replica['id'])
    if not by_share:
        return
    _poll(mgr, context, replicas, by_share)


@locks.locked_share_replica_operation
def _locked_poll(mgr, context, replica_ids, share_id=None):
    replicas = [r for r in db_api.share_replicas_get_all(
        context, with_share_data=True, share_ids=[share_id])
        if r['id'] in replica_ids and r['status'] in states.REPLICA_POLLABLE
        and r['replica_state'] != c.REPLICA_STATE_ACTIVE]
    if replicas:
        _poll(mgr, context, replicas, {share_id: replica_ids}, locked=True)


def _poll(mgr, context, replicas, by_share, locked=False):
    """Ask the driver about ``replicas``; reads for all their shares come in one batch each."""
    siblings = db_api.share_replicas_get_all(
        context, with_share_data=True, share_ids=list(by_share))
    family = {}
    for sibling in siblings:
        family.setdefault(sibling['share_id'], []).append(sibling)
    rules = db_api.share_access_get_all_for_shares(context, list(by_share))
    actives = {sid: active_of(family.get(sid, [])) for sid in by_share}
    pairs = snapshot_pairs(context, actives, by_share, siblings)
    outcome = {}
    for replica in replicas:
        state = _ask_driver(mgr, context, replica, family, actives, rules,
                            pairs, locked)
        if state is not None:
            outcome.setdefault(state, []).append(replica['id'])
    for state, ids in outcome.items():
        states.set_replica_states(context, ids, state)


def snapshot_instances(context, replicas, filters):
    """Snapshot instances matching ``filters``, each with ``share`` set to its replica among ``replicas`` (flat read)."""
    by_id = {r['id']: r for r in replicas}
    found = db_api.replica_snapshot_instances_get(context, filters)
    for snapinst in found:
        snapinst.share = by_id.get(snapinst['share_instance_id'])
    return found


def snapshot_pairs(context, actives, by_share, replicas):
    """``{replica id: [{'active_replica_snapshot', 'share_replica_snapshot'}]}`` for many shares in one read.

    ``actives``: share id -> its active replica (or None); ``by_share``:
    share id -> the ids of the replicas asked about; ``replicas``: all
    replicas of those shares (loaded with share data). As upstream, a
    snapshot counts when its instance on the active replica is
    ``available`` (its aggregate status).
    """
    active_ids = [a['id'] for a in actives.values() if a is not None]
    replica_ids = [rid for ids in by_share.values() for rid in ids]
    if not active_ids:
        return {}
    snapinsts = snapshot_instances(
        context, replicas, {'share_instance_ids': active_ids + replica_ids})
    on_active = {}
    for snapinst in snapinsts:
        if (snapinst['share_instance_id'] in active_ids and
                snapinst['status'] == c.STATUS_AVAILABLE):
            on_active[snapinst['snapshot_id']] = snapinst
    pairs = {rid: [] for rid in replica_ids}
    for snapinst in snapinsts:
        active = on_active.get(snapinst['snapshot_id'])
        if active is not None and snapinst['share_instance_id'] in pairs:
            pairs[snapinst['share_instance_id']].append({
                'active_replica_snapshot':
                    views.snapshot_instance_dict(active),
                'share_replica_snapshot':
                    views.snapshot_instance_dict(snapinst)})
    return pairs


def _ask_driver(mgr, context, replica, family, actives, rules, pairs,
                locked):
    """One update_replica_state call; returns the replica_state to write, or None."""
    share_id = replica['share_id']
    if actives.get(share_id) is None:
        if replica['replica_state'] != c.STATUS_ERROR:
            LOG.warning('Share %s of replica %s has no active replica.',
                        share_id, replica['id'])
            return c.STATUS_ERROR
        return None
    try:
        with locks.replica_operation_lock(share_id, held=locked):
            state = mgr.driver.update_replica_state(
                context, replica_dicts(family[share_id]),
                views.share_instance_dict(replica),
                rule_dicts(rules.get(share_id, [])),
                pairs.get(replica['id'], []),
                share_server=rows.server(replica))
    except Exception as exc:
        LOG.error('Driver update_replica_state failed for replica %s: '
                  '%s: %s', replica['id'], type(exc).__name__, exc)
        states.advance(context, SHARE, replica['id'], 'replica_update_failed',
                       {'replica_state': c.STATUS_ERROR})
        _message(mgr, context, mf.Action.UPDATE, replica, exc=exc)
        return None
    if state in states.REPLICA_REPORTABLE:
        return state if state != replica['replica_state'] else None
    if state:
        LOG.warning('Replica %s cannot be set to %s through an update.',
                    replica['id'], state)
    return None


# -- reconciliation -------------------------------------------------------------

class StalePromotion(exception.ManilaException):
    message = ('The share service lost track of the promotion of this '
               'replica (lost request or restart); the replicas keep the '
               'roles recorded before it.')


def settle(mgr, context, replica):
    """Bring one stranded replica to a final status (reconciliation); returns what was done.

    Creation and deletion are driven again (the drivers tolerate work they
    already did). A promotion cannot be: its outcome is written for all
    replicas in one transaction, so the roles recorded are consistent (one
    active); the replica just leaves ``replication_change``.
    """
    status = replica['status']
    if status == c.STATUS_CREATING:
        _under_lock(create, mgr, context, replica)
        return 'replica created again'
    if status in states.DELETE_SOURCES:
        _under_lock(delete, mgr, context, replica)
        return 'replica deleted again'
    if status == c.STATUS_REPLICATION_CHANGE:
        if states.advance(context, SHARE, replica['id'], 'promote_stranded'):
            _message(mgr, context, mf.Action.PROMOTE, replica,
                     exc=StalePromotion())
        return 'promotion abandoned'
    raise exception.ReplicationException(
        reason='replica %s stranded in %s is not settled here'
        % (replica['id'], status))


def settles(inst):
    """Whether :func:`settle` handles this stranded instance (reconcile.py the rest).

    A promotion in any case; the creation and deletion of a non-active
    replica (the active one, the share's first instance, is created and
    deleted as any share instance).
    """
    if inst['status'] == c.STATUS_REPLICATION_CHANGE:
        return True
    return (inst['replica_state'] not in (None, c.REPLICA_STATE_ACTIVE) and
            inst['status'] in (c.STATUS_CREATING,) + states.DELETE_SOURCES)


def _under_lock(flow, mgr, context, replica):
    with locks.replica_operation_lock(replica['share_id']):
        flow(mgr, context, replica['id'])
