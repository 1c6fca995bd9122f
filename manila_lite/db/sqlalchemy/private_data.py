"""Queries on drivers_private_data and backend_info, the share service's own key/value stores."""

import sqlalchemy as sa

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils

Data = models.DriverPrivateData
Info = models.BackendInfo


def _data_query(entity_id, key=None):
    stmt = sa.select(Data).where(Data.entity_uuid == entity_id,
                                 model_base.live(Data))
    if isinstance(key, (list, tuple, set)):
        return stmt.where(Data.key.in_(list(key)))
    if key is not None:
        return stmt.where(Data.key == key)
    return stmt


def driver_private_data_get(context, entity_id, key=None, default=None):
    """One value (``default`` if absent), or a dict for key None or a list."""
    with engine.reader(context) as session:
        rows = list(session.scalars(_data_query(entity_id, key)))
    if key is None or isinstance(key, (list, tuple, set)):
        return {row.key: row.value for row in rows}
    return rows[0].value if rows else default


def driver_private_data_update(context, entity_id, details,
                               delete_existing=False):
    """Upsert ``details`` (values stored as str); optionally drop other keys."""
    new = {k: str(v) for k, v in details.items()}
    now = model_base.utcnow()
    with engine.writer(context) as session:
        # Soft-deleted rows keep their primary key (entity_uuid, key), so
        # they are revived rather than inserted again.
        rows = session.scalars(sa.select(Data).where(
            Data.entity_uuid == entity_id))
        for row in rows:
            if row.key in new:
                row.value = new.pop(row.key)
                row.deleted = 0
                row.deleted_at = None
            elif delete_existing and row.deleted == 0:
                row.deleted = 1
                row.deleted_at = now
        for key, value in new.items():
            session.add(Data(entity_uuid=entity_id, key=key, value=value))
        session.flush()
    return details


def driver_private_data_delete(context, entity_id, key=None):
    with engine.writer(context) as session:
        conditions = [Data.entity_uuid == entity_id, model_base.live(Data)]
        if isinstance(key, (list, tuple, set)):
            conditions.append(Data.key.in_(list(key)))
        elif key is not None:
            conditions.append(Data.key == key)
        session.execute(sa.update(Data).where(*conditions)
                        .values(deleted=1, deleted_at=model_base.utcnow())
                        .execution_options(synchronize_session=False))


def backend_info_get(context, host):
    """The live backend_info row of ``host`` or None."""
    with engine.reader(context) as session:
        stmt = utils.model_query(context, Info).where(Info.host == host)
        return session.scalars(stmt).first()


def backend_info_update(context, host, value=None, delete_existing=False):
    """Store the driver's info hash for ``host``; soft-delete it if asked."""
    with engine.writer(context) as session:
        info = session.get(Info, host)
        if info is None:
            if not value:
                return None
            info = Info(host=host, info_hash=value)
            session.add(info)
        elif value:
            info.info_hash = value
            info.deleted = 0
            info.deleted_at = None
        elif delete_existing and info.deleted == 0:
            info.deleted = 1
            info.deleted_at = model_base.utcnow()
        session.flush()
        return info
