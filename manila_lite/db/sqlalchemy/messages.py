"""Queries on the messages table (user-visible error messages)."""

import sqlalchemy as sa

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils

Message = models.Message

_LEGAL_FILTERS = ('id', 'project_id', 'request_id', 'resource_type',
                  'resource_id', 'action_id', 'detail_id', 'message_level')


def message_create(context, values):
    values = utils.ensure_id(dict(values))
    with engine.writer(context) as session:
        message = Message()
        utils.apply_values(message, values)
        if message.created_at is None:
            message.created_at = model_base.utcnow()
        session.add(message)
        session.flush()
        return message


def message_get_all(context, filters=None):
    """Live messages, newest first; users only see their project's."""
    filters = dict(filters or {})
    stmt = utils.model_query(context, Message, read_deleted='no',
                             project_only=True)
    stmt = utils.exact_filter(stmt, Message, filters, _LEGAL_FILTERS)
    if filters.get('created_since'):
        stmt = stmt.where(Message.created_at >= filters['created_since'])
    if filters.get('created_before'):
        stmt = stmt.where(Message.created_at <= filters['created_before'])
    stmt = stmt.order_by(Message.created_at.desc(), Message.id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def message_destroy_expired(context):
    """Hard-delete messages whose ``expires_at`` passed (upstream's cleanup)."""
    with engine.writer(context) as session:
        stmt = sa.delete(Message).where(
            Message.expires_at < model_base.utcnow())
        return session.execute(stmt).rowcount
