"""One step of a share's DHSS=False lifecycle done by upstream manila's own API code.

(rows + cast), then a wait for the share service and what upstream's DB API
reads back, as JSON (runs inside the upstream venv).

With the step ``serve`` it runs one step per line of standard input (a
JSON list of further arguments, the step first) and answers each with a
JSON line, sparing the start-up of upstream's modules per step.
"""

import json
import sys
import time

import _upstream
import cast_create

TRANSITIONAL_SHARE = ('creating', 'extending', 'shrinking', 'reverting',
                      'deleting', 'creating_from_snapshot', 'manage_starting',
                      'unmanage_starting', 'manage_error_unmanage_starting',
                      'deferred_deleting')
BUSY_RULES = ('queued_to_apply', 'queued_to_deny', 'queued_to_update',
              'applying', 'denying', 'updating')


def _arguments(argv=None):
    p = _upstream.parser(__doc__)
    p.add_argument('step', choices=sorted(STEPS) + ['serve'])
    p.add_argument('--host', help='H@B#pool (create)')
    p.add_argument('--share-id')
    p.add_argument('--instance-id', help='needed to show a deleted share')
    p.add_argument('--project-id', default='interop-project',
                   help="the share owner's project (the context's)")
    p.add_argument('--snapshot-id', action='append', default=[],
                   help='snapshot to show (repeatable); the one acted on')
    p.add_argument('--access-id', action='append', default=[],
                   help='access rule to show (repeatable); the one denied')
    p.add_argument('--access-to', default='10.0.0.1')
    p.add_argument('--access-level', default='rw')
    p.add_argument('--size', type=int, default=1,
                   help='GB: of a new share, or the new size (extend/shrink)')
    p.add_argument('--replication-type',
                   help="the new share's type's replication_type (create)")
    p.add_argument('--deferred', action='store_true',
                   help='delete with is_deferred_deletion_enabled (delete)')
    p.add_argument('--timeout', type=float, default=60.0)
    p.add_argument('--watch-file',
                   help='append the share id here once its rows exist '
                        '(watch_shares.py reads it)')
    p.add_argument('--from-snapshot', action='store_true',
                   help='create: from the last --snapshot-id')
    p.add_argument('--no-cast', action='store_true',
                   help='create: write the rows only (a lost cast)')
    p.add_argument('--export-path', help='manage: the export to adopt')
    p.add_argument('--force', action='store_true', help='delete: force')
    p.add_argument('--replica-id', action='append', default=[],
                   help='replica to show (repeatable); the one acted on')
    _upstream.add_lock_options(p)
    args = p.parse_args(argv)
    # steps append to these: never to the parser's shared defaults
    args.snapshot_id, args.access_id, args.replica_id = (
        list(args.snapshot_id), list(args.access_id), list(args.replica_id))
    return args


# -- what upstream's DB API reads ------------------------------------------
def _plain(row, keys):
    return {k: row[k] for k in keys}


def _share_view(ctx, share_id):
    """The share as upstream's DB API reads it, or its deleted row.

    Upstream's ``share_get`` reads the share, then its instances, in two
    SELECTs; on PostgreSQL (read committed) a deletion of the share with
    its last instance (unmanage, delete) may commit between them and leave
    ``share.instance`` None (watch_shares.py calls it straddled): read again.
    """
    from manila import db
    from manila import exception
    try:
        share = db.share_get(ctx, share_id)
        if share.instance is None:
            share = db.share_get(ctx, share_id)
    except exception.NotFound:
        gone = db.share_get(ctx.elevated(read_deleted='yes'), share_id)
        return dict(_plain(gone, ('id', 'deleted', 'deleted_at', 'size',
                                  'project_id', 'user_id')), live=False)
    view = _plain(share, ('id', 'status', 'size', 'host', 'deleted',
                          'project_id', 'user_id', 'access_rules_status'))
    view['live'] = True
    view['instance_id'] = share.instance['id']
    view['share_type_id'] = share.instance['share_type_id']
    return view


def _instance_view(ctx, instance_id):
    from manila import db
    inst = db.share_instance_get(ctx.elevated(read_deleted='yes'),
                                 instance_id, with_share_data=True)
    view = _plain(inst, ('id', 'status', 'progress', 'access_rules_status',
                         'share_type_id', 'deleted', 'deleted_at', 'host',
                         'replica_state'))
    view['export_locations'] = [el['path'] for el in inst.export_locations]
    return view


def _snapshot_view(ctx, snapshot_id):
    from manila import db
    from manila import exception
    try:
        snap = db.share_snapshot_get(ctx, snapshot_id)
    except exception.NotFound:
        gone = db.share_snapshot_get(ctx.elevated(read_deleted='yes'),
                                     snapshot_id)
        return dict(_plain(gone, ('id', 'deleted', 'deleted_at')),
                    live=False, instances=_gone_snapshot_instances(
                        ctx, snapshot_id))
    view = _plain(snap, ('id', 'status', 'aggregate_status', 'progress',
                         'provider_location', 'size', 'share_size',
                         'deleted'))
    view['live'] = True
    view['instance'] = _plain(snap.instance, (
        'id', 'status', 'progress', 'provider_location', 'share_instance_id'))
    return view


def _gone_snapshot_instances(ctx, snapshot_id):
    """Snapshot instance rows as upstream's ORM model loads them, deleted or not."""
    from manila.db.sqlalchemy import api as sqla_api
    from manila.db.sqlalchemy import models
    ctx = ctx.elevated(read_deleted='yes')
    with sqla_api.context_manager.reader.using(ctx):
        return [_plain(i, ('id', 'status', 'deleted', 'deleted_at'))
                for i in sqla_api.model_query(
                    ctx, models.ShareSnapshotInstance).filter_by(
                        snapshot_id=snapshot_id)]


def _access_view(ctx, share_id, instance_id, access_ids):
    from manila import db
    view = {'rules': [
        _plain(r, ('id', 'access_type', 'access_to', 'access_level', 'state'))
        for r in db.share_access_get_all_for_share(ctx, share_id)]}
    view['mappings'] = [
        dict(_plain(m, ('access_id', 'state', 'deleted')),
             access_to=m['access_to'])
        for m in db.share_access_get_all_for_instance(ctx, instance_id)]
    view['denied'] = {a: _gone_rule(ctx, a, instance_id) for a in access_ids}
    return view


def _gone_rule(ctx, access_id, instance_id):
    """Mapping and rule rows as upstream's ORM models load them, deleted or not.

    (Upstream's DB API functions only return live mappings.)
    """
    from manila.db.sqlalchemy import api as sqla_api
    from manila.db.sqlalchemy import models
    ctx = ctx.elevated(read_deleted='yes')
    with sqla_api.context_manager.reader.using(ctx):
        mapping = sqla_api.model_query(
            ctx, models.ShareInstanceAccessMapping).filter_by(
                access_id=access_id, share_instance_id=instance_id).first()
        rule = sqla_api.model_query(
            ctx, models.ShareAccessMapping).filter_by(id=access_id).first()
        return {
            'mapping': mapping and _plain(mapping, ('id', 'state', 'deleted',
                                                    'deleted_at')),
            'rule': rule and _plain(rule, ('id', 'deleted', 'deleted_at')),
        }


def _quota_view(ctx, share, share_type_id):
    from manila import db
    project, user = share['project_id'], share['user_id']
    return {
        'project': db.quota_usage_get_all_by_project(ctx, project),
        'user': db.quota_usage_get_all_by_project_and_user(ctx, project,
                                                           user),
        'share_type': db.quota_usage_get_all_by_project_and_share_type(
            ctx, project, share_type_id),
    }


def _messages(ctx):
    from manila import db
    return [_plain(m, ('action_id', 'detail_id', 'resource_type',
                       'resource_id', 'message_level', 'project_id',
                       'request_id'))
            for m in db.message_get_all(ctx, sort_key='created_at',
                                        sort_dir='asc')]


def view(ctx, args):
    """Everything a test asserts on, read with upstream's own DB API."""
    share = _share_view(ctx, args.share_id)
    result = {'share': share, 'snapshots': {
        sid: _snapshot_view(ctx, sid) for sid in args.snapshot_id}}
    instance_id = share.get('instance_id') or args.instance_id
    result['instance'] = _instance_view(ctx, instance_id)
    result['access'] = _access_view(ctx, args.share_id, instance_id,
                                    args.access_id)
    result['quota'] = _quota_view(ctx, share,
                                  result['instance']['share_type_id'])
    result['messages'] = _messages(ctx)
    result['replicas'] = {rid: _instance_view(ctx, rid)
                          for rid in args.replica_id}
    return result


# -- the steps: upstream's share API writes rows and casts ------------------
def _share(ctx, args):
    from manila import db
    return db.share_get(ctx, args.share_id)


def _snapshot(ctx, args):
    from manila import db
    return db.share_snapshot_get(ctx, args.snapshot_id[-1])


def _watch(args, share_id):
    if args.watch_file:
        with open(args.watch_file, 'a') as f:
            f.write(share_id + '\n')


def step_create(api, ctx, args):
    options = {}
    if args.from_snapshot:
        snapshot = _snapshot(ctx, args)
        options = {'snapshot_id': snapshot['id'],
                   'share_type_id': snapshot['share']['share_type_id']}
    if args.no_cast:
        options['before_cast'] = _lost_cast
    else:
        options['before_cast'] = lambda share_id: _watch(args, share_id)
    try:
        ids = cast_create.create_share(ctx, args.host, size=args.size,
                                       reserve_quota=True,
                                       replication_type=args.replication_type,
                                       **options)
    except _CastLost as lost:
        _watch(args, lost.share_id)
        ids = {'share_id': lost.share_id}
    args.share_id = ids['share_id']
    return ids


class _CastLost(Exception):
    def __init__(self, share_id):
        super().__init__(share_id)
        self.share_id = share_id


def _lost_cast(share_id):
    raise _CastLost(share_id)


def step_manage(api, ctx, args):
    """The rows upstream's API writes for a manage request, then the scheduler's cast."""
    import uuid

    from oslo_utils import timeutils

    from manila.common import constants
    from manila import db
    from manila.share import rpcapi

    share_type = db.share_type_create(ctx, {
        'name': 'interop-%s' % uuid.uuid4().hex[:8],
        'extra_specs': {'driver_handles_share_servers': 'False'}})
    share_data = {
        'share_proto': 'NFS', 'host': args.host, 'size': None,
        'display_name': 'managed', 'is_public': False,
        'share_type_id': share_type['id'], 'user_id': ctx.user_id,
        'project_id': ctx.project_id, 'status': constants.STATUS_MANAGING,
        'scheduled_at': timeutils.utcnow(), 'mount_point_name': None,
        'qos_type_id': None,
    }
    share = db.share_create(ctx, share_data)
    db.export_locations_update(ctx, share.instance['id'], args.export_path)
    args.share_id = share['id']
    _watch(args, share['id'])
    rpcapi.ShareAPI().manage_share(ctx, db.share_get(ctx, share['id']), {})
    return {'share_id': share['id'], 'share_instance_id': share.instance['id']}


def step_unmanage(api, ctx, args):
    api.unmanage(ctx, _share(ctx, args))
    return {}


def step_snapshot_create(api, ctx, args):
    snap = api.create_snapshot(ctx, _share(ctx, args), 'interop-snap',
                               'made by upstream manila 23.0.1')
    args.snapshot_id.append(snap['id'])
    return {'snapshot_id': snap['id']}


def step_allow(api, ctx, args):
    access = api.allow_access(ctx, _share(ctx, args), 'ip', args.access_to,
                              args.access_level)
    args.access_id.append(access['id'])
    return {'access_id': access['id']}


def step_deny(api, ctx, args):
    from manila import db
    access = db.share_access_get(ctx, args.access_id[-1])
    api.deny_access(ctx, _share(ctx, args), access)
    return {}


def step_extend(api, ctx, args):
    # force=True: the admin path that casts to the share host directly
    # (without it the scheduler relays the same cast).
    api.extend(ctx, _share(ctx, args), args.size, force=True)
    return {}


def step_shrink(api, ctx, args):
    api.shrink(ctx, _share(ctx, args), args.size)
    return {}


def step_revert(api, ctx, args):
    api.revert_to_snapshot(ctx, _share(ctx, args), _snapshot(ctx, args))
    return {}


def step_snapshot_delete(api, ctx, args):
    api.delete_snapshot(ctx, _snapshot(ctx, args))
    return {}


def step_delete(api, ctx, args):
    api.delete(ctx, _share(ctx, args), force=args.force)
    return {}


def _as_scheduler(host):
    """upstream's scheduler placing a replica on ``host`` (its filter driver's last two steps)."""
    from manila.scheduler.drivers import base
    from manila.share import rpcapi

    def place(context, request_spec=None, filter_properties=None):
        replica_id = request_spec['share_instance_properties']['id']
        replica = base.share_replica_update_db(context, replica_id, host)
        rpcapi.ShareAPI().create_share_replica(
            context, replica, host, request_spec=request_spec,
            filter_properties=filter_properties or {})
    return place


def _replica(ctx, args):
    from manila import db
    return db.share_replica_get(ctx, args.replica_id[-1])


def step_replica_create(api, ctx, args):
    api.scheduler_rpcapi.create_share_replica = _as_scheduler(args.host)
    replica = api.create_share_replica(ctx, _share(ctx, args))
    args.replica_id.append(replica['id'])
    return {'replica_id': replica['id']}


def step_replica_promote(api, ctx, args):
    api.promote_share_replica(ctx, _replica(ctx, args))
    return {}


def step_replica_resync(api, ctx, args):
    api.update_share_replica(ctx, _replica(ctx, args))
    return {}


def step_replica_delete(api, ctx, args):
    api.delete_share_replica(ctx, _replica(ctx, args))
    return {}


def _replica_settled(v, args):
    replica = v['replicas'][args.replica_id[-1]]
    return replica['deleted'] != 'False' or (
        replica['status'] not in TRANSITIONAL_SHARE + ('replication_change',)
        and replica['replica_state'] != 'out_of_sync')


def step_show(api, ctx, args):
    return {}


def _share_settled(v, args):
    share = v['share']
    return not share['live'] or share['status'] not in TRANSITIONAL_SHARE


def _snapshot_settled(v, args):
    snap = v['snapshots'][args.snapshot_id[-1]]
    return not snap['live'] or snap['status'] not in (
        'creating', 'deleting', 'restoring')


def _access_settled(v, args):
    return (v['instance']['access_rules_status'] != 'syncing' and
            v['share']['access_rules_status'] != 'syncing' and
            not any(m['state'] in BUSY_RULES
                    for m in v['access']['mappings']))


def _revert_settled(v, args):
    return _share_settled(v, args) and _snapshot_settled(v, args)


STEPS = {
    'create': (step_create, _share_settled),
    'snapshot-create': (step_snapshot_create, _snapshot_settled),
    'allow': (step_allow, _access_settled),
    'deny': (step_deny, _access_settled),
    'extend': (step_extend, _share_settled),
    'shrink': (step_shrink, _share_settled),
    'revert': (step_revert, _revert_settled),
    'snapshot-delete': (step_snapshot_delete, _snapshot_settled),
    'delete': (step_delete, _share_settled),
    'manage': (step_manage, _share_settled),
    'unmanage': (step_unmanage, _share_settled),
    'show': (step_show, lambda v, args: True),
    'replica-create': (step_replica_create, _replica_settled),
    'replica-promote': (step_replica_promote, _replica_settled),
    'replica-resync': (step_replica_resync, _replica_settled),
    'replica-delete': (step_replica_delete, _replica_settled),
}


def _wait(ctx, args, settled):
    deadline = time.monotonic() + args.timeout
    while True:
        current = view(ctx, args)
        if settled(current, args):
            return current, False
        if time.monotonic() > deadline:
            return current, True
        time.sleep(0.2)


def run_step(api, base_ctx, args):
    """Do ``args.step``, wait for the share service; return the outcome and view."""
    from oslo_config import cfg
    cfg.CONF.set_override('is_deferred_deletion_enabled', args.deferred)
    ctx = _upstream.admin(base_ctx, args.project_id)
    step, settled = STEPS[args.step]
    if args.share_id and not args.instance_id:
        args.instance_id = _share_view(ctx, args.share_id).get('instance_id')
    done = step(api, ctx, args)
    if args.no_cast:
        settled = STEPS['show'][1]
    if not args.instance_id:
        args.instance_id = _share_view(ctx, args.share_id)['instance_id']
    current, timed_out = _wait(ctx, args, settled)
    done.update(current, timed_out=timed_out)
    return done


def _serve(api, base_ctx, argv):
    """One step per line of stdin (a JSON list of arguments), one JSON line out each."""
    common = [a for a in argv if a != 'serve']
    for line in sys.stdin:
        if not line.strip():
            continue
        args = _arguments(common + json.loads(line))
        json.dump(run_step(api, base_ctx, args), sys.stdout, default=str)
        sys.stdout.write('\n')
        sys.stdout.flush()
    return {}


def main():
    args = _arguments()
    ctx = _upstream.setup(args)

    from manila.share import api as share_api

    api = share_api.API()
    with _upstream.share_service_locks(args):
        if args.step == 'serve':
            done = _serve(api, ctx, sys.argv[1:])
        else:
            done = run_step(api, ctx, args)
    _upstream.finish(done)


if __name__ == '__main__':
    sys.exit(main())
