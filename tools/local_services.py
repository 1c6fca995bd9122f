"""Private RabbitMQ, PostgreSQL and MariaDB servers on 127.0.0.1, each living in one directory, for tests and local runs.

Importable (``start_rabbitmq``, ``start_postgres``, ``start_mariadb``,
``load``) and a CLI::

    python tools/local_services.py rabbitmq start --dir /tmp/mq   # URL
    python tools/local_services.py postgres start --dir /tmp/pg   # URL
    python tools/local_services.py mariadb start --dir /tmp/my    # URL
    python tools/local_services.py KIND restart|stop|url|destroy --dir DIR

A handle keeps its ports and process ids in ``DIR/<kind>.json``, so another
process (or the CLI) can stop or restart a server it did not start. Nothing
listens anywhere but the loopback interface. The Debian packages' own services
are never used: each server is a private process tree killed by ``stop()``.
"""

import argparse
import ctypes
import errno
import glob
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

LOOPBACK = '127.0.0.1'
RABBITMQ_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server'
POSTGRES_LIB = '/usr/lib/postgresql'
MAX_UNIX_SOCKET_PATH = 100        # sun_path is 108 bytes with the NUL


class ServiceError(RuntimeError):
    """A private server could not be installed, started or stopped."""


# ---------------------------------------------------------------- helpers

def free_port(host=LOOPBACK):
    """Return a TCP port free on ``host`` now, outside the ephemeral range.

    Ports the kernel hands out to outgoing connections are avoided, so that
    a client's connection cannot take a server's port while it restarts.
    """
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10000, low) if low > 11000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            port = sock.getsockname()[1]
            if _free_on_ipv6_loopback(port):      # epmd also binds ::1
                return port
    raise ServiceError('no free TCP port on %s' % host)


def _free_on_ipv6_loopback(port):
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return True                               # no IPv6 at all
    with sock:
        try:
            sock.bind(('::1', port))
        except OSError as exc:
            return exc.errno == errno.EADDRNOTAVAIL   # no ::1 configured
    return True


def _port_open(port, host=LOOPBACK, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _require_port(port):
    if not _port_open(port):
        raise ConnectionError('nothing accepts connections on %s:%d'
                              % (LOOPBACK, port))


def _tail(path, lines=40):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode('utf-8', 'replace')
    except OSError as exc:
        return '<cannot read %s: %s>' % (path, exc)
    return '\n'.join(text.splitlines()[-lines:])


def _installed(package):
    res = subprocess.run(['dpkg-query', '-W', '-f=${Status}', package],
                         capture_output=True, text=True)
    return res.returncode == 0 and res.stdout.strip().endswith(' installed')


def ensure_debian_packages(*packages):
    """apt-get install those of ``packages`` that dpkg says are missing.

    Installation does not start the packages' own services (a temporary
    policy-rc.d denies it), and ``apt-get update`` runs only when the first
    attempt fails (a fresh machine has no package lists).
    """
    missing = [p for p in packages if not _installed(p)]
    if not missing:
        return []
    if os.geteuid() != 0:
        raise ServiceError('Debian packages %s are missing and only root can '
                           'install them: apt-get install %s'
                           % (missing, ' '.join(missing)))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    install = ['apt-get', 'install', '-y', '-q', '--no-install-recommends',
               *missing]
    policy = '/usr/sbin/policy-rc.d'
    wrote_policy = not os.path.exists(policy)
    if wrote_policy:
        with open(policy, 'w') as f:
            f.write('#!/bin/sh\nexit 101\n')
        os.chmod(policy, 0o755)
    try:
        res = subprocess.run(install, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            subprocess.run(['apt-get', 'update', '-q'], env=env, check=False,
                           capture_output=True)
            res = subprocess.run(install, env=env, capture_output=True,
                                 text=True)
        if res.returncode != 0:
            raise ServiceError('apt-get install %s failed:\n%s%s'
                               % (' '.join(missing), res.stdout[-3000:],
                                  res.stderr[-3000:]))
    finally:
        if wrote_policy:
            os.unlink(policy)
    return missing


def _proc_stat(pid):
    """Return (state, ppid, pgid, starttime) of ``pid`` or None if gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(')') + 2:].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def pid_alive(pid):
    """Is ``pid`` a live (not zombie) process?"""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ('Z', 'X')


def _tree(root_pids):
    """The given pids, their descendants and their process groups' members."""
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    wanted = {p for p in root_pids if p in table}
    groups = {table[p][2] for p in wanted}
    changed = True
    while changed:
        changed = False
        for pid, (_state, ppid, pgid, _start) in table.items():
            if pid not in wanted and (ppid in wanted or pgid in groups):
                wanted.add(pid)
                changed = True
    return {p for p in wanted if table[p][0] not in ('Z', 'X')}


def parent_death_hook(sig):
    """A ``preexec_fn`` making the child receive ``sig`` when its parent dies.

    Linux's PR_SET_PDEATHSIG fires when the *thread* that started the child
    exits, so start such children from a thread that outlives them (pytest's
    main thread does).
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl     # resolved before fork

    def hook():
        prctl(1, int(sig), 0, 0, 0)                     # PR_SET_PDEATHSIG
    return hook


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class _Proc:
    """A started process (its own session) known by pid and start time."""

    def __init__(self, pid, starttime, popen=None):
        self.pid, self.starttime, self.popen = pid, starttime, popen

    @classmethod
    def spawn(cls, argv, log_path, env, cwd, user=None, death_signal=None):
        kwargs = {}
        if death_signal is not None:
            kwargs['preexec_fn'] = parent_death_hook(death_signal)
        if user is not None and os.geteuid() == 0:
            entry = pwd.getpwnam(user)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid,
                          extra_groups=[])
        with open(log_path, 'ab') as log:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=cwd, start_new_session=True,
                                     **kwargs)
        stat = _proc_stat(popen.pid)
        return cls(popen.pid, stat[3] if stat else 0, popen)

    def to_state(self):
        return {'pid': self.pid, 'starttime': self.starttime}

    @classmethod
    def from_state(cls, data):
        return cls(data['pid'], data['starttime']) if data else None

    def running(self):
        if self.popen is not None:
            return self.popen.poll() is None
        stat = _proc_stat(self.pid)
        return (stat is not None and stat[3] == self.starttime
                and stat[0] not in ('Z', 'X'))

    def terminate(self, sig=signal.SIGTERM, timeout=30.0):
        """Signal the leader, wait, then SIGKILL what is left of its tree."""
        if not self.running():
            pids = set()
        else:
            pids = _tree([self.pid])
            _signal_all([self.pid], sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                pass
        leftovers = {p for p in _tree(pids) if pid_alive(p)}
        if self.running():
            leftovers.add(self.pid)
        _signal_all(leftovers, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()
        end = time.monotonic() + 5
        while time.monotonic() < end and any(pid_alive(p) for p in leftovers):
            time.sleep(0.05)


# ---------------------------------------------------------------- base class

class _Service:
    """Common lifecycle; ports and pids persist in ``base_dir/<kind>.json``."""

    kind = None

    def __init__(self, base_dir, port=None, die_with_parent=False):
        self.base_dir = os.path.abspath(base_dir)
        self.port = port
        self.procs = {}
        self.last_start_seconds = None
        self.die_with_parent = die_with_parent

    def _spawn(self, name, argv, log_path, env, user=None):
        """Start process ``name`` of this server in its own session."""
        death = self._stop_signal(name) if self.die_with_parent else None
        self.procs[name] = _Proc.spawn(argv, log_path, env, self.base_dir,
                                       user=user, death_signal=death)
        self._save()
        return self.procs[name]

    @property
    def state_file(self):
        return os.path.join(self.base_dir, '%s.json' % self.kind)

    @property
    def log_file(self):
        raise NotImplementedError

    def _state_extra(self):
        return {}

    def _save(self):
        data = {'kind': self.kind, 'port': self.port,
                'procs': {k: p.to_state() for k, p in self.procs.items()},
                **self._state_extra()}
        tmp = self.state_file + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.state_file)

    @classmethod
    def load(cls, base_dir):
        """Rebuild a handle from the state file another process wrote."""
        obj = cls.__new__(cls)
        _Service.__init__(obj, base_dir)
        try:
            with open(obj.state_file) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ServiceError('no %s was started in %s' % (cls.kind,
                                                            obj.base_dir))
        obj.port = data.pop('port')
        obj.procs = {k: _Proc.from_state(v)
                     for k, v in data.pop('procs').items() if v}
        obj._load_extra(data)
        return obj

    def _load_extra(self, data):
        pass

    def pids(self):
        """Every live process of this server (leaders and descendants)."""
        return _tree([p.pid for p in self.procs.values() if p.running()])

    def running(self):
        return bool(self.procs) and all(p.running()
                                        for p in self.procs.values())

    def _log_files(self):
        return [self.log_file]

    def _fail(self, message):
        tails = ''.join('\n--- last lines of %s ---\n%s' % (path, _tail(path))
                        for path in self._log_files())
        self.stop(timeout=5)
        raise ServiceError('%s in %s: %s%s' % (self.kind, self.base_dir,
                                               message, tails))

    def _wait_ready(self, timeout, leader, probe):
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if not leader.running():
                self._fail('the server exited during start-up '
                           '(last probe error: %s)' % last_error)
            try:
                probe()
                return
            except Exception as exc:  # noqa: BLE001 - any probe failure
                last_error = exc
            time.sleep(0.1)
        self._fail('not ready after %.0f s (last probe error: %s)'
                   % (timeout, last_error))

    def start(self, timeout=90.0):
        raise NotImplementedError

    def stop(self, timeout=30.0):
        """Stop gracefully (SIGKILL after ``timeout``); data is kept."""
        for name in reversed(list(self.procs)):
            self.procs[name].terminate(self._stop_signal(name), timeout)
        self.procs = {}
        if os.path.isdir(self.base_dir):
            self._save()

    def kill(self):
        """SIGKILL the whole process tree at once (a crash, for tests)."""
        _signal_all(self.pids(), signal.SIGKILL)
        self.stop(timeout=5)

    def _stop_signal(self, name):
        return signal.SIGTERM

    def restart(self, timeout=90.0):
        """Stop and start again on the same ports and data."""
        self.stop()
        self.start(timeout=timeout)
        return self

    def destroy(self):
        """Stop and delete everything this server kept on disk."""
        self.stop(timeout=10)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- RabbitMQ

RABBITMQ_CONF = """\
listeners.tcp.default = {ip}:{port}
loopback_users.guest = true
log.console = false
log.file.level = info
"""


class RabbitMQ(_Service):
    """One RabbitMQ node plus its own epmd, both private to ``base_dir``.

    The node is ``mltest<port>@localhost``; AMQP, Erlang distribution and
    epmd each get a free loopback port. Running its own epmd (not the
    system's, not one shared with other nodes) keeps nodes independent and
    lets ``stop()`` reap everything. As root the node runs as root from
    ``/usr/lib/rabbitmq/bin/rabbitmq-server`` (the ``/usr/sbin`` wrapper
    would switch to the rabbitmq user and its system-wide directories).
    """

    kind = 'rabbitmq'

    def __init__(self, base_dir, port=None, die_with_parent=False):
        super().__init__(base_dir, port, die_with_parent)
        self.dist_port = None
        self.epmd_port = None

    @property
    def url(self):
        return 'rabbit://guest:guest@%s:%d/' % (LOOPBACK, self.port)

    @property
    def amqp_url(self):
        """The same broker in kombu's spelling."""
        return 'amqp://guest:guest@%s:%d//' % (LOOPBACK, self.port)

    @property
    def nodename(self):
        return 'mltest%d@localhost' % self.port

    @property
    def log_file(self):
        return os.path.join(self.base_dir, 'log', '%s.log' % self.nodename)

    def _log_files(self):
        return [self.log_file, os.path.join(self.base_dir, 'log',
                                            'stdout.log')]

    def _state_extra(self):
        return {'dist_port': self.dist_port, 'epmd_port': self.epmd_port}

    def _load_extra(self, data):
        self.dist_port = data['dist_port']
        self.epmd_port = data['epmd_port']

    def _paths(self):
        b = self.base_dir
        return {'conf': os.path.join(b, 'rabbitmq.conf'),
                'plugins': os.path.join(b, 'enabled_plugins'),
                'env': os.path.join(b, 'rabbitmq-env.conf'),
                'mnesia': os.path.join(b, 'mnesia'),
                'logs': os.path.join(b, 'log'),
                'expand': os.path.join(b, 'plugins-expand')}

    def _prepare(self):
        paths = self._paths()
        for key in ('mnesia', 'logs', 'expand'):
            os.makedirs(paths[key], exist_ok=True)
        with open(paths['conf'], 'w') as f:
            f.write(RABBITMQ_CONF.format(ip=LOOPBACK, port=self.port))
        with open(paths['plugins'], 'w') as f:
            f.write('[].\n')
        open(paths['env'], 'a').close()
        return paths

    def _env(self, paths):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('RABBITMQ_', 'ERL_'))}
        env.update({
            'HOME': self.base_dir,            # the Erlang cookie lives here
            'RABBITMQ_NODENAME': self.nodename,
            'RABBITMQ_USE_LONGNAME': 'false',
            'RABBITMQ_NODE_IP_ADDRESS': LOOPBACK,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            'ERL_EPMD_PORT': str(self.epmd_port),
            'ERL_EPMD_ADDRESS': LOOPBACK,
            'RABBITMQ_MNESIA_BASE': paths['mnesia'],
            'RABBITMQ_LOG_BASE': paths['logs'],
            'RABBITMQ_CONFIG_FILE': paths['conf'],
            'RABBITMQ_ENABLED_PLUGINS_FILE': paths['plugins'],
            'RABBITMQ_CONF_ENV_FILE': paths['env'],
            'RABBITMQ_PLUGINS_EXPAND_DIR': paths['expand'],
            'ERL_CRASH_DUMP': os.path.join(paths['logs'], 'erl_crash.dump'),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {127,0,0,1} '
                '-start_epmd false',
        })
        return env

    def _probe(self):
        import kombu  # noqa: PLC0415 - only needed once a port is open
        _require_port(self.port)
        with kombu.Connection(self.amqp_url, connect_timeout=2) as conn:
            conn.connect()
            conn.default_channel  # noqa: B018 - opens a channel: a real login

    def start(self, timeout=90.0):
        """Start (or start again) the node; return once AMQP login works."""
        if self.running():
            return self
        if not os.path.exists(RABBITMQ_SCRIPT):
            ensure_debian_packages('rabbitmq-server')
        began = time.monotonic()
        os.makedirs(self.base_dir, exist_ok=True)
        self.port = self.port or free_port()
        self.dist_port = self.dist_port or free_port()
        self.epmd_port = self.epmd_port or free_port()
        paths = self._prepare()
        env = self._env(paths)
        stdout = os.path.join(paths['logs'], 'stdout.log')
        self.procs = {}
        epmd = self._spawn('epmd', [shutil.which('epmd') or 'epmd', '-port',
                                    str(self.epmd_port), '-address',
                                    LOOPBACK], stdout, env)
        self._wait_ready(10, epmd, lambda: _require_port(self.epmd_port))
        node = self._spawn('node', [RABBITMQ_SCRIPT], stdout, env)
        self._wait_ready(timeout, node, self._probe)
        self.last_start_seconds = time.monotonic() - began
        return self

    def add_user(self, name, password):
        """Add a user with every right on vhost ``/`` (rabbitmqctl); return its transport_url."""
        ctl = os.path.join(os.path.dirname(RABBITMQ_SCRIPT), 'rabbitmqctl')
        env = self._env(self._paths())
        for args in (['add_user', name, password],
                     ['set_permissions', '-p', '/', name, '.*', '.*', '.*']):
            subprocess.run([ctl, '-n', self.nodename, *args], env=env,
                           check=True, capture_output=True, timeout=120)
        return 'rabbit://%s:%s@%s:%d/' % (name, password, LOOPBACK, self.port)


def start_rabbitmq(base_dir, port=None, timeout=90.0, die_with_parent=False):
    """Start a private RabbitMQ node in ``base_dir``; return its handle.

    ``die_with_parent`` stops the node if the calling process dies (use it
    in test sessions; the CLI's servers outlive it on purpose).
    """
    return RabbitMQ(base_dir, port, die_with_parent).start(timeout=timeout)


# ---------------------------------------------------------------- PostgreSQL

POSTGRES_CONF = """
# manila_lite private test server
listen_addresses = '{ip}'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 300
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
log_timezone = 'UTC'
timezone = 'UTC'
"""

APP_USER = APP_PASSWORD = APP_DB = 'manila'


def postgres_bindir():
    """/usr/lib/postgresql/<highest version>/bin, installing if needed."""
    def found():
        dirs = glob.glob(os.path.join(POSTGRES_LIB, '*', 'bin', 'postgres'))
        dirs.sort(key=lambda p: int(p.split('/')[-3]) if
                  p.split('/')[-3].isdigit() else 0)
        return os.path.dirname(dirs[-1]) if dirs else None
    if found() is None:
        ensure_debian_packages('postgresql')
    bindir = found()
    if bindir is None:
        raise ServiceError('no PostgreSQL server under %s' % POSTGRES_LIB)
    return bindir


def _reachable_by(path, uid, gid):
    """Can user ``uid`` traverse every directory down to ``path``?"""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        st = os.stat(os.sep.join(parts[:i]) or os.sep)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
    return True


class _DatabaseServer(_Service):
    """What the PostgreSQL and MariaDB handles share: the app URL, a random admin password, the system user, one-statement SQL."""

    system_user = None      # the server's own user when started as root

    def __init__(self, base_dir, port=None, die_with_parent=False):
        super().__init__(base_dir, port, die_with_parent)
        self.admin_password = None

    @property
    def url(self):
        return self.database_url(APP_DB)

    def _state_extra(self):
        return {'admin_password': self.admin_password}

    def _load_extra(self, data):
        self.admin_password = data['admin_password']

    def _owner(self):
        """(user name, uid, gid) the server runs as."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.system_user)
            return self.system_user, entry.pw_uid, entry.pw_gid
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_name, entry.pw_uid, entry.pw_gid

    def _own_base_dir(self, uid, gid):
        if os.geteuid() == 0:
            os.chown(self.base_dir, uid, gid)
            if not _reachable_by(self.base_dir, uid, gid):
                raise ServiceError(
                    'the %s user cannot reach %s: choose a directory whose '
                    'parents are world-traversable (e.g. under %s)'
                    % (self.system_user, self.base_dir,
                       tempfile.gettempdir()))

    def sql(self, statement, params=None, dbname=None):
        """Run one statement as the superuser (autocommit); return rows or None."""
        conn = self._connect(dbname) if dbname else self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()


class PostgreSQL(_DatabaseServer):
    """A private PostgreSQL cluster in ``base_dir`` on a loopback port.

    As root the server runs as the ``postgres`` user (PostgreSQL refuses
    root), so ``base_dir``'s parents must be traversable by that user
    (anything under /tmp is). Durability is off (fsync, full pages): this is
    a throwaway test server. Superuser ``postgres`` has a random password;
    role and database ``manila`` (password ``manila``) are created at
    initialisation.
    """

    kind = 'postgres'
    system_user = 'postgres'

    @property
    def data_dir(self):
        return os.path.join(self.base_dir, 'pgdata')

    @property
    def socket_dir(self):
        return os.path.join(self.base_dir, 'pgrun')

    @property
    def log_file(self):
        return os.path.join(self.base_dir, 'postgres.log')

    @property
    def admin_url(self):
        return ('postgresql+psycopg2://postgres:%s@%s:%d/postgres'
                % (self.admin_password, LOOPBACK, self.port))

    def database_url(self, name):
        return ('postgresql+psycopg2://%s:%s@%s:%d/%s'
                % (APP_USER, APP_PASSWORD, LOOPBACK, self.port, name))

    def _initdb(self, bindir, user, uid, gid):
        self._own_base_dir(uid, gid)
        self.admin_password = secrets.token_hex(12)
        pwfile = os.path.join(self.base_dir, '.pwfile')
        with open(pwfile, 'w') as f:
            f.write(self.admin_password + '\n')
        os.chown(pwfile, uid, gid)
        try:
            res = subprocess.run(
                [os.path.join(bindir, 'initdb'), '-D', self.data_dir,
                 '-U', 'postgres', '--pwfile', pwfile, '-E', 'UTF8',
                 '--locale', 'C', '--auth-local', 'trust',
                 '--auth-host', 'scram-sha-256', '--no-sync'],
                cwd=self.base_dir, capture_output=True, text=True,
                **self._as_user(uid, gid))
        finally:
            os.unlink(pwfile)
        if res.returncode != 0:
            raise ServiceError('initdb failed in %s:\n%s%s'
                               % (self.data_dir, res.stdout, res.stderr))

    @staticmethod
    def _as_user(uid, gid):
        if os.geteuid() == 0:
            return {'user': uid, 'group': gid, 'extra_groups': []}
        return {}

    def _write_conf(self, uid, gid):
        os.makedirs(self.socket_dir, exist_ok=True)
        os.chown(self.socket_dir, uid, gid)
        os.chmod(self.socket_dir, 0o700)
        sockets = self.socket_dir
        if len(sockets) + len('/.s.PGSQL.65535.lock') > MAX_UNIX_SOCKET_PATH:
            sockets = ''                    # path too long: TCP only
        with open(os.path.join(self.data_dir, 'postgresql.conf'), 'a') as f:
            f.write(POSTGRES_CONF.format(ip=LOOPBACK, port=self.port,
                                         sockets=sockets))

    def _connect(self, dbname='postgres'):
        import psycopg2  # noqa: PLC0415 - the venv's driver
        conn = psycopg2.connect(host=LOOPBACK, port=self.port, user='postgres',
                                password=self.admin_password, dbname=dbname,
                                connect_timeout=3)
        conn.autocommit = True
        return conn

    def _probe(self):
        _require_port(self.port)
        self._connect().close()

    def start(self, timeout=60.0):
        """Initialise on first use, start, return once a login works."""
        if self.running():
            return self
        bindir = postgres_bindir()
        began = time.monotonic()
        user, uid, gid = self._owner()
        os.makedirs(self.base_dir, exist_ok=True)
        first = not os.path.exists(os.path.join(self.data_dir, 'PG_VERSION'))
        if first:
            self.port = self.port or free_port()
            self._initdb(bindir, user, uid, gid)
            self._write_conf(uid, gid)
        self.procs = {}
        server = self._spawn('postgres', [os.path.join(bindir, 'postgres'),
                                          '-D', self.data_dir],
                             self.log_file, dict(os.environ, LC_ALL='C'),
                             user=user)
        self._wait_ready(timeout, server, self._probe)
        self._ensure_app_database()
        self.last_start_seconds = time.monotonic() - began
        return self

    def _stop_signal(self, name):
        return signal.SIGINT                # "fast" shutdown

    def _ensure_app_database(self):
        if not self.sql('SELECT 1 FROM pg_roles WHERE rolname = %s',
                        (APP_USER,)):
            self.sql("CREATE ROLE %s LOGIN PASSWORD '%s' CREATEDB"
                     % (APP_USER, APP_PASSWORD))
        if not self.sql('SELECT 1 FROM pg_database WHERE datname = %s',
                        (APP_DB,)):
            self.create_database(APP_DB)

    def create_database(self, name):
        """Create database ``name`` owned by ``manila``; return its URL."""
        self.sql('CREATE DATABASE "%s" OWNER %s' % (name, APP_USER))
        return self.database_url(name)

    def drop_database(self, name):
        """Drop ``name`` even if clients are still connected."""
        self.sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def start_postgres(base_dir, port=None, timeout=60.0, die_with_parent=False):
    """Start a private PostgreSQL cluster in ``base_dir``; return it.

    ``die_with_parent`` as for ``start_rabbitmq``.
    """
    return PostgreSQL(base_dir, port, die_with_parent).start(timeout=timeout)


# ---------------------------------------------------------------- MariaDB

MARIADB_SERVER = '/usr/sbin/mariadbd'
MARIADB_INSTALL_DB = '/usr/bin/mariadb-install-db'
# Throwaway test server: no binary log, no flush at commit, small buffers.
MARIADB_OPTIONS = (
    '--skip-log-bin', '--skip-name-resolve', '--performance-schema=OFF',
    '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0',
    '--innodb-buffer-pool-size=128M', '--innodb-log-file-size=64M',
    '--max-connections=400', '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci', '--default-time-zone=+00:00',
)
MARIADB_INIT = """\
CREATE USER IF NOT EXISTS 'root'@'{ip}' IDENTIFIED BY '{admin}';
ALTER USER 'root'@'{ip}' IDENTIFIED BY '{admin}';
GRANT ALL ON *.* TO 'root'@'{ip}' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '{user}'@'{ip}' IDENTIFIED BY '{password}';
GRANT ALL ON *.* TO '{user}'@'{ip}';
CREATE DATABASE IF NOT EXISTS `{db}`;
"""


class MariaDB(_DatabaseServer):
    """A private MariaDB server (Debian's ``mariadb-server``) in ``base_dir`` on a loopback port.

    As root the server runs as the ``mysql`` user, so ``base_dir``'s
    parents must be traversable by that user (anything under /tmp is).
    Durability is off (no flush at commit, no doublewrite, no binary log).
    An init file, read at every start, gives ``root``@127.0.0.1 a random
    password and creates user and database ``manila`` (password
    ``manila``); nothing listens but 127.0.0.1 and a socket in
    ``base_dir``.
    """

    kind = 'mariadb'
    system_user = 'mysql'

    @property
    def data_dir(self):
        return os.path.join(self.base_dir, 'data')

    @property
    def socket_path(self):
        return os.path.join(self.base_dir, 'mysqld.sock')

    @property
    def log_file(self):
        return os.path.join(self.base_dir, 'mariadb.log')

    @property
    def admin_url(self):
        return ('mysql+pymysql://root:%s@%s:%d/mysql?charset=utf8mb4'
                % (self.admin_password, LOOPBACK, self.port))

    def database_url(self, name):
        return ('mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8mb4'
                % (APP_USER, APP_PASSWORD, LOOPBACK, self.port, name))

    @property
    def _init_file(self):
        return os.path.join(self.base_dir, 'init.sql')

    def _install(self, user, uid, gid):
        self._own_base_dir(uid, gid)
        res = subprocess.run(
            [MARIADB_INSTALL_DB, '--no-defaults', '--datadir=' + self.data_dir,
             '--user=' + user, '--skip-test-db', '--skip-name-resolve',
             '--auth-root-authentication-method=socket'],
            cwd=self.base_dir, capture_output=True, text=True)
        if res.returncode != 0:
            raise ServiceError('mariadb-install-db failed in %s:\n%s%s'
                               % (self.data_dir, res.stdout[-3000:],
                                  res.stderr[-3000:]))
        self.admin_password = secrets.token_hex(12)
        fd = os.open(self._init_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(MARIADB_INIT.format(ip=LOOPBACK, admin=self.admin_password,
                                        user=APP_USER, password=APP_PASSWORD,
                                        db=APP_DB))
        os.chown(self._init_file, uid, gid)

    def _connect(self, dbname='mysql'):
        import pymysql  # noqa: PLC0415 - the venv's driver
        return pymysql.connect(host=LOOPBACK, port=self.port, user='root',
                               password=self.admin_password, database=dbname,
                               connect_timeout=3, autocommit=True)

    def _probe(self):
        _require_port(self.port)
        self._connect().close()

    def start(self, timeout=90.0):
        """Install on first use, start, return once a login works."""
        if self.running():
            return self
        if not os.path.exists(MARIADB_SERVER):
            ensure_debian_packages('mariadb-server')
        began = time.monotonic()
        user, uid, gid = self._owner()
        os.makedirs(self.base_dir, exist_ok=True)
        if not os.path.isdir(os.path.join(self.data_dir, 'mysql')):
            self.port = self.port or free_port()
            self._install(user, uid, gid)
        self.procs = {}
        argv = [MARIADB_SERVER, '--no-defaults', '--datadir=' + self.data_dir,
                '--user=' + user, '--bind-address=' + LOOPBACK,
                '--port=%d' % self.port, '--socket=' + self.socket_path,
                '--pid-file=' + os.path.join(self.base_dir, 'mariadb.pid'),
                '--log-error=' + self.log_file,
                '--init-file=' + self._init_file, *MARIADB_OPTIONS]
        server = self._spawn('mariadb', argv,
                             os.path.join(self.base_dir, 'stdout.log'),
                             dict(os.environ, LC_ALL='C'), user=user)
        self._wait_ready(timeout, server, self._probe)
        self.last_start_seconds = time.monotonic() - began
        return self

    def create_database(self, name):
        """Create database ``name`` (utf8mb4); return its URL."""
        self.sql('CREATE DATABASE `%s` CHARACTER SET utf8mb4' % name)
        return self.database_url(name)

    def drop_database(self, name):
        """Drop ``name``; clients still connected to it are disconnected first."""
        for (conn_id,) in self.sql(
                'SELECT id FROM information_schema.processlist WHERE db = %s',
                (name,)) or ():
            try:
                self.sql('KILL %d' % conn_id)
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass
        self.sql('DROP DATABASE IF EXISTS `%s`' % name)


def start_mariadb(base_dir, port=None, timeout=90.0, die_with_parent=False):
    """Start a private MariaDB server in ``base_dir``; return it.

    ``die_with_parent`` as for ``start_rabbitmq``.
    """
    return MariaDB(base_dir, port, die_with_parent).start(timeout=timeout)


KINDS = {'rabbitmq': RabbitMQ, 'postgres': PostgreSQL, 'mariadb': MariaDB}


def load(kind, base_dir):
    """The handle of the ``kind`` server whose state is in ``base_dir``."""
    return KINDS[kind].load(base_dir)


# ---------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=sorted(KINDS))
    parser.add_argument('action',
                        choices=['start', 'stop', 'restart', 'url', 'destroy'])
    parser.add_argument('--dir', required=True, help='directory of the server')
    parser.add_argument('--port', type=int, help='port (default: a free one)')
    parser.add_argument('--admin', action='store_true',
                        help='url: print the superuser URL (databases)')
    args = parser.parse_args(argv)
    try:
        if args.action == 'start':
            if os.path.exists(os.path.join(args.dir, '%s.json' % args.kind)):
                handle = load(args.kind, args.dir).start()
            else:
                handle = KINDS[args.kind](args.dir, args.port).start()
            print('started in %.1f s' % handle.last_start_seconds
                  if handle.last_start_seconds else 'already running',
                  file=sys.stderr)
        else:
            handle = load(args.kind, args.dir)
            if args.action == 'stop':
                handle.stop()
                return 0
            if args.action == 'destroy':
                handle.destroy()
                return 0
            if args.action == 'restart':
                handle.restart()
    except ServiceError as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    print(handle.admin_url if args.admin and args.kind != 'rabbitmq'
          else handle.url)
    return 0


if __name__ == '__main__':
    sys.exit(main())
