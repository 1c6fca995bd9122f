"""Quota usage bookkeeping (quota_usages, reservations) with upstream DbQuotaDriver semantics."""

import datetime

from oslo_config import cfg
from oslo_log import log
from oslo_utils import uuidutils
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils

CONF = cfg.CONF
LOG = log.getLogger(__name__)

Usage = models.QuotaUsage
Reservation = models.Reservation


def _usages(session, project_id, user_id=None, share_type_id=None):
    """Live usage rows by resource, locked for update.

    Upstream keeps two sets: per (project, user) with share_type_id NULL,
    and per (project, share type) with user_id NULL.
    """
    stmt = sa.select(Usage).where(Usage.project_id == project_id,
                                  model_base.live(Usage))
    if share_type_id:
        stmt = stmt.where(Usage.share_type_id == share_type_id)
    else:
        stmt = stmt.where(Usage.user_id == user_id,
                          Usage.share_type_id.is_(None))
    rows = session.scalars(stmt.order_by(Usage.id).with_for_update())
    usages = {}
    for row in rows:
        usages.setdefault(row.resource, row)
    return usages


def _reserve_set(session, deltas, project_id, user_id, share_type_id,
                 expire):
    usages = _usages(session, project_id, user_id, share_type_id)
    uuids = []
    for resource, delta in deltas.items():
        usage = usages.get(resource)
        if usage is None:
            usage = Usage(project_id=project_id, resource=resource, in_use=0,
                          reserved=0, updated_at=model_base.utcnow())
            if share_type_id:
                usage.share_type_id = share_type_id
            else:
                usage.user_id = user_id
            session.add(usage)
            session.flush()
            usages[resource] = usage
        reservation = Reservation(
            uuid=uuidutils.generate_uuid(), usage_id=usage.id,
            project_id=project_id, resource=resource, delta=delta,
            expire=expire)
        if share_type_id:
            reservation.share_type_id = share_type_id
        else:
            reservation.user_id = user_id
        session.add(reservation)
        if delta > 0:
            usage.reserved += delta
        uuids.append(reservation.uuid)
    session.flush()
    return uuids


def reserve(session, context, deltas, project_id, user_id,
            share_type_id=None, expire=None):
    """Reservation rows for the user usages and, with a type, the type usages."""
    if expire is None:
        expire = model_base.utcnow() + datetime.timedelta(
            seconds=CONF.quota.reservation_expire)
    elif isinstance(expire, (int, float)):
        expire = model_base.utcnow() + datetime.timedelta(seconds=expire)
    project_id = project_id or context.project_id
    user_id = user_id or context.user_id
    uuids = _reserve_set(session, deltas, project_id, user_id, None, expire)
    if share_type_id:
        uuids += _reserve_set(session, deltas, project_id, None,
                              share_type_id, expire)
    return uuids


def _clamp(usage, field, value):
    if value < 0:
        LOG.warning('Quota usage %(field)s of %(res)s for project %(p)s '
                    '(user %(u)s, share type %(t)s) would become %(v)d; '
                    'keeping 0.',
                    {'field': field, 'res': usage.resource,
                     'p': usage.project_id, 'u': usage.user_id,
                     't': usage.share_type_id, 'v': value})
        return 0
    return value


def _finish(session, reservations, commit):
    if not reservations:
        return
    stmt = (sa.select(Reservation)
            .where(Reservation.uuid.in_(list(reservations)),
                   model_base.live(Reservation))
            .order_by(Reservation.id))
    rows = list(session.scalars(stmt))
    usage_ids = sorted({row.usage_id for row in rows})
    usages = {u.id: u for u in session.scalars(
        sa.select(Usage).where(Usage.id.in_(usage_ids))
        .order_by(Usage.id).with_for_update())}
    for row in rows:
        usage = usages[row.usage_id]
        if row.delta >= 0:
            usage.reserved = _clamp(usage, 'reserved',
                                    usage.reserved - row.delta)
        if commit:
            usage.in_use = _clamp(usage, 'in_use', usage.in_use + row.delta)
    utils.soft_delete_where(session, Reservation,
                            Reservation.id.in_([row.id for row in rows]))
    session.flush()


def quota_reserve(context, deltas, project_id, user_id, share_type_id=None,
                  expire=None):
    with engine.writer(context) as session:
        return reserve(session, context, deltas, project_id, user_id,
                       share_type_id, expire)


def reservation_commit(context, reservations, project_id=None, user_id=None,
                       share_type_id=None):
    with engine.writer(context) as session:
        _finish(session, reservations, commit=True)


def reservation_rollback(context, reservations, project_id=None,
                         user_id=None, share_type_id=None):
    with engine.writer(context) as session:
        _finish(session, reservations, commit=False)


def quota_release(context, deltas, project_id, user_id, share_type_id=None):
    """Reserve the negated deltas and commit them in one transaction."""
    negative = {res: -abs(delta) for res, delta in deltas.items()}
    with engine.writer(context) as session:
        uuids = reserve(session, context, negative, project_id, user_id,
                        share_type_id)
        _finish(session, uuids, commit=True)
    return uuids


def _usage_dict(rows, result):
    for row in rows:
        entry = result.setdefault(row.resource, {'in_use': 0, 'reserved': 0})
        entry['in_use'] += row.in_use
        entry['reserved'] += row.reserved
    return result


def quota_usage_get_all_by_project(context, project_id):
    """Sum of the per-user usage rows (share_type_id NULL) by resource."""
    with engine.reader(context) as session:
        rows = session.scalars(sa.select(Usage).where(
            Usage.project_id == project_id, Usage.share_type_id.is_(None),
            model_base.live(Usage)))
        return _usage_dict(rows, {'project_id': project_id})


def quota_usage_get_all_by_project_and_user(context, project_id, user_id):
    with engine.reader(context) as session:
        rows = session.scalars(sa.select(Usage).where(
            Usage.project_id == project_id, Usage.user_id == user_id,
            Usage.share_type_id.is_(None), model_base.live(Usage)))
        return _usage_dict(rows, {'project_id': project_id,
                                  'user_id': user_id})


def quota_usage_get_all_by_project_and_share_type(context, project_id,
                                                  share_type_id):
    with engine.reader(context) as session:
        rows = session.scalars(sa.select(Usage).where(
            Usage.project_id == project_id,
            Usage.share_type_id == share_type_id, model_base.live(Usage)))
        return _usage_dict(rows, {'project_id': project_id,
                                  'share_type_id': share_type_id})
