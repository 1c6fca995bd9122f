"""Queries on share_snapshots, their instances, export locations, metadata and access mappings."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import instances
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import shares
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Snapshot = models.ShareSnapshot
SnapInst = models.ShareSnapshotInstance
SnapEL = models.ShareSnapshotInstanceExportLocation
SnapMeta = models.ShareSnapshotMetadata
SnapRule = models.ShareSnapshotAccessMapping
SnapMapping = models.ShareSnapshotInstanceAccessMapping


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
    if filters.get('group_members') is False:
        stmt = stmt.where(SnapInst.share_group_snapshot_id.is_(None))
    if filters.get('host'):
        si = models.ShareInstance
        stmt = stmt.join(si, SnapInst.share_instance_id == si.id).where(
            utils.host_filter(si.host, filters['host']))
    return stmt.order_by(SnapInst.created_at, SnapInst.id)


def share_snapshot_instance_get_all_with_filters(context, filters,
                                                 with_share_data=False):
    """Filters: instance_ids, snapshot_ids, share_instance_ids, statuses, host, share_group_snapshot_id, group_members."""
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


def share_snapshot_create(context, create_values,
                          create_snapshot_instance=True):
    """A snapshot (+ metadata) and, by default, its instance on the share's current instance.

    ``status``, ``progress`` and ``provider_location`` go to the instance;
    everything else to the snapshot row (upstream's split).
    """
    values = utils.ensure_id(dict(create_values))
    metadata = values.pop('metadata', None) or {}
    instance_values = {k: values.pop(k) for k in SNAPSHOT_INSTANCE_KEYS
                       if k in values}
    with engine.writer(context) as session:
        share = shares.get(session, context, values.get('share_id'))
        snapshot = Snapshot()
        utils.apply_values(snapshot, values)
        session.add(snapshot)
        session.flush()
        _upsert_metadata(session, snapshot.id, metadata, delete=False)
        if create_snapshot_instance:
            if share.instance is None:
                raise exception.InvalidShare(
                    reason='share %s has no live instance' % share.id)
            instance = SnapInst(snapshot_id=snapshot.id,
                                share_instance_id=share.instance['id'])
            utils.apply_values(instance, utils.ensure_id(
                _instance_values(instance_values)))
            session.add(instance)
        session.flush()
    return share_snapshot_get(context, values['id'])


def share_snapshot_instance_create(context, snapshot_id, values):
    """One new instance of a snapshot (upstream's migration and replica instances)."""
    values = utils.ensure_id(_instance_values(values))
    with engine.writer(context) as session:
        instance = SnapInst(snapshot_id=snapshot_id)
        utils.apply_values(instance, values)
        session.add(instance)
        session.flush()
    return share_snapshot_instance_get(context, values['id'])


def _column_values(values):
    """``{column attribute: value}`` for a Core UPDATE of snapshot instances."""
    mapper = sa.inspect(SnapInst)
    result = {}
    for key, value in _instance_values(values).items():
        if key not in mapper.column_attrs:
            raise exception.InvalidInput(
                reason='not a share_snapshot_instances column: %s' % key)
        result[getattr(SnapInst, key)] = value
    result.setdefault(SnapInst.updated_at, model_base.utcnow())
    return result


def share_snapshot_instance_conditional_update(context, snapshot_instance_id,
                                               expected_statuses, values):
    """One UPDATE guarded by ``status IN expected``; True when a row changed."""
    expected = utils.as_list(expected_statuses) or []
    with engine.writer(context) as session:
        stmt = (sa.update(SnapInst)
                .where(SnapInst.id == snapshot_instance_id,
                       model_base.live(SnapInst),
                       SnapInst.status.in_(expected))
                .values(_column_values(values))
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount == 1


def _soft_delete_instance_access(session, snapshot_instance_id):
    """Soft-delete the instance's mappings, and rules left with no mapping."""
    access_ids = list(session.scalars(
        sa.select(SnapMapping.access_id).distinct().where(
            SnapMapping.share_snapshot_instance_id == snapshot_instance_id,
            model_base.live(SnapMapping))))
    utils.soft_delete_where(
        session, SnapMapping,
        SnapMapping.share_snapshot_instance_id == snapshot_instance_id,
        state=constants.ACCESS_STATE_DELETED)
    if access_ids:
        still_used = sa.select(SnapMapping.id).where(
            SnapMapping.access_id == SnapRule.id, model_base.live(SnapMapping))
        utils.soft_delete_where(session, SnapRule, SnapRule.id.in_(access_ids),
                                ~still_used.exists())


def share_snapshot_instance_delete(context, snapshot_instance_id):
    """Soft-delete a snapshot instance with its exports and access mappings.

    The instance gets status 'deleted'; when no live instance of the
    snapshot remains, the snapshot and its metadata are soft-deleted in
    the same transaction. Returns ``{'snapshot_deleted': bool}``.
    """
    with engine.writer(context) as session:
        stmt = utils.model_query(context, SnapInst, read_deleted='no').where(
            SnapInst.id == snapshot_instance_id)
        instance = session.scalars(stmt).first()
        if instance is None:
            raise exception.ShareSnapshotInstanceNotFound(
                instance_id=snapshot_instance_id)
        snapshot_id = instance.snapshot_id
        # Serialise sibling deletions so one of them sees "none left".
        session.execute(sa.select(Snapshot.id).where(
            Snapshot.id == snapshot_id).with_for_update())
        _soft_delete_instance_access(session, snapshot_instance_id)
        utils.soft_delete_where(
            session, SnapEL,
            SnapEL.share_snapshot_instance_id == snapshot_instance_id)
        now = model_base.utcnow()
        session.execute(
            sa.update(SnapInst).where(SnapInst.id == snapshot_instance_id)
            .values(status=constants.STATUS_DELETED,
                    deleted=snapshot_instance_id, deleted_at=now,
                    updated_at=now)
            .execution_options(synchronize_session=False))
        remaining = session.scalar(
            sa.select(sa.func.count()).select_from(SnapInst).where(
                SnapInst.snapshot_id == snapshot_id,
                model_base.live(SnapInst)))
        snapshot_deleted = remaining == 0
        if snapshot_deleted:
            utils.soft_delete_where(session, SnapMeta,
                                    SnapMeta.share_snapshot_id == snapshot_id)
            session.execute(
                sa.update(Snapshot).where(Snapshot.id == snapshot_id,
                                          model_base.live(Snapshot))
                .values(deleted=snapshot_id, deleted_at=now, updated_at=now)
                .execution_options(synchronize_session=False))
    return {'snapshot_deleted': snapshot_deleted}


def share_snapshot_instance_export_location_create(context, values):
    """Insert one snapshot export location (``path``, ``is_admin_only``)."""
    values = utils.ensure_id(dict(values))
    with engine.writer(context) as session:
        row = SnapEL()
        utils.apply_values(row, values)
        session.add(row)
        session.flush()
        return row


def share_snapshot_instance_export_locations_update(
        context, snapshot_instance_id, export_locations):
    """Replace a snapshot instance's live export locations with ``export_locations`` (one transaction)."""
    with engine.writer(context) as session:
        utils.soft_delete_where(
            session, SnapEL,
            SnapEL.share_snapshot_instance_id == snapshot_instance_id)
        for location in export_locations:
            row = SnapEL()
            utils.apply_values(row, utils.ensure_id({
                'share_snapshot_instance_id': snapshot_instance_id,
                'path': location['path'],
                'is_admin_only': bool(location.get('is_admin_only'))}))
            session.add(row)


def _upsert_metadata(session, snapshot_id, metadata, delete):
    utils.upsert_metadata(session, SnapMeta, 'share_snapshot_id',
                          snapshot_id, metadata, delete=delete)


def share_snapshot_metadata_update(context, share_snapshot_id, metadata,
                                   delete=False):
    """Upsert snapshot metadata; with ``delete`` soft-delete keys not given."""
    with engine.writer(context) as session:
        stmt = utils.model_query(context, Snapshot).where(
            Snapshot.id == share_snapshot_id)
        if session.scalars(stmt).first() is None:
            raise exception.ShareSnapshotNotFound(
                snapshot_id=share_snapshot_id)
        _upsert_metadata(session, share_snapshot_id, dict(metadata),
                         bool(delete))
    return metadata
