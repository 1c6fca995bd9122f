"""Share server lifecycle of DHSS=True backends: provide (reuse or create), set up, delete, and the free-server clean-up.

A share instance on a share network gets a server of this host on the
network's subnets of its zone: one the driver picks among the live ones
within ``max_shares_per_share_server`` / ``max_share_server_size``, or a
new ``creating`` row that :func:`setup` takes through the network plugin
and the driver's ``setup_server`` to ``active`` (or ``error``). Placement
runs under upstream's ``share_manager_<subnet>`` lock; deletion checks and
marks a server ``deleting`` in one conditional UPDATE that also requires
it to carry no share, and the per-host placement lock keeps a server being
chosen from being deleted in between.
"""

import collections
import datetime
import threading

import fasteners
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import driver_base
from manila_lite.share import guard
from manila_lite.share import rows
from manila_lite.share import states

LOG = logging.getLogger(__name__)

# Upstream's lock around choosing/creating the server of a subnet.
SUBNET_LOCK = 'share_manager_%s'
_placement_locks = collections.defaultdict(fasteners.ReaderWriterLock)
_placement_guard = threading.Lock()


def _subnet_lock(subnet_id):
    return lockutils.lock(SUBNET_LOCK % subnet_id, lock_file_prefix='manila-',
                          external=True)


def _placement(host):
    """Readers place instances on servers; the writer marks unused servers deleting."""
    with _placement_guard:
        return _placement_locks[host]


# -- providing a server ----------------------------------------------------

def _parent_server(context, snapshot):
    """The share server of the snapshot's share (must be active), or None."""
    server_id = snapshot['share']['instance']['share_server_id']
    if not server_id:
        return None
    server = db_api.share_server_get(context, server_id)
    if server['status'] != c.STATUS_ACTIVE:
        raise exception.InvalidShareServer(
            reason='Parent share server %s has invalid status %r.'
                   % (server_id, server['status']))
    return server


def _subnets(context, share_network_id, inst, parent):
    if share_network_id:
        found = db_api.share_network_subnets_get_all_by_availability_zone_id(
            context, share_network_id, inst.get('availability_zone_id'))
    else:
        found = parent['share_network_subnets'] if parent else []
    if not found:
        raise exception.ShareNetworkSubnetNotFound(
            share_network_subnet_id=None)
    return found


def within_limits(mgr, context, servers, inst=None):
    """The servers that can take ``inst`` without passing the driver's server limits."""
    max_shares = mgr.driver.max_shares_per_share_server
    max_size = mgr.driver.max_share_server_size
    if max_shares == -1 and max_size == -1:
        return list(servers)
    usage = db_api.share_server_usage(context, [s['id'] for s in servers])
    adding, added_size = (1, inst['size'] or 0) if inst else (0, 0)
    fitting = []
    for server in servers:
        count, size = usage[server['id']]
        if count and ((max_size != -1 and size + added_size > max_size) or
                      count + adding > max_shares > -1):
            continue
        fitting.append(server)
    return fitting


def _choose(mgr, context, inst, candidates, snapshot, share_group,
            same_host):
    if candidates and not same_host:
        candidates = within_limits(mgr, context, candidates, inst)
    if not candidates:
        return None
    return mgr.driver.choose_share_server_compatible_with_share(
        context, candidates, inst,
        snapshot=snapshot.instance if snapshot else None,
        share_group=share_group,
        encryption_key_ref=inst.get('encryption_key_ref'))


def new_server(mgr, context, subnets, **values):
    """A ``creating`` server row of this host on ``subnets`` with the driver's support flags (and ``values``)."""
    driver = mgr.driver
    return db_api.share_server_create(context, dict(values, **{
        'host': mgr.host, 'status': c.STATUS_CREATING,
        'share_network_subnets': subnets,
        'security_service_update_support':
            bool(driver.security_service_update_support),
        'network_allocation_update_support':
            bool(driver.network_allocation_update_support),
        'share_replicas_migration_support':
            bool(driver.share_replicas_migration_support),
    }))


def provide(mgr, context, share_network_id, inst, snapshot=None,
            share_group=None, create_on_backend=True, values=None):
    """Give ``inst`` a server of this host; returns ``(server, instance reloaded)``.

    ``values`` are written on the instance with its ``share_server_id``.
    With ``create_on_backend`` a new (``creating``) server is set up at
    once; otherwise it stays ``creating`` for ``create_share_server``.
    """
    parent = _parent_server(context, snapshot) if snapshot else None
    same_host = bool(parent) and (
        snapshot['share']['instance']['host'] == inst['host'])
    subnets = _subnets(context, share_network_id, inst, parent)
    with _subnet_lock(subnets[0]['id']):
        with _placement(mgr.host).read_lock():
            candidates = ([parent] if same_host else
                          db_api.share_server_get_all_by_host_and_share_subnet_valid(
                              context, mgr.host, subnets[0]['id']))
            server = _choose(mgr, context, inst, candidates, snapshot,
                             share_group, same_host)
            if not server:
                server = new_server(mgr, context, subnets)
            LOG.debug('Using share server %(server)s for share instance '
                      '%(inst)s.', {'server': server['id'],
                                    'inst': inst['id']})
            db_api.share_instance_update(
                context, inst['id'],
                dict(values or {}, share_server_id=server['id']))
        if create_on_backend and server['status'] == c.STATUS_CREATING:
            server = setup(mgr, context, server, _metadata(inst))
    return server, rows.instance(context, inst['id'])


def provide_for_group(mgr, context, group, subnets, group_snapshot=None):
    """Give a new share group a server of this host on ``subnets`` (chosen among the live ones within limits, or new and set up); returns it.

    The group row gets the server's id under the placement lock, so the
    free-server clean-up never takes a server a group was just given.
    """
    with _subnet_lock(subnets[0]['id']):
        with _placement(mgr.host).read_lock():
            candidates = within_limits(
                mgr, context,
                db_api.share_server_get_all_by_host_and_share_subnet_valid(
                    context, mgr.host, subnets[0]['id']))
            server = None
            if candidates:
                server = mgr.driver.choose_share_server_compatible_with_share_group(
                    context, candidates, group,
                    share_group_snapshot=group_snapshot)
            if not server:
                server = new_server(mgr, context, subnets)
            LOG.debug('Using share server %(server)s for share group '
                      '%(group)s.', {'server': server['id'],
                                     'group': group['id']})
            db_api.share_group_update(context, group['id'],
                                      {'share_server_id': server['id']})
        if server['status'] == c.STATUS_CREATING:
            types = group.get('share_types') or [{}]
            server = setup(mgr, context, server, {
                'request_host': group['host'],
                'share_type_id': types[0].get('share_type_id'),
                'qos_type_id': None, 'encryption_key_ref': None,
                'keystone_url': None})
    return server


def _metadata(inst):
    return {'request_host': inst['host'],
            'share_type_id': inst['share_type_id'],
            'qos_type_id': inst.get('qos_type_id'),
            'encryption_key_ref': None, 'keystone_url': None}


def provide_share_server(mgr, context, share_instance_id, share_network_id,
                         snapshot_id=None):
    """RPC call: find or create (row only) a server for the instance; returns its id."""
    inst = rows.instance(context, share_instance_id)
    snapshot = (db_api.share_snapshot_get(context, snapshot_id)
                if snapshot_id else None)
    server, _inst = provide(mgr, context, share_network_id, inst,
                            snapshot=snapshot, create_on_backend=False)
    return server['id']


def create_share_server(mgr, context, share_server_id,
                        share_instance_id=None):
    """RPC cast: set up a server the API or a migration left ``creating``."""
    server = db_api.share_server_get(context, share_server_id)
    if not guard.expect_status('Share server', server, (c.STATUS_CREATING,),
                               'create'):
        return
    inst = (rows.instance(context, share_instance_id) if share_instance_id
            else None)
    metadata = (_metadata(inst) if inst else
                {'request_host': mgr.host, 'share_type_id': None})
    setup(mgr, context, server, metadata)


# -- setting a server up ----------------------------------------------------

def setup_info(context, server, share_network, subnets):
    """The ``network_info`` list ``setup_server`` gets: one dict per subnet."""
    admin = db_api.network_allocations_get_for_share_server(
        context, server['id'], label='admin')
    details = db_api.share_server_get(context, server['id'])['backend_details']
    return [{
        'server_id': server['id'],
        'segmentation_id': subnet['segmentation_id'],
        'cidr': subnet['cidr'],
        'neutron_net_id': subnet['neutron_net_id'],
        'neutron_subnet_id': subnet['neutron_subnet_id'],
        'security_services': share_network['security_services'],
        'network_allocations': db_api.network_allocations_get_for_share_server(
            context, server['id'], label='user', subnet_id=subnet['id']),
        'admin_network_allocations': admin,
        'backend_details': details,
        'network_type': subnet['network_type'],
        'subnet_metadata': subnet['subnet_metadata'],
    } for subnet in subnets]


# network type -> highest segmentation id (lowest is 1)
_SEGMENTATION_MAX = {'vlan': 4094, 'vxlan': 16777215, 'gre': 4294967295}


def validate_segmentation_id(info):
    """Raise NetworkBadConfigurationException for a segmentation id its network type cannot carry."""
    kind, seg = info['network_type'], info['segmentation_id']
    if kind in (None, 'flat'):
        if seg:
            raise exception.NetworkBadConfigurationException(
                reason='A segmentation ID %s was specified but can not be '
                       'used with a network of type %s; the segmentation '
                       'ID option must be omitted or set to 0' % (seg, kind))
        return
    top = _SEGMENTATION_MAX.get(kind)
    if top and (seg is None or not 1 <= int(seg) <= top):
        raise exception.NetworkBadConfigurationException(
            reason='A segmentation ID %s was specified but is not valid for '
                   'a %s network type; it must be in [1, %s]'
                   % (seg, kind.upper(), top))


_SECURITY_SERVICE_KEYS = ('name', 'ou', 'domain', 'server', 'dns_ip',
                          'user', 'type', 'password', 'default_ad_site')


def security_service_details(security_services):
    """Backend details keeping the security services (``security_service_<type>``), so deletion no longer needs the network."""
    return {'security_service_' + ss['type']: jsonutils.dumps(
            {key: ss[key] for key in _SECURITY_SERVICE_KEYS})
            for ss in security_services}


def allocate(mgr, context, server, share_network, subnets):
    """Allocate a server's user and admin network through the driver (from scratch)."""
    # A set-up that a crash interrupted allocated already: start clean.
    deallocate(mgr, context, [server])
    for subnet in subnets:
        mgr.driver.allocate_network(context, server, share_network, subnet)
    mgr.driver.allocate_admin_network(context, server)


def setup(mgr, context, server, metadata):
    """Allocate the network and run ``setup_server``: ``creating`` → ``active``; returns the server reloaded.

    On failure the server goes ``error`` (with the ``server_details`` the
    driver's error carries), its allocations are released, and the error
    is raised.
    """
    with mgr.in_flight.track([server['id']]):
        return _setup(mgr, context, server, metadata)


def _setup(mgr, context, server, metadata):
    subnets = server['share_network_subnets']
    try:
        if not subnets:
            raise exception.NetworkBadConfigurationException(
                reason='share server does not have subnet')
        share_network = db_api.share_network_get(
            context, subnets[0]['share_network_id'])
        allocate(mgr, context, server, share_network, subnets)
        subnets = db_api.share_network_subnet_get_all_by_share_server_id(
            context, server['id'])
        info = setup_info(context, server, share_network, subnets)
        for item in info:
            validate_segmentation_id(item)
        db_api.share_server_backend_details_set(
            context, server['id'], security_service_details(
                share_network['security_services']))
        result = mgr.driver.setup_server(info, metadata=metadata) or {}
        mgr.driver.update_network_allocation(context, server)
        mgr.driver.update_admin_network_allocation(context, server)
        if not isinstance(result, dict):
            raise exception.ShareBackendException(
                msg='setup_server returned %s, not a dict of backend details'
                    % type(result).__name__)
    except Exception as exc:
        _setup_failed(mgr, context, server, exc)
        raise guard.driver_error('setup_server', exc)
    db_api.share_server_backend_details_set(context, server['id'], result)
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'create_succeeded',
                   {'identifier': result.get('identifier', server['id'])})
    LOG.info('Share server %s created.', server['id'])
    return db_api.share_server_get(context, server['id'])


def save_error_details(context, server, exc):
    """Store the ``server_details`` a driver error carries (``exc.detail_data``) with the server."""
    detail = getattr(exc, 'detail_data', None)
    details = detail.get('server_details') if isinstance(detail, dict) else None
    if isinstance(details, dict) and details:
        try:
            db_api.share_server_backend_details_set(context, server['id'],
                                                    details)
        except Exception:
            LOG.exception('Server details of share server %s not saved.',
                          server['id'])


def _setup_failed(mgr, context, server, exc):
    LOG.error('Share server %(id)s could not be set up: %(exc)s',
              {'id': server['id'], 'exc': exc})
    save_error_details(context, server, exc)
    states.advance(context, states.SHARE_SERVER, server['id'],
                   'create_failed')
    try:
        deallocate(mgr, context, [server])
    except Exception:
        LOG.exception('Network of share server %s not released.',
                      server['id'])


# -- deleting servers ---------------------------------------------------------

def _subnet_and_network(server):
    subnets = server['share_network_subnets']
    subnet = subnets[0] if subnets else None
    return subnet, (subnet['share_network'] if subnet is not None else None)


def deallocate(mgr, context, servers):
    """Release the allocations of ``servers``: one batch through the plugins when the driver keeps the base behaviour."""
    driver = mgr.driver
    if (type(driver).deallocate_network is
            driver_base.ShareServerMixin.deallocate_network):
        for api in {id(a): a for a in (driver.network_api,
                                       driver.admin_network_api) if a}.values():
            api.deallocate_networks(context, [s['id'] for s in servers])
        return
    for server in servers:
        subnet, network = _subnet_and_network(server)
        driver.deallocate_network(context, server['id'], network, subnet)


def security_services(details):
    """The security services a server's backend details keep (see :func:`security_service_details`)."""
    found = []
    for kind in c.SECURITY_SERVICES_ALLOWED_TYPES:
        value = details.get('security_service_' + kind)
        if value:
            found.append(jsonutils.loads(value))
    return found


def _teardown(mgr, context, servers):
    """Release the network and tear down each of ``servers`` (all ``deleting``); returns the ids that failed."""
    failed = []
    try:
        deallocate(mgr, context, servers)
    except Exception:
        LOG.exception('Network of share servers %s not released.',
                      [s['id'] for s in servers])
        return [s['id'] for s in servers]
    for server in servers:
        details = server['backend_details']
        try:
            mgr.driver.teardown_server(
                server_details=details,
                security_services=security_services(details))
        except Exception:
            LOG.exception("Share server '%s' failed on deletion.",
                          server['id'])
            failed.append(server['id'])
    return failed


def _finish_deletion(context, servers, failed):
    states.advance_many(context, states.SHARE_SERVER, failed, 'delete_failed')
    done = [s['id'] for s in servers if s['id'] not in failed]
    db_api.share_servers_delete(context, done)
    for server_id in done:
        LOG.info("Share server '%s' has been deleted successfully.",
                 server_id)
    return done


def delete_share_server(mgr, context, share_server):
    """RPC cast: delete an unused server (``deleting``, network released, ``teardown_server``, soft-deleted).

    A server with shares raises ShareServerInUse and is left as it is; a
    driver failure leaves it ``error``.
    """
    server_id = share_server['id']
    subnet_ids = share_server.get('share_network_subnet_ids') or [None]
    with mgr.in_flight.track([server_id]), _subnet_lock(subnet_ids[0]):
        server = db_api.share_server_get(context, server_id)
        with _placement(mgr.host).write_lock():
            moved = states.advance(context, states.SHARE_SERVER, server_id,
                                   'delete_started', unused=True)
        if not moved:
            if server['share_instances'] or server['share_groups']:
                raise exception.ShareServerInUse(share_server_id=server_id)
            raise exception.InvalidShareServer(
                reason='share server %s is %s' % (server_id,
                                                  server['status']))
        failed = _teardown(mgr, context, [server])
        _finish_deletion(context, [server], failed)
    if failed:
        raise exception.ShareBackendException(
            msg='teardown of share server %s failed' % server_id)


def check_delete_after_instance(mgr, context, server):
    """Upstream's ``delete_share_server_with_last_share``: delete the instance's server once it is unused."""
    if not (server and mgr.configuration.safe_get(
            'delete_share_server_with_last_share')):
        return
    if not server['is_auto_deletable']:
        return
    try:
        delete_share_server(mgr, context, {
            'id': server['id'],
            'share_network_subnet_ids': server['share_network_subnet_ids']})
    except (exception.ShareServerInUse, exception.InvalidShareServer,
            exception.ShareServerNotFound) as exc:
        LOG.debug('Share server %(id)s kept: %(exc)s',
                  {'id': server['id'], 'exc': exc})


def delete_free_share_servers(mgr, context):
    """Periodic: delete this host's auto-deletable servers unused for ``unused_share_server_cleanup_interval`` minutes.

    Batched: one read, one conditional UPDATE to ``deleting`` (a server
    that got a share meanwhile is skipped), one release of the network,
    the driver's teardown per server, then one soft delete.
    """
    conf = mgr.configuration
    if not (mgr.driver_handles_share_servers and
            conf.safe_get('automatic_share_server_cleanup')):
        return
    LOG.info('Check for unused share servers to delete.')
    before = timeutils.utcnow() - datetime.timedelta(
        minutes=conf.safe_get('unused_share_server_cleanup_interval'))
    servers = db_api.share_server_get_all_unused_deletable(
        context, mgr.host, before)
    if not servers:
        return
    with _placement(mgr.host).write_lock():
        moved = set(states.advance_many(
            context, states.SHARE_SERVER, [s['id'] for s in servers],
            'delete_started', return_ids=True, unused=True))
    servers = [s for s in servers if s['id'] in moved]
    if servers:
        failed = _teardown(mgr, context, servers)
        _finish_deletion(context, servers, failed)


def server_pools_mapping(mgr, context):
    """``{server id: driver.get_share_server_pools(server)}`` of the host's servers (the capability)."""
    return {server['id']: mgr.driver.get_share_server_pools(server)
            for server in db_api.share_server_get_all_by_host(context,
                                                              mgr.host)}


# -- reconciliation -------------------------------------------------------------

STRANDABLE = (c.STATUS_CREATING, c.STATUS_DELETING)


def settle_stranded(mgr, context, server):
    """Finish a server a crash or a lost cast left ``creating`` or ``deleting``; returns what was done.

    A ``deleting`` one is torn down again (its network released). A
    ``creating`` one waiting for a share instance still ``creating`` is
    left to that instance's own re-drive (which sets it up); otherwise it
    goes ``error`` with its allocations released, for the free-server
    clean-up to delete.
    """
    with mgr.in_flight.track([server['id']]):
        if server['status'] == c.STATUS_DELETING:
            if server['share_instances'] or server['share_groups']:
                return 'left: it carries shares'
            failed = _teardown(mgr, context, [server])
            _finish_deletion(context, [server], failed)
            return 'deletion failed again' if failed else 'deleted again'
        if any(i['status'] == c.STATUS_CREATING
               for i in server['share_instances']):
            return 'left for its creating share instance'
        if states.advance(context, states.SHARE_SERVER, server['id'],
                          'create_failed'):
            deallocate(mgr, context, [server])
        return 'marked failed, network released'
