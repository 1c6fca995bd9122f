"""Queries on share_servers and the network rows a server carries (subnets, details, allocations)."""

from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

_Server = models.ShareServer
_Subnet = models.ShareNetworkSubnet


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


def _full_options():
    return server_options() + [
        orm.selectinload(_Server.share_instances).options(
            orm.selectinload(models.ShareInstance._availability_zone)),
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
        return list(session.scalars(stmt.options(*_full_options())))


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
