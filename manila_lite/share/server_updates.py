"""Changes to in-use share servers: security services (RPC 1.22), allocations on a new subnet (1.23) and subnet metadata (1.30).

Upstream's API drives both updates in two rounds. First it stores
``{host: None}`` for every backend host of the network's servers in
``async_operation_data`` under a key naming the change and casts a
``check_...`` to each host; each host asks its driver about every server
it runs there and writes its ``true``/``false`` into that entry, under the
tooz lock the API takes too. When all hosts said yes, the API moves the
network to ``network_change`` and its servers to ``network_change`` and
casts the update: here each server of this host goes back to ``active``
(or ``error``, with a user message, when its driver fails), and the
network goes back to ``active`` once none of its servers is left in
``network_change``. A server a crash left in ``network_change`` is
settled by :func:`settle_stranded` (reconciliation).
"""

from oslo_log import log as logging
from oslo_serialization import jsonutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import servers
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)

# Server statuses an update request acts on (the API moved them to
# network_change; an active one is a request replayed after success).
UPDATABLE = (c.STATUS_SERVER_NETWORK_CHANGE, c.STATUS_ACTIVE)


# -- keys of upstream's async_operation_data entries ----------------------------

def security_service_update_key(operation, new_security_service_id,
                                current_security_service_id=None):
    """The async_operation_data key upstream's API reads for a security service change."""
    if current_security_service_id:
        return ('share_network_sec_service_update_%s_%s_%s'
                % (current_security_service_id, new_security_service_id,
                   operation))
    return 'share_network_sec_service_add_%s_%s' % (
        new_security_service_id, operation)


def allocations_update_key(share_network_id, availability_zone_id):
    """The async_operation_data key upstream's API reads for an allocation update check."""
    return 'share_server_update_allocations_%s_%s_hosts_check' % (
        share_network_id, availability_zone_id)


def _record_check(mgr, context, share_network_id, key, lock_name, supported):
    """Write this host's answer into the API's ``{host: bool}`` entry (left alone when the API made none)."""
    with locks.tooz_lock(lock_name):
        current = db_api.async_operation_data_get(context, share_network_id,
                                                  key)
        if not current:
            LOG.info('No %(key)s entry of share network %(net)s to answer '
                     '(the API gave up on the check); answer %(answer)s '
                     'dropped.', {'key': key, 'net': share_network_id,
                                  'answer': supported})
            return
        hosts = jsonutils.loads(current)
        hosts[mgr.host] = supported
        db_api.async_operation_data_update(
            context, share_network_id, {key: jsonutils.dumps(hosts)})
    LOG.info('Share network %(net)s: host %(host)s answered %(answer)s to '
             'check %(key)s.', {'net': share_network_id, 'host': mgr.host,
                                'answer': supported, 'key': key})


def _ask_driver(mgr, method, server_id, *args, **kwargs):
    """A driver check answer: True or False; an error or a non-bool answer counts as False."""
    try:
        answer = getattr(mgr.driver, method)(*args, **kwargs)
    except Exception as exc:
        LOG.error('Driver %(method)s failed for share server %(server)s: '
                  '%(cls)s: %(exc)s', {'method': method, 'server': server_id,
                                       'cls': type(exc).__name__, 'exc': exc})
        return False
    if not isinstance(answer, bool):
        LOG.error('Driver %(method)s answered a %(type)s for share server '
                  '%(server)s, not True or False; taken as False.',
                  {'method': method, 'type': type(answer).__name__,
                   'server': server_id})
        return False
    return answer


# -- what the driver gets about a server's shares -------------------------------

def _server_shares(context, server_id):
    """``(instances, instance dicts, rules list)`` of a server: two reads."""
    instances = db_api.share_instance_get_all_by_share_server(
        context, server_id, with_share_data=True)
    rules = db_api.share_instances_access_get_all(
        context, [i['id'] for i in instances])
    rules_list = [{'share_instance_id': inst_id,
                   'access_rules': [views.access_rule_dict(r)
                                    for r in found]}
                  for inst_id, found in rules.items()]
    return (instances, [views.share_instance_dict(i) for i in instances],
            rules_list)


def _network_info(context, server, share_network):
    subnets = db_api.share_network_subnet_get_all_by_share_server_id(
        context, server['id'])
    return servers.setup_info(context, server, share_network, subnets)


def _security_services(context, new_id, current_id):
    new = db_api.security_service_get(context, new_id)
    current = (db_api.security_service_get(context, current_id)
               if current_id else None)
    return new, current


def finish_network_change(context, share_network_id):
    """Move the network back to ``active`` once none of its servers (any host) is in ``network_change``."""
    with locks.tooz_lock(locks.SHARE_NETWORK_LOCK % share_network_id):
        network = db_api.share_network_get(context, share_network_id)
        if network['status'] != c.STATUS_NETWORK_CHANGE:
            return False
        found = db_api.share_server_get_all_by_host_and_share_network(
            context, None, share_network_id)
        if any(s['status'] == c.STATUS_SERVER_NETWORK_CHANGE for s in found):
            return False
        return states.advance(context, states.SHARE_NETWORK,
                              share_network_id, 'network_change_finished')


def _update_each(mgr, context, share_network_id, found, operation,
                 update_one, *args):
    """Run ``update_one(mgr, context, server, *args)`` on each server the API moved, then settle the network."""
    for server in found:
        if not guard.expect_status('Share server', server, UPDATABLE,
                                   operation):
            continue
        with mgr.in_flight.track([server['id']]):
            update_one(mgr, context, server, *args)
    finish_network_change(context, share_network_id)


# -- RPC 1.22: security services ----------------------------------------------

def check_update_share_network_security_service(
        mgr, context, share_network_id, new_security_service_id,
        current_security_service_id=None):
    """Ask the driver about every server of this host on the network; record the answer for the API."""
    new, current = _security_services(context, new_security_service_id,
                                      current_security_service_id)
    network = db_api.share_network_get(context, share_network_id)
    supported = True
    for server in db_api.share_server_get_all_by_host_and_share_network(
            context, mgr.host, share_network_id):
        _instances, dicts, rules = _server_shares(context, server['id'])
        if not _ask_driver(
                mgr, 'check_update_share_server_security_service',
                server['id'], context, server,
                _network_info(context, server, network), dicts, rules, new,
                current_security_service=current):
            supported = False
            break
    key = security_service_update_key('hosts_check', new_security_service_id,
                                      current_security_service_id)
    lock_name = locks.SECURITY_SERVICE_UPDATE_LOCK % {
        'new': new_security_service_id, 'curr': current_security_service_id}
    _record_check(mgr, context, share_network_id, key, lock_name, supported)


def update_share_network_security_service(
        mgr, context, share_network_id, new_security_service_id,
        current_security_service_id=None):
    """Set the new security service on each server of this host on the network, then settle the network."""
    new, current = _security_services(context, new_security_service_id,
                                      current_security_service_id)
    network = db_api.share_network_get(context, share_network_id)
    _update_each(mgr, context, share_network_id,
                 db_api.share_server_get_all_by_host_and_share_network(
                     context, mgr.host, share_network_id),
                 'security service update', _update_server_security_service,
                 network, new, current)


def _update_server_security_service(mgr, context, server, network, new,
                                    current):
    # As upstream, the details always take the new service: the admin
    # makes the backend match them when the driver fails.
    db_api.share_server_backend_details_set(
        context, server['id'], servers.security_service_details([new]))
    instances, dicts, rules = _server_shares(context, server['id'])
    try:
        updates = mgr.driver.update_share_server_security_service(
            context, server, _network_info(context, server, network), dicts,
            rules, new, current_security_service=current) or {}
        if not isinstance(updates, dict):
            raise exception.ShareBackendException(
                msg='update_share_server_security_service returned a %s, '
                    'not a dict of access rule updates'
                    % type(updates).__name__)
    except Exception as exc:
        _security_service_failed(mgr, context, server, network, new, current,
                                 [i['id'] for i in instances], exc)
        return
    known = {i['id'] for i in instances}
    for instance_id, rule_updates in updates.items():
        if instance_id not in known or not isinstance(rule_updates, dict):
            LOG.warning('Ignoring the driver rule updates for %s: not a '
                        'share instance of the server, or not a dict.',
                        instance_id)
            continue
        access.apply_rule_updates(context, instance_id, rule_updates)
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'network_change_succeeded')
    LOG.info('Security service %(ss)s set on share server %(server)s.',
             {'ss': new['id'], 'server': server['id']})


def _security_service_failed(mgr, context, server, network, new, current,
                             instance_ids, exc):
    LOG.error('Share server %(server)s failed to %(op)s security service '
              '%(new)s%(cur)s: %(cls)s: %(exc)s',
              {'server': server['id'], 'op': 'update' if current else 'add',
               'new': new['id'],
               'cur': ' (replacing %s)' % current['id'] if current else '',
               'cls': type(exc).__name__, 'exc': exc})
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'network_change_failed')
    if current is not None and instance_ids:
        # A configured service failed to change: the shares may no longer
        # be reachable, as upstream they go error with their rules.
        states.advance_many(context, states.SHARE_INSTANCE, instance_ids,
                            'server_update_failed')
        states.advance_all(context, states.ACCESS_RULES_STATUS,
                           instance_ids, 'server_update_failed')
    mgr.message_api.create(
        context, mf.Action.ADD_UPDATE_SECURITY_SERVICE, network['project_id'],
        resource_type=mf.Resource.SECURITY_SERVICE, resource_id=new['id'],
        exception=guard.driver_error('update_share_server_security_service',
                                     exc))


# -- RPC 1.23: allocations on a new subnet -------------------------------------

def _allocations(context, server_id, subnets):
    """What drivers get as ``current_network_allocations``."""
    return {
        'admin_network_allocations':
            db_api.network_allocations_get_for_share_server(
                context, server_id, label='admin'),
        'subnets': [_subnet_allocations(context, server_id, subnet)
                    for subnet in subnets],
    }


def _subnet_allocations(context, server_id, subnet):
    return {
        'share_network_subnet_id': subnet['id'],
        'neutron_net_id': subnet['neutron_net_id'],
        'neutron_subnet_id': subnet['neutron_subnet_id'],
        'network_allocations':
            db_api.network_allocations_get_for_share_server(
                context, server_id, label='user', subnet_id=subnet['id']),
    }


def check_update_share_server_network_allocations(
        mgr, context, share_network_id, new_share_network_subnet):
    """Ask the driver whether this host's servers in the subnet's zone can join it; record the answer."""
    network = db_api.share_network_get(context, share_network_id)
    new_subnet = dict(new_share_network_subnet)
    zone = new_subnet.get('availability_zone_id')
    zone_subnets = db_api.share_network_subnets_get_all_by_availability_zone_id(
        context, share_network_id, zone, fallback_to_default=False)
    supported = True
    try:
        if mgr.driver.network_api is None:
            raise exception.NetworkBadConfigurationException(
                reason='no network plugin for this backend')
        mgr.driver.network_api.include_network_info(new_subnet)
    except Exception as exc:
        LOG.error('Share network %(net)s: the new subnet cannot be used '
                  'here: %(exc)s', {'net': share_network_id, 'exc': exc})
        supported = False
    # Every subnet of the zone carries the same servers: ask about those
    # of the first one that run here.
    found = (db_api.share_server_get_all_by_host_and_or_share_subnet(
        context, host=mgr.host, share_subnet_id=zone_subnets[0]['id'])
        if zone_subnets and supported else [])
    for server in found:
        _instances, dicts, rules = _server_shares(context, server['id'])
        if not _ask_driver(
                mgr, 'check_update_share_server_network_allocations',
                server['id'], context, server,
                _allocations(context, server['id'], zone_subnets),
                new_subnet, list(network['security_services']), dicts,
                rules):
            supported = False
            break
    key = allocations_update_key(share_network_id, zone)
    lock_name = locks.ALLOCATIONS_UPDATE_LOCK % {'net': share_network_id,
                                                 'az': zone}
    _record_check(mgr, context, share_network_id, key, lock_name, supported)


def update_share_server_network_allocations(mgr, context, share_network_id,
                                            new_share_network_subnet_id):
    """Allocate on the new subnet for each server of this host mapped to it, tell the driver, write what it answers."""
    network = db_api.share_network_get(context, share_network_id)
    new_subnet = db_api.share_network_subnet_get(context,
                                                 new_share_network_subnet_id)
    current_subnets = [
        s for s in db_api.share_network_subnets_get_all_by_availability_zone_id(
            context, share_network_id, new_subnet['availability_zone_id'],
            fallback_to_default=False)
        if s['id'] != new_share_network_subnet_id]
    _update_each(mgr, context, share_network_id,
                 db_api.share_server_get_all_by_host_and_or_share_subnet(
                     context, host=mgr.host,
                     share_subnet_id=new_share_network_subnet_id),
                 'network allocation update', _update_server_allocations,
                 network, new_subnet, current_subnets)


def _update_server_allocations(mgr, context, server, network, new_subnet,
                               current_subnets):
    instances = db_api.share_instance_get_all_by_share_server(
        context, server['id'], with_share_data=True)
    instance_ids = [i['id'] for i in instances]
    snapshots = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': instance_ids}) if instance_ids else []
    try:
        update = _allocate_and_update(
            mgr, context, server, network, new_subnet,
            _allocations(context, server['id'], current_subnets),
            [views.share_instance_dict(i) for i in instances],
            [views.snapshot_instance_dict(s) for s in snapshots])
    except Exception as exc:
        _allocations_failed(mgr, context, server, network, new_subnet,
                            instance_ids, [s['id'] for s in snapshots], exc)
        return
    _write_allocation_update(context, server, update, set(instance_ids),
                             {s['id'] for s in snapshots})
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'network_change_succeeded')
    LOG.info('Share server %(server)s now has allocations on subnet '
             '%(subnet)s.', {'server': server['id'],
                             'subnet': new_subnet['id']})


def _allocate_and_update(mgr, context, server, network, new_subnet,
                         current, share_dicts, snapshot_dicts):
    # A retried update (a crash after the allocation) starts clean.
    if db_api.network_allocations_get_for_share_server(
            context, server['id'], label='user', subnet_id=new_subnet['id']):
        raise exception.ShareBackendException(
            msg='share server %s has allocations on subnet %s already'
                % (server['id'], new_subnet['id']))
    mgr.driver.allocate_network(context, server, network, new_subnet)
    new = _subnet_allocations(context, server['id'], new_subnet)
    if not new['network_allocations']:
        raise exception.AllocationsNotFoundForShareServer(
            share_server_id=server['id'])
    servers.validate_segmentation_id(new['network_allocations'][0])
    update = mgr.driver.update_share_server_network_allocations(
        context, server, current, new, list(network['security_services']),
        share_dicts, snapshot_dicts)
    mgr.driver.update_network_allocation(context, server)
    _check_allocation_update(update)
    return update


def _check_allocation_update(update):
    """Raise ShareBackendException unless ``update`` has the documented shape."""
    problem = None
    if not isinstance(update, dict):
        problem = 'a %s, not a dict' % type(update).__name__
    else:
        for key in ('server_details', 'share_updates', 'snapshot_updates'):
            if not isinstance(update.get(key) or {}, dict):
                problem = '%s is a %s, not a dict' % (
                    key, type(update[key]).__name__)
        for value in (update.get('snapshot_updates') or {}).values():
            if not isinstance(value, dict):
                problem = 'a snapshot update is not a dict'
    if problem:
        raise exception.ShareBackendException(
            msg='update_share_server_network_allocations returned %s'
                % problem)


def _write_allocation_update(context, server, update, instance_ids,
                             snapshot_ids):
    details = update.get('server_details')
    if details:
        db_api.share_server_backend_details_set(context, server['id'],
                                                details)
    for instance_id, locations in (update.get('share_updates')
                                   or {}).items():
        if instance_id in instance_ids:
            db_api.export_locations_update(context, instance_id, locations)
    for snap_id, values in (update.get('snapshot_updates') or {}).items():
        if snap_id not in snapshot_ids:
            continue
        values = dict(values)
        locations = values.pop('export_locations', None) or []
        values = {k: v for k, v in values.items() if k == 'provider_location'}
        if values:
            db_api.share_snapshot_instance_update(context, snap_id, values)
        if locations:
            db_api.share_snapshot_instance_export_locations_update(
                context, snap_id, [{'path': el['path'],
                                    'is_admin_only': el.get('is_admin_only')}
                                   for el in locations])


def _allocations_failed(mgr, context, server, network, new_subnet,
                        instance_ids, snapshot_ids, exc):
    LOG.error('Share server %(server)s failed to take allocations on subnet '
              '%(subnet)s: %(cls)s: %(exc)s',
              {'server': server['id'], 'subnet': new_subnet['id'],
               'cls': type(exc).__name__, 'exc': exc})
    servers.save_error_details(context, server, exc)
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'network_change_failed')
    states.advance_many(context, states.SHARE_INSTANCE, instance_ids,
                        'server_update_failed')
    states.advance_many(context, states.SNAPSHOT_INSTANCE, snapshot_ids,
                        'server_update_failed')
    mgr.message_api.create(
        context, mf.Action.UPDATE, network['project_id'],
        resource_type=mf.Resource.SHARE_NETWORK_SUBNET,
        resource_id=new_subnet['id'],
        exception=guard.driver_error(
            'update_share_server_network_allocations', exc))


# -- RPC 1.30: subnet metadata --------------------------------------------------

def update_share_network_subnet_from_metadata(
        mgr, context, share_network_id, share_network_subnet_id,
        share_server_id, metadata):
    """Pass the subnet metadata to the driver; a 027/029 or 027/030 user message as upstream."""
    network = db_api.share_network_get(context, share_network_id)
    subnet = db_api.share_network_subnet_get(context, share_network_subnet_id)
    server = db_api.share_server_get(context, share_server_id)
    try:
        mgr.driver.update_share_network_subnet_from_metadata(
            context, network, subnet, server, metadata)
    except NotImplementedError:
        LOG.info('The driver takes no share network subnet metadata; '
                 'subnet %s not updated on the backend.', subnet['id'])
        detail = mf.Detail.UPDATE_METADATA_FAILURE
    except Exception as exc:
        LOG.error('Driver update_share_network_subnet_from_metadata failed '
                  'for subnet %(subnet)s: %(cls)s: %(exc)s',
                  {'subnet': subnet['id'], 'cls': type(exc).__name__,
                   'exc': exc})
        detail = mf.Detail.UPDATE_METADATA_FAILURE
    else:
        detail = mf.Detail.UPDATE_METADATA_SUCCESS
    mgr.message_api.create(
        context, mf.Action.UPDATE_METADATA, network['project_id'],
        resource_type=mf.Resource.SHARE_NETWORK_SUBNET,
        resource_id=share_network_subnet_id, detail=detail)


# -- reconciliation ---------------------------------------------------------------

class StaleNetworkChange(exception.ManilaException):
    message = ('The share service lost track of the network change of '
               'share server %(server)s (lost request or restart); its '
               'configuration must be checked before it is used again.')


def settle_stranded(mgr, context, server):
    """A server a crash or a lost cast left in ``network_change`` goes ``error`` (with a user message); its network is settled."""
    with mgr.in_flight.track([server['id']]):
        if not states.advance(context, states.SHARE_SERVER, server['id'],
                              'network_change_failed',
                              sources=(c.STATUS_SERVER_NETWORK_CHANGE,)):
            return 'left: it moved on'
        subnets = server['share_network_subnets']
        network_id = subnets[0]['share_network_id'] if subnets else None
        if network_id:
            network = db_api.share_network_get(context, network_id)
            mgr.message_api.create(
                context, mf.Action.UPDATE, network['project_id'],
                resource_type=mf.Resource.SHARE_NETWORK_SUBNET,
                resource_id=subnets[0]['id'],
                exception=StaleNetworkChange(server=server['id']))
            finish_network_change(context, network_id)
        return 'marked failed'
