"""Share server migration (DHSS=True), run by the destination host's share service: check, start, the continue poll, progress, complete and cancel.

As upstream, every request goes to the destination backend: the API made
the source server ``server_migrating`` (task_state
``migration_starting``) and its share and snapshot instances
``server_migrating``. This service creates the destination server on its
own host (``server_migrating_to``, ``source_share_server_id`` set, network
allocated by the plugin on the destination's share network subnet), drives
the driver through phase 1 (start, continue until done), then phase 2
(complete: the instances move to the destination server, the source is
retired and deleted) or a cancel. Both servers carry the migration's
task_state. Every failure leaves the rows in upstream's states and writes
a user message for each share of the server.
"""

from oslo_config import cfg
from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import hosts
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import migration
from manila_lite.share import servers
from manila_lite.share import states
from manila_lite.share import views

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

SERVER = states.SHARE_SERVER
TASK = states.SHARE_SERVER_TASK

# Flags of the compatibility answer the driver must grant when requested.
_FLAGS = ('writable', 'nondisruptive', 'preserve_snapshots')
_CHECK_KEYS = ('compatible',) + _FLAGS + ('migration_cancel',
                                          'migration_get_progress')


class StrandedServerMigration(exception.ManilaException):
    message = ('The share service restarted during the migration of share '
               'server %(server)s (%(task_state)s); the migration failed.')


# -- the rows of one migration -----------------------------------------------

class _Members:
    """The share and snapshot instances that move with a server."""

    def __init__(self, shares, snapshots):
        self.shares = shares
        self.share_ids = [i['id'] for i in shares]
        self.snapshots = snapshots
        self.snapshot_ids = [s['id'] for s in snapshots]

    @classmethod
    def of_server(cls, context, server_id):
        """The members of one server (two reads)."""
        return _members_of(context, [server_id])[server_id]

    def driver_args(self):
        return ([views.share_instance_dict(i) for i in self.shares],
                [views.snapshot_instance_dict(s) for s in self.snapshots])

    def advance(self, context, event):
        """Move the share and snapshot instances still ``server_migrating`` (two UPDATEs)."""
        states.advance_many(context, states.SHARE_INSTANCE, self.share_ids,
                            event)
        states.advance_many(context, states.SNAPSHOT_INSTANCE,
                            self.snapshot_ids, event)

    def tell(self, mgr, context, error):
        """One user message per share of the server."""
        for inst in self.shares:
            mgr.message_api.create(
                context, mf.Action.UPDATE, inst['project_id'],
                resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
                exception=error)


def _pair(context, src_id, dest_id):
    """``(source, destination)`` servers of one migration; InvalidShareServer when they are not."""
    src = db_api.share_server_get(context, src_id)
    dest = db_api.share_server_get(context, dest_id)
    if (src['status'] != c.STATUS_SERVER_MIGRATING or
            dest['status'] != c.STATUS_SERVER_MIGRATING_TO or
            dest['source_share_server_id'] != src['id']):
        raise exception.InvalidShareServer(
            reason='share servers %s (%s) and %s (%s) are not the source and '
                   'destination of one migration'
                   % (src['id'], src['status'], dest['id'], dest['status']))
    return src, dest


def _driver_call(mgr, context, method, src, dest, members, *extra):
    shares, snapshots = members.driver_args()
    try:
        return getattr(mgr.driver, method)(
            context, views.share_server_dict(src),
            views.share_server_dict(dest), shares, snapshots, *extra)
    except Exception as exc:
        raise guard.driver_error(method, exc)


# -- the compatibility check (call, and step one of start) -------------------

def _request_spec(members, az_id, share_network_id):
    """What upstream's API builds for the driver's check: sizes and one spec per share."""
    specs = [{'share_properties': {
        'id': i['share_id'], 'size': i['size'],
        'share_proto': i['share_proto'], 'share_type_id': i['share_type_id'],
        'availability_zone_id': az_id,
        'share_network_id': share_network_id},
        'share_instance_properties': views.share_instance_dict(i),
        'share_type': {'id': i['share_type_id']}}
        for i in members.shares]
    return {'shares_size': sum(i['size'] or 0 for i in members.shares),
            'snapshots_size': sum(views.field(s, 'size', 0)
                                  for s in members.snapshots),
            'shares_req_spec': specs}


def _compatibility(mgr, context, server, members, dest_host, network_id):
    """The driver's checked compatibility dict for moving ``server`` to ``dest_host``."""
    if CONF.server_migration_extend_neutron_network:
        raise exception.NotSupportedYet(
            method='share server migration with '
                   'server_migration_extend_neutron_network')
    if not members.shares:
        raise exception.InvalidShareServer(
            reason='share server %s has no shares to migrate' % server['id'])
    old_network = db_api.share_network_get(
        context, members.shares[0]['share_network_id'])
    new_network = db_api.share_network_get(
        context, network_id or old_network['id'])
    service = db_api.service_get_by_args(
        context, hosts.extract_host(dest_host), 'manila-share')
    try:
        answer = mgr.driver.share_server_migration_check_compatibility(
            context, views.share_server_dict(server), dest_host, old_network,
            new_network, _request_spec(members, service['availability_zone_id'],
                                       new_network['id']))
    except Exception as exc:
        raise guard.driver_error('share_server_migration_check_compatibility',
                                 exc)
    answer = migration.check_bool_answers(
        'share_server_migration_check_compatibility', answer, _CHECK_KEYS)
    return answer, new_network, service['availability_zone_id']


def _refuse_incompatible(server, members, answer, dest_host, requested):
    name = 'share server %s' % server['id']
    if not answer.get('compatible'):
        raise exception.ShareServerMigrationFailed(
            reason='destination host %s is not compatible with %s\'s source '
                   'backend for driver-assisted migration' % (dest_host, name))
    for flag in _FLAGS:
        if requested[flag] and not answer.get(flag):
            raise exception.ShareServerMigrationFailed(
                reason='the driver cannot migrate %s with %s' % (name, flag))
    if members.snapshots and not answer.get('preserve_snapshots'):
        raise exception.ShareServerMigrationFailed(
            reason='the driver does not preserve snapshots and %s has some'
            % name)


def check(mgr, context, share_server_id, dest_host, writable, nondisruptive,
          preserve_snapshots, new_share_network_id=None):
    """RPC share_server_migration_check (call): upstream's result dict, ``compatible`` False when anything refuses."""
    result = {'compatible': False, 'writable': None,
              'preserve_snapshots': None, 'nondisruptive': None,
              'share_network_id': new_share_network_id,
              'migration_cancel': None, 'migration_get_progress': None}
    if not mgr.driver_handles_share_servers:
        LOG.error('Share server migration check of %s refused: backend %s '
                  'does not handle share servers.', share_server_id, mgr.host)
        return result
    server = db_api.share_server_get(context, share_server_id)
    members = _Members.of_server(context, share_server_id)
    requested = {'writable': writable, 'nondisruptive': nondisruptive,
                 'preserve_snapshots': preserve_snapshots}
    answer = {}
    try:
        answer, _net, _az = _compatibility(mgr, context, server, members,
                                           dest_host, new_share_network_id)
        _refuse_incompatible(server, members, answer, dest_host, requested)
    except exception.ManilaException as exc:
        LOG.info('Share server %(id)s cannot migrate to %(host)s: %(exc)s',
                 {'id': share_server_id, 'host': dest_host, 'exc': exc})
        answer = dict(answer, compatible=False)
    result.update({k: v for k, v in answer.items() if k in result})
    return result


# -- start -----------------------------------------------------------------------

def start(mgr, context, share_server_id, dest_host, writable, nondisruptive,
          preserve_snapshots, new_share_network_id=None):
    """RPC share_server_migration_start: phase 1 up to ``migration_driver_in_progress``.

    Any failure: instances ``available`` again, destination server gone
    (or ``error`` if it cannot be removed), source ``active`` with
    ``migration_error``, a user message per share.
    """
    src = db_api.share_server_get(context, share_server_id)
    if not states.advance(context, TASK, share_server_id,
                          'migration_accepted'):
        return
    members = _Members.of_server(context, share_server_id)
    requested = {'writable': writable, 'nondisruptive': nondisruptive,
                 'preserve_snapshots': preserve_snapshots}
    attempt = {'dest': None, 'readonly': False}
    try:
        with mgr.in_flight.track([share_server_id]):
            _start(mgr, context, src, members, dest_host, requested,
                   new_share_network_id, attempt)
    except Exception as exc:
        error = guard.driver_error('share_server_migration_start', exc)
        LOG.error('Migration of share server %(id)s to %(host)s failed: '
                  '%(exc)s', {'id': share_server_id, 'host': dest_host,
                              'exc': error})
        _start_failed(mgr, context, src, members, attempt)
        members.tell(mgr, context, error)
        raise error
    LOG.info('Migration of share server %(id)s to %(host)s started.',
             {'id': share_server_id, 'host': dest_host})


def _start(mgr, context, src, members, dest_host, requested, network_id,
           attempt):
    if not mgr.driver_handles_share_servers:
        raise exception.InvalidShareServer(
            reason='backend %s does not handle share servers' % mgr.host)
    answer, network, az_id = _compatibility(mgr, context, src, members,
                                            dest_host, network_id)
    _refuse_incompatible(src, members, answer, dest_host, requested)
    dest = _destination(mgr, context, src, network, az_id, dest_host,
                        not answer.get('nondisruptive'), attempt)
    states.advance(context, SERVER, dest['id'], 'migration_destination_ready',
                   {'task_state': c.TASK_STATE_MIGRATION_IN_PROGRESS})
    if not answer.get('writable'):
        attempt['readonly'] = True
        _sync_rules(mgr, context, src, members, readonly=True)
    ids = [src['id'], dest['id']]
    if len(states.advance_many(context, TASK, ids, 'driver_start_begun',
                               return_ids=True)) != 2:
        raise exception.ShareServerMigrationFailed(
            reason='share server %s left migration_in_progress' % src['id'])
    info = _driver_call(mgr, context, 'share_server_migration_start', src,
                        db_api.share_server_get(context, dest['id']), members)
    if info is not None and not isinstance(info, dict):
        raise exception.ShareBackendException(
            msg='driver share_server_migration_start returned %s, not a dict'
            % type(info).__name__)
    details = (info or {}).get('backend_details')
    if details:
        db_api.share_server_backend_details_set(context, dest['id'], details)
    states.advance_many(context, TASK, ids, 'driver_started')


def _destination(mgr, context, src, network, az_id, dest_host, on_backend,
                 attempt):
    """The destination server row on this host, set up by the driver unless the driver moves the server as it is."""
    subnets = db_api.share_network_subnets_get_all_by_availability_zone_id(
        context, network['id'], az_id)
    if not subnets:
        raise exception.ShareNetworkSubnetNotFound(share_network_subnet_id=None)
    dest = servers.new_server(mgr, context, subnets,
                              source_share_server_id=src['id'])
    attempt['dest'] = dest
    LOG.info('Share server %(dest)s on %(host)s is the destination of the '
             'migration of share server %(src)s.',
             {'dest': dest['id'], 'host': mgr.host, 'src': src['id']})
    if on_backend:
        return servers.setup(mgr, context, dest, {
            'request_host': dest_host, 'migration_destination': True,
            'source_share_server': views.share_server_dict(src),
            'share_type_id': None, 'encryption_key_ref': None,
            'keystone_url': None})
    if ({s['id'] for s in subnets} !=
            set(src['share_network_subnet_ids'] or ())):
        servers.allocate(mgr, context, dest, network, subnets)
    return db_api.share_server_get(context, dest['id'])


def _sync_rules(mgr, context, server, members, readonly):
    """Cast the instances' rules to read-only (or back) on ``server``'s backend and wait for them."""
    changed = [i['id'] for i in members.shares
               if bool(i['cast_rules_to_readonly']) != readonly]
    if not changed:
        return
    for inst_id in changed:
        db_api.share_instance_update(context, inst_id,
                                     {'cast_rules_to_readonly': readonly})
    access.reset_for_reapply(mgr, context, changed, reapply=True)
    if hosts.extract_host(server['host']) == mgr.host:
        access.update_access_for_instances(mgr, context, changed,
                                           share_server_id=server['id'])
    else:
        mgr.share_rpcapi.update_access_for_instances(
            context, server['host'], changed, share_server_id=server['id'])
    for inst_id in changed:
        migration.wait_for_rules(context, inst_id)


def _restore_rules(mgr, context, server, members):
    """Make the members' rules writable again on ``server``'s backend (errors logged)."""
    if not members.share_ids:
        return
    fresh = _Members(db_api.share_instance_get_all(
        context, {'instance_ids': members.share_ids}), [])
    try:
        _sync_rules(mgr, context, server, fresh, readonly=False)
    except Exception as exc:
        LOG.warning('Access rules of the shares of share server %(id)s '
                    'could not be made writable again: %(exc)s',
                    {'id': server['id'], 'exc': exc})


def _start_failed(mgr, context, src, members, attempt):
    members.advance(context, 'server_migration_given_back')
    if attempt['readonly']:
        _restore_rules(mgr, context, src, members)
    dest = attempt['dest']
    if dest is not None:
        _discard_destination(mgr, context, dest)
    states.advance(context, SERVER, src['id'], 'migration_given_back',
                   {'task_state': c.TASK_STATE_MIGRATION_ERROR})


def _discard_destination(mgr, context, dest, event='migration_destination_failed',
                         task_state=c.TASK_STATE_MIGRATION_ERROR):
    """Mark the destination server and remove it: torn down if the driver set it up, else its row and allocations."""
    states.advance(context, SERVER, dest['id'], event,
                   {'task_state': task_state})
    dest = db_api.share_server_get(context, dest['id'])
    try:
        if dest['identifier']:
            servers.delete_share_server(mgr, context, {
                'id': dest['id'],
                'share_network_subnet_ids': dest['share_network_subnet_ids']})
        else:
            servers.deallocate(mgr, context, [dest])
            db_api.share_server_delete(context, dest['id'])
    except Exception:
        LOG.exception('Destination share server %s of a failed migration '
                      'was not removed.', dest['id'])


# -- the continue poll (periodic) and progress (call) -------------------------

def driver_continue(mgr, context):
    """Periodic: ask the driver to go on with each migration this host is the destination of; finished ones → phase1_done."""
    dests = db_api.share_server_get_all_by_host(
        context, mgr.host, filters={
            'status': c.STATUS_SERVER_MIGRATING_TO,
            'task_state': c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS})
    if not dests:
        return
    sources = {s['id']: s for s in db_api.share_servers_get_by_ids(
        context, [d['source_share_server_id'] for d in dests
                  if d['source_share_server_id']])}
    members = _members_of(context, list(sources))
    finished = []
    for dest in dests:
        src = sources.get(dest['source_share_server_id'])
        try:
            if src is None or src['status'] != c.STATUS_SERVER_MIGRATING:
                raise exception.ShareServerMigrationFailed(
                    reason='destination share server %s has no source being '
                           'migrated' % dest['id'])
            with mgr.in_flight.track([src['id'], dest['id']]):
                done = _driver_call(mgr, context,
                                    'share_server_migration_continue', src,
                                    dest, members[src['id']])
            if done not in (True, False, None):
                raise exception.ShareBackendException(
                    msg='driver share_server_migration_continue returned '
                        '%r, not a boolean' % (done,))
        except Exception as exc:
            _continue_failed(mgr, context, src, dest, members, exc)
            continue
        if done:
            finished += [src['id'], dest['id']]
    for server_id in states.advance_many(context, TASK, finished,
                                         'phase1_done', return_ids=True):
        if server_id in sources:
            LOG.info('Migration of share server %s completed its first '
                     'phase.', server_id)


def _members_of(context, server_ids):
    """``{server id: _Members}`` of many servers in two reads."""
    shares = (db_api.share_instance_get_all(
        context, {'share_server_id': list(server_ids)}, with_share_data=True)
        if server_ids else [])
    snaps = (db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': [i['id'] for i in shares]})
        if shares else [])
    server_of = {i['id']: i['share_server_id'] for i in shares}
    return {sid: _Members(
        [i for i in shares if i['share_server_id'] == sid],
        [s for s in snaps if server_of[s['share_instance_id']] == sid])
        for sid in server_ids}


def _continue_failed(mgr, context, src, dest, members, exc):
    error = guard.driver_error('share_server_migration_continue', exc)
    LOG.error('Migration of share server %(src)s to %(dest)s failed: '
              '%(exc)s', {'src': src and src['id'], 'dest': dest['id'],
                          'exc': error})
    states.advance(context, SERVER, dest['id'],
                   'migration_destination_failed',
                   {'task_state': c.TASK_STATE_MIGRATION_ERROR})
    if src is None:
        return
    group = members[src['id']]
    try:
        group.advance(context, 'server_migration_given_back')
        _restore_rules(mgr, context, src, group)
    except Exception:
        LOG.exception('Clean-up of the failed migration of share server %s '
                      'failed.', src['id'])
    states.advance(context, SERVER, src['id'], 'migration_given_back',
                   {'task_state': c.TASK_STATE_MIGRATION_ERROR})
    group.tell(mgr, context, error)


def get_progress(mgr, context, src_share_server_id, dest_share_server_id):
    """RPC share_server_migration_get_progress (call): the driver's progress of a migration in phase 1."""
    src, dest = _pair(context, src_share_server_id, dest_share_server_id)
    if src['task_state'] != c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS:
        raise exception.InvalidShareServer(
            reason='the driver is not migrating share server %s at this '
                   'moment' % src['id'])
    return migration.check_progress(
        _driver_call(mgr, context, 'share_server_migration_get_progress',
                     src, dest, _Members.of_server(context, src['id'])),
        'share_server_migration_get_progress')


# -- complete ------------------------------------------------------------------

def complete(mgr, context, src_share_server_id, dest_share_server_id):
    """RPC share_server_migration_complete: phase 2; the instances move to the destination server, the source is retired.

    A driver failure leaves both servers and every instance ``error``
    with ``migration_error`` (upstream: an administrator decides).
    """
    src, dest = _pair(context, src_share_server_id, dest_share_server_id)
    if src['task_state'] != c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE:
        raise exception.InvalidShareServer(
            reason='first migration phase of share server %s not completed '
                   'yet (task_state %s)' % (src['id'], src['task_state']))
    ids = [src['id'], dest['id']]
    if len(states.advance_many(context, TASK, ids, 'complete_begun',
                               return_ids=True)) != 2:
        raise exception.InvalidShareServer(
            reason='migration of share server %s moved on meanwhile'
            % src['id'])
    members = _Members.of_server(context, src['id'])
    try:
        with mgr.in_flight.track(ids):
            moved_as_is = _complete(mgr, context, src, dest, members)
    except Exception as exc:
        error = guard.driver_error('share_server_migration_complete', exc)
        _complete_failed(mgr, context, src, dest, members, error)
        raise error
    members.advance(context, 'server_migration_completed')
    _retire_source(mgr, context, src, moved_as_is)
    LOG.info('Migration of share server %(src)s to %(dest)s completed.',
             {'src': src['id'], 'dest': dest['id']})


def _complete_failed(mgr, context, src, dest, members, error):
    LOG.error('Completion of the migration of share server %(id)s failed: '
              '%(exc)s', {'id': src['id'], 'exc': error})
    members.advance(context, 'server_migration_failed')
    for server in (src, dest):
        states.advance(context, SERVER, server['id'],
                       'migration_complete_failed',
                       {'task_state': c.TASK_STATE_MIGRATION_ERROR})
    members.tell(mgr, context, error)


def _network_info(context, src, dest):
    """``(network_info for the driver, allocations reused from the source)``."""
    reused = not db_api.network_allocations_get_for_share_server(
        context, dest['id'])
    holder = src if reused else dest
    subnets = db_api.share_network_subnet_get_all_by_share_server_id(
        context, dest['id'])
    network = db_api.share_network_get(context, subnets[0]['share_network_id'])
    return servers.setup_info(context, holder, network, subnets), reused


def _complete(mgr, context, src, dest, members):
    """Phase 2 with the driver; returns whether the source server was moved as it is (nondisruptive: the destination never set up on the backend)."""
    info, reused = _network_info(context, src, dest)
    answer = _check_complete_answer(_driver_call(
        mgr, context, 'share_server_migration_complete', src, dest, members,
        info))
    if reused:
        for alloc in db_api.network_allocations_get_for_share_server(
                context, src['id']):
            db_api.network_allocation_update(
                context, alloc['id'], {'share_server_id': dest['id']})
    # upstream: a destination without identifier is the source moved as it
    # is, with or without new allocations (a network change)
    moved_as_is = not dest['identifier']
    if moved_as_is:
        details = (answer.get('server_backend_details') or
                   src['backend_details'])
        if details:
            db_api.share_server_backend_details_set(context, dest['id'],
                                                    dict(details))
    _move_instances(context, dest, members, answer)
    _restore_rules(mgr, context, dest, members)
    states.advance(context, SERVER, dest['id'], 'migration_completed',
                   {'task_state': c.TASK_STATE_MIGRATION_SUCCESS,
                    'identifier': dest['identifier'] or src['identifier']})
    return moved_as_is


def _check_complete_answer(answer):
    """The driver's complete answer with dict-of-dict ``share_updates`` / ``snapshot_updates``."""
    answer = {} if answer is None else answer
    if not isinstance(answer, dict):
        raise exception.ShareBackendException(
            msg='driver share_server_migration_complete returned %s, not a '
                'dict' % type(answer).__name__)
    for key in ('share_updates', 'snapshot_updates'):
        updates = answer.get(key) or {}
        if not (isinstance(updates, dict) and
                all(isinstance(v, dict) for v in updates.values())):
            raise exception.ShareBackendException(
                msg='driver share_server_migration_complete returned %s '
                    'that is not a dict of dicts' % key)
        locations = [v.get('export_locations') for v in updates.values()]
        if any(loc is not None and not isinstance(loc, list)
               for loc in locations):
            raise exception.ShareBackendException(
                msg='driver share_server_migration_complete returned '
                    'export locations in %s that are not a list' % key)
    return answer


def _move_instances(context, dest, members, answer):
    """Point every instance at the destination server (host with the driver's pool, network, zone) and apply the driver's updates."""
    network_id = dest['share_network_subnets'][0]['share_network_id']
    zone_id = db_api.service_get_by_args(
        context, hosts.extract_host(dest['host']),
        'manila-share')['availability_zone_id']
    share_updates = answer.get('share_updates') or {}
    for inst in members.shares:
        update = share_updates.get(inst['id'], {})
        pool = update.get('pool_name')
        db_api.share_instance_update(context, inst['id'], {
            'share_server_id': dest['id'],
            'host': dest['host'] + ('#%s' % pool if pool else ''),
            'share_network_id': network_id, 'availability_zone_id': zone_id})
        if update.get('export_locations'):
            db_api.export_locations_update(context, inst['id'],
                                           update['export_locations'])
    snapshot_updates = answer.get('snapshot_updates') or {}
    for snapinst in members.snapshots:
        update = dict(snapshot_updates.get(snapinst['id'], {}))
        locations = update.pop('export_locations', None) or []
        update.pop('status', None)
        if update:
            db_api.share_snapshot_instance_update(context, snapinst['id'],
                                                  update)
        if locations:
            db_api.share_snapshot_instance_export_locations_update(
                context, snapinst['id'],
                [{'path': loc['path'],
                  'is_admin_only': loc.get('is_admin_only', False)}
                 for loc in locations])


def _retire_source(mgr, context, src, moved_as_is):
    """The source goes ``inactive`` (never reused) and is deleted.

    A server moved as it is has nothing to tear down on the backend: its
    row and allocations go here; any other is deleted by its own host.
    """
    states.advance(context, SERVER, src['id'], 'migration_source_retired',
                   {'task_state': c.TASK_STATE_MIGRATION_SUCCESS})
    try:
        if moved_as_is:
            servers.deallocate(mgr, context, [src])
            db_api.share_server_delete(context, src['id'])
        elif hosts.extract_host(src['host']) == mgr.host:
            servers.delete_share_server(mgr, context, {
                'id': src['id'],
                'share_network_subnet_ids': src['share_network_subnet_ids']})
        else:
            mgr.share_rpcapi.delete_share_server(context, {
                'id': src['id'], 'host': src['host'],
                'share_network_subnet_ids': src['share_network_subnet_ids']})
    except Exception:
        LOG.exception('Source share server %s of a completed migration was '
                      'not deleted; it stays inactive.', src['id'])


# -- cancel --------------------------------------------------------------------

def cancel(mgr, context, src_share_server_id, dest_share_server_id):
    """RPC share_server_migration_cancel: the driver stops, the destination goes, the source is ``active`` with its instances ``available``."""
    src, dest = _pair(context, src_share_server_id, dest_share_server_id)
    if not states.advance(context, TASK, src['id'], 'cancel_begun'):
        raise exception.InvalidShareServer(
            reason='migration of share server %s cannot be cancelled at this '
                   'moment (task_state %s)' % (src['id'], src['task_state']))
    members = _Members.of_server(context, src['id'])
    try:
        with mgr.in_flight.track([src['id'], dest['id']]):
            _driver_call(mgr, context, 'share_server_migration_cancel', src,
                         dest, members)
    except Exception as exc:
        _complete_failed(mgr, context, src, dest, members, exc)
        raise
    _discard_destination(mgr, context, dest,
                         event='migration_destination_cancelled',
                         task_state=c.TASK_STATE_MIGRATION_CANCELLED)
    members.advance(context, 'server_migration_given_back')
    _restore_rules(mgr, context, src, members)
    states.advance(context, SERVER, src['id'], 'migration_given_back',
                   {'task_state': c.TASK_STATE_MIGRATION_CANCELLED})
    LOG.info('Migration of share server %s cancelled.', src['id'])


# -- reconciliation --------------------------------------------------------------

# task states of a source whose handler runs in a process (a crash leaves them).
STRANDABLE = states.SERVER_MIGRATION_STARTING + (
    c.TASK_STATE_MIGRATION_COMPLETING,
    c.TASK_STATE_MIGRATION_CANCEL_IN_PROGRESS)


def stranded_candidates(context, host):
    """Migrations this host would be running: sources with their destination here, or sources here with no destination yet (two reads).

    A source here whose destination is being created on another host
    (no row pointing at it yet) is settled here once it is older than the
    reconciliation window.

    Rows carry the source's id, task_state (as ``status``) and times, so
    the reconciliation ages them like any stranded row.
    """
    here = db_api.share_server_get_all_by_host(context, host)
    dests = [d for d in here if d['source_share_server_id']]
    mine = [s for s in here if s['status'] == c.STATUS_SERVER_MIGRATING]
    ids = {d['source_share_server_id'] for d in dests} | {
        s['id'] for s in mine}
    with_dest = {d['source_share_server_id'] for d in dests}
    found = []
    for src in db_api.share_servers_get_by_ids(context, sorted(ids)):
        if (src['status'] != c.STATUS_SERVER_MIGRATING or
                src['task_state'] not in STRANDABLE):
            continue
        if src['id'] not in with_dest and src['host'] != host:
            continue
        found.append({'id': src['id'], 'status': src['task_state'],
                      'updated_at': src['updated_at'],
                      'created_at': src['created_at']})
    return found


def settle_stranded(mgr, context, row):
    """Fail a server migration whose handler died: instances usable at the source, destination removed; mid-completion everything ``error``."""
    with mgr.in_flight.track([row['id']]):
        src = db_api.share_server_get(context, row['id'])
        if (src['status'] != c.STATUS_SERVER_MIGRATING or
                src['task_state'] not in STRANDABLE):
            return 'settled meanwhile'
        dest = next(iter(db_api.share_server_get_all_by_host(
            context, mgr.host,
            filters={'source_share_server_id': src['id']})), None)
        members = _Members.of_server(context, src['id'])
        error = StrandedServerMigration(server=src['id'],
                                        task_state=src['task_state'])
        if src['task_state'] == c.TASK_STATE_MIGRATION_COMPLETING:
            _complete_failed(mgr, context, src, dest or src, members, error)
            return 'migration failed, servers and shares error'
        _start_failed(mgr, context, src, members,
                      {'dest': dest, 'readonly': True})
        members.tell(mgr, context, error)
        return 'migration failed, source usable again'
