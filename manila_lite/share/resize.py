"""Extend and shrink of shares on the driver, with the quota commit or rollback upstream does."""

from oslo_log import log as logging

from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import quota
from manila_lite.share import rows
from manila_lite.share import states
from manila_lite.share import usage

LOG = logging.getLogger(__name__)


def _finish_reservations(context, reservations, owner, commit):
    quota.finish(context, reservations, commit,
                 'reservations %s' % reservations, **owner)


def _replica_count(share):
    return sum(1 for i in share['instances'] if i.get('replica_state'))


def extend_share(mgr, context, share_id, new_size, reservations):
    """``extending`` → driver ``extend_share`` → ``available`` with the new size; failure → ``extending_error`` + 008/015."""
    try:
        share, inst = rows.share_and_instance(context, share_id)
    except exception.NotFound:
        # Deleted before this request ran: its reservation goes back too.
        _finish_reservations(context, reservations, {}, commit=False)
        raise
    owner = quota.owner(share, inst)
    if not guard.expect_status(
            'Share instance', inst,
            states.SHARE_INSTANCE['extend_succeeded'].sources, 'extend'):
        _finish_reservations(context, reservations, owner, commit=False)
        return
    # As upstream, a new size not larger than the current one goes to the
    # driver too (the API refuses it; the driver decides for a direct cast).
    usage.notify_about_share_usage(mgr, context, share, inst, 'extend.start')
    try:
        mgr.driver.extend_share(inst, new_size,
                                share_server=rows.server(inst))
    except Exception as exc:
        LOG.debug('Driver extend_share failed.', exc_info=True)
        _fail_extend(mgr, context, share, inst, reservations, owner)
        raise exception.ShareExtendingError(reason=str(exc),
                                            share_id=share_id)
    with locks.size_lock(share_id):
        # A force-delete may have taken the share over during the driver
        # call: its quota release must see either the old size with this
        # reservation rolled back, or the new size with it committed.
        try:
            status = rows.share_and_instance(context, share_id)[1]['status']
        except exception.NotFound:
            status = 'deleted'
        if status not in states.SHARE_INSTANCE['extend_succeeded'].sources:
            LOG.warning('Share %(share)s became %(status)s while the driver '
                        'extended it; size and quota left unchanged.',
                        {'share': share_id, 'status': status})
            _finish_reservations(context, reservations, owner, commit=False)
            return
        _finish_reservations(context, reservations, owner, commit=True)
        share = db_api.share_update(context, share_id,
                                    {'size': int(new_size)})
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       'extend_succeeded')
    LOG.info('Share %(share)s extended to %(size)s GB.',
             {'share': share_id, 'size': new_size})
    usage.notify_about_share_usage(mgr, context, share, inst, 'extend.end')


def _fail_extend(mgr, context, share, inst, reservations, owner):
    mgr.message_api.create(
        context, mf.Action.EXTEND, share['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=share['id'],
        detail=mf.Detail.DRIVER_FAILED_EXTEND)
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'extend_failed')
    _finish_reservations(context, reservations, owner, commit=False)


def shrink_share(mgr, context, share_id, new_size):
    """``shrinking`` → driver ``shrink_share`` → ``available`` with the new size (quota given back).

    A driver refusing for possible data loss (009/018) or not supporting
    shrink (009/019) leaves the share ``available``; any other failure
    ends in ``shrinking_error``. Every failure rolls the reservation back
    and raises ShareShrinkingError.
    """
    share, inst = rows.share_and_instance(context, share_id)
    if not guard.expect_status(
            'Share instance', inst,
            states.SHARE_INSTANCE['shrink_succeeded'].sources, 'shrink'):
        return
    new_size = int(new_size)
    if new_size >= share['size']:
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       'shrink_failed')
        raise exception.InvalidInput(
            reason='new size %s of share %s is not smaller than its size %s'
                   % (new_size, share_id, share['size']))
    owner = quota.owner(share, inst)
    usage.notify_about_share_usage(mgr, context, share, inst, 'shrink.start')
    reservations = _reserve_shrink(context, share, inst, new_size, owner)
    try:
        mgr.driver.shrink_share(inst, new_size,
                                share_server=rows.server(inst))
    except Exception as exc:
        _fail_shrink(mgr, context, share, inst, exc)
        _finish_reservations(context, reservations, owner, commit=False)
        raise exception.ShareShrinkingError(reason=str(exc),
                                            share_id=share_id)
    _finish_reservations(context, reservations, owner, commit=True)
    share = db_api.share_update(context, share_id, {'size': new_size})
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'shrink_succeeded')
    LOG.info('Share %(share)s shrunk to %(size)s GB.',
             {'share': share_id, 'size': new_size})
    usage.notify_about_share_usage(mgr, context, share, inst, 'shrink.end')


def _reserve_shrink(context, share, inst, new_size, owner):
    """Reserve the negative gigabytes (and replica gigabytes); failure → ``shrinking_error``."""
    decrease = int(share['size']) - new_size
    deltas = {'gigabytes': -decrease}
    replicas = _replica_count(share)
    if replicas:
        deltas['replica_gigabytes'] = -(replicas * decrease)
    try:
        return quota.reserve(context, deltas, **owner)
    except Exception as exc:
        LOG.debug('Quota reservation for shrinking failed.', exc_info=True)
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       'shrink_failed')
        raise exception.ShareShrinkingError(
            reason='failed to update quota: %s' % exc, share_id=share['id'])


def _fail_shrink(mgr, context, share, inst, exc):
    if isinstance(exc, exception.ShareShrinkingPossibleDataLoss):
        detail = mf.Detail.DRIVER_REFUSED_SHRINK
    elif isinstance(exc, NotImplementedError):
        detail = mf.Detail.DRIVER_FAILED_SHRINK
    else:
        LOG.debug('Driver shrink_share failed.', exc_info=True)
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       'shrink_failed')
        return
    mgr.message_api.create(
        context, mf.Action.SHRINK, share['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=share['id'],
        detail=detail)
    states.advance(context, states.SHARE_INSTANCE, inst['id'],
                   'shrink_refused')
