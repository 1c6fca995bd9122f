"""Queries on transfers the share service runs: the expired ones, and their soft deletion."""

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models_infra
from manila_lite.db.sqlalchemy import utils

Transfer = models_infra.Transfer


def transfer_get_all_expired(context):
    """Live transfers whose ``expires_at`` has passed, oldest first (one SELECT)."""
    stmt = (utils.model_query(context, Transfer, read_deleted='no')
            .where(Transfer.expires_at <= model_base.utcnow())
            .order_by(Transfer.expires_at, Transfer.id))
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def transfer_soft_delete_all(context, transfer_ids):
    """Soft-delete the live transfers among ``transfer_ids`` (one UPDATE); returns the count."""
    if not transfer_ids:
        return 0
    with engine.writer(context) as session:
        return utils.soft_delete_where(session, Transfer,
                                       Transfer.id.in_(list(transfer_ids)))
