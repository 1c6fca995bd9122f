"""Queries on the services and availability_zones tables (heartbeat, registration, cleanup)."""

import datetime

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_utils import uuidutils
import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

CONF = cfg.CONF

_SERVICE_LOAD = (orm.selectinload(models.Service.availability_zone),)


# -- availability zones ------------------------------------------------------

def _az_get(session, context, id_or_name, read_deleted=None):
    stmt = utils.model_query(context, models.AvailabilityZone, read_deleted)
    if uuidutils.is_uuid_like(id_or_name):
        stmt = stmt.where(models.AvailabilityZone.id == id_or_name)
    else:
        stmt = stmt.where(models.AvailabilityZone.name == id_or_name)
    result = session.scalars(stmt.limit(1)).first()
    if result is None:
        raise exception.AvailabilityZoneNotFound(id=id_or_name)
    return result


def az_get_or_create(session, context, name):
    """The live zone called ``name`` (a uuid selects by id), created if missing."""
    if uuidutils.is_uuid_like(name):
        return _az_get(session, context, name)
    try:
        return _az_get(session, context, name, read_deleted='no')
    except exception.AvailabilityZoneNotFound:
        pass
    try:
        with session.begin_nested():
            zone = models.AvailabilityZone(
                id=uuidutils.generate_uuid(), name=name)
            session.add(zone)
            session.flush()
        return zone
    except db_exc.DBDuplicateEntry:
        # Another service created it concurrently; (name, deleted) is unique.
        return _az_get(session, context, name, read_deleted='no')


def translate_availability_zone(session, context, values):
    """Replace an ``availability_zone`` name key with ``availability_zone_id``."""
    name = values.pop('availability_zone', None)
    if name:
        if not isinstance(name, str):
            name = name['name']
        values['availability_zone_id'] = az_get_or_create(
            session, context, name)['id']
    return values


def availability_zone_get_or_create(context, name):
    with engine.writer(context) as session:
        return az_get_or_create(session, context, name)


# -- services ----------------------------------------------------------------

def _service_get(session, context, service_id, refresh=False):
    stmt = (utils.model_query(context, models.Service)
            .where(models.Service.id == service_id).options(*_SERVICE_LOAD))
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    result = session.scalars(stmt).first()
    if result is None:
        raise exception.ServiceNotFound(service_id=service_id)
    return result


def service_get(context, service_id):
    with engine.reader(context) as session:
        return _service_get(session, context, service_id)


def service_get_by_args(context, host, binary):
    with engine.reader(context) as session:
        stmt = (utils.model_query(context, models.Service, read_deleted='no')
                .where(models.Service.host == host,
                       models.Service.binary == binary)
                .order_by(models.Service.id).options(*_SERVICE_LOAD))
        result = session.scalars(stmt).first()
    if result is None:
        raise exception.ServiceNotFound(service_id=host)
    return result


def service_get_all(context, topic=None, disabled=None):
    with engine.reader(context) as session:
        stmt = utils.model_query(context, models.Service, read_deleted='no')
        if topic is not None:
            stmt = stmt.where(models.Service.topic == topic)
        if disabled is not None:
            stmt = stmt.where(models.Service.disabled == disabled)
        stmt = stmt.order_by(models.Service.id).options(*_SERVICE_LOAD)
        return list(session.scalars(stmt))


def service_create(context, values):
    values = dict(values)
    with engine.writer(context) as session:
        translate_availability_zone(session, context, values)
        service = models.Service()
        utils.apply_values(service, values)
        if not CONF.enable_new_services:
            service.disabled = True
        session.add(service)
        session.flush()
        return _service_get(session, context, service.id, refresh=True)


def service_update(context, service_id, values):
    values = dict(values)
    with engine.writer(context) as session:
        translate_availability_zone(session, context, values)
        service = _service_get(session, context, service_id)
        utils.apply_values(service, values)
        session.flush()
        return _service_get(session, context, service_id, refresh=True)


def _heartbeat_state(now):
    """The state upstream's heartbeat writes, judged from the row before it.

    'up' if the last beat is within service_down_time, else 'down' (a
    stopped row stays 'stopped').
    """
    window = datetime.timedelta(seconds=CONF.service_down_time)
    svc = models.Service
    last = sa.func.coalesce(svc.updated_at, svc.created_at)
    return sa.case(
        (last.between(now - window, now + window),
         constants.SERVICE_STATE_UP),
        (svc.state == constants.SERVICE_STATE_STOPPED,
         constants.SERVICE_STATE_STOPPED),
        else_=constants.SERVICE_STATE_DOWN)


def service_report_heartbeat(context, service_id, availability_zone=None):
    now = model_base.utcnow()
    svc = models.Service
    # state first: MySQL evaluates SET assignments left to right, and the
    # state is judged from the previous updated_at.
    values = [(svc.state, _heartbeat_state(now)),
              (svc.report_count, svc.report_count + 1),
              (svc.updated_at, now)]
    with engine.writer(context) as session:
        if availability_zone:
            values.append((svc.availability_zone_id, az_get_or_create(
                session, context, availability_zone)['id']))
        stmt = (sa.update(svc)
                .where(svc.id == service_id, model_base.live(svc))
                .ordered_values(*values)
                .execution_options(synchronize_session=False))
        if session.execute(stmt).rowcount != 1:
            raise exception.ServiceNotFound(service_id=service_id)


def service_soft_delete_stopped(context, topic, host_prefix=None):
    """Soft-delete enabled, stopped, not-up services of ``topic``; return the count."""
    cutoff = model_base.utcnow() - datetime.timedelta(
        seconds=CONF.service_down_time)
    svc = models.Service
    conditions = [
        svc.topic == topic,
        svc.state == constants.SERVICE_STATE_STOPPED,
        sa.or_(svc.disabled.is_(None), svc.disabled == sa.false()),
        sa.func.coalesce(svc.updated_at, svc.created_at) < cutoff,
    ]
    if host_prefix:
        conditions.append(svc.host.like('%s%%' % host_prefix))
    with engine.writer(context) as session:
        return utils.soft_delete_where(session, svc, *conditions)
