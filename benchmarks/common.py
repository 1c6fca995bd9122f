"""Shared pieces of the benchmarks: private servers, a daemon subprocess, /proc CPU and memory readings."""

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
sys.path.insert(0, str(ROOT))

import local_services  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
BACKEND = 'bench'


def tree_pids(pid):
    """The pid and all its descendants (from /proc)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    result, todo = [], [pid]
    while todo:
        current = todo.pop()
        result.append(current)
        todo.extend(children.get(current, []))
    return result


def cpu_times(pid, reaped=False):
    """``(user, system)`` CPU seconds of a process tree.

    ``reaped`` adds the CPU of children that already exited and were
    waited for (PostgreSQL's connection backends, for example).
    """
    user = system = 0
    for p in tree_pids(pid):
        try:
            with open('/proc/%d/stat' % p) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
        if reaped:
            user += int(fields[13])
            system += int(fields[14])
    return user / CLK_TCK, system / CLK_TCK


def cpu_seconds(pid, reaped=False):
    """User + system CPU seconds of a process tree (see cpu_times)."""
    return sum(cpu_times(pid, reaped))


def rss_mib(pid):
    """Resident memory of a process tree in MiB."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open('/proc/%d/status' % p) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024.0


class Environment:
    """A private RabbitMQ and PostgreSQL, and the config of one daemon using them."""

    def __init__(self, host='benchhost', options=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix='ml-bench-'))
        os.chmod(self.dir, 0o755)
        self.host = host
        self.options = options or {}
        self.broker = None
        self.pg = None
        self.daemon = None

    def __enter__(self):
        self.broker = local_services.start_rabbitmq(str(self.dir / 'mq'))
        self.pg = local_services.start_postgres(str(self.dir / 'pg'))
        self.db_url = self.pg.url
        self.conf = self.dir / 'manila.conf'
        self._write_conf()
        self.configure_facade()
        return self

    def __exit__(self, *exc):
        self.stop_daemon()
        from manila_lite import rpc
        rpc.cleanup()
        for server in (self.broker, self.pg):
            if server is not None:
                server.destroy() if hasattr(server, 'destroy') else server.stop()

    def _write_conf(self):
        backend = {'share_driver': 'dummy', 'share_backend_name': BACKEND,
                   'driver_handles_share_servers': 'False',
                   'dummy_driver_default_driver_method_delay': '0',
                   'dummy_driver_driver_methods_delays': ''}
        backend.update(self.options.get(BACKEND, {}))
        default = {'host': self.host, 'enabled_share_backends': BACKEND,
                   'transport_url': self.broker.url,
                   'state_path': str(self.dir / 'state'),
                   'log_file': str(self.dir / 'daemon.log'),
                   'periodic_fuzzy_delay': '0'}
        default.update(self.options.get('DEFAULT', {}))
        sections = {'DEFAULT': default,
                    'database': {'connection': self.db_url},
                    'oslo_concurrency': {'lock_path': str(self.dir / 'locks')},
                    BACKEND: backend}
        for name, values in self.options.items():
            if name not in ('DEFAULT', BACKEND):
                sections.setdefault(name, {}).update(values)
        text = ''.join('[%s]\n%s\n' % (name, ''.join(
            '%s = %s\n' % kv for kv in values.items()))
            for name, values in sections.items())
        self.conf.write_text(text)

    def configure_facade(self):
        """Point this process's manila_lite.db.api and rpc at the servers."""
        import manila_lite.cmd  # noqa: F401
        from manila_lite import conf  # noqa: F401
        from manila_lite.db import api as db_api
        from manila_lite import rpc
        from oslo_config import cfg
        cfg.CONF.set_override('connection', self.db_url, group='database')
        cfg.CONF.set_override('host', self.host)
        db_api.dispose_engine()
        subprocess.run([sys.executable, '-m', 'manila_lite.cmd.manage',
                        '--config-file', str(self.conf), 'db', 'sync'],
                       check=True, capture_output=True)
        rpc.init(cfg.CONF, url=self.broker.url)
        return db_api

    @property
    def service_host(self):
        return '%s@%s' % (self.host, BACKEND)

    def servers_cpu(self):
        """CPU seconds used so far by PostgreSQL and RabbitMQ: ``(pg, mq)``."""
        def total(server):
            leaders = [p.pid for p in server.procs.values() if p.running()]
            return sum(cpu_seconds(pid, reaped=True) for pid in leaders)
        return total(self.pg), total(self.broker)

    def pool_host(self):
        return '%s#fake_pool_for_%s' % (self.service_host, BACKEND)

    def start_daemon(self):
        self.daemon = subprocess.Popen(
            [sys.executable, '-m', 'manila_lite.cmd.share', '--config-file',
             str(self.conf)], stdout=subprocess.DEVNULL,
            stderr=open(self.dir / 'daemon.err', 'w'))
        self.daemon_started = time.monotonic()
        return self.daemon

    def wait_consuming(self, timeout=120):
        """Wait until the daemon's log says it consumes RPC."""
        deadline = time.monotonic() + timeout
        log = self.dir / 'daemon.log'
        while time.monotonic() < deadline:
            if log.exists() and 'is consuming RPC' in log.read_text():
                return time.monotonic() - self.daemon_started
            if self.daemon.poll() is not None:
                raise SystemExit('daemon exited: %s' %
                                 (self.dir / 'daemon.err').read_text())
            time.sleep(0.05)
        raise SystemExit('daemon did not start consuming')

    def stop_daemon(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        self.daemon = None


def percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return float('nan')
    index = min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[index]
