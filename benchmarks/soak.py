"""Soak: a mixed workload against the share daemon for a given time, then operations, errors, rows left in transitional states and memory growth.

Usage: python benchmarks/soak.py [--duration SECONDS] [--concurrency C]
       [--shares-per-worker K] [--driver dummy|localfs]
       [--set SECTION.OPTION=VALUE ...]

C client threads each own up to K shares and, until ``--duration`` has
passed, pick one operation at a time for them: create, access allow, access
deny, snapshot create, snapshot delete, extend, shrink or delete. Each
writes the rows upstream's API writes (quota included), casts the request
as upstream's API does and waits (bounded) until the daemon settled it, so
at most C operations are in flight. Then the daemon's RPC queue must drain
and every row must leave its transitional state (bounded wait).

Printed: operations done by kind, errors by kind (an end state other than
the expected one, or no end state within ``--op-timeout``), rows left in
transitional states (share instances, snapshot instances, access rules;
must all be 0), ERROR lines in the daemon's log, and the daemon's RSS
(process tree, from /proc) at start, at its peak and at the end. Exits 1 if
any error or transitional row is left, else 0.
"""

import argparse
import collections
import datetime
import random
import sys
import threading
import time

import common

TRANSITIONAL_SHARE = ('creating', 'creating_from_snapshot', 'deleting',
                      'extending', 'shrinking', 'manage_starting',
                      'unmanage_starting', 'reverting', 'ensuring',
                      'migrating', 'restoring')
TRANSITIONAL_SNAPSHOT = ('creating', 'deleting', 'restoring', 'unmanaging',
                         'manage_starting')
TRANSITIONAL_RULE = ('queued_to_apply', 'applying', 'queued_to_deny',
                     'denying', 'queued_to_update', 'updating')

COUNT_SQL = {
    'share instances': (
        "SELECT count(*) FROM share_instances WHERE deleted = 'False' AND "
        "status IN :states", TRANSITIONAL_SHARE),
    'share instances syncing rules': (
        "SELECT count(*) FROM share_instances WHERE deleted = 'False' AND "
        "access_rules_status IN :states", ('syncing',)),
    'snapshot instances': (
        "SELECT count(*) FROM share_snapshot_instances WHERE deleted = "
        "'False' AND status IN :states", TRANSITIONAL_SNAPSHOT),
    'access rules': (
        "SELECT count(*) FROM share_instance_access_map WHERE deleted = "
        "'False' AND state IN :states", TRANSITIONAL_RULE),
}


class OpFailed(Exception):
    """An operation ended in an unexpected state (its kind is str())."""


class Share:
    """One share a worker owns: ids, size, rules and snapshots."""

    def __init__(self, share_id, instance_id, host):
        self.id, self.instance_id, self.host = share_id, instance_id, host
        self.size = 1
        self.rules = []
        self.snapshots = []          # (snapshot id, snapshot instance id)

    def as_share(self):
        return {'id': self.id, 'instance': {'id': self.instance_id,
                                            'host': self.host}}

    def as_instance(self):
        return {'id': self.instance_id, 'host': self.host}


class Workload:
    """The operations, as upstream's API writes rows and casts them."""

    def __init__(self, env, op_timeout):
        from manila_lite import context
        from manila_lite.db import api as db_api
        from manila_lite.share import rpcapi
        self.db = db_api
        self.ctx = context.get_admin_context()
        self.user_ctx = context.RequestContext(user_id='u', project_id='p',
                                               roles=['member'])
        self.api = rpcapi.ShareAPI()
        self.host = env.pool_host()
        self.op_timeout = op_timeout
        self.type_id = db_api.share_type_create(self.ctx, {
            'name': 'soak', 'extra_specs': {
                'driver_handles_share_servers': 'False'}})['id']
        self._numbers = iter(range(1, 10 ** 9))

    # -- helpers
    def _commit(self, deltas):
        self.db.reservation_commit(self.ctx, self.db.quota_reserve(
            self.ctx, deltas, 'p', 'u', share_type_id=self.type_id))

    def _scalar(self, sql, **params):
        import sqlalchemy
        with self.db.get_engine().connect() as conn:
            return conn.execute(sqlalchemy.text(sql), params).scalar()

    def _wait(self, sql, done, **params):
        """Poll ``sql`` until ``done(value)`` is not None; return it."""
        deadline = time.monotonic() + self.op_timeout
        while True:
            outcome = done(self._scalar(sql, **params))
            if outcome is not None:
                return outcome
            if time.monotonic() > deadline:
                raise OpFailed('timeout')
            time.sleep(0.05)

    def _instance_status(self, share, leaving):
        status = self._wait(
            'SELECT status FROM share_instances WHERE id = :i',
            lambda s: None if s == leaving else s, i=share.instance_id)
        if status != 'available':
            raise OpFailed('ended %s' % status)

    # -- operations
    def create(self, owned):
        share = self.db.share_create(self.ctx, {
            'user_id': 'u', 'project_id': 'p', 'size': 1,
            'display_name': 'soak-%d' % next(self._numbers),
            'share_proto': 'NFS', 'status': 'creating', 'host': self.host,
            'scheduled_at': datetime.datetime.utcnow(),
            'share_type_id': self.type_id, 'snapshot_support': True,
            'cast_rules_to_readonly': False})
        self._commit({'shares': 1, 'gigabytes': 1})
        item = Share(share['id'], share.instance['id'], self.host)
        self.api.create_share_instance(self.user_ctx, item.as_instance(),
                                       self.host, {}, {})
        self._instance_status(item, 'creating')
        owned.append(item)

    def allow(self, item):
        rule = self.db.share_access_create(self.ctx, {
            'share_id': item.id, 'access_type': 'ip',
            'access_to': '10.%d.%d.0/24' % divmod(
                next(self._numbers) % 65536, 256),
            'access_level': 'rw', 'state': 'queued_to_apply'})
        item.rules.append(rule['id'])
        self._sync_rules(item, rule['id'], ('active',))

    def deny(self, item):
        access_id = item.rules.pop(random.randrange(len(item.rules)))
        self.db.share_instance_access_update(
            self.ctx, access_id, item.instance_id, {'state': 'queued_to_deny'})
        self._sync_rules(item, access_id, ('deleted',))

    def _sync_rules(self, item, access_id, good):
        self.db.share_instance_access_rules_status_update(
            self.ctx, item.instance_id, ['active'], 'syncing')
        self.api.update_access(self.user_ctx, item.as_instance())
        state = self._wait(
            'SELECT state FROM share_instance_access_map WHERE '
            'share_instance_id = :i AND access_id = :a',
            lambda s: None if s in TRANSITIONAL_RULE else s,
            i=item.instance_id, a=access_id)
        if state not in good:
            raise OpFailed('rule %s' % state)

    def snapshot(self, item):
        snap = self.db.share_snapshot_create(self.ctx, {
            'share_id': item.id, 'size': item.size, 'user_id': 'u',
            'project_id': 'p', 'status': 'creating', 'progress': '0%',
            'share_size': item.size, 'display_name': 'soak-snap',
            'share_proto': 'NFS'})
        self._commit({'snapshots': 1, 'snapshot_gigabytes': item.size})
        item.snapshots.append((snap['id'], snap.instance['id']))
        self.api.create_snapshot(self.user_ctx, item.as_share(), snap)
        self._snapshot_status(snap.instance['id'], 'creating', 'available')

    def snapshot_delete(self, item):
        snap_id, inst_id = item.snapshots.pop(0)
        self.db.share_snapshot_instance_update(self.ctx, inst_id,
                                               {'status': 'deleting'})
        self.api.delete_snapshot(self.user_ctx, {'id': snap_id}, item.host)
        self._snapshot_status(inst_id, 'deleting', 'deleted')

    def _snapshot_status(self, inst_id, leaving, good):
        status = self._wait(
            'SELECT status FROM share_snapshot_instances WHERE id = :i',
            lambda s: None if s == leaving else s, i=inst_id)
        if status != good:
            raise OpFailed('snapshot %s' % status)

    def extend(self, item):
        reservations = self.db.quota_reserve(
            self.ctx, {'gigabytes': 1}, 'p', 'u', share_type_id=self.type_id)
        self.db.share_update(self.ctx, item.id, {'status': 'extending'})
        self.api.extend_share(self.user_ctx, item.as_share(), item.size + 1,
                              reservations)
        self._instance_status(item, 'extending')
        item.size += 1

    def shrink(self, item):
        self.db.share_update(self.ctx, item.id, {'status': 'shrinking'})
        self.api.shrink_share(self.user_ctx, item.as_share(), item.size - 1)
        self._instance_status(item, 'shrinking')
        item.size -= 1

    def delete(self, item, owned):
        owned.remove(item)
        self.db.share_instance_status_update(
            self.ctx, [item.instance_id],
            {'status': 'deleting',
             'terminated_at': datetime.datetime.utcnow()})
        self.api.delete_share_instance(self.user_ctx, item.as_instance())
        status = self._wait(
            "SELECT CASE WHEN deleted <> 'False' THEN 'gone' ELSE status END "
            'FROM share_instances WHERE id = :i',
            lambda s: None if s == 'deleting' else s, i=item.instance_id)
        if status != 'gone':
            raise OpFailed('ended %s' % status)


def _choose(owned, per_worker):
    """(kind, share) of the next operation of one worker."""
    if len(owned) < per_worker and (not owned or random.random() < 0.3):
        return 'create', None
    item = random.choice(owned)
    kinds = ['allow', 'snapshot', 'extend']
    if item.rules:
        kinds.append('deny')
    if item.snapshots:
        kinds += ['snapshot_delete', 'snapshot_delete']
    if item.size > 1:
        kinds.append('shrink')
    if not item.snapshots and len(owned) > 1:
        kinds.append('delete')
    return random.choice(kinds), item


class Stats:
    """Operations and errors by kind, shared by the workers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = collections.Counter()
        self.errors = collections.Counter()

    def record(self, kind, error=None):
        with self.lock:
            self.done[kind] += 1
            if error is not None:
                self.errors['%s: %s' % (kind, error)] += 1


def _worker(work, stats, deadline, per_worker, broken):
    owned = []
    while time.monotonic() < deadline:
        kind, item = _choose(owned, per_worker)
        try:
            if kind == 'create':
                work.create(owned)
            elif kind == 'delete':
                work.delete(item, owned)
            else:
                getattr(work, kind)(item)
        except OpFailed as exc:
            stats.record(kind, str(exc))
            if item is not None and item in owned:
                owned.remove(item)     # left alone from now on
                broken.append(item)
            continue
        except Exception as exc:   # noqa: BLE001 - counted and reported
            stats.record(kind, type(exc).__name__)
            continue
        stats.record(kind)


class MemorySampler(threading.Thread):
    """Reads the daemon tree's RSS every few seconds; keeps the peak."""

    def __init__(self, pid, interval=2.0):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = common.rss_mib(pid)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, common.rss_mib(self.pid))


def transitional_counts(work):
    import sqlalchemy
    counts = {}
    with work.db.get_engine().connect() as conn:
        for name, (sql, states) in COUNT_SQL.items():
            stmt = sqlalchemy.text(sql).bindparams(
                sqlalchemy.bindparam('states', expanding=True))
            counts[name] = conn.execute(
                stmt, {'states': list(states)}).scalar()
    return counts


def queue_depth(env):
    """Messages waiting in the daemon's RPC server queue."""
    import kombu
    with kombu.Connection(env.broker.amqp_url, connect_timeout=5) as conn:
        return conn.channel().queue_declare(
            queue='manila-share.%s' % env.service_host, passive=True)[1]


def drain(env, work, timeout):
    """Wait until the queue is empty and no row is transitional; return the counts."""
    deadline = time.monotonic() + timeout
    while True:
        counts = transitional_counts(work)
        if (queue_depth(env) == 0 and not any(counts.values())) or (
                time.monotonic() > deadline):
            return counts
        time.sleep(0.5)


def _options(args):
    options = {'DEFAULT': {'report_interval': '2', 'periodic_interval': '5'}}
    for item in args.set or ():
        name, _, value = item.partition('=')
        section, _, option = name.rpartition('.')
        options.setdefault(section or 'DEFAULT', {})[option] = value
    return options


def _use_localfs(env):
    """Switch the environment's backend to localfs with one pool under it."""
    pool = env.dir / 'pools' / common.BACKEND
    env.options.setdefault(common.BACKEND, {}).update({
        'share_driver': 'localfs', 'localfs_pools': str(pool),
        'localfs_export_ips': '127.0.0.1'})
    env._write_conf()
    env.pool_host = lambda: '%s#%s' % (env.service_host, common.BACKEND)


def _report(stats, counts, rss, log_errors, elapsed):
    print('workload ran %.0f s: %d operations (%.1f /s)' % (
        elapsed, sum(stats.done.values()),
        sum(stats.done.values()) / max(elapsed, 1e-9)))
    for kind, n in sorted(stats.done.items()):
        print('  %-16s %6d' % (kind, n))
    print('errors: %d' % sum(stats.errors.values()))
    for kind, n in sorted(stats.errors.items()):
        print('  %-30s %6d' % (kind, n))
    print('rows left in transitional states (must be 0):')
    for name, n in counts.items():
        print('  %-30s %6d' % (name, n))
    print('ERROR lines in the daemon log: %d' % log_errors)
    start, peak, end = rss
    print('daemon RSS: start %.1f MiB, peak %.1f MiB, end %.1f MiB, '
          'growth %+.1f MiB (%+.1f%%)' % (start, peak, end, end - start,
                                          100.0 * (end - start) / start))


def run(args):
    with common.Environment(options=_options(args)) as env:
        if args.driver == 'localfs':
            _use_localfs(env)
        work = Workload(env, args.op_timeout)
        env.start_daemon()
        env.wait_consuming()
        time.sleep(args.settle)
        pid = env.daemon.pid
        rss_start = common.rss_mib(pid)
        sampler = MemorySampler(pid)
        sampler.start()
        stats, broken = Stats(), []
        began = time.monotonic()
        deadline = began + args.duration
        threads = [threading.Thread(
            target=_worker, args=(work, stats, deadline,
                                  args.shares_per_worker, broken))
                   for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        counts = drain(env, work, args.drain_timeout)
        time.sleep(args.settle)
        sampler.stop.set()
        rss_end = common.rss_mib(pid)
        log = (env.dir / 'daemon.log').read_text(errors='replace')
        log_errors = sum(1 for line in log.splitlines()
                         if ' ERROR ' in line)
        _report(stats, counts, (rss_start, max(sampler.peak, rss_end),
                                rss_end), log_errors, elapsed)
        if env.daemon.poll() is not None:
            print('the daemon exited with %s' % env.daemon.returncode)
            return 1
        return 1 if (any(counts.values()) or stats.errors) else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=60.0,
                        help='seconds of workload (default 60)')
    parser.add_argument('--concurrency', type=int, default=4,
                        help='operations in flight at most (default 4)')
    parser.add_argument('--shares-per-worker', type=int, default=5)
    parser.add_argument('--driver', choices=['dummy', 'localfs'],
                        default='dummy')
    parser.add_argument('--op-timeout', type=float, default=60.0,
                        help='seconds an operation may take (default 60)')
    parser.add_argument('--drain-timeout', type=float, default=120.0,
                        help='seconds to wait for the queue and the '
                             'transitional rows to empty (default 120)')
    parser.add_argument('--settle', type=float, default=3.0,
                        help='idle seconds before each RSS reading')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--set', action='append', metavar='SECTION.OPT=VAL',
                        help='extra daemon option (repeatable)')
    args = parser.parse_args(argv)
    random.seed(args.seed)
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
