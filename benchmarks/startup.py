"""Time from daemon start to the first answered RPC call, with many share instances on the host.

Usage: python benchmarks/startup.py [--instances 10000]

Rows are bulk-inserted as ``available`` instances of this host; the daemon
then has to ensure all of them at start. Printed: seconds from just before
the daemon's exec to its start-up phases (from its log), to the first
answered ``call`` (a ``connection_get_info`` probe goes out every 20 ms
until one is answered), and to the end of the start-up ensure; then the
round trips of calls sent back to back while the ensure runs.
"""

import argparse
import logging
import threading
import time
import uuid

import common


def _bulk_rows(n, host):
    from manila_lite.db import api as db_api
    from manila_lite.db.sqlalchemy import models
    from oslo_utils import timeutils
    import sqlalchemy as sa
    now = timeutils.utcnow()
    type_id = str(uuid.uuid4())
    shares, instances = [], []
    for i in range(n):
        sid, iid = str(uuid.uuid4()), str(uuid.uuid4())
        shares.append({'id': sid, 'deleted': 'False', 'created_at': now,
                       'user_id': 'u', 'project_id': 'p', 'size': 1,
                       'display_name': 's%d' % i, 'share_proto': 'NFS',
                       'is_public': False, 'snapshot_support': True,
                       'create_share_from_snapshot_support': True,
                       'revert_to_snapshot_support': False,
                       'mount_snapshot_support': False,
                       'snapshot_inherit_share_access_support': False,
                       'is_soft_deleted': False})
        instances.append({'id': iid, 'share_id': sid, 'deleted': 'False',
                          'created_at': now, 'host': host,
                          'status': 'available', 'share_type_id': type_id,
                          'access_rules_status': 'active',
                          'cast_rules_to_readonly': False,
                          'progress': '100%'})
    engine = db_api.get_engine()
    with engine.begin() as conn:
        conn.execute(sa.insert(models.ShareTypes.__table__), [{
            'id': type_id, 'name': 'bench', 'deleted': 'False',
            'created_at': now, 'is_public': True}])
        for start in range(0, n, 2000):
            conn.execute(sa.insert(models.Share.__table__),
                         shares[start:start + 2000])
            conn.execute(sa.insert(models.ShareInstance.__table__),
                         instances[start:start + 2000])


def _client(env, timeout=30):
    from manila_lite.share import rpcapi
    api = rpcapi.ShareAPI()
    return api.client.prepare(server=env.service_host, timeout=timeout,
                              version='1.12')


def _warm_up(env, ctx):
    """Set up the reply queue before the daemon starts (the call times out)."""
    import oslo_messaging as messaging
    try:
        _client(env, 0.25).call(ctx, 'connection_get_info',
                                share_instance_id='warm-up')
    except messaging.MessagingTimeout:
        pass


def _one_call(client, ctx):
    """Round trip of one ``call`` (an unknown instance: the answer is an error)."""
    sent = time.monotonic()
    try:
        client.call(ctx, 'connection_get_info',
                    share_instance_id=str(uuid.uuid4()))
    except Exception as exc:
        import oslo_messaging as messaging
        if isinstance(exc, messaging.MessagingTimeout):
            return None
    return time.monotonic() - sent


def _first_answer(client, ctx, every=0.02, timeout=120):
    """Monotonic time of the first answer to calls sent every ``every`` s.

    Before the daemon declares its queue the broker drops the messages,
    so a new call (each in its own thread, with a long timeout) goes out
    every ``every`` seconds until one is answered: the figure is late by
    at most ``every``.
    """
    answered = []
    done = threading.Event()

    def probe():
        if _one_call(client, ctx) is not None and not done.is_set():
            answered.append(time.monotonic())
            done.set()
    deadline = time.monotonic() + timeout
    threads = []
    while not done.wait(every):
        if time.monotonic() > deadline:
            raise SystemExit('no answer within %s s' % timeout)
        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        threads.append(thread)
    return answered[0]


def _log_times(env):
    """``{phase: wall-clock time}`` of the daemon's start-up log lines."""
    import datetime
    marks = {'logging set up, services built': 'serving [',
             'driver initialized': 'is initialized.',
             'RPC consuming': 'is consuming RPC',
             'ensure done': 'Ensured ',
             'ensure FAILED': 'Start-up ensure of'}
    found = {}
    log = env.dir / 'daemon.log'
    for line in (log.read_text() if log.exists() else '').splitlines():
        for phase, needle in marks.items():
            if needle in line and phase not in found:
                stamp = datetime.datetime.strptime(line[:23],
                                                   '%Y-%m-%d %H:%M:%S.%f')
                found[phase] = stamp.timestamp()
    return found


def _ensure_done(env, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _log_times(env)
        if 'ensure done' in found or 'ensure FAILED' in found:
            return found
        time.sleep(0.1)
    raise SystemExit('ensure did not finish in %s s' % timeout)


def _calls_during_ensure(env, client, ctx):
    """Round trips of calls sent one after another until the ensure ends."""
    trips = []
    while True:
        found = _log_times(env)
        if 'ensure done' in found or 'ensure FAILED' in found:
            return trips, found
        trip = _one_call(client, ctx)
        trips.append(trip if trip is not None else float('inf'))


def run(n):
    from manila_lite import context
    with common.Environment() as env:
        t0 = time.monotonic()
        _bulk_rows(n, env.pool_host())
        print('inserted %d share instances in %.1f s' % (
            n, time.monotonic() - t0))
        ctx = context.get_admin_context()
        client = _client(env)
        _warm_up(env, ctx)
        wall_start, started = time.time(), time.monotonic()
        env.start_daemon()   # the figures below count from just before exec
        answered = _first_answer(client, ctx)
        cpu = common.cpu_seconds(env.daemon.pid)
        trips, found = _calls_during_ensure(env, client, ctx)
        for stamp, phase in sorted((t, p) for p, t in found.items()
                                   if not p.startswith('ensure')):
            print('start -> %-30s %6.2f s' % (phase + ':',
                                              stamp - wall_start))
        print('start -> %-30s %6.2f s (daemon CPU by then: %.2f s)' % (
            'first call answered:', answered - started, cpu))
        for phase in ('ensure done', 'ensure FAILED'):
            if phase in found:
                print('start -> %-30s %6.2f s' % (
                    '%s (%d):' % (phase, n), found[phase] - wall_start))
        if trips:
            print('calls during the ensure: %d, round trip p50 %.0f ms, '
                  'max %.0f ms' % (len(trips),
                                   common.percentile(trips, 50) * 1000,
                                   max(trips) * 1000))
        print('daemon RSS after ensure:      %6.1f MiB' %
              common.rss_mib(env.daemon.pid))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--instances', type=int, default=10000)
    args = parser.parse_args()
    # The probes leave reply waiters behind; oslo.messaging warns about it.
    logging.getLogger('oslo_messaging._drivers.amqpdriver').setLevel(
        logging.ERROR)
    run(args.instances)


if __name__ == '__main__':
    main()
