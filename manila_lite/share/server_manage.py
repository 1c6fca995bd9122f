"""Adopting an existing backend share server (manage) and letting one go (unmanage), with its network allocations.

The API writes the server row (``manage_starting`` or
``unmanage_starting``) and casts; these flows take it to ``active`` or
soft-delete it, or to ``manage_error`` / ``unmanage_error`` with a user
message (resource type ``SHARE_NETWORK_SUBNET``, the server's subnet, in
the share network's project: upstream has no share server resource type).
A failed manage keeps no allocation. Rows a crash left in either status
are ended by :func:`settle_stranded` in the same error statuses.
"""

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import guard
from manila_lite.share import servers
from manila_lite.share import states

LOG = logging.getLogger(__name__)

STRANDABLE = (c.STATUS_MANAGING, c.STATUS_UNMANAGING)
_MAX_IDENTIFIER = 255


def _bad(reason):
    return exception.ManageShareServerError(reason=reason)


def _record_failure(mgr, context, server, event, action, exc):
    """Move ``server`` through ``event``; a row that moved gets a user message."""
    if not states.advance(context, states.SHARE_SERVER, server['id'], event):
        return
    subnets = server['share_network_subnets']
    subnet = subnets[0] if subnets else None
    project_id = (subnet['share_network']['project_id']
                  if subnet is not None else None)
    mgr.message_api.create(
        context, action, project_id,
        resource_type=mf.Resource.SHARE_NETWORK_SUBNET,
        resource_id=subnet['id'] if subnet is not None else None,
        exception=exc)


# -- manage ------------------------------------------------------------------

def manage_share_server(mgr, context, share_server_id, identifier,
                        driver_opts):
    """RPC cast: ``manage_starting`` → allocations recorded, driver ``manage_server`` → ``active``.

    Any failure (the driver's, a contract-breaking answer, an address the
    network plugin cannot take) → ``manage_error``, a user message, and no
    allocation kept.
    """
    server = db_api.share_server_get(context, share_server_id)
    if not guard.expect_status('Share server', server, (c.STATUS_MANAGING,),
                               'manage'):
        return
    try:
        if not mgr.driver_handles_share_servers:
            raise _bad('backend %s does not handle share servers '
                       '(driver_handles_share_servers = False)' % mgr.host)
        new_identifier, details = _adopt(mgr, context, server, identifier,
                                         driver_opts)
        db_api.share_server_backend_details_set(context, server['id'],
                                                details)
        states.advance(context, states.SHARE_SERVER, server['id'],
                       'manage_succeeded', {
                           'identifier': new_identifier,
                           'network_allocation_update_support': bool(
                               mgr.driver.network_allocation_update_support),
                           'share_replicas_migration_support': bool(
                               mgr.driver.share_replicas_migration_support)})
    except Exception as exc:
        _manage_failed(mgr, context, server, exc)
        raise guard.driver_error('manage_server', exc)
    LOG.info('Share server %(id)s managed (identifier %(ident)s).',
             {'id': server['id'], 'ident': new_identifier})


def _manage_failed(mgr, context, server, exc):
    try:
        servers.deallocate(mgr, context, [server])
    except Exception:
        LOG.exception('Network of share server %s not released.',
                      server['id'])
    _record_failure(mgr, context, server, 'manage_failed',
                    mf.Action.CREATE, exc)


def _adopt(mgr, context, server, identifier, driver_opts):
    """Record the server's allocations and run ``manage_server``; returns ``(identifier, backend details)``."""
    subnet_ids = server['share_network_subnet_ids']
    if not subnet_ids:
        raise _bad('share server %s has no share network subnet'
                   % server['id'])
    # Upstream manages a server on one subnet: the first.
    subnet = db_api.share_network_subnet_get(context, subnet_ids[0])
    network = db_api.share_network_get(context, subnet['share_network_id'])
    _manage_allocations(mgr, context, server, network, subnet, identifier,
                        driver_opts)
    raw = mgr.driver.manage_server(context, server, identifier, driver_opts)
    new_identifier, details = _checked_manage_answer(raw)
    details.update(servers.security_service_details(
        network['security_services']))
    return new_identifier or server['id'], details


def _checked_manage_answer(raw):
    """``(identifier or None, backend details dict)`` from what ``manage_server`` returned; raises on anything else."""
    if not (isinstance(raw, (tuple, list)) and len(raw) == 2):
        raise _bad('driver manage_server returned %s, not a pair '
                   '(identifier, backend details)' % _short(raw))
    new_identifier, details = raw
    if new_identifier is not None and not (
            isinstance(new_identifier, str) and
            len(new_identifier) <= _MAX_IDENTIFIER):
        raise _bad('driver manage_server returned the identifier %s, not a '
                   'string of at most %d characters'
                   % (_short(new_identifier), _MAX_IDENTIFIER))
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise _bad('driver manage_server returned backend details %s, not '
                   'a dict' % _short(details))
    return new_identifier, dict(details)


def _short(value):
    """A short repr of a driver's answer for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _manage_allocations(mgr, context, server, network, subnet, identifier,
                        driver_opts):
    """Have the network plugins record the addresses the driver reports (admin plugin first); all must be taken."""
    driver = mgr.driver
    wanted = driver.get_network_allocations_number()
    if driver.admin_network_api:
        wanted += driver.get_admin_network_allocations_number()
    if wanted <= 0:
        return
    reported = driver.get_share_server_network_info(
        context, server, identifier, driver_opts)
    if not (isinstance(reported, (list, tuple)) and
            all(isinstance(ip, str) for ip in reported)):
        raise _bad('driver get_share_server_network_info returned %s, not a '
                   'list of IP addresses' % _short(reported))
    if not reported:
        raise _bad('driver reported no network allocations; %d required'
                   % wanted)
    remaining = list(reported)
    if driver.admin_network_api:
        remaining = driver.admin_network_api.manage_network_allocations(
            context, remaining, server)
    if driver.network_api is not None:
        remaining = driver.network_api.manage_network_allocations(
            context, remaining, server, network, subnet)
    if remaining:
        raise _bad('allocations %s were not managed (outside the network '
                   'or held by another server)' % sorted(remaining))


# -- unmanage --------------------------------------------------------------------

def unmanage_share_server(mgr, context, share_server_id, force=False):
    """RPC cast: ``unmanage_starting`` → driver ``unmanage_server`` → allocations forgotten, row soft-deleted.

    A driver failure → ``unmanage_error`` and a user message, unless
    ``force``: then it is logged and the server is forgotten all the same.
    A server that got shares meanwhile → ``unmanage_error``.
    """
    server = db_api.share_server_get(context, share_server_id)
    if not guard.expect_status('Share server', server,
                               (c.STATUS_UNMANAGING,), 'unmanage'):
        return
    try:
        if server['share_instances'] or server['share_groups']:
            raise exception.ShareServerInUse(share_server_id=server['id'])
        _driver_unmanage(mgr, server, force)
        _forget_allocations(mgr, context, server['id'])
        db_api.share_server_delete(context, server['id'])
    except Exception as exc:
        _record_failure(mgr, context, server, 'unmanage_failed',
                        mf.Action.DELETE, exc)
        raise guard.driver_error('unmanage_server', exc)
    LOG.info('Share server %s unmanaged.', server['id'])


def _driver_unmanage(mgr, server, force):
    details = server['backend_details']
    try:
        mgr.driver.unmanage_server(details, servers.security_services(details))
    except Exception as exc:
        if not force:
            raise
        LOG.warning('Share server %(id)s: driver unmanage_server failed '
                    '(%(cls)s: %(exc)s); forced, so unmanaged all the same.',
                    {'id': server['id'], 'cls': type(exc).__name__,
                     'exc': exc})


def _forget_allocations(mgr, context, server_id):
    """Remove the server's allocations through each network plugin (nothing is released on a backend)."""
    driver = mgr.driver
    plugins = {id(api): api for api in (driver.network_api,
                                        driver.admin_network_api) if api}
    for api in plugins.values():
        api.unmanage_network_allocations(context, server_id)


# -- reconciliation ----------------------------------------------------------------

class StaleServerOperation(exception.ManilaException):
    message = ('The share service lost track of the %(operation)s of this '
               'share server: no progress for %(seconds)s seconds (lost '
               'request or restart).')


def settle_stranded(mgr, context, server, seconds):
    """End a server a crash or a lost cast left ``manage_starting`` / ``unmanage_starting``; returns what was done.

    Neither request can be driven again (its identifier, driver options
    or ``force`` are gone): a manage ends ``manage_error`` with its
    allocations released, an unmanage ``unmanage_error``; both with a
    user message.
    """
    status = server['status']
    error = StaleServerOperation(operation=status, seconds=seconds)
    with mgr.in_flight.track([server['id']]):
        if status == c.STATUS_MANAGING:
            _manage_failed(mgr, context, server, error)
        else:
            _record_failure(mgr, context, server, 'unmanage_failed',
                            mf.Action.DELETE, error)
    return 'marked failed'
