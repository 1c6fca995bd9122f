"""Queries on share_instances: reads with eager loading, updates, the conditional update, delete."""

from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import attributes

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import quotas
from manila_lite.db.sqlalchemy import services
from manila_lite.db.sqlalchemy import share_servers
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

LOG = log.getLogger(__name__)
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
# The instance's SELECT joins the many-to-one relationships (share, zone,
# type; the server in batch reads) and counts the live instances of the
# share: when the instance is its share's only one (the usual case),
# ``share.instances`` is set to it without another query; the other shares
# get their instances from one more SELECT for all of them. Batch reads load each
# collection with one subquery load (the row query joined to the collection,
# no bound ids: one statement however many rows, where selectinload sends
# one per 500 parents);
# share_instance_get joins the type's extra specs and the instance
# metadata (a few rows) and reads the export locations, the share metadata
# and, if there is one, the share server with plain SELECTs, cheaper than
# the selectin machinery. Every statement is prebuilt (utils.prebuilt).

_SIBLING = orm.aliased(SI, name='sibling')


def _own_options(batch):
    """Loader options (relative to ShareInstance) for all but its share.

    With ``batch`` the type's extra specs and the instance metadata come
    from one subquery load each, the export locations too; for one
    row the first two are joined, the locations and the server (most
    instances have none) left to get().
    """
    many = orm.subqueryload if batch else orm.joinedload
    options = [
        orm.joinedload(SI._availability_zone),
        orm.joinedload(SI.share_type).options(
            many(models.ShareTypes.extra_specs)),
        many(SI.share_instance_metadata),
    ]
    if not batch:
        return options
    return options + [
        orm.subqueryload(SI.export_locations).joinedload(
            EL._el_metadata_bare),
        orm.joinedload(SI.share_server).options(
            *share_servers.server_options(orm.subqueryload))]


def _live_sibling_count():
    return (sa.select(sa.func.count()).select_from(_SIBLING)
            .where(_SIBLING.share_id == SI.share_id,
                   model_base.live(_SIBLING))
            .correlate(SI).scalar_subquery())


def _rows_stmt(read_deleted, batch):
    """``SELECT instance, live sibling count`` with the loader options."""
    share = orm.joinedload(SI.share)
    if batch:
        share = share.subqueryload(models.Share.share_metadata)
    return (sa.select(SI, _live_sibling_count())
            .where(model_base.deleted_filter(SI, read_deleted))
            .options(share, *_own_options(batch)))


def batch_rows_stmt(read_deleted):
    """The batch read of instances (see load_rows), for queries of other modules to narrow."""
    return _rows_stmt(read_deleted, True)


def _get_stmt(read_deleted, access_flag=False):
    """The one-instance SELECT; ``access_flag`` adds "has a live access mapping"."""
    def build():
        stmt = (_rows_stmt(read_deleted, False)
                .where(SI.id == sa.bindparam('b_si')))
        if access_flag:
            mapping = models.ShareInstanceAccessMapping.__table__
            stmt = stmt.add_columns(sa.exists().where(
                mapping.c.share_instance_id == SI.id,
                mapping.c.deleted == model_base.STRING_LIVE))
        return stmt
    return utils.prebuilt(('si_get', read_deleted, access_flag), build)


def _locations_stmt():
    return (sa.select(EL)
            .where(EL.share_instance_id == sa.bindparam('b_si'),
                   model_base.live(EL))
            .order_by(EL.updated_at, EL.id)
            .options(orm.joinedload(EL._el_metadata_bare)))


def _server_stmt():
    server = models.ShareServer
    return (sa.select(server).where(server.id == sa.bindparam('b_server'))
            .options(*share_servers.server_options()))


def _share_metadata_stmt():
    meta = models.ShareMetadata
    return sa.select(meta).where(meta.share_id == sa.bindparam('b_share'),
                                 model_base.live(meta))


def _siblings_stmt():
    return utils.prebuilt('si_siblings', lambda: (
        sa.select(SI)
        .where(SI.share_id.in_(sa.bindparam('share_ids', expanding=True)),
               model_base.live(SI))
        .order_by(SI.created_at, SI.id)
        .options(*_own_options(True))))


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


def load_rows(session, stmt, params=None, with_share_data=False,
              options=None):
    """Run a ``_rows_stmt`` statement; return the usable instances.

    Without share data every instance is returned; with it, orphans are
    dropped and the share's columns are copied onto each instance.
    """
    rows = session.execute(stmt, params or {},
                           execution_options=options or {}).unique().all()
    _attach_instances(session, rows)
    result = []
    for instance, _count in rows:
        if with_share_data:
            if instance.share is None:
                continue
            instance.set_share_data(instance.share)
        result.append(instance)
    return result


def _load_one(session, stmt, params, options, access_flag):
    """The instance of a ``_get_stmt`` (None if absent), its share's instances attached."""
    rows = session.execute(stmt, params,
                           execution_options=options).unique().all()
    if not rows:
        return None
    instance = rows[0][0]
    if access_flag:
        instance.has_access_rules = bool(rows[0][2])
        rows = [(row[0], row[1]) for row in rows]
    _attach_instances(session, rows)
    return instance


def get(session, context, instance_id, with_share_data=False,
        read_deleted=None, refresh=False, access_flag=False):
    options = {'populate_existing': True} if refresh else {}
    params = {'b_si': instance_id}
    read_deleted = utils.read_deleted_of(context, read_deleted)
    instance = _load_one(session, _get_stmt(read_deleted, access_flag),
                         params, options, access_flag)
    if instance is None:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)
    locations = session.scalars(
        utils.prebuilt('si_get_locations', _locations_stmt), params,
        execution_options=options).unique().all()
    attributes.set_committed_value(instance, 'export_locations', locations)
    server = None
    if instance.share_server_id:
        params['b_server'] = instance.share_server_id
        server = session.scalars(utils.prebuilt('si_get_server',
                                                _server_stmt),
                                 params, execution_options=options).first()
    attributes.set_committed_value(instance, 'share_server', server)
    share = instance.share
    if share is not None:
        params['b_share'] = share.id
        metadata = session.scalars(
            utils.prebuilt('si_get_share_metadata', _share_metadata_stmt),
            params, execution_options=options).all()
        attributes.set_committed_value(share, 'share_metadata', metadata)
        if with_share_data:
            instance.set_share_data(share)
    return instance


def share_instance_get(context, share_instance_id, with_share_data=False,
                       check_access_rules=False):
    with engine.reader(context) as session:
        return get(session, context, share_instance_id, with_share_data,
                   access_flag=check_access_rules)


def _access_exists_stmt():
    mapping = models.ShareInstanceAccessMapping.__table__
    return sa.select(sa.exists().where(
        mapping.c.share_instance_id == sa.bindparam('b_si'),
        mapping.c.deleted == model_base.STRING_LIVE))


def share_instance_has_access_rules(context, share_instance_id):
    with engine.reader(context) as session:
        return bool(session.scalar(
            utils.prebuilt('si_access_exists', _access_exists_stmt),
            {'b_si': share_instance_id}))


def share_instance_get_all_by_host(context, host, with_share_data=False,
                                   status=None, access_rules_status=None):
    stmt = (_rows_stmt(utils.read_deleted_of(context), True)
            .where(utils.host_filter(SI.host, host)))
    statuses = utils.as_list(status)
    if statuses is not None:
        stmt = stmt.where(SI.status.in_(statuses))
    rules_statuses = utils.as_list(access_rules_status)
    if rules_statuses is not None:
        stmt = stmt.where(SI.access_rules_status.in_(rules_statuses))
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
            value = filters[key]
            column = SI.__table__.c[key]
            stmt = stmt.where(column.in_(list(value))
                              if isinstance(value, (list, tuple, set))
                              else column == value)
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


def share_instance_get_all_by_share_group_id(context, share_group_id):
    """Live instances (with share data) of the shares in a share group."""
    stmt = _rows_stmt('no', True).join(
        models.Share, models.Share.id == SI.share_id).where(
        models.Share.share_group_id == share_group_id).order_by(
        SI.created_at, SI.id)
    with engine.reader(context) as session:
        return load_rows(session, stmt, with_share_data=True)


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


def share_instances_conditional_update(context, share_instance_ids,
                                       expected_statuses, values):
    """One UPDATE of the live rows among the ids whose status is expected; returns the ids that moved.

    With UPDATE ... RETURNING (PostgreSQL, SQLite, MariaDB) that is one
    statement; otherwise the rows are locked by a SELECT ... FOR UPDATE
    and then updated.
    """
    ids = list(share_instance_ids)
    if not ids:
        return []
    table = SI.__table__
    found = sa.and_(table.c.id.in_(ids),
                    table.c.deleted == model_base.STRING_LIVE,
                    table.c.status.in_(utils.as_list(expected_statuses)))
    with engine.writer(context) as session:
        update = sa.update(table).values(**_bulk_values(session, context,
                                                        values))
        return utils.update_moved_ids(session, table, found, update)


def _conditional_stmt(columns):
    table = SI.__table__
    return (sa.update(table)
            .where(table.c.id == sa.bindparam('b_id'),
                   table.c.deleted == model_base.STRING_LIVE,
                   table.c.status.in_(sa.bindparam('b_expected',
                                                   expanding=True)))
            .values({name: sa.bindparam('v_' + name) for name in columns}))


def conditional_update(session, context, share_instance_id,
                       expected_statuses, values):
    """share_instance_conditional_update inside the caller's transaction."""
    expected = utils.as_list(expected_statuses) or []
    values = _bulk_values(session, context, values)
    columns = tuple(sorted(values))
    stmt = utils.prebuilt(('si_conditional', columns),
                          lambda: _conditional_stmt(columns))
    params = {'v_' + name: value for name, value in values.items()}
    params.update(b_id=share_instance_id, b_expected=expected)
    return session.execute(stmt, params).rowcount == 1


def share_instance_conditional_update(context, share_instance_id,
                                      expected_statuses, values):
    """One UPDATE guarded by ``status IN expected``; True when a row changed."""
    with engine.writer(context) as session:
        return conditional_update(session, context, share_instance_id,
                                  expected_statuses, values)


# -- delete: prebuilt Core statements (bound: b_si, b_share, b_now) -------

def _live(model):
    """``deleted`` is live, on the table's column (keeps statements Core-only)."""
    return model.__table__.c.deleted == model.live_deleted_value


def _c(model):
    return model.__table__.c


def _deleted_filter(read_deleted):
    """model_base.deleted_filter for share_instances, on the table's column."""
    column = _c(SI).deleted
    if read_deleted in ('yes', 'y', True):
        return sa.true()
    model_base.deleted_filter(SI, read_deleted)  # rejects unknown modes
    if read_deleted == 'only':
        return column != model_base.STRING_LIVE
    return column == model_base.STRING_LIVE


def _children():
    """``(model, condition, extra)`` soft-deleted with an instance, then with its share."""
    si_id, share_id = sa.bindparam('b_si'), sa.bindparam('b_share')
    elm = models.ShareInstanceExportLocationsMetadata
    mapping = models.ShareInstanceAccessMapping
    meta = models.ShareInstanceMetadata
    rule = models.ShareAccessMapping
    rule_meta = models.ShareAccessRulesMetadata
    share_meta = models.ShareMetadata
    instance = [
        (elm, _c(elm).export_location_id.in_(sa.select(_c(EL).id).where(
            _c(EL).share_instance_id == si_id, _live(EL))), {}),
        (EL, _c(EL).share_instance_id == si_id, {}),
        (mapping, _c(mapping).share_instance_id == si_id,
         {'state': constants.ACCESS_STATE_DELETED}),
        (meta, _c(meta).share_instance_id == si_id, {}),
    ]
    share = [
        (rule_meta, _c(rule_meta).access_id.in_(sa.select(_c(rule).id).where(
            _c(rule).share_id == share_id, _live(rule))), {}),
        (rule, _c(rule).share_id == share_id, {}),
        (share_meta, _c(share_meta).share_id == share_id, {}),
    ]
    return instance, share


def _soft_delete_stmt(model, condition, extra):
    """Upstream's query soft delete: deleted = id, deleted_at = now, updated_at kept."""
    columns = _c(model)
    marker = columns.id
    if model.live_deleted_value == model_base.STRING_LIVE:
        marker = sa.cast(columns.id, sa.String(36))
    return (sa.update(model.__table__).where(_live(model), condition)
            .values(deleted=marker, deleted_at=sa.bindparam('b_now'),
                    updated_at=columns.updated_at, **extra))


def _delete_plan():
    """The prebuilt statements: child soft deletes and the presence check.

    The check is one SELECT of the share's live instance count and, for
    each child table, whether it has rows to soft-delete (so no UPDATE
    runs for nothing).
    """
    instance, share = _children()
    live_count = (sa.select(sa.func.count()).select_from(SI.__table__)
                  .where(_c(SI).share_id == sa.bindparam('b_share'),
                         _live(SI)).scalar_subquery())
    check = sa.select(live_count, *[
        sa.exists().where(_live(model), condition)
        for model, condition, _extra in instance + share])
    return {'check': check,
            'instance': [_soft_delete_stmt(*c) for c in instance],
            'share': [_soft_delete_stmt(*c) for c in share]}


def _mark_instance_deleted(session, context, instance_id, now):
    """Soft-delete the instance row (which locks it).

    Returns its ``(share_id, replica_state, share_type_id)``.
    """
    read_deleted = utils.read_deleted_of(context)
    returning = session.get_bind().dialect.update_returning

    def build():
        table = SI.__table__
        columns = (table.c.share_id, table.c.replica_state,
                   table.c.share_type_id)
        found = sa.and_(table.c.id == sa.bindparam('b_si'),
                        _deleted_filter(read_deleted))
        update = (sa.update(table).where(found)
                  .values(status=constants.STATUS_DELETED,
                          deleted=sa.bindparam('b_si'),
                          deleted_at=sa.bindparam('b_now'),
                          updated_at=sa.bindparam('b_now')))
        if returning:
            return update.returning(*columns), None
        return update, sa.select(*columns).where(found).with_for_update()

    update, lock = utils.prebuilt(('si_delete_row', read_deleted, returning),
                                  build)
    params = {'b_si': instance_id, 'b_now': now}
    if lock is None:
        row = session.execute(update, params).first()
    else:
        row = session.execute(lock, params).first()
        if row is not None:
            session.execute(update, params)
    if row is None:
        raise exception.ShareInstanceNotFound(share_instance_id=instance_id)
    return row


def _share_for_update():
    return (sa.select(models.Share)
            .where(models.Share.id == sa.bindparam('b_share'))
            .with_for_update())


def _share_soft_delete():
    table = models.Share.__table__
    return (sa.update(table).where(table.c.id == sa.bindparam('b_share'))
            .values(deleted=sa.bindparam('b_share'),
                    deleted_at=sa.bindparam('b_now'),
                    updated_at=sa.bindparam('b_now')))


def usage_deltas(size, replica_state, no_instances_remain):
    """The quota a deleted share instance gives back (negative deltas), by upstream's rule.

    A replica (``replica_state`` set) gives back ``share_replicas`` and
    ``replica_gigabytes``; when no instance of its share remains (or the
    deletion is deferred) it gives back ``shares`` and ``gigabytes`` too.
    A share without replication gives back ``shares`` and ``gigabytes``.
    """
    size = size or 0
    share_usages = {'shares': -1, 'gigabytes': -size}
    if not replica_state:
        return share_usages
    deltas = {'share_replicas': -1, 'replica_gigabytes': -size}
    if no_instances_remain:
        deltas.update(share_usages)
    return deltas


def _release_usages(session, context, share, instance_row, share_gone,
                    once=False):
    """Give back the share's quota inside the caller's transaction (last: it locks the usage rows)."""
    if share is None:
        LOG.warning('Share instance of missing share %s deleted; no quota '
                    'to release.', instance_row.share_id)
        return []
    return quotas.release(
        session, context,
        usage_deltas(share.size, instance_row.replica_state, share_gone),
        share.project_id, share.user_id,
        share_type_id=instance_row.share_type_id,
        once_for=instance_row.id if once else None)


def share_instance_delete(context, share_instance_id,
                          need_to_update_usages=False):
    """Soft-delete an instance and its children; the share too if it was the last.

    One transaction, as upstream's: a reader (upstream's API shows
    ``share.instance``) never finds the share live without a live instance
    (tests/functional/interop/test_interop_live_instance.py). The instance
    row is locked (by its UPDATE) before the share row: the share lock serialises deletions of sibling instances so
    exactly one of them sees "no live instance left", and
    instance-before-share is the order every other writer uses (no-ops on
    SQLite, which already holds the database write lock). One SELECT then
    counts the live siblings and tells which child tables have rows to
    soft-delete.

    ``need_to_update_usages`` (as upstream) also gives back the quota,
    sized by the share row as locked here, in the same transaction and as
    its last statements (the usage rows, shared by the project's shares,
    stay locked only until the COMMIT). The deletion and the release
    commit together or not at all; a deadlock or lost connection runs the
    whole transaction again (db.api's retry), and an instance already
    deleted raises ShareInstanceNotFound, so the quota is never released
    twice.
    """
    plan = utils.prebuilt('si_delete_plan', _delete_plan)
    now = model_base.utcnow()
    with engine.writer(context) as session:
        row = _mark_instance_deleted(session, context, share_instance_id,
                                     now)
        params = {'b_si': share_instance_id, 'b_share': row.share_id,
                  'b_now': now}
        share = session.scalars(
            utils.prebuilt('share_for_update', _share_for_update),
            params).first()
        check = session.execute(plan['check'], params).one()
        share_deleted = bool(share is not None and check[0] == 0)
        stmts = plan['instance'] + (plan['share'] if share_deleted else [])
        for stmt, present in zip(stmts, check[1:]):
            if present:
                session.execute(stmt, params)
        if share_deleted:
            session.execute(
                utils.prebuilt('share_soft_delete', _share_soft_delete),
                params)
        if need_to_update_usages:
            _release_usages(session, context, share, row, share_deleted)
    return {'share_deleted': share_deleted, 'share': share}


def update_share_instance_quota_usages(context, share_instance_id):
    """Give back the quota of an instance whose deletion is deferred, at most once.

    Upstream's name. The instance stays (in ``deferred_deleting``) while
    the driver deletes it, and its final soft delete releases nothing.
    The reservation rows of this release carry uuids derived from the
    instance id, so running it again (start-up settling an instance
    whose deletion was interrupted, a lost COMMIT) finds them and changes
    nothing. Returns the reservation uuids written ([] when already done).
    """
    with engine.writer(context) as session:
        row = session.execute(
            sa.select(SI.id, SI.share_id, SI.replica_state, SI.share_type_id)
            .where(SI.id == share_instance_id, _live(SI))
            .with_for_update()).first()
        if row is None:
            raise exception.ShareInstanceNotFound(
                share_instance_id=share_instance_id)
        share = session.scalars(
            utils.prebuilt('share_for_update', _share_for_update),
            {'b_share': row.share_id}).first()
        return _release_usages(session, context, share, row,
                               share_gone=True, once=True)
