"""Helpers of the functional tests: polling, direct SQL on a test database, and the manila-lite-share daemon run as a subprocess."""

import contextlib
import datetime
import itertools
import os
import re
import signal
import subprocess
import sys
import time

import sqlalchemy
from sqlalchemy import pool

import local_services          # tools/ is put on sys.path by conftest.py

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

DEFAULT_BACKEND = 'alpha'


def tail(path, lines=60):
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            text = f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])


def wait_for(predicate, timeout=30.0, interval=0.1, message=None,
             ignore=(), details=None):
    """Poll ``predicate`` until it returns something truthy; return that.

    Exceptions of the types in ``ignore`` count as "not yet". On timeout an
    AssertionError names ``message``, the last value or exception, and the
    text ``details()`` returns (e.g. a daemon's log tail).
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except ignore as exc:
            last = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    text = '%s not true after %.1f s (last: %r)' % (
        message or getattr(predicate, '__name__', 'condition'), timeout, last)
    if details is not None:
        text += '\n' + details()
    raise AssertionError(text)


class Database:
    """Plain SQL on one test database (no pooling: nothing stays open).

    The same SQL runs on PostgreSQL and MySQL/MariaDB: double quotes
    quote identifiers on both (ANSI_QUOTES), and ``= ANY(:name)`` with a
    list becomes an expanding ``IN``.
    """

    def __init__(self, url):
        self.url = url
        self.engine = sqlalchemy.create_engine(url, poolclass=pool.NullPool)
        if self.engine.dialect.name == 'mysql':
            sqlalchemy.event.listen(self.engine, 'connect', _ansi_quotes)

    def _text(self, sql, params):
        lists = [k for k, v in params.items() if isinstance(v, (list, tuple))]
        for name in lists:
            sql = re.sub(r'=\s*ANY\s*\(\s*:%s\s*\)' % name, 'IN :%s' % name,
                         sql)
        return sqlalchemy.text(sql).bindparams(
            *[sqlalchemy.bindparam(k, expanding=True) for k in lists
              if ':%s' % k in sql])

    def rows(self, sql, **params):
        """Rows of ``sql`` as dicts."""
        with self.engine.connect() as conn:
            result = conn.execute(self._text(sql, params), params)
            return [dict(r._mapping) for r in result]

    def row(self, sql, **params):
        """The single row of ``sql`` as a dict, or None."""
        rows = self.rows(sql, **params)
        assert len(rows) <= 1, 'expected one row, got %d' % len(rows)
        return rows[0] if rows else None

    def scalar(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(self._text(sql, params), params).scalar()

    def execute(self, sql, **params):
        """Run a writing statement in its own transaction; return rowcount."""
        with self.engine.begin() as conn:
            return conn.execute(self._text(sql, params), params).rowcount

    def tables(self):
        return set(sqlalchemy.inspect(self.engine).get_table_names())

    def dispose(self):
        self.engine.dispose()


def _ansi_quotes(dbapi_conn, record):
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, "
                       "',ANSI_QUOTES')")
    finally:
        cursor.close()


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _format(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return '' if value is None else str(value)


def base_options(workdir, host, transport_url, db_url):
    """The manila.conf sections every functional daemon starts from."""
    return {
        'DEFAULT': {
            'host': host,
            'enabled_share_backends': DEFAULT_BACKEND,
            'transport_url': transport_url,
            'state_path': os.path.join(workdir, 'state'),
            'report_interval': 1,
            'periodic_interval': 1,
            'periodic_fuzzy_delay': 0,
            'debug': True,
            'log_file': os.path.join(workdir, 'daemon.log'),
        },
        'database': {'connection': db_url},
        'oslo_concurrency': {'lock_path': os.path.join(workdir, 'locks')},
        DEFAULT_BACKEND: {
            'share_driver': 'dummy',
            'share_backend_name': DEFAULT_BACKEND,
            'driver_handles_share_servers': False,
            'dummy_driver_default_driver_method_delay': 0,
            'dummy_driver_driver_methods_delays': '',
        },
    }


def merge_options(options, overrides):
    """Apply {section: {option: value}} overrides; a None value removes."""
    for section, values in (overrides or {}).items():
        target = options.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return options


class Daemon:
    """One manila-lite-share process with its own config, log and state."""

    def __init__(self, workdir, host, options, amqp_url=None,
                 python=sys.executable):
        self.workdir = str(workdir)
        self.host = host
        self.options = options
        self.amqp_url = amqp_url
        self.python = python
        self.conf_path = os.path.join(self.workdir, 'manila.conf')
        self.output_path = os.path.join(self.workdir, 'daemon.out')
        self.proc = None
        self.started_at = None
        self._db = None
        os.makedirs(self.workdir, exist_ok=True)
        self.write_config()

    # -- configuration
    @property
    def log_path(self):
        return self.options['DEFAULT']['log_file']

    @property
    def db(self):
        if self._db is None:
            self._db = Database(self.options['database']['connection'])
        return self._db

    @property
    def backends(self):
        value = self.options['DEFAULT'].get('enabled_share_backends', '')
        if isinstance(value, (list, tuple)):
            return list(value)
        return [b.strip() for b in str(value).split(',') if b.strip()]

    @property
    def service_hosts(self):
        """``host@backend`` of every enabled backend (the services rows)."""
        return ['%s@%s' % (self.host, b) for b in self.backends]

    def pool_host(self, backend=DEFAULT_BACKEND, pool=None):
        """``host@backend#pool`` as the scheduler writes it."""
        return '%s@%s#%s' % (self.host, backend, pool or backend)

    def configure(self, overrides):
        """Change options (takes effect at the next start)."""
        merge_options(self.options, overrides)
        self.write_config()

    def write_config(self):
        lines = []
        for section, values in self.options.items():
            lines.append('[%s]' % section)
            lines.extend('%s = %s' % (k, _format(v))
                         for k, v in values.items())
            lines.append('')
        with open(self.conf_path, 'w') as f:
            f.write('\n'.join(lines))

    # -- commands
    def manage(self, *args, check=True, timeout=120):
        """Run ``manila_lite.cmd.manage --config-file <conf> *args``."""
        cmd = [self.python, '-m', 'manila_lite.cmd.manage',
               '--config-file', self.conf_path, *args]
        res = subprocess.run(cmd, capture_output=True, text=True,
                             cwd=self.workdir, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError('%s exited %d\nstdout:\n%s\nstderr:\n%s'
                                 % (' '.join(cmd), res.returncode,
                                    res.stdout, res.stderr))
        return res

    def db_sync(self, check=True):
        return self.manage('db', 'sync', check=check)

    # -- lifecycle
    def start(self, wait=True, timeout=READY_TIMEOUT, check_rpc=True):
        """Start the daemon; by default wait until it is ready."""
        assert not self.running, 'daemon %s already running' % self.host
        cmd = [self.python, '-m', 'manila_lite.cmd.share',
               '--config-file', self.conf_path]
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        self.started_at = _utcnow()
        with open(self.output_path, 'ab') as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.workdir, env=env,
                start_new_session=True,
                preexec_fn=local_services.parent_death_hook(signal.SIGTERM))
        if wait:
            self.wait_ready(timeout=timeout, check_rpc=check_rpc)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def heartbeats(self):
        """{host@backend: updated_at} of the live manila-share rows."""
        rows = self.db.rows(
            'SELECT host, updated_at FROM services '
            'WHERE "binary" = :binary AND deleted = 0',
            binary='manila-share')
        return {r['host']: r['updated_at'] for r in rows
                if r['host'] in self.service_hosts}

    def rpc_consumers(self, backend=DEFAULT_BACKEND):
        """Consumers on this backend's RPC server queue (0 if none)."""
        import amqp
        import kombu
        queue = 'manila-share.%s@%s' % (self.host, backend)
        with kombu.Connection(self.amqp_url, connect_timeout=3) as conn:
            channel = conn.channel()
            try:
                return channel.queue_declare(queue=queue, passive=True)[2]
            except amqp.exceptions.NotFound:
                return 0

    def is_ready(self, check_rpc=True):
        """Every backend heartbeated since start (and consumes its queue)."""
        since = self.started_at - datetime.timedelta(seconds=2)
        beats = self.heartbeats()
        fresh = all(beats.get(h) and beats[h] >= since
                    for h in self.service_hosts)
        if not fresh or not check_rpc or not self.amqp_url:
            return fresh
        return all(self.rpc_consumers(b) for b in self.backends)

    def wait_ready(self, timeout=READY_TIMEOUT, check_rpc=True):
        self.wait_for(lambda: self.is_ready(check_rpc), timeout=timeout,
                      message='daemon %s ready (services rows %s heartbeat '
                      'after start)' % (self.host, self.service_hosts),
                      ignore=(sqlalchemy.exc.SQLAlchemyError, OSError))

    def wait_for(self, predicate, timeout=30.0, interval=0.1, message=None,
                 ignore=(), allow_exit=False):
        """``wait_for`` that fails early if the daemon dies, with its logs."""
        def check():
            if not allow_exit and self.proc is not None and not self.running:
                raise AssertionError(
                    'daemon %s exited with %s while waiting for %s\n%s'
                    % (self.host, self.returncode, message or 'a condition',
                       self.diagnostics()))
            return predicate()
        return wait_for(check, timeout=timeout, interval=interval,
                        message=message, ignore=ignore,
                        details=self.diagnostics)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send ``sig`` and wait for exit; return the exit code.

        If it does not exit within ``timeout`` its process group is killed
        and AssertionError raised: a daemon must stop on SIGTERM.
        """
        if not self.running:
            return self.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError('daemon %s ignored signal %s for %.0f s\n%s'
                                 % (self.host, sig, timeout,
                                    self.diagnostics()))
        finally:
            self._reap_group()

    def kill(self):
        """SIGKILL the daemon and any process it forked; return exit code."""
        if self.proc is None:
            return None
        self._reap_group(signal.SIGKILL)
        return self.proc.wait()

    def _reap_group(self, sig=signal.SIGKILL):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def restart(self, wait=True, timeout=READY_TIMEOUT):
        self.stop()
        return self.start(wait=wait, timeout=timeout)

    # -- logs
    def log_text(self):
        """The daemon's log file (``log_file``) so far."""
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def output_text(self):
        """The daemon's stdout/stderr (tracebacks from before logging)."""
        try:
            with open(self.output_path, encoding='utf-8',
                      errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def diagnostics(self, lines=60):
        return ('--- %s (tail) ---\n%s\n--- %s (tail) ---\n%s'
                % (self.log_path, tail(self.log_path, lines),
                   self.output_path, tail(self.output_path, lines)))


class DaemonFactory:
    """Makes daemons on one broker; ``cleanup()`` stops them all."""

    _numbers = itertools.count(1)

    def __init__(self, workdir, transport_url, amqp_url=None):
        self.workdir = str(workdir)
        self.transport_url = transport_url
        self.amqp_url = amqp_url
        self.daemons = []

    def new_host(self):
        return 'fthost-%d' % next(self._numbers)

    def __call__(self, db_url, options=None, host=None, db_sync=True,
                 start=True, wait=True, timeout=READY_TIMEOUT,
                 check_rpc=True, broker=None):
        """Write a config, ``db sync`` it, start the daemon, wait till ready.

        ``options`` overrides or adds options: {section: {name: value}}, a
        value of None removes an option. ``broker`` (a RabbitMQ handle, e.g.
        from ``rabbitmq_factory``) replaces the session broker. Returns the
        Daemon.
        """
        host = host or self.new_host()
        workdir = os.path.join(self.workdir, re.sub(r'[^\w.-]', '_', host))
        transport_url = broker.url if broker else self.transport_url
        amqp_url = broker.amqp_url if broker else self.amqp_url
        opts = merge_options(
            base_options(workdir, host, transport_url, db_url), options)
        daemon = Daemon(workdir, host, opts, amqp_url=amqp_url)
        self.daemons.append(daemon)
        if db_sync:
            daemon.db_sync()
        if start:
            daemon.start(wait=wait, timeout=timeout, check_rpc=check_rpc)
        return daemon

    def cleanup(self):
        errors = []
        for daemon in self.daemons:     # signal all first: they stop together
            if daemon.running:
                os.kill(daemon.pid, signal.SIGTERM)
        for daemon in reversed(self.daemons):
            try:
                daemon.stop()
            except AssertionError as exc:
                errors.append(str(exc))
            finally:
                if daemon.proc is not None:
                    daemon._reap_group()
                daemon.db.dispose()
        self.daemons = []
        return errors


@contextlib.contextmanager
def share_client(transport_url):
    """Our ShareAPI (upstream's exact wire messages) on a transport of its own to ``transport_url``."""
    from oslo_config import cfg
    import oslo_messaging as messaging

    from manila_lite import rpc
    from manila_lite.share import rpcapi
    transport = messaging.get_rpc_transport(
        cfg.CONF, url=transport_url,
        allowed_remote_exmods=rpc.get_allowed_exmods())
    client = rpcapi.ShareAPI()
    client._client = messaging.get_rpc_client(
        transport, messaging.Target(topic='manila-share', version='1.0'),
        version_cap=client.VERSION_CAP,
        serializer=rpc.RequestContextSerializer(mark=True))
    try:
        yield client
    finally:
        transport.cleanup()
