"""Queries on share_instances: reads with eager loading, updates, the conditional update, delete."""

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import attributes

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import services
from manila_lite.db.sqlalchemy import share_servers
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

SI = models.ShareInstance
EL = models.ShareInstanceExportLocations


def export_location_options():
    """Loader options (relative to ShareInstance) for its export locations."""
    return [orm.selectinload(SI.export_locations).joinedload(
        EL._el_metadata_bare)]


def instance_options(with_share=True):
    """Loader options making an instance usable once detached.

    Each relationship of the instances is loaded by one ``SELECT ... IN``
    over the whole result (SQLAlchemy sends one per 500 parents), and the
    small collections below them are joined into that SELECT, so the
    statement count does not depend on the number of rows, exports or
    specs.
    """
    options = export_location_options() + [
        orm.selectinload(SI._availability_zone),
        orm.selectinload(SI.share_type).joinedload(
            models.ShareTypes.extra_specs),
        orm.selectinload(SI.share_instance_metadata),
        orm.selectinload(SI.share_server).options(
            *share_servers.server_options()),
    ]
    if with_share:
        options.append(orm.selectinload(SI.share).options(
            *share_options(with_instances=True)))
    return options


def share_options(with_instances=True):
    """Loader options (relative to Share): metadata and the live instances."""
    options = [orm.selectinload(models.Share.share_metadata)]
    if with_instances:
        options.append(orm.selectinload(models.Share.instances).options(
            *instance_options(with_share=False)))
    return options


def link_share(share):
    """Point each loaded instance's ``share`` at its (already loaded) parent."""
    for instance in share.instances:
        attributes.set_committed_value(instance, 'share', share)
    return share


def finish(instances, with_share_data):
    """Copy share data onto instances; drop orphans as upstream does."""
    result = []
    for instance in instances:
        if instance.share is not None:
            link_share(instance.share)
        if with_share_data:
            if instance.share is None:
                continue
            instance.set_share_data(instance.share)
        result.append(instance)
    return result


def require(session, context, instance_id):
    """Raise ShareInstanceNotFound unless the instance exists (one cheap SELECT)."""
    stmt = utils.model_query(context, SI).where(SI.id == instance_id)
    if session.scalar(sa.select(sa.literal(1)).where(
            stmt.exists())) is None:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)


# -- the fast reads: instance + share in one SELECT, siblings only if any ----
#
# share_instance_get and the batch reads load the many-to-one relationships
# (share, zone, type, server) in the instance's own SELECT and each
# collection with one ``SELECT ... IN``. That SELECT also counts the live
# instances of the share: when the instance is its share's only one (the
# usual case), ``share.instances`` is set to it without another query; the
# other shares get their instances from one more SELECT for all of them.

_SIBLING = orm.aliased(SI, name='sibling')
# Prebuilt statements (per read_deleted mode): their SQL cache keys are
# computed once instead of on every call.
_STATEMENTS = {}


def _own_options(batch):
    """Loader options (relative to ShareInstance) for all but its share.

    With ``batch`` the type's extra specs come from one ``SELECT ... IN``
    (many instances share few types); for one row they are joined.
    """
    specs = (orm.selectinload if batch else orm.joinedload)(
        models.ShareTypes.extra_specs)
    return export_location_options() + [
        orm.joinedload(SI._availability_zone),
        orm.joinedload(SI.share_type).options(specs),
        orm.selectinload(SI.share_instance_metadata),
        orm.joinedload(SI.share_server).options(
            *share_servers.server_options()),
    ]


def _live_sibling_count():
    return (sa.select(sa.func.count()).select_from(_SIBLING)
            .where(_SIBLING.share_id == SI.share_id,
                   model_base.live(_SIBLING))
            .correlate(SI).scalar_subquery())


def _rows_stmt(read_deleted, batch):
    """``SELECT instance, live sibling count`` with the loader options."""
    return (sa.select(SI, _live_sibling_count())
            .where(model_base.deleted_filter(SI, read_deleted))
            .options(orm.joinedload(SI.share).selectinload(
                models.Share.share_metadata), *_own_options(batch)))


def _get_stmt(read_deleted):
    key = ('get', read_deleted)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS.setdefault(key, _rows_stmt(read_deleted, False)
                                      .where(SI.id == sa.bindparam('si_id')))
    return stmt


def _siblings_stmt():
    stmt = _STATEMENTS.get('siblings')
    if stmt is None:
        stmt = _STATEMENTS.setdefault('siblings', (
            sa.select(SI)
            .where(SI.share_id.in_(sa.bindparam('share_ids', expanding=True)),
                   model_base.live(SI))
            .order_by(SI.created_at, SI.id)
            .options(*_own_options(True))))
    return stmt


def _attach_instances(session, rows):
    """Set ``share.instances`` of each loaded instance's share (see above)."""
    todo = {}
    for instance, live_count in rows:
        share = instance.share
        if share is None or share.id in todo:
            continue
        own = 1 if instance.deleted == model_base.STRING_LIVE else 0
        if live_count == own:
            attributes.set_committed_value(share, 'instances',
                                           [instance] if own else [])
            todo[share.id] = None
        else:
            todo[share.id] = share
    pending = {k: v for k, v in todo.items() if v is not None}
    if not pending:
        return
    by_share = {share_id: [] for share_id in pending}
    for sibling in session.scalars(_siblings_stmt(),
                                   {'share_ids': list(pending)}).unique():
        by_share[sibling.share_id].append(sibling)
    for share_id, share in pending.items():
        attributes.set_committed_value(share, 'instances', by_share[share_id])
        link_share(share)


def load_rows(session, stmt, params=None, with_share_data=False, refresh=False):
    """Run a ``_rows_stmt`` statement; return the usable instances.

    Without share data every instance is returned; with it, orphans are
    dropped and the share's columns are copied onto each instance.
    """
    options = {'populate_existing': True} if refresh else {}
    rows = session.execute(stmt, params or {},
                           execution_options=options).unique().all()
    _attach_instances(session, rows)
    result = []
    for instance, _count in rows:
        if with_share_data:
            if instance.share is None:
                continue
            instance.set_share_data(instance.share)
        result.append(instance)
    return result


def get(session, context, instance_id, with_share_data=False,
        read_deleted=None, refresh=False):
    stmt = _get_stmt(utils.read_deleted_of(context, read_deleted))
    found = load_rows(session, stmt, {'si_id': instance_id}, refresh=refresh)
    if not found:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)
    instance = found[0]
    if with_share_data and instance.share is not None:
        instance.set_share_data(instance.share)
    return instance


def share_instance_get(context, share_instance_id, with_share_data=False):
    with engine.reader(context) as session:
        return get(session, context, share_instance_id, with_share_data)


def share_instance_get_all_by_host(context, host, with_share_data=False,
                                   status=None):
    stmt = (_rows_stmt(utils.read_deleted_of(context), True)
            .where(utils.host_filter(SI.host, host)))
    statuses = utils.as_list(status)
    if statuses is not None:
        stmt = stmt.where(SI.status.in_(statuses))
    stmt = stmt.order_by(SI.created_at, SI.id)
    with engine.reader(context) as session:
        return load_rows(session, stmt, with_share_data=with_share_data)


def _apply_instance_filters(stmt, filters):
    ids = filters.get('instance_ids')
    if ids:
        stmt = stmt.where(SI.id.in_(list(ids)))
    if filters.get('host'):
        stmt = stmt.where(utils.host_filter(SI.host, filters['host']))
    for key in ('share_id', 'share_server_id', 'share_network_id',
                'encryption_key_ref', 'replica_state', 'share_type_id'):
        if filters.get(key):
            stmt = stmt.where(SI.__table__.c[key] == filters[key])
    statuses = utils.as_list(filters.get('status'))
    if statuses:
        stmt = stmt.where(SI.status.in_(statuses))
    for key, value in (filters.get('metadata') or {}).items():
        meta = orm.aliased(models.ShareInstanceMetadata)
        stmt = stmt.join(meta, sa.and_(
            meta.share_instance_id == SI.id, meta.key == key,
            meta.value == value, meta.deleted == 'False'))
    return stmt


def share_instance_get_all(context, filters=None, with_share_data=False):
    """Live instances of shares not in the recycle bin, filtered like upstream."""
    filters = dict(filters or {})
    stmt = _rows_stmt('no', True).join(
        models.Share, models.Share.id == SI.share_id).where(
        models.Share.is_soft_deleted == bool(filters.get('is_soft_deleted')))
    el_id = filters.get('export_location_id')
    el_path = filters.get('export_location_path')
    if el_id or el_path:
        match = [EL.share_instance_id == SI.id, model_base.live(EL)]
        if el_id:
            match.append(EL.uuid == el_id)
        if el_path:
            match.append(EL.path == el_path)
        stmt = stmt.where(sa.exists().where(*match))
    stmt = _apply_instance_filters(stmt, filters)
    stmt = stmt.order_by(SI.created_at, SI.id)
    with engine.reader(context) as session:
        return load_rows(session, stmt, with_share_data=with_share_data)


def prepare_values(session, context, values):
    """Copy of ``values`` with AZ names and ``share_type`` objects turned into ids."""
    values = dict(values)
    services.translate_availability_zone(session, context, values)
    share_type = values.pop('share_type', None)
    if share_type and not values.get('share_type_id'):
        values['share_type_id'] = share_type['id']
    return values


def update(session, context, instance_id, values):
    """Apply ``values`` to one instance inside the caller's transaction."""
    values = prepare_values(session, context, values)
    stmt = utils.model_query(context, SI).where(SI.id == instance_id)
    instance = session.scalars(stmt).first()
    if instance is None:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)
    utils.apply_values(instance, values)
    session.flush()
    return instance


def share_instance_update(context, share_instance_id, values,
                          with_share_data=False):
    with engine.writer(context) as session:
        update(session, context, share_instance_id, values)
        return get(session, context, share_instance_id, with_share_data,
                   refresh=True)


def _bulk_values(session, context, values):
    values = prepare_values(session, context, values)
    unknown = [k for k in values if k not in SI.__table__.c]
    if unknown:
        raise exception.InvalidInput(
            reason='not share_instances columns: %s' % ', '.join(unknown))
    values.setdefault('updated_at', model_base.utcnow())
    return values


def share_instance_status_update(context, share_instance_ids, values,
                                 expected_statuses=None):
    """One bulk UPDATE of live instances (only those in ``expected_statuses`` if given)."""
    conditions = [SI.id.in_(list(share_instance_ids)), model_base.live(SI)]
    if expected_statuses is not None:
        conditions.append(SI.status.in_(utils.as_list(expected_statuses)))
    with engine.writer(context) as session:
        stmt = (sa.update(SI).where(*conditions)
                .values(**_bulk_values(session, context, values))
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount


def share_instance_conditional_update(context, share_instance_id,
                                      expected_statuses, values):
    """One UPDATE guarded by ``status IN expected``; True when a row changed."""
    expected = utils.as_list(expected_statuses) or []
    with engine.writer(context) as session:
        stmt = (sa.update(SI)
                .where(SI.id == share_instance_id, model_base.live(SI),
                       SI.status.in_(expected))
                .values(**_bulk_values(session, context, values))
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount == 1


def _soft_delete_instance_children(session, instance_id):
    el_ids = sa.select(EL.id).where(EL.share_instance_id == instance_id,
                                    model_base.live(EL))
    utils.soft_delete_where(
        session, models.ShareInstanceExportLocationsMetadata,
        models.ShareInstanceExportLocationsMetadata.export_location_id.in_(
            el_ids))
    utils.soft_delete_where(session, EL, EL.share_instance_id == instance_id)
    mapping = models.ShareInstanceAccessMapping
    utils.soft_delete_where(session, mapping,
                            mapping.share_instance_id == instance_id,
                            state=constants.ACCESS_STATE_DELETED)
    meta = models.ShareInstanceMetadata
    utils.soft_delete_where(session, meta,
                            meta.share_instance_id == instance_id)


def _soft_delete_share(session, share_id):
    rule = models.ShareAccessMapping
    rule_ids = sa.select(rule.id).where(rule.share_id == share_id,
                                        model_base.live(rule))
    rule_meta = models.ShareAccessRulesMetadata
    utils.soft_delete_where(session, rule_meta,
                            rule_meta.access_id.in_(rule_ids))
    utils.soft_delete_where(session, rule, rule.share_id == share_id)
    meta = models.ShareMetadata
    utils.soft_delete_where(session, meta, meta.share_id == share_id)
    now = model_base.utcnow()
    session.execute(
        sa.update(models.Share).where(models.Share.id == share_id)
        .values(deleted=share_id, deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False))


def _lock_for_delete(session, context, instance_id):
    """Lock the instance, then its share; return the share as it is (columns only).

    The share lock serialises deletions of sibling instances so exactly
    one of them sees "no live instance left"; instance-before-share is the
    order every other writer uses. (No-ops on SQLite, which already holds
    the database write lock.)
    """
    share_id = session.execute(
        sa.select(SI.share_id)
        .where(SI.id == instance_id,
               model_base.deleted_filter(SI, utils.read_deleted_of(context)))
        .with_for_update()).first()
    if share_id is None:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)
    share = session.scalars(
        sa.select(models.Share).where(models.Share.id == share_id[0])
        .with_for_update()).first()
    return share_id[0], share


def share_instance_delete(context, share_instance_id):
    """Soft-delete an instance and its children; the share too if it was the last."""
    with engine.writer(context) as session:
        share_id, share = _lock_for_delete(session, context,
                                           share_instance_id)
        _soft_delete_instance_children(session, share_instance_id)
        now = model_base.utcnow()
        session.execute(
            sa.update(SI).where(SI.id == share_instance_id)
            .values(status=constants.STATUS_DELETED, deleted=share_instance_id,
                    deleted_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        remaining = session.scalar(
            sa.select(sa.func.count()).select_from(SI)
            .where(SI.share_id == share_id, model_base.live(SI)))
        share_deleted = bool(share is not None and remaining == 0)
        if share_deleted:
            _soft_delete_share(session, share_id)
    return {'share_deleted': share_deleted, 'share': share}
