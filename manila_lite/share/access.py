"""Access rules of share instances and snapshot instances: the rule state machine and driver sync.

Upstream's API queues work by writing mapping states (``queued_to_apply``,
``queued_to_deny``, ``queued_to_update``) and casts ``update_access``. A
sync moves the queued mappings to ``applying``/``denying``/``updating``,
hands the driver everything that must be on the share plus the delta, then
writes the outcome: ``active`` (or what the driver reported per rule),
soft-deleted mappings for denied rules, and the instance's
``access_rules_status``. It loops while new work got queued meanwhile. Every
read-modify-write of mappings and ``access_rules_status`` holds upstream's
external lock for the instance; the driver call does not.
"""

import collections
import contextlib
import ipaddress
import re
import string

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import guard
from manila_lite.share import locks
from manila_lite.share import rows
from manila_lite.share import states
from manila_lite.share import views

LOG = logging.getLogger(__name__)


_QUEUED = (c.ACCESS_STATE_QUEUED_TO_APPLY, c.ACCESS_STATE_QUEUED_TO_DENY,
           c.ACCESS_STATE_QUEUED_TO_UPDATE)
_IN_FLIGHT = (c.ACCESS_STATE_APPLYING, c.ACCESS_STATE_DENYING,
              c.ACCESS_STATE_UPDATING)
_ON_SHARE = _IN_FLIGHT + (c.ACCESS_STATE_ACTIVE,)
_START_EVENTS = ('apply_started', 'deny_started', 'update_started')
_DRIVER_RULE_FIELDS = ('access_key', 'access_level', 'access_type',
                       'access_to')
_DRIVER_STATE_EVENTS = {c.ACCESS_STATE_ACTIVE: 'driver_reported_active',
                        c.ACCESS_STATE_ERROR: 'driver_reported_error'}
_SNAPSHOT_PENDING = (c.ACCESS_STATE_QUEUED_TO_APPLY, c.ACCESS_STATE_APPLYING,
                     c.ACCESS_STATE_QUEUED_TO_DENY, c.ACCESS_STATE_DENYING)
_RESET_BATCH = 100


# -- rule validation (upstream's API rules, re-checked before the driver) ----

_USER_FORBIDDEN = frozenset('"/\\[]:;|=,+*?<>')
_ONLY_DOTS_OR_SPACES = re.compile(r'[\s|.]+')


def _ip_problem(value):
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        return 'invalid IP address or CIDR: %s' % exc
    return None


def _user_problem(value):
    if _ONLY_DOTS_OR_SPACES.fullmatch(value):
        return 'a user or group name cannot consist solely of periods or spaces'
    if (not 4 <= len(value) <= 255 or value[0] == '\n' or
            _USER_FORBIDDEN.intersection(value[1:])):
        return ('a user or group name must be 4-255 characters and exclude '
                '"/\\[]:;|=,+*?<>')
    return None


def _cert_problem(value):
    if not 0 < len(value.strip()) < 65:
        return 'a certificate common name must be 1-64 characters long'
    return None


def _cephx_problem(value):
    if not value:
        return 'a Ceph ID may not be empty'
    if not set(value) <= set(string.printable):
        return 'a Ceph ID must consist of printable ASCII characters'
    if '.' in value:
        return 'a Ceph ID may not contain periods'
    return None


_CHECKERS = {'ip': _ip_problem, 'user': _user_problem, 'cert': _cert_problem,
             'cephx': _cephx_problem}


def rule_problem(rule):
    """Why ``rule`` (access_type, access_to, access_level) must not reach a driver, or None."""
    level = rule['access_level']
    if level not in c.ACCESS_LEVELS:
        return 'access level %r is neither rw nor ro' % (level,)
    checker = _CHECKERS.get(rule['access_type'])
    if checker is None:
        return ("access type %r is not one of 'ip', 'user', 'cert', 'cephx'"
                % (rule['access_type'],))
    if rule['access_to'] is None:
        return 'access_to is empty'
    return checker(str(rule['access_to']))


def _is_ipv6_rule(rule):
    if rule['access_type'] != 'ip':
        return False
    try:
        return ipaddress.ip_network(str(rule['access_to']),
                                    strict=False).version == 6
    except ValueError:
        return False


# -- share instance rules: the sync -----------------------------------------

# ``denied``: mappings to soft-delete after success; ``fallback_deny``: what
# deny_access gets when the driver lacks update_access.
DriverLists = collections.namedtuple(
    'DriverLists',
    'access_rules add_rules delete_rules update_rules denied fallback_deny')


def _start_queued(context, instance_id):
    """queued_* → applying/denying/updating; the number of mappings moved."""
    return sum(states.advance_all(context, states.ACCESS_RULE, instance_id,
                                  event) for event in _START_EVENTS)


def _finish_status(context, instance_id):
    errors = db_api.share_instance_access_get_all(
        context, instance_id, filters={'state': c.ACCESS_STATE_ERROR})
    event = 'sync_finished_with_errors' if errors else 'sync_finished'
    states.advance_all(context, states.ACCESS_RULES_STATUS, instance_id,
                       event)


def _begin(context, instance_id, delete_all_rules):
    """Queue the work and claim it; False when another sync runs or nothing is queued."""
    with locks.access_rules_lock(instance_id):
        if delete_all_rules:
            states.advance_all(context, states.ACCESS_RULE, instance_id,
                               'deny_all_requested')
        if db_api.share_instance_access_get_all(
                context, instance_id, filters={'state': list(_IN_FLIGHT)}):
            LOG.debug('Access rules of share instance %s are being synced; '
                      'that sync picks up the new changes.', instance_id)
            return False
        if _start_queued(context, instance_id):
            return True
        _finish_status(context, instance_id)
        LOG.debug('Nothing queued for share instance %s.', instance_id)
        return False


def _next_round(context, instance_id):
    """Claim what got queued during the last round, or settle access_rules_status."""
    with locks.access_rules_lock(instance_id):
        if _start_queued(context, instance_id):
            return True
        _finish_status(context, instance_id)
        return False


def update_access_rules(mgr, context, share_instance_id,
                        delete_all_rules=False, share_server=None):
    """Sync the instance's queued rule changes to the driver until none is left.

    ``delete_all_rules`` (delete, unmanage) first queues every live rule
    for denial. A driver failure leaves the rules in flight ``error`` and
    ``access_rules_status`` ``error`` and raises; no user message is written
    here (callers record the one that fits their operation).
    """
    if not _begin(context, share_instance_id, delete_all_rules):
        return
    while True:
        _sync_round(mgr, context, share_instance_id, share_server)
        if not _next_round(context, share_instance_id):
            break
    LOG.info('Access rules of share instance %s are in sync.',
             share_instance_id)


def _sync_round(mgr, context, instance_id, share_server):
    with locks.access_rules_lock(instance_id):
        states.advance_all(context, states.ACCESS_RULES_STATUS, instance_id,
                           'sync_started')
        inst = rows.instance(context, instance_id)
        rules = db_api.share_instance_access_get_all(
            context, instance_id, filters={'state': list(_ON_SHARE)})
        rules = _reject_invalid(mgr, context, inst, rules)
    lists = _driver_lists(mgr, inst, rules)
    try:
        updates = _call_driver(mgr, context, inst, lists, share_server)
        with locks.access_rules_lock(instance_id):
            _apply_driver_updates(context, instance_id, rules, updates)
            states.advance_all(context, states.ACCESS_RULE, instance_id,
                               'sync_succeeded')
    except Exception as exc:
        with locks.access_rules_lock(instance_id):
            states.advance_all(context, states.ACCESS_RULE, instance_id,
                               'sync_failed')
            states.advance_all(context, states.ACCESS_RULES_STATUS,
                               instance_id, 'sync_failed')
        raise guard.driver_error('update_access', exc)
    with locks.access_rules_lock(instance_id):
        _remove_denied(context, instance_id, lists.denied)


def _reject_invalid(mgr, context, inst, rules):
    """Put rules being applied or updated that fail validation in ``error``; return the rest."""
    bad = {}
    for rule in rules:
        if rule['state'] in (c.ACCESS_STATE_APPLYING,
                             c.ACCESS_STATE_UPDATING):
            problem = rule_problem(rule)
            if problem:
                bad[rule['access_id']] = problem
    if not bad:
        return rules
    for access_id, problem in bad.items():
        LOG.warning('Access rule %(rule)s of share instance %(inst)s is '
                    'invalid (%(problem)s); it goes to error.',
                    {'rule': access_id, 'inst': inst['id'],
                     'problem': problem})
    states.advance_all(context, states.ACCESS_RULE, (inst['id'], list(bad)),
                       'rule_rejected')
    mgr.message_api.create(
        context, mf.Action.UPDATE_ACCESS_RULES, inst['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
        detail=mf.Detail.UNSUPPORTED_CLIENT_ACCESS)
    return [r for r in rules if r['access_id'] not in bad]


def _driver_lists(mgr, inst, rules):
    """What the driver gets: everything on the share, and the delta (upstream's rules)."""
    add = [r for r in rules if r['state'] == c.ACCESS_STATE_APPLYING]
    delete = [r for r in rules if r['state'] == c.ACCESS_STATE_DENYING]
    update = [r for r in rules if r['state'] == c.ACCESS_STATE_UPDATING]
    on_share = [r for r in rules if r['state'] != c.ACCESS_STATE_DENYING]
    denied = list(delete)
    fallback_deny = list(delete)
    if inst['cast_rules_to_readonly']:
        LOG.debug('Share instance %s casts its rules to read-only.',
                  inst['id'])
        for rule in on_share:
            rule['access_level'] = c.ACCESS_LEVEL_RO
        add, delete, update = [], [], []
    if (not mgr.driver.ipv6_implemented and
            (inst['share_proto'] or '').lower() == 'nfs'):
        add, delete, update, on_share, fallback_deny = (
            [r for r in group if not _is_ipv6_rule(r)]
            for group in (add, delete, update, on_share, fallback_deny))
    return DriverLists(on_share, add, delete, update, denied, fallback_deny)


def _call_driver(mgr, context, inst, lists, share_server):
    """Run the driver's update_access (or allow/deny one by one); return its per-rule updates."""
    share = views.access_share_dict(
        inst, db_api.share_metadata_get(context, inst['share_id']))
    try:
        updates = mgr.driver.update_access(
            context, share, lists.access_rules, add_rules=lists.add_rules,
            delete_rules=lists.delete_rules, update_rules=lists.update_rules,
            share_server=share_server)
    except NotImplementedError:
        for verb, call, rules in (
                ('Allowing', mgr.driver.allow_access, lists.add_rules),
                ('Denying', mgr.driver.deny_access, lists.fallback_deny)):
            for rule in rules:
                LOG.info('%(verb)s access rule %(rule)s on share instance '
                         '%(inst)s.', {'verb': verb, 'rule': rule['access_id'],
                                       'inst': inst['id']})
                call(context, share, rule, share_server=share_server)
        return {}
    if updates is None:
        return {}
    if not isinstance(updates, dict):
        raise exception.ShareBackendException(
            msg='driver update_access returned %s, not a dict of rule '
                'updates' % type(updates).__name__)
    return updates


def _apply_driver_updates(context, instance_id, rules, updates):
    """Write the driver's ``{access_id: {'state', 'access_key', ...}}`` answer."""
    known = {r['access_id'] for r in rules}
    for access_id, update in updates.items():
        if access_id not in known or not isinstance(update, dict):
            # Never the answer itself: it may carry an access key.
            LOG.warning('Ignoring the driver update_access answer (a '
                        '%(type)s) for %(rule)s: not a rule it was given, '
                        'or not a dict.', {'type': type(update).__name__,
                                           'rule': access_id})
            continue
        rule_values = {k: update[k] for k in _DRIVER_RULE_FIELDS
                       if update.get(k) is not None}
        if rule_values.get('access_level', c.ACCESS_LEVEL_RW) not in (
                c.ACCESS_LEVELS):
            rule_values.pop('access_level')
        if rule_values:
            try:
                db_api.share_instance_access_update(context, access_id,
                                                    instance_id, rule_values)
            except exception.AccessRuleNotFound:
                LOG.warning('Access rule %s went away during the sync.',
                            access_id)
                continue
        state = update.get('state')
        if state in _DRIVER_STATE_EVENTS:
            states.advance_all(context, states.ACCESS_RULE,
                               (instance_id, [access_id]),
                               _DRIVER_STATE_EVENTS[state])
        elif state is not None:
            LOG.warning('Driver reported state %(state)r for access rule '
                        '%(rule)s; only active and error are accepted.',
                        {'state': state, 'rule': access_id})


def apply_rule_updates(context, instance_id, updates):
    """Write a driver's ``{access_id: {...}}`` rule updates given outside update_access (a security service change)."""
    rules = db_api.share_instance_access_get_all(context, instance_id)
    _apply_driver_updates(context, instance_id, rules, updates)


def _remove_denied(context, instance_id, denied):
    """Soft-delete the denied mappings that are still ``denying`` (and rules left without one)."""
    if not denied:
        return
    still = db_api.share_instance_access_get_all(
        context, instance_id,
        filters={'id': [r['id'] for r in denied],
                 'state': c.ACCESS_STATE_DENYING})
    for mapping in still:
        db_api.share_instance_access_delete(context, mapping['id'])


def deny_all_rules(mgr, context, inst):
    """Deny every access rule of a loaded instance on the driver and drop the mappings (delete, unmanage, transfer)."""
    update_access_rules(mgr, context, inst['id'], delete_all_rules=True,
                        share_server=rows.server(inst))


# -- RPC flows and start-up ----------------------------------------------------

def _sync_and_report(mgr, context, share_instance_id, share_server):
    """update_access_rules, recording a user message when it fails."""
    try:
        update_access_rules(mgr, context, share_instance_id,
                            share_server=share_server)
    except exception.ShareInstanceNotFound:
        raise
    except Exception as exc:
        inst = rows.instance(context, share_instance_id)
        mgr.message_api.create(
            context, mf.Action.UPDATE_ACCESS_RULES, inst['project_id'],
            resource_type=mf.Resource.SHARE, resource_id=inst['share_id'],
            exception=exc)
        raise


def update_access(mgr, context, share_instance_id):
    """RPC update_access: sync one instance's queued rule changes."""
    _sync_each(mgr, context, [share_instance_id])


def update_access_for_instances(mgr, context, share_instance_ids,
                                share_server_id=None):
    """RPC update_access_for_instances: sync each instance; raise the first failure (an unknown id is one) at the end.

    Each instance goes to the driver with its own share server (the
    server ``share_server_id`` names, for the instances the API sends).
    An unknown ``share_server_id`` fails the request before any instance
    is touched, as upstream looks the server up first.
    """
    if share_server_id is not None:
        db_api.share_server_get(context, share_server_id)
    _sync_each(mgr, context, share_instance_ids)


def _sync_each(mgr, context, share_instance_ids):
    failure = None
    for instance_id in share_instance_ids:
        LOG.debug('Updating access rules of share instance %s.', instance_id)
        try:
            # An unknown id raises here (it would look like "nothing queued").
            inst = rows.instance(context, instance_id)
            _sync_and_report(mgr, context, instance_id, rows.server(inst))
        except exception.ManilaException as exc:
            if failure is not None:
                LOG.error('Access update of share instance %(id)s failed: '
                          '%(exc)s', {'id': instance_id, 'exc': exc})
            failure = failure or exc
    if failure is not None:
        raise failure


def _batches(ids):
    ids = sorted(set(ids))
    for start in range(0, len(ids), _RESET_BATCH):
        yield ids[start:start + _RESET_BATCH]


def reset_for_reapply(mgr, context, instance_ids, reapply=False):
    """Start-up: queue again what a crash interrupted (and, with ``reapply``, every active rule).

    applying → queued_to_apply, denying → queued_to_deny (active →
    queued_to_apply when reapplying), access_rules_status error|active →
    syncing; a few UPDATEs per batch of instances, each batch under the
    instances' locks.
    """
    events = ['apply_requeued', 'deny_requeued']
    if reapply:
        events.append('reapply_requested')
    for batch in _batches(instance_ids):
        with contextlib.ExitStack() as held:
            for instance_id in batch:
                held.enter_context(locks.access_rules_lock(instance_id))
            states.advance_all(context, states.ACCESS_RULES_STATUS, batch,
                               'reapply_requested')
            for event in events:
                states.advance_all(context, states.ACCESS_RULE, batch, event)


def resync(mgr, context, inst):
    """Sync an instance's rule changes again after their request was lost (reconciliation)."""
    reset_for_reapply(mgr, context, [inst['id']])
    _sync_and_report(mgr, context, inst['id'], rows.server(inst))


def resync_after_ensure(mgr, context, instances, updates):
    """Start-up step 5 for the ensured instances present in the driver's ``updates``.

    Rules are re-sent where the driver asks (``reapply_access_rules``) or
    where ``access_rules_status`` is not ``active`` (work a crash or a
    failure left behind); snapshot rules with pending work are synced too.
    Failures are logged; the start-up goes on.
    """
    ensured = [i for i in instances if i['id'] in updates]
    reapply = [i['id'] for i in ensured
               if isinstance(updates[i['id']], dict) and
               updates[i['id']].get('reapply_access_rules') is True]
    pending = [i['id'] for i in ensured if i['id'] not in reapply and
               i['access_rules_status'] != c.STATUS_ACTIVE]
    try:
        reset_for_reapply(mgr, context, reapply, reapply=True)
        reset_for_reapply(mgr, context, pending)
    except Exception:
        LOG.exception('Could not queue access rules again at start-up.')
        return
    by_id = {i['id']: i for i in ensured}
    for instance_id in reapply + pending:
        try:
            _sync_and_report(mgr, context, instance_id,
                             rows.server(by_id[instance_id]))
        except Exception as exc:
            LOG.error('Re-applying access rules of share instance %(id)s '
                      'failed: %(exc)s', {'id': instance_id, 'exc': exc})
    _resync_snapshots(mgr, context, by_id)


def _resync_snapshots(mgr, context, instances_by_id):
    if not instances_by_id:
        return
    snapshots = db_api.share_snapshot_instance_get_all_with_filters(
        context, {'share_instance_ids': list(instances_by_id)},
        with_share_data=True)
    if not snapshots:
        return
    pending = db_api.share_snapshot_access_get_all_for_snapshot_instances(
        context, [s['id'] for s in snapshots], states=list(_SNAPSHOT_PENDING))
    wanted = {m['share_snapshot_instance_id'] for m in pending}
    for snap in snapshots:
        if snap['id'] not in wanted:
            continue
        server = rows.server(instances_by_id[snap['share_instance_id']])
        try:
            snapshot_update_access_rules(mgr, context, snap,
                                         share_server=server)
        except Exception as exc:
            LOG.error('Access update of snapshot instance %(id)s failed: '
                      '%(exc)s', {'id': snap['id'], 'exc': exc})


# -- snapshot instance rules ---------------------------------------------------

def snapshot_update_access(mgr, context, snapshot_instance_id):
    """RPC snapshot_update_access: sync a mountable snapshot instance's queued rules."""
    snap = rows.snapshot_instance(context, snapshot_instance_id)
    try:
        snapshot_update_access_rules(mgr, context, snap,
                                     share_server=rows.snapshot_server(snap))
    except Exception as exc:
        mgr.message_api.create(
            context, mf.Action.UPDATE_ACCESS_RULES, snap['project_id'] or
            snap['share_instance']['project_id'],
            resource_type=mf.Resource.SHARE_SNAPSHOT,
            resource_id=snap['snapshot_id'], exception=exc)
        raise


def snapshot_update_access_rules(mgr, context, snapshot_instance,
                                 delete_all_rules=False, share_server=None):
    """Sync a snapshot instance's rules under the snapshot lock, looping while work is queued.

    ``snapshot_instance`` is the model with share data (what the driver
    gets). ``delete_all_rules`` denies every rule (snapshot deletion). A
    driver failure puts the rules it was given in ``error`` and raises.
    """
    snap_id = snapshot_instance['id']
    with locks.snapshot_access_lock(snapshot_instance['snapshot_id']):
        while True:
            _snapshot_round(mgr, context, snapshot_instance, delete_all_rules,
                            share_server)
            delete_all_rules = False
            if not db_api.share_snapshot_access_get_all_for_snapshot_instance(
                    context, snap_id,
                    filters={'state': [c.ACCESS_STATE_QUEUED_TO_APPLY,
                                       c.ACCESS_STATE_QUEUED_TO_DENY]}):
                break
    LOG.info('Access rules of snapshot instance %s are in sync.', snap_id)


def _snapshot_round(mgr, context, snap, delete_all_rules, share_server):
    table, snap_id = states.SNAPSHOT_ACCESS_RULE, snap['id']
    rules = db_api.share_snapshot_access_get_all_for_snapshot_instance(
        context, snap_id)
    if delete_all_rules:
        states.advance_all(context, table, snap_id, 'deny_all_requested')
        on_snapshot, add, delete = [], [], rules
    else:
        # Rules in error stay out until the API queues them for denial.
        on_snapshot = [r for r in rules if r['state'] not in (
            c.ACCESS_STATE_QUEUED_TO_DENY, c.ACCESS_STATE_DENYING,
            c.ACCESS_STATE_ERROR)]
        add = [r for r in rules if r['state'] in (
            c.ACCESS_STATE_QUEUED_TO_APPLY, c.ACCESS_STATE_APPLYING)]
        delete = [r for r in rules if r['state'] in (
            c.ACCESS_STATE_QUEUED_TO_DENY, c.ACCESS_STATE_DENYING)]
        states.advance_all(context, table, snap_id, 'apply_started')
        states.advance_all(context, table, snap_id, 'deny_started')
    try:
        mgr.driver.snapshot_update_access(
            context, snap, on_snapshot, add_rules=add, delete_rules=delete,
            share_server=share_server)
    except Exception as exc:
        states.advance_all(context, table,
                           (snap_id, [r['access_id'] for r in add + delete]),
                           'sync_failed')
        raise guard.driver_error('snapshot_update_access', exc)
    if add:
        states.advance_all(context, table,
                           (snap_id, [r['access_id'] for r in add]),
                           'sync_succeeded')
    for rule in delete:
        try:
            db_api.share_snapshot_instance_access_delete(
                context, rule['access_id'], snap_id)
        except exception.AccessRuleNotFound:
            LOG.debug('Snapshot access rule %s is already gone.',
                      rule['access_id'])
