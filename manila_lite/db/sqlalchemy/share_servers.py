"""Queries on share_servers and the network rows a server carries (subnets, details, allocations)."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

_Server = models.ShareServer
_Subnet = models.ShareNetworkSubnet
_Map = models.ShareServerShareNetworkSubnetMapping
_Details = models.ShareServerBackendDetails
_SI = models.ShareInstance
_SnapI = models.ShareSnapshotInstance
_Group = models.ShareGroup

# Statuses upstream's free-server clean-up deletes a server from.
UNUSED_DELETABLE_STATUSES = (
    constants.STATUS_INACTIVE, constants.STATUS_ACTIVE, constants.STATUS_ERROR,
    constants.STATUS_CREATING, constants.STATUS_DELETING)


def server_options(many=orm.selectinload):
    """Loader options (relative to ShareServer) for a detached, usable server.

    ``many`` loads the collections: ``orm.subqueryload`` for reads of
    any number of servers (one statement per collection, however many
    rows; selectinload sends one per 500 parents).
    """
    return [
        many(_Server._backend_details),
        many(_Server._share_network_subnet_ids),
        many(_Server.network_allocations),
        many(_Server.share_network_subnets).options(
            orm.joinedload(_Subnet.share_network),
            orm.joinedload(_Subnet._availability_zone),
            many(_Subnet.share_network_subnet_metadata)),
    ]


def _full_options(many=orm.selectinload):
    """server_options with the server's instances and groups; ``orm.subqueryload`` for reads of any number of servers."""
    return server_options(many) + [
        many(_Server.share_instances).options(
            orm.selectinload(models.ShareInstance._availability_zone)),
        many(_Server.share_groups),
    ]


def share_server_get(context, server_id):
    with engine.reader(context) as session:
        stmt = (utils.model_query(context, _Server)
                .where(_Server.id == server_id).options(*_full_options()))
        result = session.scalars(stmt).first()
    if result is None:
        raise exception.ShareServerNotFound(share_server_id=server_id)
    return result


def share_server_get_all_by_host(context, host, filters=None):
    """Servers whose host is exactly ``host`` (servers carry no pool)."""
    filters = dict(filters or {})
    filters['host'] = host
    legal = ('id', 'host', 'is_auto_deletable', 'identifier', 'task_state',
             'source_share_server_id', 'status', 'encryption_key_ref',
             'security_service_update_support',
             'network_allocation_update_support')
    if any(key not in legal for key in filters):
        return []
    with engine.reader(context) as session:
        stmt = utils.exact_filter(utils.model_query(context, _Server),
                                  _Server, filters, legal)
        stmt = stmt.order_by(_Server.created_at, _Server.id)
        return list(session.scalars(
            stmt.options(*_full_options(orm.subqueryload))))


def share_servers_get_by_ids(context, server_ids):
    """Live servers among ``server_ids`` on any host (one read)."""
    if not server_ids:
        return []
    with engine.reader(context) as session:
        stmt = utils.model_query(context, _Server).where(
            _Server.id.in_(list(server_ids)))
        return list(session.scalars(
            stmt.options(*_full_options(orm.subqueryload))))


def share_server_update(context, server_id, values):
    """Update a share server and return it reloaded."""
    with engine.writer(context) as session:
        stmt = utils.model_query(context, _Server).where(
            _Server.id == server_id)
        server = session.scalars(stmt).first()
        if server is None:
            raise exception.ShareServerNotFound(share_server_id=server_id)
        utils.apply_values(server, values)
        session.flush()
    return share_server_get(context, server_id)


def share_server_create(context, values):
    """Insert a server with its subnet mappings (``share_network_subnets``: rows or ids); returns it loaded."""
    values = utils.ensure_id(dict(values))
    subnets = values.pop('share_network_subnets', None) or []
    with engine.writer(context) as session:
        server = _Server()
        utils.apply_values(server, values)
        session.add(server)
        session.flush()
        for subnet in subnets:
            subnet_id = subnet if isinstance(subnet, str) else subnet['id']
            session.add(models.ShareServerShareNetworkSubnetMapping(
                share_server_id=server.id, share_network_subnet_id=subnet_id))
    return share_server_get(context, values['id'])


def share_servers_conditional_update(context, server_ids, expected_statuses,
                                     values, unused=False, column='status'):
    """``UPDATE ... WHERE id IN ids AND status IN expected``; returns the ids that moved.

    ``unused`` also requires the server to have no live share instance or
    share group, in the same statement (a share placed on it meanwhile
    keeps it alive).
    """
    if not server_ids:
        return []
    values = dict(values)
    values.setdefault('updated_at', model_base.utcnow())
    cond = [_Server.id.in_(list(server_ids)), model_base.live(_Server),
            getattr(_Server, column).in_(list(expected_statuses))]
    if unused:
        cond += [~sa.exists().where(_SI.share_server_id == _Server.id,
                                    model_base.live(_SI)),
                 ~sa.exists().where(_Group.share_server_id == _Server.id,
                                    model_base.live(_Group))]
    with engine.writer(context) as session:
        moved = list(session.scalars(sa.select(_Server.id).where(*cond)))
        if moved:
            session.execute(sa.update(_Server).where(
                _Server.id.in_(moved)).values(**values)
                .execution_options(synchronize_session=False))
        return moved


def share_server_get_all_by_host_and_share_subnet_valid(context, host,
                                                        subnet_id):
    """``creating``/``active`` servers on ``host`` mapped to ``subnet_id`` (a list, maybe empty)."""
    mapped = sa.select(_Map.share_server_id).where(
        _Map.share_network_subnet_id == subnet_id, _Map.deleted == 0)
    stmt = utils.model_query(context, _Server).where(
        _Server.host == host, _Server.id.in_(mapped),
        _Server.status.in_((constants.STATUS_CREATING,
                            constants.STATUS_ACTIVE)))
    with engine.reader(context) as session:
        return list(session.scalars(
            stmt.order_by(_Server.created_at, _Server.id)
            .options(*server_options())))


def _servers_mapped(context, host, subnet_ids):
    """Live servers (of ``host``, or of any host when None) mapped to a subnet of the ``subnet_ids`` select."""
    mapped = sa.select(_Map.share_server_id).where(
        _Map.share_network_subnet_id.in_(subnet_ids), _Map.deleted == 0)
    stmt = utils.model_query(context, _Server).where(_Server.id.in_(mapped))
    if host is not None:
        stmt = stmt.where(_Server.host == host)
    with engine.reader(context) as session:
        return list(session.scalars(
            stmt.order_by(_Server.created_at, _Server.id)
            .options(*_full_options())))


def share_server_get_all_by_host_and_share_network(context, host,
                                                   share_network_id):
    """Live servers on ``host`` (any host: None) mapped to a live subnet of the share network (one read, any status)."""
    return _servers_mapped(context, host, sa.select(_Subnet.id).where(
        _Subnet.share_network_id == share_network_id,
        model_base.live(_Subnet)))


def share_server_get_all_by_host_and_or_share_subnet(context, host=None,
                                                     share_subnet_id=None):
    """Live servers on ``host`` (any host: None) mapped to the subnet (one read, any status)."""
    return _servers_mapped(context, host, sa.select(sa.literal(
        share_subnet_id)))


def share_server_get_all_unused_deletable(context, host, updated_before):
    """Auto-deletable servers of ``host`` without shares or groups, untouched since ``updated_before`` (one read)."""
    stmt = utils.model_query(context, _Server).where(
        _Server.host == host, _Server.is_auto_deletable.is_(True),
        _Server.status.in_(UNUSED_DELETABLE_STATUSES),
        _Server.updated_at < updated_before,
        ~sa.exists().where(_SI.share_server_id == _Server.id,
                           model_base.live(_SI)),
        ~sa.exists().where(_Group.share_server_id == _Server.id,
                           model_base.live(_Group)))
    with engine.reader(context) as session:
        return list(session.scalars(
            stmt.order_by(_Server.created_at, _Server.id)
            .options(*server_options(many=orm.subqueryload))))


def share_server_usage(context, server_ids):
    """``{server id: (live share instances, GB of them and their snapshots)}`` in two statements."""
    result = {sid: (0, 0) for sid in server_ids}
    if not server_ids:
        return result
    snap = models.ShareSnapshot
    snap_sizes = (sa.select(sa.func.coalesce(sa.func.sum(snap.size), 0))
                  .select_from(_SnapI)
                  .join(snap, snap.id == _SnapI.snapshot_id)
                  .where(_SnapI.share_instance_id == _SI.id,
                         model_base.live(_SnapI)).scalar_subquery())
    share_size = sa.select(models.Share.size).where(
        models.Share.id == _SI.share_id).scalar_subquery()
    stmt = (sa.select(_SI.share_server_id, sa.func.count(_SI.id),
                      sa.func.sum(sa.func.coalesce(share_size, 0) +
                                  snap_sizes))
            .where(_SI.share_server_id.in_(list(server_ids)),
                   model_base.live(_SI))
            .group_by(_SI.share_server_id))
    with engine.reader(context) as session:
        for sid, count, size in session.execute(stmt):
            result[sid] = (int(count), int(size or 0))
    return result


def share_server_backend_details_set(context, server_id, details):
    """Upsert backend detail keys of a server (values as strings)."""
    details = {k: utils.metadata_value(k, v) for k, v in details.items()}
    details = {k: v for k, v in details.items() if v is not None}
    if not details:
        return
    with engine.writer(context) as session:
        utils.lock_row(session, _Server, server_id)
        existing = {d.key: d for d in session.scalars(
            utils.model_query(context, _Details).where(
                _Details.share_server_id == server_id,
                _Details.key.in_(list(details))))}
        for key, value in details.items():
            if key in existing:
                existing[key].value = value
            else:
                session.add(_Details(share_server_id=server_id, key=key,
                                     value=value))


def share_servers_delete(context, server_ids):
    """Soft-delete servers with their backend details and subnet mappings, in one transaction; returns the count."""
    if not server_ids:
        return 0
    ids = list(server_ids)
    with engine.writer(context) as session:
        utils.soft_delete_where(session, _Details,
                                _Details.share_server_id.in_(ids))
        session.execute(sa.update(_Map).where(
            _Map.share_server_id.in_(ids), _Map.deleted == 0).values(
            deleted=_Map.id, deleted_at=model_base.utcnow())
            .execution_options(synchronize_session=False))
        return utils.soft_delete_where(
            session, _Server, _Server.id.in_(ids),
            status=constants.STATUS_DELETED)
