"""Reads and writes on share_groups, share_group_snapshots (and their members) and share_backups."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import services
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Group = models.ShareGroup
GroupSnapshot = models.ShareGroupSnapshot
Backup = models.ShareBackup


def _update(context, model, row_id, values, not_found, options=()):
    values = dict(values)
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        stmt = utils.model_query(context, model).where(model.id == row_id)
        row = session.scalars(stmt).first()
        if row is None:
            raise not_found
        utils.apply_values(row, values)
        session.flush()
        stmt = stmt.options(*options).execution_options(
            populate_existing=True)
        return session.scalars(stmt).first()


def share_group_update(context, share_group_id, values):
    return _update(
        context, Group, share_group_id, values,
        exception.ShareGroupNotFound(share_group_id=share_group_id),
        (orm.selectinload(Group._availability_zone),
         orm.selectinload(Group.share_types)))


def share_group_snapshot_update(context, share_group_snapshot_id, values):
    return _update(
        context, GroupSnapshot, share_group_snapshot_id, values,
        exception.ShareGroupSnapshotNotFound(
            share_group_snapshot_id=share_group_snapshot_id))


def share_backup_update(context, backup_id, values):
    return _update(
        context, Backup, backup_id, values,
        exception.ShareBackupNotFound(backup_id=backup_id),
        (orm.selectinload(Backup._availability_zone),))


# -- reads and writes of the share group flows -------------------------------

Mapping = models.ShareGroupShareTypeMapping
SnapInst = models.ShareSnapshotInstance


def _group_options():
    return (orm.selectinload(Group._availability_zone),
            orm.selectinload(Group.share_types))


def share_group_get(context, share_group_id):
    stmt = (utils.model_query(context, Group, project_only=True)
            .where(Group.id == share_group_id).options(*_group_options()))
    with engine.reader(context) as session:
        row = session.scalars(stmt).first()
        if row is None:
            raise exception.ShareGroupNotFound(share_group_id=share_group_id)
        return row


def share_group_get_all(context, filters=None):
    """Live groups; exact filters: host (pools included), status, id."""
    filters = dict(filters or {})
    stmt = utils.model_query(context, Group, read_deleted='no')
    if filters.get('host'):
        stmt = stmt.where(utils.host_filter(Group.host, filters['host']))
    stmt = utils.exact_filter(stmt, Group, filters, ('status', 'id'))
    stmt = stmt.options(*_group_options()).order_by(Group.created_at,
                                                    Group.id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def share_group_snapshot_get(context, share_group_snapshot_id):
    stmt = (utils.model_query(context, GroupSnapshot, project_only=True)
            .where(GroupSnapshot.id == share_group_snapshot_id)
            .options(orm.selectinload(GroupSnapshot.share_group)))
    with engine.reader(context) as session:
        row = session.scalars(stmt).first()
        if row is None:
            raise exception.ShareGroupSnapshotNotFound(
                share_group_snapshot_id=share_group_snapshot_id)
        return row


def share_group_snapshot_get_all(context, filters=None):
    """Live group snapshots; filters: host (of their group), status, share_group_id."""
    filters = dict(filters or {})
    stmt = utils.model_query(context, GroupSnapshot, read_deleted='no')
    if filters.get('host'):
        stmt = stmt.join(Group, Group.id == GroupSnapshot.share_group_id).where(
            utils.host_filter(Group.host, filters['host']))
    stmt = utils.exact_filter(stmt, GroupSnapshot, filters,
                              ('status', 'share_group_id'))
    stmt = stmt.options(orm.selectinload(GroupSnapshot.share_group)).order_by(
        GroupSnapshot.created_at, GroupSnapshot.id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def _conditional(context, model, row_id, expected_statuses, values):
    values = dict(values)
    values.setdefault('updated_at', model_base.utcnow())
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        stmt = (sa.update(model)
                .where(model.id == row_id, model_base.live(model),
                       model.status.in_(utils.as_list(expected_statuses)))
                .values(**values)
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount == 1


def share_group_conditional_update(context, share_group_id,
                                   expected_statuses, values):
    return _conditional(context, Group, share_group_id, expected_statuses,
                        values)


def share_group_snapshot_conditional_update(context, share_group_snapshot_id,
                                            expected_statuses, values):
    return _conditional(context, GroupSnapshot, share_group_snapshot_id,
                        expected_statuses, values)


def share_group_destroy(context, share_group_id):
    """Soft-delete a group and its share type mappings in one transaction."""
    with engine.writer(context) as session:
        utils.soft_delete_where(session, Mapping,
                                Mapping.share_group_id == share_group_id)
        if not utils.soft_delete_where(session, Group,
                                       Group.id == share_group_id):
            raise exception.ShareGroupNotFound(share_group_id=share_group_id)


def share_group_snapshot_destroy(context, share_group_snapshot_id):
    """Soft-delete a group snapshot and its members in one transaction."""
    with engine.writer(context) as session:
        utils.soft_delete_where(
            session, SnapInst,
            SnapInst.share_group_snapshot_id == share_group_snapshot_id)
        if not utils.soft_delete_where(
                session, GroupSnapshot,
                GroupSnapshot.id == share_group_snapshot_id):
            raise exception.ShareGroupSnapshotNotFound(
                share_group_snapshot_id=share_group_snapshot_id)
