"""Quota usage bookkeeping (quota_usages, reservations) with upstream DbQuotaDriver semantics."""

import datetime
import uuid

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


def set_filter(usage, project_id, user_id, share_type_id):
    """WHERE of one usage set, as upstream's quota engine selects it: (project, share type) or (project, user)."""
    where = [usage.c.project_id == project_id, usage.c.deleted == 0]
    if share_type_id is not None:
        return where + [usage.c.share_type_id == share_type_id]
    return where + [usage.c.user_id == user_id,
                    usage.c.share_type_id.is_(None)]


# Every statement here that locks quota_usages rows selects one usage set
# the way upstream's quota engine does (same WHERE, no ORDER BY), the
# share type's set before the user's, as upstream's reservation_commit:
# the database then locks the rows in the order upstream's own queries
# lock them (the order it reads them: PostgreSQL's table order, InnoDB's
# index order), so the share service and the API queue behind each other
# instead of deadlocking. A sort would lock in another order on
# PostgreSQL. And the last row of each resource read that way is the one
# upstream reads and commits to when duplicate rows exist.


def _the_read_row(rows):
    """{resource: row} keeping the last row of each resource, the one upstream's quota engine reads and commits to when duplicates exist."""
    usages = {}
    for row in rows:
        usages[row.resource] = row
    return usages


def _usages(session, project_id, user_id=None, share_type_id=None):
    """Live usage rows of one set by resource, locked for update.

    Upstream keeps two sets: per (project, user) with share_type_id NULL,
    and per (project, share type) with user_id NULL. Of duplicate rows
    (which upstream's API inserts when a project's first requests race),
    the one upstream reads is kept.
    """
    stmt = sa.select(Usage).where(*set_filter(
        Usage.__table__, project_id, user_id, share_type_id or None))
    return _the_read_row(session.scalars(stmt.with_for_update()))


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
    # The share type's rows are locked before the user's (see above).
    type_uuids = []
    if share_type_id:
        type_uuids = _reserve_set(session, deltas, project_id, None,
                                  share_type_id, expire)
    return _reserve_set(session, deltas, project_id, user_id, None,
                        expire) + type_uuids


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
    # By id, the share type's rows first: near enough to upstream's order
    # for this path (reservations the API made for an extend or a manage).
    usages = {u.id: u for u in session.scalars(
        sa.select(Usage).where(Usage.id.in_(usage_ids))
        .order_by(Usage.share_type_id.is_(None), Usage.id)
        .with_for_update())}
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
# can be deleted, and how long upstream's API waits to reserve. They are
# locked by the first statements, one per usage set in upstream's order
# (see above): a multi-row UPDATE alone locks rows in whatever order it
# scans them; and
# locking them before the reservation rows are written means their foreign
# key finds the usage rows already locked (no shared lock to upgrade later,
# which deadlocks too). On PostgreSQL the mode is FOR NO KEY UPDATE, enough
# for an UPDATE that leaves the key alone. Callers run it last in their
# transaction, so the rows stay locked only until the COMMIT.

# Namespace of the reservation uuids of a release made once per key.
_ONCE_NAMESPACE = uuid.UUID('6d3c1a52-6f43-4b52-9d8e-4e0d8c1f2a70')


def _release_usages_stmt(dialect_name, by_type):
    """One usage set's rows of the released resources, locked; on PostgreSQL with a new reservations id for each."""
    usage = Usage.__table__
    columns = [usage.c.id, usage.c.project_id, usage.c.user_id,
               usage.c.share_type_id, usage.c.resource, usage.c.in_use]
    if dialect_name == 'postgresql':
        columns.append(sa.func.nextval(sa.func.pg_get_serial_sequence(
            Reservation.__tablename__, 'id')).label('reservation_id'))
    where = set_filter(usage, sa.bindparam('b_project'),
                       None if by_type else sa.bindparam('b_user'),
                       sa.bindparam('b_type') if by_type else None)
    return (sa.select(*columns)
            .where(*where, usage.c.resource.in_(
                sa.bindparam('b_resources', expanding=True)))
            .with_for_update(key_share=True))


def _set_in_use_stmt(count):
    """``in_use`` of ``count`` rows set to the values computed under their lock."""
    usage = Usage.__table__
    value = sa.case(*[(usage.c.id == sa.bindparam('i_%d' % n),
                       sa.bindparam('v_%d' % n)) for n in range(count)],
                    else_=usage.c.in_use)
    return (usage.update()
            .where(usage.c.id.in_(sa.bindparam('b_ids', expanding=True)))
            .values(in_use=value, updated_at=sa.bindparam('b_now')))


def _spent_stmt():
    table = Reservation.__table__
    return (table.update()
            .where(table.c.uuid.in_(sa.bindparam('b_uuids', expanding=True)))
            .values(deleted=table.c.id, deleted_at=sa.bindparam('b_now'),
                    updated_at=table.c.updated_at))


def _release_usages(session, negative, project_id, user_id, share_type_id):
    """{(owner, resource): [usage rows in upstream's read order]} of both usage sets, locked (the share type's first)."""
    dialect_name = session.get_bind().dialect.name
    params = {'b_project': project_id, 'b_resources': list(negative),
              'b_user': user_id, 'b_type': share_type_id}
    groups = {}
    for by_type in ((True, False) if share_type_id else (False,)):
        rows = session.execute(
            utils.prebuilt(('quota_release_usages', dialect_name, by_type),
                           lambda: _release_usages_stmt(dialect_name,
                                                        by_type)),
            params)
        for row in rows:
            owner = (None, share_type_id) if by_type else (user_id, None)
            groups.setdefault((owner, row.resource), []).append(row)
    return groups


def _spread(rows, delta):
    """{row id: new in_use} lowering the rows' total by ``-delta``.

    The row upstream reads (the last) goes first; what it cannot give
    without going below 0 comes from its duplicates, so the total the API
    shows comes down by exactly the release. Only a total that would go
    below 0 is kept at 0 (logged).
    """
    left = -delta
    values = {}
    for row in reversed(rows):
        taken = min(max(row.in_use, 0), left)
        if taken:
            values[row.id] = row.in_use - taken
            left -= taken
    if left:
        read = rows[-1]
        _clamp(read, 'in_use', values.get(read.id, read.in_use) - left)
    return values


def _release_once_done(session, usage_ids, uuids):
    """Whether a release with these reservation uuids was already committed."""
    table = Reservation.__table__
    return session.execute(
        sa.select(table.c.id).where(table.c.usage_id.in_(usage_ids),
                                    table.c.uuid.in_(uuids)).limit(1)
    ).first() is not None


def _reservation_uuid(once_for, owner, resource):
    if once_for is None:
        return uuidutils.generate_uuid()
    return str(uuid.uuid5(_ONCE_NAMESPACE, '%s/%s/%s/%s' % (
        once_for, owner[0] or '', owner[1] or '', resource)))


def _release_fast(session, negative, project_id, user_id, share_type_id,
                  once_for=None):
    """quota_release in four or five prebuilt statements; None when a usage row is missing.

    Same outcome as reserve() + commit: one reservation row per usage
    set and resource (on the row upstream reads), written already spent
    (soft-deleted), and ``in_use`` lowered by one UPDATE. On PostgreSQL
    the locking SELECT also draws each reservation's id from its
    sequence, so the rows are inserted spent (``deleted`` = id); elsewhere
    an UPDATE marks them so after the INSERT. With ``once_for`` the
    reservation uuids derive from it, and a release already committed
    under it changes nothing (returns []).
    """
    groups = _release_usages(session, negative, project_id, user_id,
                             share_type_id)
    if user_id is None or len(groups) != (
            (2 if share_type_id else 1) * len(negative)):
        return None
    now = model_base.utcnow()
    expire = now + datetime.timedelta(seconds=CONF.quota.reservation_expire)
    reservations, values = [], {}
    for (owner, resource), rows in groups.items():
        read = rows[-1]
        values.update(_spread(rows, negative[resource]))
        reservations.append({
            'uuid': _reservation_uuid(once_for, owner, resource),
            'usage_id': read.id, 'project_id': project_id,
            'user_id': owner[0], 'share_type_id': owner[1],
            'resource': resource, 'delta': negative[resource],
            'expire': expire, 'deleted': 0, 'created_at': now})
        if getattr(read, 'reservation_id', None) is not None:
            reservations[-1].update(id=read.reservation_id,
                                    deleted=read.reservation_id,
                                    deleted_at=now)
    uuids = [r['uuid'] for r in reservations]
    if once_for is not None and _release_once_done(
            session, [r['usage_id'] for r in reservations], uuids):
        LOG.info('Quota of %s was already released; not again.', once_for)
        return []
    session.execute(utils.prebuilt('reservation_insert',
                                   Reservation.__table__.insert),
                    reservations)
    if 'id' not in reservations[0]:
        session.execute(utils.prebuilt('reservation_spent', _spent_stmt),
                        {'b_uuids': uuids, 'b_now': now})
    if values:
        params = {'b_ids': list(values), 'b_now': now}
        for n, (usage_id, value) in enumerate(values.items()):
            params.update({'i_%d' % n: usage_id, 'v_%d' % n: value})
        session.execute(utils.prebuilt(('quota_set_in_use', len(values)),
                                       lambda: _set_in_use_stmt(len(values))),
                        params)
    return uuids


def release(session, context, deltas, project_id, user_id,
            share_type_id=None, once_for=None):
    """quota_release inside the caller's transaction (run it last there: it locks the usage rows).

    ``once_for`` (e.g. a share instance id) makes the release happen at
    most once for that key, even when a crash or a lost COMMIT makes the
    caller run it again.
    """
    negative = {res: -abs(delta) for res, delta in deltas.items()}
    uuids = None
    if negative:
        uuids = _release_fast(session, negative, project_id, user_id,
                              share_type_id, once_for)
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
