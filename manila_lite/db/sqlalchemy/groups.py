"""Writes on share_groups, share_group_snapshots and share_backups the share service needs so far."""

from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
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
