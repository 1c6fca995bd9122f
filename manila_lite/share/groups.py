"""Share group and share group snapshot flows of the share service, on a share server in DHSS=True mode.

The API writes the rows and puts them in ``creating``/``deleting``; these
flows call the driver's group interface (whose base implementation falls
back to one share or snapshot operation per member) and record the
outcome as upstream's manager does (states.md 4.19): the group, its member
share instances, the group snapshot and its members (snapshot instances
with ``share_group_snapshot_id``). Every driver failure ends in ``error``
with a user message on the group's resource. A DHSS=True group gets the
server of its source snapshot's group, or one chosen or created on its
share network (``servers.provide_for_group``); its shares are placed on
it, and every driver call gets it.
"""

from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import export_locations
from manila_lite.share import guard
from manila_lite.share import servers
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)

GROUP = states.SHARE_GROUP
GROUP_SNAP = states.SHARE_GROUP_SNAPSHOT
# Columns a driver's model update may set on its group or group snapshot.
_GROUP_COLUMNS = ('name', 'description', 'consistent_snapshot_support')
_GROUP_SNAPSHOT_COLUMNS = ('name', 'description')
_CONSISTENCY = ('pool', 'host')
_MEMBER_STATUSES = (c.STATUS_AVAILABLE, c.STATUS_CREATING_FROM_SNAPSHOT)
# status a driver reports for a group snapshot member -> snapshot instance event
_MEMBER_EVENTS = {c.STATUS_AVAILABLE: 'create_succeeded',
                  c.STATUS_ERROR: 'create_failed'}


def consistent_snapshot_support(mgr):
    """The driver's ``share_group_stats.consistent_snapshot_support`` ('pool', 'host' or None)."""
    stats = getattr(mgr.driver, '_stats', None) or {}
    value = (stats.get('share_group_stats') or {}).get(
        'consistent_snapshot_support')
    return value if value in _CONSISTENCY else None


def _message(mgr, context, action, project_id, resource_id, exc,
             detail=None):
    mgr.message_api.create(context, action, project_id,
                           resource_type=mf.Resource.SHARE_GROUP,
                           resource_id=resource_id, exception=exc,
                           detail=detail)


def _model_update(what, update, allowed):
    """The columns of a driver's model update this service writes (others logged and dropped)."""
    if not update:
        return {}
    if not isinstance(update, dict):
        raise exception.InvalidShareGroup(
            reason='driver returned %r as the %s update, not a dict'
                   % (update, what))
    dropped = sorted(set(update) - set(allowed))
    if dropped:
        LOG.debug('Keys %(keys)s of the driver %(what)s update not written.',
                  {'keys': ', '.join(dropped), 'what': what})
    values = {k: v for k, v in update.items() if k in allowed}
    if values.get('consistent_snapshot_support') not in (None,) + _CONSISTENCY:
        raise exception.InvalidShareGroup(
            reason='driver reported consistent_snapshot_support %r'
                   % values['consistent_snapshot_support'])
    return values


def _pair(method, result):
    """``(model update, list)`` of a driver answer that must be a 2-item tuple/list."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise exception.InvalidShareGroup(
            reason='driver %s returned %r, not (update, member updates)'
                   % (method, result))
    update, items = result
    if items is not None and not isinstance(items, (list, tuple)):
        raise exception.InvalidShareGroup(
            reason='driver %s returned %r as member updates, not a list'
                   % (method, items))
    return update, list(items or [])


# -- create --------------------------------------------------------------------

def _share_updates(updates, shares):
    """Check the per-member answers of a group created from a snapshot: ``{instance id: export locations}``."""
    known = {inst['id'] for inst in shares}
    result = {}
    for update in updates:
        if not isinstance(update, dict) or update.get('id') not in known:
            raise exception.InvalidShareInstance(
                reason='driver returned %r, not an update of a member share'
                       % (update,))
        status = update.get('status', c.STATUS_AVAILABLE)
        if status not in _MEMBER_STATUSES:
            raise exception.InvalidShareInstance(
                reason='Driver returned an invalid status %s' % status)
        result[update['id']] = export_locations.normalize(
            update.get('export_locations') or [])
    return result


def _source_snapshot(context, group):
    """``(group snapshot dict or None)`` of a group created from a group snapshot."""
    source_id = group['source_share_group_snapshot_id']
    if not source_id:
        return None
    snapshot = db_api.share_group_snapshot_get(context, source_id)
    members = db_api.share_group_snapshot_members_get_all(context, source_id)
    return views.share_group_snapshot_dict(snapshot, members,
                                           snapshot.share_group)


def _server_dict(context, server_id):
    """The driver dict of a group's share server, or None."""
    if not server_id:
        return None
    return views.share_server_dict(db_api.share_server_get(context,
                                                           server_id))


def _provide_server(mgr, context, group, shares, source, values):
    """The share server a new DHSS=True group goes on (None without a share network); fails the group with message 'no share server' and raises."""
    if not mgr.driver_handles_share_servers:
        return None
    try:
        parent_id = (source['share_group'] or {}).get(
            'share_server_id') if source else None
        if parent_id:
            db_api.share_group_update(context, group['id'],
                                      {'share_server_id': parent_id})
            return _server_dict(context, parent_id)
        if not group['share_network_id']:
            return None
        subnets = db_api.share_network_subnets_get_all_by_availability_zone_id(
            context, group['share_network_id'],
            values['availability_zone_id'])
        if not subnets:
            raise exception.ShareNetworkSubnetNotFound(
                share_network_subnet_id=None)
        group_dict = views.share_group_dict(group, shares, mgr.host)
        server = servers.provide_for_group(mgr, context, group_dict, subnets,
                                           group_snapshot=source)
    except Exception as exc:
        _create_failed(mgr, context, group, shares, exc, values,
                       mf.Detail.NO_SHARE_SERVER)
        raise guard.driver_error('provide share server', exc)
    return views.share_server_dict(server)


def _create_on_driver(mgr, context, group, shares, source, server):
    """Run the driver's group creation; returns ``(group values, {instance id: locations})``."""
    group_dict = views.share_group_dict(group, shares, mgr.host)
    if server is not None:
        group_dict['share_server_id'] = server['id']
    if source is None:
        update = mgr.driver.create_share_group(context, group_dict,
                                               share_server=server)
        return _model_update('share group', update, _GROUP_COLUMNS), {}
    method = 'create_share_group_from_share_group_snapshot'
    update, share_updates = _pair(method, getattr(mgr.driver, method)(
        context, group_dict, source, share_server=server))
    return (_model_update('share group', update, _GROUP_COLUMNS),
            _share_updates(share_updates, shares))


def _create_failed(mgr, context, group, shares, exc, values, detail=None):
    states.advance(context, GROUP, group['id'], 'create_failed', values)
    states.advance_many(context, states.SHARE_INSTANCE,
                        [inst['id'] for inst in shares], 'create_failed')
    _message(mgr, context, mf.Action.CREATE, group['project_id'],
             group['id'], exc, detail=detail)
    LOG.error('Share group %(id)s: create failed: %(exc)s',
              {'id': group['id'], 'exc': exc})


def _refusal(mgr, group):
    """Why this service cannot create ``group`` here (a ManilaException), or None."""
    if group['share_network_id'] and not mgr.driver_handles_share_servers:
        return exception.InvalidInput(
            reason='Driver does not expect share-network to be provided '
                   'with current configuration.')
    return None


def create_share_group(mgr, context, share_group_id):
    """Create a group (or a group from a group snapshot): group and members ``creating`` → ``available``, or ``error``."""
    group = db_api.share_group_get(context, share_group_id)
    if not guard.expect_status('Share group', group, (c.STATUS_CREATING,),
                               'create'):
        return
    shares = db_api.share_instance_get_all_by_share_group_id(
        context, share_group_id)
    values = {'availability_zone_id': (group['availability_zone_id'] or
                                       mgr.availability_zone_id(context)),
              'consistent_snapshot_support':
                  consistent_snapshot_support(mgr)}
    refusal = _refusal(mgr, group)
    if refusal is not None:
        _create_failed(mgr, context, group, shares, refusal, values,
                       mf.Detail.UNEXPECTED_NETWORK)
        raise refusal
    source = _source_snapshot(context, group)
    server = _provide_server(mgr, context, group, shares, source, values)
    LOG.info('Share group %s: creating', share_group_id)
    try:
        group_values, locations = _create_on_driver(mgr, context, group,
                                                    shares, source, server)
    except Exception as exc:
        _create_failed(mgr, context, group, shares, exc, values)
        raise guard.driver_error('create_share_group', exc)
    for inst in shares:
        # As upstream: available even when the driver said
        # creating_from_snapshot (its copy is then the driver's business).
        states.advance(context, states.SHARE_INSTANCE, inst['id'],
                       'group_create_succeeded', {'progress': '100%'},
                       export_locations=locations.get(inst['id']))
    values.update(group_values, created_at=timeutils.utcnow())
    if states.advance(context, GROUP, share_group_id, 'create_succeeded',
                      values):
        LOG.info('Share group %s: created successfully', share_group_id)


# -- delete --------------------------------------------------------------------

def delete_share_group(mgr, context, share_group_id):
    """Delete a group on the driver and soft-delete it (or ``error`` + message)."""
    group = db_api.share_group_get(context, share_group_id)
    if not guard.expect_status('Share group', group, (c.STATUS_DELETING,),
                               'delete'):
        return
    shares = db_api.share_instance_get_all_by_share_group_id(
        context, share_group_id)
    LOG.info('Share group %s: deleting', share_group_id)
    try:
        update = mgr.driver.delete_share_group(
            context, views.share_group_dict(group, shares, mgr.host),
            share_server=_server_dict(context, group['share_server_id']))
        values = _model_update('share group', update, _GROUP_COLUMNS)
    except Exception as exc:
        states.advance(context, GROUP, share_group_id, 'delete_failed')
        _message(mgr, context, mf.Action.DELETE, group['project_id'],
                 share_group_id, exc)
        raise guard.driver_error('delete_share_group', exc)
    if values:
        db_api.share_group_update(context, share_group_id, values)
    db_api.share_group_destroy(context, share_group_id)
    LOG.info('Share group %s: deleted successfully', share_group_id)


# -- group snapshots -------------------------------------------------------------

def _load_snapshot(context, share_group_snapshot_id):
    snapshot = db_api.share_group_snapshot_get(context,
                                               share_group_snapshot_id)
    members = db_api.share_group_snapshot_members_get_all(
        context, share_group_snapshot_id)
    return snapshot, members


def _member_updates(updates, members):
    """Check the member answers of a group snapshot: ``{member id: (status, values)}``."""
    known = {m['id'] for m in members}
    result = {}
    for update in updates:
        if not isinstance(update, dict):
            raise exception.InvalidShareGroup(
                reason='driver returned member update %r, not a dict'
                       % (update,))
        member_id = update.get('id')
        if member_id not in known:
            LOG.warning('A member update without a known id (%s) was '
                        'skipped.', member_id)
            continue
        status = update.get('status', c.STATUS_AVAILABLE)
        if status not in _MEMBER_EVENTS:
            raise exception.InvalidShareGroup(
                reason='driver reported member status %r' % (status,))
        values = {}
        if update.get('provider_location') is not None:
            values['provider_location'] = str(update['provider_location'])
        if update.get('size') is not None:
            values['size'] = int(update['size'])
        result[member_id] = (status, values)
    return result


def _snapshot_failed(mgr, context, snapshot, members, exc, event, action):
    states.advance(context, GROUP_SNAP, snapshot['id'], event)
    if event == 'create_failed':
        # Upstream leaves the members creating; here they end with it.
        for member in members:
            states.advance(context, states.SNAPSHOT_INSTANCE, member['id'],
                           'create_failed')
    _message(mgr, context, action, snapshot['project_id'], snapshot['id'],
             exc)
    LOG.error('Share group snapshot %(id)s: %(action)s failed: %(exc)s',
              {'id': snapshot['id'], 'action': action[1], 'exc': exc})


def _snapshot_on_driver(mgr, context, snapshot, members, method, event,
                        action):
    """Call the driver's ``method`` on a group snapshot; ``(snapshot values, member updates)``, or fail the snapshot (``event``) and raise."""
    try:
        server = _server_dict(context,
                              snapshot.share_group['share_server_id'])
        update, items = _pair(method, getattr(mgr.driver, method)(
            context, views.share_group_snapshot_dict(
                snapshot, members, snapshot.share_group),
            share_server=server))
        values = _model_update('share group snapshot', update,
                               _GROUP_SNAPSHOT_COLUMNS)
        updates = (_member_updates(items, members)
                   if event == 'create_failed' else {})
    except Exception as exc:
        _snapshot_failed(mgr, context, snapshot, members, exc, event, action)
        raise guard.driver_error(method, exc)
    return values, updates


def create_share_group_snapshot(mgr, context, share_group_snapshot_id):
    """Snapshot every member share of a group: snapshot and members ``creating`` → ``available`` (or ``error``)."""
    snapshot, members = _load_snapshot(context, share_group_snapshot_id)
    if not guard.expect_status('Share group snapshot', snapshot,
                               (c.STATUS_CREATING,), 'create'):
        return
    LOG.info('Share group snapshot %s: creating', share_group_snapshot_id)
    values, updates = _snapshot_on_driver(
        mgr, context, snapshot, members, 'create_share_group_snapshot',
        'create_failed', mf.Action.CREATE)
    for member in members:
        status, member_values = updates.get(member['id'],
                                            (c.STATUS_AVAILABLE, {}))
        states.advance(context, states.SNAPSHOT_INSTANCE, member['id'],
                       _MEMBER_EVENTS[status], member_values)
    if states.advance(context, GROUP_SNAP, share_group_snapshot_id,
                      'create_succeeded', values):
        LOG.info('Share group snapshot %s: created successfully',
                 share_group_snapshot_id)


def delete_share_group_snapshot(mgr, context, share_group_snapshot_id):
    """Delete a group snapshot on the driver, then soft-delete it with its members (or ``error``)."""
    snapshot, members = _load_snapshot(context, share_group_snapshot_id)
    if not guard.expect_status('Share group snapshot', snapshot,
                               (c.STATUS_DELETING,), 'delete'):
        return
    LOG.info('Share group snapshot %s: deleting', share_group_snapshot_id)
    values, _updates = _snapshot_on_driver(
        mgr, context, snapshot, members, 'delete_share_group_snapshot',
        'delete_failed', mf.Action.DELETE)
    if values:
        db_api.share_group_snapshot_update(context, share_group_snapshot_id,
                                           values)
    db_api.share_group_snapshot_destroy(context, share_group_snapshot_id)
    LOG.info('Share group snapshot %s: deleted successfully',
             share_group_snapshot_id)
