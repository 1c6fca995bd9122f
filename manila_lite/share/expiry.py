"""Periodic clean-up of what expires: shares left in the recycle bin past their deletion date, and share transfers past theirs.

Upstream's share service hands both to its share and transfer API code;
these flows have the same effect on the database, the quota and the
notifications, with batched reads and writes. A share or transfer that
cannot be cleaned up is logged and skipped; the rest of the run goes on
(upstream's run stops at the first one).
"""

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import states
from manila_lite.share import usage

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Share metadata keys of upstream's affinity scheduler hints: comma-separated
# ids of the shares this one must (not) share a host with.
AFFINITY_KEYS = ('__affinity_same_host', '__affinity_different_host')
# A share with an instance in these is on its way out already.
_IN_DELETION = (c.STATUS_DELETING, c.STATUS_DEFERRED_DELETING,
                c.STATUS_ERROR_DEFERRED_DELETING)


# -- shares in the recycle bin --------------------------------------------

def delete_expired_shares(mgr, context):
    """Periodic: delete the recycle bin's shares whose ``scheduled_to_be_deleted_at`` passed.

    As upstream's share API delete: each instance with a host goes
    ``deleting`` (``deferred_deleting`` with ``is_deferred_deletion_enabled``)
    with ``terminated_at`` and gets a ``delete_share_instance`` cast to its
    host; an instance without a host is deleted at once, its quota given
    back. A share in ``error_deleting`` is deleted again.
    """
    shares = db_api.share_get_all_expired(context)
    if not shares:
        return
    blockers = db_api.share_deletion_blockers(context,
                                              [s['id'] for s in shares])
    doomed = []
    for share in shares:
        if any(i['status'] in _IN_DELETION for i in share['instances']):
            LOG.debug('Expired share %s is being deleted.', share['id'])
            continue
        reason = _refusal(share, blockers.get(share['id']))
        if reason:
            LOG.warning('Expired share %(id)s stays in the recycle bin: '
                        '%(reason)s.', {'id': share['id'], 'reason': reason})
            continue
        if share['status'] == c.STATUS_ERROR_DELETING:
            LOG.info('Share %s was soft-deleted but a prior deletion '
                     'attempt failed; deleting it again.', share['id'])
        else:
            LOG.info('Share %s has expired in the recycle bin; deleting '
                     'it.', share['id'])
        doomed.append(share)
    if doomed:
        _drop_scheduler_hints(context, doomed)
        _delete_instances(mgr, context,
                          [i for s in doomed for i in s['instances']])


def _refusal(share, blockers):
    """Why upstream's share API would refuse to delete ``share``, or None."""
    main = share.instance
    if main is None:
        return 'it has no live instance'
    for inst in share['instances']:
        allowed = (states.EXPIRED_DELETABLE if inst is main
                   else states.API_DELETABLE)
        if inst['status'] not in allowed:
            return 'instance %s is %s' % (inst['id'], inst['status'])
    if share.has_replicas:
        return 'it has replicas'
    if blockers:
        return 'it has dependent %s' % ', '.join(blockers)
    if share.is_busy:
        return 'it is busy (%s)' % share['task_state']
    return None


def _delete_instances(mgr, context, instances):
    deferred = CONF.is_deferred_deletion_enabled
    now = timeutils.utcnow()
    hosted = [i for i in instances if i['host']]
    event = ('expired_deferred_delete_requested' if deferred
             else 'expired_delete_requested')
    moved = set(states.advance_many(
        context, states.SHARE_INSTANCE, [i['id'] for i in hosted], event,
        values={'terminated_at': now}, return_ids=True))
    for inst in hosted:
        if inst['id'] in moved:
            mgr.share_rpcapi.delete_share_instance(
                context, inst, force=False, deferred_delete=deferred)
    # Upstream's marker of a share server's last use (rows with servers
    # only exist with driver_handles_share_servers).
    for server_id in {i['share_server_id'] for i in hosted
                      if i['id'] in moved and i['share_server_id']}:
        db_api.share_server_update(context, server_id, {'updated_at': now})
    for inst in instances:
        if not inst['host']:
            db_api.share_instance_delete(context, inst['id'],
                                         need_to_update_usages=True)


def _drop_scheduler_hints(context, shares):
    """Remove each share from the affinity hints of the shares it names, then its own hints."""
    for share in shares:
        hints = {m['key']: m['value'] for m in share['share_metadata']
                 if m['key'] in AFFINITY_KEYS}
        for key, value in hints.items():
            for other in filter(None, (value or '').split(',')):
                _forget(context, other, key, share['id'])
            db_api.share_metadata_delete(context, share['id'], key)


def _forget(context, share_id, key, forgotten):
    try:
        metadata = db_api.share_metadata_get(context, share_id)
    except exception.NotFound:
        return
    if key not in metadata:
        return
    kept = [i for i in metadata[key].split(',') if i != forgotten]
    if kept:
        db_api.share_metadata_update(context, share_id,
                                     {key: ','.join(kept)})
    else:
        db_api.share_metadata_delete(context, share_id, key)


# -- transfers ---------------------------------------------------------------

def delete_expired_transfers(mgr, context):
    """Periodic: cancel the transfers whose ``expires_at`` passed; their shares become ``available``.

    ``share.transfer.delete.start``/``.end`` go out as upstream's transfer
    API sends them (publisher ``share.<[DEFAULT] host>``). A transfer whose
    share is gone or no longer ``awaiting_transfer`` is deleted without
    touching the share (upstream's run would fail on it every time).
    """
    transfers = db_api.transfer_get_all_expired(context)
    if not transfers:
        return
    shares = _shares_of(context, transfers)
    pending = []
    for transfer in transfers:
        share = shares.get(transfer['resource_id'])
        if share is None or share['status'] != c.STATUS_AWAITING_TRANSFER:
            LOG.warning('Expired transfer %(id)s: its share %(share)s is '
                        '%(state)s, not awaiting_transfer; deleting the '
                        'transfer only.',
                        {'id': transfer['id'],
                         'share': transfer['resource_id'],
                         'state': share['status'] if share else 'gone'})
            continue
        pending.append((transfer, share))
    # The conditional state change is the claim: of several share services
    # running this task on one database, only the one that moved a share
    # sends its notifications.
    moved = set(states.advance_many(
        context, states.SHARE_INSTANCE,
        [share.instance['id'] for _t, share in pending], 'transfer_expired',
        return_ids=True))
    claimed = [(t, s) for t, s in pending if s.instance['id'] in moved]
    for _transfer, share in claimed:
        _notify(context, share, 'transfer.delete.start')
    db_api.transfer_soft_delete_all(context, [t['id'] for t in transfers])
    for transfer, share in claimed:
        _notify(context, share, 'transfer.delete.end')
        LOG.info('Expired transfer %(id)s deleted; share %(share)s is '
                 'available again.',
                 {'id': transfer['id'], 'share': share['id']})


def _shares_of(context, transfers):
    """``{share_id: share}`` (instances loaded) of the transfers' shares, in one batched read."""
    share_ids = sorted({t['resource_id'] for t in transfers
                        if t['resource_type'] == 'share'})
    if not share_ids:
        return {}
    return {inst['share_id']: inst['share'] for inst in
            db_api.share_instance_get_all(context,
                                          filters={'share_id': share_ids})
            if inst['share'] is not None}


def _notify(context, share, event):
    usage.notify_about_share_usage(None, context, share, share.instance,
                                   event, host=CONF.host)
