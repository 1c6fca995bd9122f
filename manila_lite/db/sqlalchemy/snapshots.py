"""Read side of share_snapshots and share_snapshot_instances (the lifecycle issue adds writers)."""

from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import instances
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Snapshot = models.ShareSnapshot
SnapInst = models.ShareSnapshotInstance


def _snapshot_instance_options(with_share_data=False):
    share_instance = orm.selectinload(SnapInst.share_instance)
    if with_share_data:
        share_instance = share_instance.options(*instances.instance_options())
    else:
        share_instance = share_instance.options(
            orm.selectinload(models.ShareInstance._availability_zone))
    return [
        orm.selectinload(SnapInst.snapshot),
        orm.selectinload(SnapInst.export_locations),
        share_instance,
    ]


def _finish(snapshot_instances, with_share_data):
    """With share data, ``share`` is the share instance carrying its share's data."""
    if with_share_data:
        parents = [si.share_instance for si in snapshot_instances
                   if si.share_instance is not None]
        instances.finish(parents, True)
        for snapshot_instance in snapshot_instances:
            snapshot_instance.share = snapshot_instance.share_instance
    return snapshot_instances


def share_snapshot_get(context, snapshot_id):
    stmt = (utils.model_query(context, Snapshot, project_only=True)
            .where(Snapshot.id == snapshot_id)
            .options(orm.selectinload(Snapshot.share).options(
                         *instances.share_options()),
                     orm.selectinload(Snapshot.share_snapshot_metadata),
                     orm.selectinload(Snapshot.instances).options(
                         *_snapshot_instance_options())))
    with engine.reader(context) as session:
        result = session.scalars(stmt).first()
        if result is None:
            raise exception.ShareSnapshotNotFound(snapshot_id=snapshot_id)
        if result.share is not None:
            instances.link_share(result.share)
        return result


def _instances_query(context, filters):
    stmt = utils.model_query(context, SnapInst, read_deleted='no')
    for key, column in (('instance_ids', SnapInst.id),
                        ('snapshot_ids', SnapInst.snapshot_id),
                        ('share_instance_ids', SnapInst.share_instance_id),
                        ('statuses', SnapInst.status)):
        values = utils.as_list(filters.get(key))
        if values:
            stmt = stmt.where(column.in_(values))
    if filters.get('share_group_snapshot_id'):
        stmt = stmt.where(SnapInst.share_group_snapshot_id ==
                          filters['share_group_snapshot_id'])
    if filters.get('host'):
        si = models.ShareInstance
        stmt = stmt.join(si, SnapInst.share_instance_id == si.id).where(
            utils.host_filter(si.host, filters['host']))
    return stmt.order_by(SnapInst.created_at, SnapInst.id)


def share_snapshot_instance_get_all_with_filters(context, filters,
                                                 with_share_data=False):
    """Filters: instance_ids, snapshot_ids, share_instance_ids, statuses, host."""
    stmt = _instances_query(context, dict(filters or {})).options(
        *_snapshot_instance_options(with_share_data))
    with engine.reader(context) as session:
        return _finish(list(session.scalars(stmt)), with_share_data)


def share_snapshot_instance_get(context, snapshot_instance_id,
                                with_share_data=False):
    stmt = _instances_query(context, {'instance_ids': [snapshot_instance_id]})
    stmt = stmt.options(*_snapshot_instance_options(with_share_data))
    with engine.reader(context) as session:
        result = session.scalars(stmt).first()
        if result is None:
            raise exception.ShareSnapshotInstanceNotFound(
                instance_id=snapshot_instance_id)
        return _finish([result], with_share_data)[0]


SNAPSHOT_INSTANCE_KEYS = ('status', 'progress', 'provider_location')


def _instance_values(values):
    values = dict(values)
    if 'size' in values:
        values['instance_size'] = values.pop('size')
    return values


def share_snapshot_instance_update(context, snapshot_instance_id, values):
    """Update a snapshot instance (a ``size`` key writes the size column)."""
    with engine.writer(context) as session:
        stmt = utils.model_query(context, SnapInst).where(
            SnapInst.id == snapshot_instance_id)
        instance = session.scalars(stmt).first()
        if instance is None:
            raise exception.ShareSnapshotInstanceNotFound(
                instance_id=snapshot_instance_id)
        utils.apply_values(instance, _instance_values(values))
        session.flush()
    return share_snapshot_instance_get(context, snapshot_instance_id)


def share_snapshot_update(context, snapshot_id, values):
    """Update a snapshot; status, progress, provider_location go to its instance."""
    instance_values, snapshot_values = utils.split_values(
        values, SNAPSHOT_INSTANCE_KEYS)
    with engine.writer(context) as session:
        snapshot = share_snapshot_get(context, snapshot_id)
        if instance_values and snapshot.instance is not None:
            share_snapshot_instance_update(context, snapshot.instance['id'],
                                           instance_values)
        row = session.get(Snapshot, snapshot_id)
        utils.apply_values(row, snapshot_values)
        session.flush()
    return share_snapshot_get(context, snapshot_id)
