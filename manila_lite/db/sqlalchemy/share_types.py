"""Queries on share_types with their extra specs and project access."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Type = models.ShareTypes


def as_dict(share_type):
    """Upstream's share type dict: columns plus ``extra_specs`` as a dict."""
    result = dict(share_type.to_dict())
    result['extra_specs'] = share_type.specs
    result['projects'] = [p['project_id'] for p in share_type.projects]
    return result


def _query(context, read_deleted=None):
    return utils.model_query(context, Type, read_deleted).options(
        orm.selectinload(Type.extra_specs), orm.selectinload(Type.projects))


def _get(session, context, **where):
    stmt = _query(context)
    for key, value in where.items():
        stmt = stmt.where(getattr(Type, key) == value)
    result = session.scalars(stmt).first()
    if result is None:
        raise exception.ShareTypeNotFound(
            share_type_id=where.get('id') or where.get('name'))
    return as_dict(result)


def share_type_create(context, values, projects=None):
    values = utils.ensure_id(dict(values))
    specs = values.pop('extra_specs', None) or {}
    with engine.writer(context) as session:
        share_type = Type()
        utils.apply_values(share_type, values)
        session.add(share_type)
        session.flush()
        for key, value in specs.items():
            session.add(models.ShareTypeExtraSpecs(
                share_type_id=share_type.id, key=key,
                value=utils.metadata_value(key, value)))
        for project_id in set(projects or ()):
            session.add(models.ShareTypeProjects(
                share_type_id=share_type.id, project_id=project_id))
        session.flush()
        return _get(session, context, id=share_type.id)


def share_type_get(context, share_type_id):
    with engine.reader(context) as session:
        return _get(session, context, id=share_type_id)


def share_type_get_by_name(context, name):
    with engine.reader(context) as session:
        return _get(session, context, name=name)


def share_type_get_all(context):
    with engine.reader(context) as session:
        rows = session.scalars(_query(context).order_by(Type.name, Type.id))
        return {row.name: as_dict(row) for row in rows}


def share_type_extra_specs_get(context, share_type_id):
    with engine.reader(context) as session:
        spec = models.ShareTypeExtraSpecs
        rows = session.scalars(sa.select(spec).where(
            spec.share_type_id == share_type_id, spec.deleted == 0))
        return {row.key: row.value for row in rows}
