"""Load from upstream's API code: threads create and delete shares at once; prints ids, latencies and errors as JSON (upstream venv).

A create is upstream's own QUOTAS.reserve / share_create / QUOTAS.commit,
then the scheduler's cast; a delete is status ``deleting`` and the cast.

A step that fails because the database cannot be reached is tried again
until it passes (bounded); a deadlock is left to upstream's own retry. A
test restarting the database pauses the load over the outage
(``--pause-file``): while that file exists no step starts, and once none
runs the load creates ``<file>.idle``. Otherwise a step whose COMMIT
was cut off would be repeated, and upstream's own steps are not
idempotent (a second instance of the same share, a reservation reserved
twice): the rows upstream's API itself leaves behind a lost request
would be counted against the share service. The latency of a create is
the API's part: reservation to the cast.
"""

import concurrent.futures
import json
import os
import threading
import time
import types
import uuid

import _upstream

STEP_PATIENCE = 180.0


class Gate:
    """Holds steps back while the pause file exists; says when none runs."""

    def __init__(self, path):
        self.path, self.active = path, 0
        self.cond = threading.Condition()

    def _paused(self):
        return self.path is not None and os.path.exists(self.path)

    def _report_idle(self):
        if self.active == 0 and self._paused():
            open(self.path + '.idle', 'w').close()

    def __enter__(self):
        with self.cond:
            while self._paused():
                self._report_idle()
                self.cond.wait(0.05)
            self.active += 1

    def __exit__(self, *exc_info):
        with self.cond:
            self.active -= 1
            self._report_idle()
            self.cond.notify_all()


GATE = Gate(None)


def _patient(step, errors):
    """Run ``step()`` (through the gate) again while the database is unreachable (bounded)."""
    from oslo_db import exception as db_exc
    import sqlalchemy as sa
    deadline = time.monotonic() + STEP_PATIENCE
    while True:
        try:
            with GATE:
                return step()
        except (db_exc.DBConnectionError, sa.exc.OperationalError) as exc:
            if isinstance(exc, db_exc.DBDeadlock):
                raise
            errors.append('%s: %s' % (type(exc).__name__, str(exc)[:120]))
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Load:
    """Upstream's API steps for one project, with the figures they produced."""

    def __init__(self, ctx, host, share_type_id, size):
        from manila import db
        from manila.share import rpcapi
        self.ctx, self.host, self.size = ctx, host, size
        self.db = db
        self.rpc = rpcapi.ShareAPI()
        self.share_type = db.share_type_get(ctx, share_type_id)
        self.api_like = types.SimpleNamespace(db=db)
        self.lock = threading.Lock()
        self.created, self.deleted = [], []
        self.latencies, self.errors, self.retried = [], [], []

    def create(self, n):
        from manila import quota
        from manila.share import api as share_api
        st = self.share_type
        began = time.monotonic()
        reservations = _patient(lambda: quota.QUOTAS.reserve(
            self.ctx, share_type_id=st['id'], shares=1,
            gigabytes=self.size), self.retried)
        options = {
            'size': self.size, 'user_id': self.ctx.user_id,
            'project_id': self.ctx.project_id, 'snapshot_id': None,
            'metadata': {}, 'display_name': 'load-%d' % n,
            'display_description': 'upstream API load', 'share_proto': 'NFS',
            'is_public': False, 'share_group_id': None, 'qos_type_id': None}
        options.update(share_api.API.get_share_attributes_from_share_type(
            self.api_like, st))
        share = _patient(lambda: self.db.share_create(
            self.ctx, options, create_share_instance=False), self.retried)
        _patient(lambda: quota.QUOTAS.commit(
            self.ctx, reservations, share_type_id=st['id']), self.retried)
        spec, instance = _patient(
            lambda: share_api.API.create_share_instance_and_get_request_spec(
                self.api_like, self.ctx, share, host=self.host,
                share_type_id=st['id']), self.retried)
        self.rpc.create_share_instance(
            self.ctx, instance, self.host, request_spec=spec,
            filter_properties={'scheduler_hints': None}, snapshot_id=None)
        with self.lock:
            self.latencies.append(time.monotonic() - began)
            self.created.append({'share_id': share['id'],
                                 'share_instance_id': instance['id']})

    def delete(self, share_id):
        from manila.common import constants
        from oslo_utils import timeutils
        share = _patient(lambda: self.db.share_get(self.ctx, share_id),
                         self.retried)
        instance = _patient(lambda: self.db.share_instance_update(
            self.ctx, share.instance['id'],
            {'status': constants.STATUS_DELETING,
             'terminated_at': timeutils.utcnow()}), self.retried)
        self.rpc.delete_share_instance(self.ctx, instance, force=False,
                                       deferred_delete=False)
        with self.lock:
            self.deleted.append(share_id)

    def run(self, creates, deletes, threads):
        """Interleave ``creates`` creations and the deletions of ``deletes`` over ``threads`` threads."""
        jobs = [('create', n) for n in range(creates)]
        for n, share_id in enumerate(deletes):
            jobs.insert(min(2 * n + 1, len(jobs)), ('delete', share_id))
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(getattr(self, kind), arg)
                       for kind, arg in jobs]
            for future in futures:
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - reported
                    self.errors.append('%s: %s' % (type(exc).__name__,
                                                   str(exc)[:300]))


def _share_type(ctx, share_type_id):
    from manila import db
    if share_type_id:
        return share_type_id
    return db.share_type_create(ctx, {
        'name': 'load-%s' % uuid.uuid4().hex[:8],
        'extra_specs': {'driver_handles_share_servers': 'False',
                        'snapshot_support': 'False'}})['id']


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--host', required=True, help='H@B#pool')
    p.add_argument('--creates', type=int, default=0)
    p.add_argument('--delete-ids', default='[]', help='JSON list of shares')
    p.add_argument('--threads', type=int, default=8)
    p.add_argument('--size', type=int, default=1)
    p.add_argument('--share-type-id', default=None)
    p.add_argument('--pause-file', default=None,
                   help='no step starts while this file exists')
    args = p.parse_args()
    GATE.path = args.pause_file
    ctx = _upstream.setup(args)
    from manila import quota  # noqa: F401 - registers [quota]
    from oslo_config import cfg
    for resource in ('shares', 'gigabytes'):
        cfg.CONF.set_override(resource, -1, group='quota')
    load = Load(ctx, args.host, _share_type(ctx, args.share_type_id),
                args.size)
    began = time.monotonic()
    load.run(args.creates, json.loads(args.delete_ids), args.threads)
    _upstream.finish({
        'share_type_id': load.share_type['id'], 'created': load.created,
        'deleted': load.deleted, 'latencies': load.latencies,
        'errors': load.errors, 'retried_steps': len(load.retried),
        'seconds': time.monotonic() - began})


if __name__ == '__main__':
    main()
