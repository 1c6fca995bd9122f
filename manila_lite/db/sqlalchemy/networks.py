"""Queries on share networks, their subnets and the network allocations of share servers."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

_Net = models.ShareNetwork
_Subnet = models.ShareNetworkSubnet
_Alloc = models.NetworkAllocation
_Map = models.ShareServerShareNetworkSubnetMapping


def _subnet_options():
    return [orm.joinedload(_Subnet.share_network),
            orm.joinedload(_Subnet._availability_zone),
            orm.selectinload(_Subnet.share_network_subnet_metadata)]


def share_network_get(context, share_network_id):
    with engine.reader(context) as session:
        stmt = utils.model_query(context, _Net).where(
            _Net.id == share_network_id).options(
            orm.selectinload(_Net.security_services),
            orm.selectinload(_Net.share_network_subnets).options(
                *_subnet_options()))
        network = session.scalars(stmt).first()
    if network is None:
        raise exception.ShareNetworkNotFound(
            share_network_id=share_network_id)
    return network


def _subnets(context, *conditions):
    with engine.reader(context) as session:
        stmt = utils.model_query(context, _Subnet).where(*conditions)
        return list(session.scalars(
            stmt.order_by(_Subnet.created_at, _Subnet.id)
            .options(*_subnet_options())))


def share_network_subnets_get_all_by_availability_zone_id(
        context, share_network_id, availability_zone_id,
        fallback_to_default=True):
    found = _subnets(context, _Subnet.share_network_id == share_network_id,
                     _Subnet.availability_zone_id == availability_zone_id)
    if availability_zone_id and not found and fallback_to_default:
        found = _subnets(context,
                         _Subnet.share_network_id == share_network_id,
                         _Subnet.availability_zone_id.is_(None))
    return found


def share_network_subnet_get(context, subnet_id):
    found = _subnets(context, _Subnet.id == subnet_id)
    if not found:
        raise exception.ShareNetworkSubnetNotFound(
            share_network_subnet_id=subnet_id)
    return found[0]


def share_network_subnet_get_all_by_share_server_id(context, server_id):
    mapped = sa.select(_Map.share_network_subnet_id).where(
        _Map.share_server_id == server_id, _Map.deleted == 0)
    return _subnets(context, _Subnet.id.in_(mapped))


def share_network_subnet_update(context, subnet_id, values):
    with engine.writer(context) as session:
        subnet = session.scalars(utils.model_query(context, _Subnet).where(
            _Subnet.id == subnet_id)).first()
        if subnet is None:
            raise exception.ShareNetworkSubnetNotFound(
                share_network_subnet_id=subnet_id)
        utils.apply_values(subnet, values)
    return share_network_subnet_get(context, subnet_id)


def network_allocations_create(context, rows):
    """Insert allocation rows (ids generated) in one transaction; returns them."""
    created = []
    with engine.writer(context) as session:
        for values in rows:
            allocation = _Alloc()
            utils.apply_values(allocation, utils.ensure_id(dict(values)))
            session.add(allocation)
            created.append(allocation)
    return created


def network_allocations_get_for_share_server(context, share_server_id,
                                             label=None, subnet_id=None):
    stmt = utils.model_query(context, _Alloc).where(
        _Alloc.share_server_id == share_server_id)
    if label == 'admin':
        stmt = stmt.where(_Alloc.label == 'admin')
    elif label:
        stmt = stmt.where(sa.or_(_Alloc.label == label,
                                 _Alloc.label.is_(None)))
    if subnet_id:
        stmt = stmt.where(_Alloc.share_network_subnet_id == subnet_id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt.order_by(_Alloc.created_at,
                                                  _Alloc.ip_address)))


def network_allocations_get_for_share_servers(context, share_server_ids):
    """Live allocations of many servers, every label, one SELECT."""
    if not share_server_ids:
        return []
    stmt = utils.model_query(context, _Alloc).where(
        _Alloc.share_server_id.in_(list(share_server_ids)))
    with engine.reader(context) as session:
        return list(session.scalars(stmt.order_by(_Alloc.created_at,
                                                  _Alloc.ip_address)))


def network_allocation_ips_in_use(context, ip_addresses=None):
    """The set of IP addresses held by live allocations (optionally among ``ip_addresses``), one SELECT."""
    stmt = sa.select(_Alloc.ip_address).where(model_base.live(_Alloc))
    if ip_addresses is not None:
        stmt = stmt.where(_Alloc.ip_address.in_(list(ip_addresses)))
    with engine.reader(context) as session:
        return set(session.scalars(stmt))


def network_allocations_delete_for_servers(context, server_ids, label=None):
    """Soft-delete the live allocations of ``server_ids`` (one label or all) in one UPDATE; returns the count."""
    if not server_ids:
        return 0
    cond = [_Alloc.share_server_id.in_(list(server_ids))]
    if label:
        cond.append(_Alloc.label == label)
    with engine.writer(context) as session:
        return utils.soft_delete_where(session, _Alloc, *cond)


def _allocation(session, context, allocation_id, read_deleted=None):
    found = session.scalars(utils.model_query(
        context, _Alloc, read_deleted=read_deleted).where(
        _Alloc.id == allocation_id)).first()
    if found is None:
        raise exception.NotFound()
    return found


def network_allocation_get(context, allocation_id, read_deleted=None):
    with engine.reader(context) as session:
        return _allocation(session, context, allocation_id, read_deleted)


def network_allocation_update(context, allocation_id, values,
                              read_deleted=None):
    with engine.writer(context) as session:
        allocation = _allocation(session, context, allocation_id,
                                 read_deleted)
        utils.apply_values(allocation, values)
    return network_allocation_get(context, allocation_id,
                                  read_deleted=read_deleted)


def network_allocations_delete(context, allocation_ids):
    """Soft-delete live allocations by id in one UPDATE; returns the count."""
    if not allocation_ids:
        return 0
    with engine.writer(context) as session:
        return utils.soft_delete_where(
            session, _Alloc, _Alloc.id.in_(list(allocation_ids)))


def share_networks_conditional_update(context, network_ids, expected_statuses,
                                      values):
    """``UPDATE share_networks ... WHERE id IN ids AND status IN expected``; returns the ids that moved."""
    if not network_ids:
        return []
    values = dict(values)
    values.setdefault('updated_at', model_base.utcnow())
    cond = [_Net.id.in_(list(network_ids)), model_base.live(_Net),
            _Net.status.in_(list(expected_statuses))]
    with engine.writer(context) as session:
        moved = list(session.scalars(sa.select(_Net.id).where(*cond)))
        if moved:
            session.execute(sa.update(_Net).where(_Net.id.in_(moved))
                            .values(**values)
                            .execution_options(synchronize_session=False))
        return moved


def security_service_get(context, security_service_id):
    with engine.reader(context) as session:
        found = session.scalars(utils.model_query(
            context, models.SecurityService).where(
            models.SecurityService.id == security_service_id)).first()
    if found is None:
        raise exception.SecurityServiceNotFound(
            security_service_id=security_service_id)
    return found


_Async = models.AsynchronousOperationData


def async_operation_data_get(context, entity_id, key):
    """The live value stored under ``key`` for ``entity_id``, or None."""
    stmt = sa.select(_Async.value).where(
        _Async.entity_uuid == entity_id, _Async.key == key,
        model_base.live(_Async))
    with engine.reader(context) as session:
        return session.scalars(stmt).first()


def async_operation_data_update(context, entity_id, details):
    """Upsert ``{key: value}`` rows of ``entity_id`` (values stored as strings)."""
    with engine.writer(context) as session:
        for key, value in details.items():
            row = session.get(_Async, (entity_id, key))
            if row is None:
                row = _Async(entity_uuid=entity_id, key=key)
                session.add(row)
            row.value = str(value)
            row.deleted = 0
            row.deleted_at = None
