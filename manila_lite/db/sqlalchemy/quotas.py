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


# quota_release's fast path. Every share of a project updates the same
# usage rows, so how long they stay locked bounds how many shares per second
# can be deleted. They are locked by the first statement, in reserve()'s
# order (per-user rows, then per-type, each by id): a multi-row UPDATE
# alone locks rows in whatever order it scans them, which deadlocks against
# another one; and locking them before the reservation rows are written
# means their foreign key finds the usage rows already locked (no shared
# lock to upgrade later, which deadlocks too). On PostgreSQL the mode is
# FOR NO KEY UPDATE, enough for an UPDATE that leaves the key alone.


def _release_usages_stmt(with_ids):
    """The usage rows, locked; ``with_ids`` adds a new reservations id for each (PostgreSQL)."""
    usage = Usage.__table__
    columns = [usage.c.id, usage.c.project_id, usage.c.user_id,
               usage.c.share_type_id, usage.c.resource, usage.c.in_use]
    if with_ids:
        columns.append(sa.func.nextval(sa.func.pg_get_serial_sequence(
            Reservation.__tablename__, 'id')).label('reservation_id'))
    return (sa.select(*columns)
            .where(usage.c.project_id == sa.bindparam('b_project'),
                   usage.c.deleted == 0,
                   usage.c.resource.in_(sa.bindparam('b_resources',
                                                     expanding=True)),
                   sa.or_(sa.and_(usage.c.user_id == sa.bindparam('b_user'),
                                  usage.c.share_type_id.is_(None)),
                          usage.c.share_type_id == sa.bindparam('b_type')))
            .order_by(usage.c.share_type_id.isnot(None), usage.c.id)
            .with_for_update(key_share=True))


def _lower_in_use_stmt(resources):
    """``in_use = max(in_use + delta of its resource, 0)`` for the rows ``b_ids``."""
    usage = Usage.__table__
    delta = sa.case(*[(usage.c.resource == resource,
                       sa.bindparam('d_%d' % n))
                      for n, resource in enumerate(resources)], else_=0)
    lowered = usage.c.in_use + delta
    return (usage.update()
            .where(usage.c.id.in_(sa.bindparam('b_ids', expanding=True)))
            .values(in_use=sa.case((lowered < 0, 0), else_=lowered),
                    updated_at=sa.bindparam('b_now')))


def _spent_stmt():
    table = Reservation.__table__
    return (table.update()
            .where(table.c.uuid.in_(sa.bindparam('b_uuids', expanding=True)))
            .values(deleted=table.c.id, deleted_at=sa.bindparam('b_now'),
                    updated_at=table.c.updated_at))


def _release_usages(session, negative, project_id, user_id, share_type_id):
    """{(owner, resource): usage row} of both usage sets (first row of each), locked."""
    with_ids = session.get_bind().dialect.name == 'postgresql'
    rows = session.execute(
        utils.prebuilt(('quota_release_usages', with_ids),
                       lambda: _release_usages_stmt(with_ids)),
        {'b_project': project_id, 'b_resources': list(negative),
         'b_user': user_id, 'b_type': share_type_id})
    usages = {}
    for row in rows:
        owner = (None, row.share_type_id) if row.share_type_id else (
            row.user_id, None)
        usages.setdefault((owner, row.resource), row)
    return usages


def _release_fast(session, negative, project_id, user_id, share_type_id):
    """quota_release in three or four prebuilt statements; None when a usage row is missing.

    Same outcome as reserve() + commit: one reservation row per usage
    row, written already spent (soft-deleted), and ``in_use`` lowered
    (never below 0) by one UPDATE of all the usage rows. On PostgreSQL
    the locking SELECT also draws each reservation's id from its
    sequence, so the rows are inserted spent (``deleted`` = id); elsewhere
    an UPDATE marks them so after the INSERT.
    """
    usages = _release_usages(session, negative, project_id, user_id,
                             share_type_id)
    if user_id is None or len(usages) != (
            (2 if share_type_id else 1) * len(negative)):
        return None
    now = model_base.utcnow()
    expire = now + datetime.timedelta(seconds=CONF.quota.reservation_expire)
    reservations = []
    spent = all(getattr(usage, 'reservation_id', None) is not None
                for usage in usages.values())
    for (owner, resource), usage in usages.items():
        _clamp(usage, 'in_use', usage.in_use + negative[resource])
        reservations.append({
            'uuid': uuidutils.generate_uuid(), 'usage_id': usage.id,
            'project_id': project_id, 'user_id': owner[0],
            'share_type_id': owner[1], 'resource': resource,
            'delta': negative[resource], 'expire': expire, 'deleted': 0,
            'created_at': now})
        if spent:
            reservations[-1].update(id=usage.reservation_id,
                                    deleted=usage.reservation_id,
                                    deleted_at=now)
    session.execute(utils.prebuilt('reservation_insert',
                                   Reservation.__table__.insert),
                    reservations)
    uuids = [r['uuid'] for r in reservations]
    if not spent:
        session.execute(utils.prebuilt('reservation_spent', _spent_stmt),
                        {'b_uuids': uuids, 'b_now': now})
    resources = tuple(sorted(negative))
    params = {'d_%d' % n: negative[r] for n, r in enumerate(resources)}
    params.update(b_ids=[u.id for u in usages.values()], b_now=now)
    session.execute(utils.prebuilt(('quota_lower_in_use', resources),
                                   lambda: _lower_in_use_stmt(resources)),
                    params)
    return uuids


def release(session, context, deltas, project_id, user_id,
            share_type_id=None):
    """quota_release inside the caller's transaction."""
    negative = {res: -abs(delta) for res, delta in deltas.items()}
    uuids = None
    if negative:
        uuids = _release_fast(session, negative, project_id, user_id,
                              share_type_id)
    if uuids is None:
        uuids = reserve(session, context, negative, project_id, user_id,
                        share_type_id)
        _finish(session, uuids, commit=True)
    return uuids


def quota_release(context, deltas, project_id, user_id, share_type_id=None):
    """Reserve the negated deltas and commit them in one transaction."""
    with engine.writer(context) as session:
        return release(session, context, deltas, project_id, user_id,
                       share_type_id)


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
