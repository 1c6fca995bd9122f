"""Time from daemon start to the first answered RPC call, with many share instances on the host.

Usage: python benchmarks/startup.py [--instances 10000]

Rows are bulk-inserted as ``available`` instances of this host; the daemon
then has to ensure all of them at start. Printed: seconds from process
start to RPC consuming, to the first answered ``call``, and to the end of
the start-up ensure.
"""

import argparse
import time
import uuid

import common


def _bulk_rows(n, host):
    import sqlalchemy as sa
    from oslo_utils import timeutils
    from manila_lite.db import api as db_api
    from manila_lite.db.sqlalchemy import models
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


def _client(env):
    from manila_lite.share import rpcapi
    api = rpcapi.ShareAPI()
    return api.client.prepare(server=env.service_host, timeout=0.25,
                              version='1.12')


def _warm_up(client, ctx):
    """Set up the reply queue before the daemon starts (the call times out)."""
    import oslo_messaging as messaging
    try:
        client.call(ctx, 'connection_get_info', share_instance_id='warm-up')
    except messaging.MessagingTimeout:
        pass


def _first_answer(client, ctx, timeout=300):
    import oslo_messaging as messaging
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.call(ctx, 'connection_get_info',
                        share_instance_id=str(uuid.uuid4()))
            return time.monotonic()
        except messaging.MessagingTimeout:
            continue
        except Exception:
            return time.monotonic()
    raise SystemExit('no answer within %s s' % timeout)


def _ensure_done(env, timeout=900):
    log = env.dir / 'daemon.log'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ''
        if 'Ensured ' in text or 'Start-up ensure of' in text:
            return time.monotonic()
        time.sleep(0.2)
    raise SystemExit('ensure did not finish in %s s' % timeout)


def run(n):
    from manila_lite import context
    with common.Environment() as env:
        t0 = time.monotonic()
        _bulk_rows(n, env.pool_host())
        print('inserted %d share instances in %.1f s' % (
            n, time.monotonic() - t0))
        ctx = context.get_admin_context()
        client = _client(env)
        _warm_up(client, ctx)
        env.start_daemon()
        started = env.daemon_started
        answered = _first_answer(client, ctx)
        consuming = env.wait_consuming()
        ensured = _ensure_done(env)
        print('start -> consuming RPC:      <= %4.2f s' % consuming)
        print('start -> first call answered: %6.2f s' % (answered - started))
        print('start -> ensure of %d done: %6.2f s' % (n, ensured - started))
        print('daemon RSS after ensure:      %6.1f MiB' %
              common.rss_mib(env.daemon.pid))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--instances', type=int, default=10000)
    args = parser.parse_args()
    run(args.instances)


if __name__ == '__main__':
    main()
