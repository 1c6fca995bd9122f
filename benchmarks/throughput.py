"""Create and delete throughput, latency and daemon CPU per operation, through real RabbitMQ and PostgreSQL.

Usage: python benchmarks/throughput.py [--shares N] [--concurrency C]
       [--py-spy DIR] [--set SECTION.OPTION=VALUE ...] [--count-sql N]

The daemon runs the dummy driver with zero delay. N share rows are written
as upstream's API writes them, then N ``create_share_instance`` casts are
sent at once from C client threads; the same for ``delete_share_instance``.
Latency is from the cast to the row's ``launched_at`` / ``deleted_at``; CPU
is the daemon process tree's user+system time (from /proc) spent while the
casts drained; PostgreSQL's and RabbitMQ's CPU per operation are printed
too (the three share the machine's cores). The rows carry committed quota
usage (as upstream's API leaves it), so deletions give quota back as they
do in production. ``--set database.max_pool_size=20`` (repeatable) adds an
option to the daemon's configuration. Afterwards ``--count-sql N`` (50 by
default) creates and deletes N more shares with PostgreSQL logging every
statement and prints the statements and transactions per operation.

With ``--py-spy DIR`` each phase is also sampled by py-spy into
``DIR/create.svg`` and ``DIR/delete.svg`` (``--py-spy-format raw``:
collapsed stacks in ``.txt`` files). Only the thread holding the GIL is
sampled, so the picture is where the daemon's CPU goes, not where its
threads wait; the sampler's own CPU is not counted.
"""

import argparse
import concurrent.futures
import datetime
import os
import signal
import subprocess
import sys
import time

import common


def _make_rows(db_api, ctx, n, host, type_name='bench'):
    from oslo_utils import timeutils
    share_type = db_api.share_type_create(ctx, {
        'name': type_name,
        'extra_specs': {'driver_handles_share_servers': 'False'}})
    ids = []
    for i in range(n):
        share = db_api.share_create(ctx, {
            'user_id': 'u', 'project_id': 'p', 'size': 1,
            'display_name': 'bench-%d' % i, 'share_proto': 'NFS',
            'status': 'creating', 'host': host,
            'scheduled_at': timeutils.utcnow(),
            'share_type_id': share_type['id'],
            'cast_rules_to_readonly': False})
        ids.append(share.instance['id'])
    # Usage per user and per share type, as the API's reservations leave it.
    db_api.reservation_commit(ctx, db_api.quota_reserve(
        ctx, {'shares': n, 'gigabytes': n}, 'p', 'u',
        share_type_id=share_type['id']))
    return ids


class _Sampler:
    """py-spy recording the daemon during one phase (or nothing)."""

    def __init__(self, directory, name, pid, fmt='flamegraph'):
        self.proc = None
        if directory:
            os.makedirs(directory, exist_ok=True)
            spy = os.path.join(os.path.dirname(sys.executable), 'py-spy')
            suffix = '.svg' if fmt == 'flamegraph' else '.txt'
            self.proc = subprocess.Popen(
                [spy, 'record', '--pid', str(pid), '--rate', '250',
                 '--format', fmt, '--nonblocking', '--gil',
                 '--output', os.path.join(directory, name + suffix)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)


def _cast_all(ids, concurrency, send):
    sent = {}

    def one(iid):
        sent[iid] = datetime.datetime.utcnow()
        send(iid)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, ids))
    return sent, time.monotonic() - start


def _wait(env, sql, expected, timeout=600):
    from manila_lite.db import api as db_api
    import sqlalchemy
    engine = db_api.get_engine()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(sqlalchemy.text(sql)).scalar() == expected:
                return time.monotonic()
        time.sleep(0.02)
    raise SystemExit('timed out waiting for: %s' % sql)


def _latencies(sent, sql):
    from manila_lite.db import api as db_api
    import sqlalchemy
    with db_api.get_engine().connect() as conn:
        rows = conn.execute(sqlalchemy.text(sql)).fetchall()
    return [(done - sent[iid]).total_seconds() * 1000.0
            for iid, done in rows if iid in sent and done is not None]


class _StatementLog:
    """PostgreSQL's log of the statements the application role sends, while active.

    ``log_statement = all`` with the user name as line prefix; only lines
    of role ``manila`` are counted (the benchmark waits through the
    superuser's connection). psycopg2 sends BEGIN, COMMIT and ROLLBACK as
    statements of their own: BEGINs are the transactions.
    """

    def __init__(self, pg):
        self.pg = pg
        self.offset = None

    def _set(self, enabled):
        for name, value in (('log_statement', "'all'"),
                            ('log_line_prefix', "'@%u@ '")):
            self.pg.sql('ALTER SYSTEM %s' % (
                'SET %s = %s' % (name, value) if enabled else
                'RESET %s' % name))
        self.pg.sql('SELECT pg_reload_conf()')
        time.sleep(0.5)

    def __enter__(self):
        self._set(True)
        self.offset = os.path.getsize(self.pg.log_file)
        return self

    def __exit__(self, *exc):
        self._set(False)

    def counts(self):
        """``{'transactions': n, 'statements': n, 'SELECT': n, ...}`` so far."""
        with open(self.pg.log_file, errors='replace') as f:
            f.seek(self.offset)
            text = f.read()
        self.offset += len(text.encode(errors='replace'))
        result = {'transactions': 0, 'statements': 0}
        marker = '@%s@ LOG:  statement: ' % 'manila'
        for line in text.splitlines():
            if not line.startswith(marker):
                continue
            verb = line[len(marker):].split(None, 1)[0].upper()
            if verb == 'BEGIN':
                result['transactions'] += 1
            elif verb not in ('COMMIT', 'ROLLBACK'):
                result['statements'] += 1
                result[verb] = result.get(verb, 0) + 1
        return result


def _pg_wait(env, sql, expected, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env.pg.sql(sql, dbname='manila')[0][0] == expected:
            return
        time.sleep(0.05)
    raise SystemExit('timed out waiting for: %s' % sql)


def _count_statements(env, db_api, ctx, api, n):
    """Statements and transactions per create and per delete (a separate run of n shares).

    Logging every statement costs PostgreSQL CPU, hence not during the
    timed phases. The daemon's periodic tasks and heartbeats may add a
    few statements to the totals.
    """
    ids = _make_rows(db_api, ctx, n, env.pool_host(), type_name='count')
    with _StatementLog(env.pg) as log:
        for iid in ids:
            api.create_share_instance(
                ctx, {'id': iid, 'host': env.pool_host()}, env.pool_host(),
                {}, {})
        _pg_wait(env, "SELECT count(*) FROM share_instances WHERE status = "
                      "'available' AND deleted = 'False'", n)
        time.sleep(0.5)
        create = log.counts()
    db_api.share_instance_status_update(
        ctx, ids, {'status': 'deleting',
                   'terminated_at': datetime.datetime.utcnow()})
    with _StatementLog(env.pg) as log:
        for iid in ids:
            api.delete_share_instance(
                ctx, {'id': iid, 'host': env.pool_host()}, force=False,
                deferred_delete=False)
        _pg_wait(env, "SELECT count(*) FROM share_instances WHERE "
                      "deleted = 'False'", 0)
        time.sleep(0.5)
        delete = log.counts()
    for kind, counts in (('create', create), ('delete', delete)):
        verbs = ', '.join('%s %.1f' % (verb, counts[verb] / n)
                          for verb in sorted(counts)
                          if verb not in ('transactions', 'statements'))
        print('%-7s SQL per %s (%d shares, logged by PostgreSQL): '
              '%.1f statements in %.1f transactions (%s)' % (
                  kind, kind, n, counts['statements'] / n,
                  counts['transactions'] / n, verbs))


def _report(kind, n, elapsed, lat, cpu, servers):
    print('%-7s %5d shares  %7.1f /s  p50 %7.1f ms  p95 %7.1f ms  '
          'daemon CPU %6.2f ms per %s' % (
              kind, n, n / elapsed, common.percentile(lat, 50),
              common.percentile(lat, 95), sum(cpu) * 1000.0 / n, kind))
    print('        (%.0f%% system); PostgreSQL CPU %.2f ms, RabbitMQ CPU '
          '%.2f ms per %s' % (100.0 * cpu[1] / max(sum(cpu), 1e-9),
                              servers[0] * 1000.0 / n,
                              servers[1] * 1000.0 / n, kind))


def _daemon_delta(pid, before):
    return [b - a for a, b in zip(before, common.cpu_times(pid))]


def _servers_delta(env, before):
    return [b - a for a, b in zip(before, env.servers_cpu())]


def _options(settings):
    """``['database.max_pool_size=10', ...]`` as {section: {option: value}}."""
    options = {}
    for item in settings or ():
        name, _, value = item.partition('=')
        section, _, option = name.rpartition('.')
        options.setdefault(section or 'DEFAULT', {})[option] = value
    return options


def run(n, concurrency, spy_dir=None, spy_format='flamegraph',
        settings=None, count_sql=50):
    from manila_lite import context
    from manila_lite.share import rpcapi
    with common.Environment(options=_options(settings)) as env:
        from manila_lite.db import api as db_api
        ctx = context.get_admin_context()
        api = rpcapi.ShareAPI()
        env.start_daemon()
        env.wait_consuming()
        ids = _make_rows(db_api, ctx, n, env.pool_host())
        time.sleep(1.0)
        pid = env.daemon.pid
        sampler = _Sampler(spy_dir, 'create', pid, spy_format)
        servers0 = env.servers_cpu()
        cpu0 = common.cpu_times(pid)
        t0 = time.monotonic()
        sent, cast_time = _cast_all(ids, concurrency, lambda iid: api.create_share_instance(
            ctx, {'id': iid, 'host': env.pool_host()}, env.pool_host(), {}, {}))
        done = _wait(env, "SELECT count(*) FROM share_instances WHERE "
                          "status = 'available'", n)
        cpu_create = _daemon_delta(pid, cpu0)
        servers = _servers_delta(env, servers0)
        sampler.stop()
        lat = _latencies(sent, 'SELECT id, launched_at FROM share_instances')
        _report('create', n, done - t0, lat, cpu_create, servers)
        print('        casts sent in %.2f s by %d threads' % (cast_time, concurrency))

        db_api.share_instance_status_update(
            ctx, ids, {'status': 'deleting',
                       'terminated_at': datetime.datetime.utcnow()})
        time.sleep(1.0)
        sampler = _Sampler(spy_dir, 'delete', pid, spy_format)
        servers0 = env.servers_cpu()
        cpu0 = common.cpu_times(pid)
        t0 = time.monotonic()
        sent, cast_time = _cast_all(ids, concurrency, lambda iid: api.delete_share_instance(
            ctx, {'id': iid, 'host': env.pool_host()}, force=False,
            deferred_delete=False))
        done = _wait(env, "SELECT count(*) FROM share_instances WHERE "
                          "deleted = 'False'", 0)
        cpu_delete = _daemon_delta(pid, cpu0)
        servers = _servers_delta(env, servers0)
        sampler.stop()
        lat = _latencies(sent, 'SELECT id, deleted_at FROM share_instances')
        _report('delete', n, done - t0, lat, cpu_delete, servers)
        print('        casts sent in %.2f s by %d threads' % (cast_time, concurrency))
        print('idle daemon RSS after the run: %.1f MiB' %
              common.rss_mib(pid))
        if count_sql:
            _count_statements(env, db_api, ctx, api, count_sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shares', type=int, default=500)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--py-spy', dest='spy_dir', metavar='DIR',
                        help='sample the daemon with py-spy into DIR')
    parser.add_argument('--py-spy-format', dest='spy_format',
                        default='flamegraph', choices=['flamegraph', 'raw'],
                        help='raw: collapsed stacks (.txt) instead of SVG')
    parser.add_argument('--set', action='append', metavar='SECTION.OPT=VAL',
                        help='extra daemon option (repeatable), e.g. '
                             'database.max_pool_size=20')
    parser.add_argument('--count-sql', type=int, default=50, metavar='N',
                        help='after the timed phases, count the SQL of N '
                             'more creates and deletes (0: skip)')
    args = parser.parse_args()
    run(args.shares, args.concurrency, args.spy_dir, args.spy_format,
        args.set, args.count_sql)


if __name__ == '__main__':
    main()
