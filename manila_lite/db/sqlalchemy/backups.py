"""Queries on share_backups the share service runs: reads, filtered lists, the conditional update, soft delete."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import services
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Backup = models.ShareBackup

# upstream's legal exact filters of share_backups_get_all
_FILTER_KEYS = ('id', 'share_id', 'host', 'topic', 'status', 'project_id',
                'display_name', 'display_description')


def _query(context):
    return (utils.model_query(context, Backup, read_deleted='no')
            .options(orm.selectinload(Backup._availability_zone)))


def share_backup_get(context, backup_id):
    with engine.reader(context) as session:
        backup = session.scalars(
            _query(context).where(Backup.id == backup_id)).first()
    if backup is None:
        raise exception.ShareBackupNotFound(backup_id=backup_id)
    return backup


def share_backup_create(context, share_id, values):
    """Insert a backup of ``share_id`` as upstream's API does (AZ name translated)."""
    values = utils.ensure_id(dict(values))
    values['share_id'] = share_id
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        backup = Backup()
        utils.apply_values(backup, values)
        session.add(backup)
        session.flush()
        backup_id = backup.id
    return share_backup_get(context, backup_id)


def share_backups_get_all(context, filters=None):
    """Live backups matching exact filters (lists mean IN), newest first, in one SELECT."""
    filters = dict(filters or {})
    unknown = [key for key in filters if key not in _FILTER_KEYS]
    if unknown:
        raise exception.InvalidInput(
            reason='unknown share backup filters: %s' % ', '.join(unknown))
    stmt = utils.exact_filter(_query(context), Backup, filters, _FILTER_KEYS)
    stmt = stmt.order_by(Backup.created_at.desc(), Backup.id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def share_backup_conditional_update(context, backup_id, expected_statuses,
                                    values):
    """One UPDATE guarded by ``status IN expected``; True when a row changed."""
    values = dict(values)
    expected = utils.as_list(expected_statuses) or []
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        unknown = [key for key in values if key not in Backup.__table__.c]
        if unknown:
            raise exception.InvalidInput(
                reason='not share_backups columns: %s' % ', '.join(unknown))
        values.setdefault('updated_at', model_base.utcnow())
        stmt = (sa.update(Backup)
                .where(Backup.id == backup_id, model_base.live(Backup),
                       Backup.status.in_(expected))
                .values(**values)
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount == 1


def share_backup_delete(context, backup_id):
    """Soft-delete a live backup, status 'deleted' (upstream's update_status=True)."""
    with engine.writer(context) as session:
        count = utils.soft_delete_where(
            session, Backup, Backup.id == backup_id,
            status=constants.STATUS_DELETED,
            updated_at=model_base.utcnow())
    if not count:
        raise exception.ShareBackupNotFound(backup_id=backup_id)
