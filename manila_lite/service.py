"""One backend's service: the services-table heartbeat, the RPC server and the periodic timer."""

import functools
import random
import threading

import manila_lite.concurrency  # noqa: F401  (selects the backend first)

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_service import loopingcall
from oslo_service import service as oslo_service
from oslo_utils import timeutils

from manila_lite.common import constants as c
from manila_lite import context as ml_context
from manila_lite import coordination
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite import rpc
from manila_lite.share import backlog
from manila_lite.share import guard
from manila_lite.share import manager as share_manager

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

DRIVER_SETUP_FIRST_INTERVAL = 2
DRIVER_SETUP_MAX_INTERVAL = 600


class Service(oslo_service.Service):
    """Serves one backend as ``<host>@<backend>`` on the share topic.

    The constructor only builds objects; threads, connections and the
    driver set-up start in ``start()`` (the launcher may fork after
    building services).
    """

    def __init__(self, host, backend=None, binary=c.SERVICE_BINARY,
                 topic=None):
        super().__init__()
        self.host = host
        self.backend = backend
        self.binary = binary
        self.topic = topic or CONF.share_topic
        self.manager = share_manager.ShareManager(host=host,
                                                  service_name=backend)
        # What the reconciliation asks before it settles a row (markers on
        # this service's queue); opens nothing until used.
        self.manager.backlog = backlog.Backlog(self.topic, self.host)
        self.service_id = None
        self.rpcserver = None
        self._timers = []
        self._stopping = threading.Event()
        self._rpc_lock = threading.Lock()
        self._ensure_thread = None

    # -- start ---------------------------------------------------------------
    def start(self):
        """Register, start the timers and the init thread: consume RPC, set the driver up, ensure.

        Returns once the services row is written; the init thread waits
        for the broker if it is unreachable (a stop meanwhile is not held
        up by it). Requests are taken before the driver set-up ends: those
        that need the driver wait for its first attempt
        (ShareManager._wait_for_driver_setup). If that attempt fails,
        consuming stops until a retry passes, so requests wait in the
        broker rather than fail.
        """
        ctx = ml_context.get_admin_context()
        self.service_id = self._register(ctx)
        coordination.LOCK_COORDINATOR.start()
        self.manager._driver_setup_started()
        self._start_timers()
        self._ensure_thread = threading.Thread(
            target=self._set_up_and_init_host,
            name='init-host-%s' % self.backend, daemon=True)
        self._ensure_thread.start()

    def _start_rpc(self):
        """Consume the backend's queue; blocks while the broker is unreachable."""
        with self._rpc_lock:
            if self._stopping.is_set() or self.rpcserver is not None:
                return
            target = messaging.Target(topic=self.topic, server=self.host)
            server = self._new_server(target)
        # Not under the lock: start() retries the broker for as long as
        # it is down, and stop() must not wait for that.
        server = self._start_server(server, target)
        if server is None:
            return
        with self._rpc_lock:
            stopped_meanwhile = self._stopping.is_set()
            if not stopped_meanwhile:
                self.rpcserver = server
        if stopped_meanwhile:
            self._stop_server(server)
            return
        LOG.info('%(host)s is consuming RPC on topic %(topic)s.',
                 {'host': self.host, 'topic': self.topic})
        self.manager.init_host_with_rpc()

    def _start_server(self, server, target):
        """Start ``server``; a broker that refuses us (a wrong login) is one line and a later try.

        oslo.messaging retries a broker that is down, but raises on a
        refused login; the init thread must not die of it. None when a stop
        came first.
        """
        delay = 1
        while True:
            try:
                server.start()
                return server
            except Exception as exc:
                LOG.error('%(host)s cannot consume RPC: %(why)s; trying '
                          'again in %(delay)d s.',
                          {'host': self.host, 'delay': delay,
                           'why': ' '.join(str(exc).split())})
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, 30)
            server = self._new_server(target)

    def _new_server(self, target):
        return rpc.get_server(
            target, [self.manager, self.manager.backlog.endpoint],
            on_take=functools.partial(guard.hold_message,
                                      self.manager.in_flight))

    def _stop_rpc(self):
        """Stop consuming and wait for the requests being served."""
        with self._rpc_lock:
            server, self.rpcserver = self.rpcserver, None
        if server is not None:
            self._stop_server(server)

    def _stop_server(self, server):
        try:
            server.stop()
            server.wait()
        except Exception:
            LOG.exception('Error stopping the RPC server of %s.', self.host)

    def _set_up_and_init_host(self):
        """The init thread: consume RPC, driver set-up, then the start-up ensure."""
        try:
            self._start_rpc()
            ready = (not self._stopping.is_set() and
                     self._try_driver_setup(DRIVER_SETUP_FIRST_INTERVAL))
        finally:
            self.manager._driver_setup_finished()
        if self._stopping.is_set():
            return
        if not ready:
            LOG.warning('%s stops consuming RPC until its driver is set up.',
                        self.host)
            self._stop_rpc()
            self._stopping.wait(DRIVER_SETUP_FIRST_INTERVAL)
            if not self._set_up_driver(DRIVER_SETUP_FIRST_INTERVAL * 2):
                return
            self._start_rpc()
        if not self._stopping.is_set():
            self._init_host()

    def _register(self, ctx):
        try:
            row = db_api.service_get_by_args(ctx, self.host, self.binary)
            db_api.service_update(ctx, row['id'],
                                  {'state': c.SERVICE_STATE_DOWN})
            return row['id']
        except exception.ServiceNotFound:
            row = db_api.service_create(ctx, {
                'host': self.host, 'binary': self.binary,
                'topic': self.topic, 'state': c.SERVICE_STATE_UP,
                'report_count': 0,
                'disabled': not CONF.enable_new_services,
                'availability_zone': self.manager.availability_zone})
            return row['id']

    def _try_driver_setup(self, retry_in):
        """One driver set-up attempt; False (logged) if it failed."""
        try:
            self.manager.init_driver()
            return True
        except Exception as exc:
            LOG.error('Driver set-up of %(host)s failed (%(cls)s: '
                      '%(exc)s); retrying in %(sec)s s.',
                      {'host': self.host, 'cls': type(exc).__name__,
                       'exc': exc, 'sec': retry_in})
            return False

    def _set_up_driver(self, interval=DRIVER_SETUP_FIRST_INTERVAL):
        """Retry the driver set-up with backoff; False if the service stopped first."""
        while not self._stopping.is_set():
            if self._try_driver_setup(interval):
                return True
            self._stopping.wait(interval)
            interval = min(interval * 2, DRIVER_SETUP_MAX_INTERVAL)
        return False

    def _init_host(self):
        try:
            self.manager.init_host(service_id=self.service_id)
        except Exception:
            LOG.exception('Start-up ensure of %s failed.', self.host)

    def _start_timers(self):
        heartbeat = loopingcall.FixedIntervalLoopingCall(self.report_state)
        heartbeat.start(interval=CONF.report_interval,
                        initial_delay=CONF.report_interval)
        self._timers.append(heartbeat)
        cleanup = loopingcall.FixedIntervalLoopingCall(self.cleanup_services)
        cleanup.start(interval=CONF.cleanup_interval,
                      initial_delay=CONF.cleanup_interval)
        self._timers.append(cleanup)
        delay = (random.randint(0, CONF.periodic_fuzzy_delay)
                 if CONF.periodic_fuzzy_delay else None)
        # Woken when the next task is due (each task keeps its own
        # spacing, e.g. transitional_state_check_interval), and at least
        # every periodic_interval.
        periodic = loopingcall.DynamicLoopingCall(self.periodic_tasks)
        periodic.start(initial_delay=delay,
                       periodic_interval_max=CONF.periodic_interval)
        self._timers.append(periodic)

    # -- timers ------------------------------------------------------------------
    def report_state(self):
        """Heartbeat: bump report_count and updated_at of our services row.

        Never raises (an exception would end the looping call for good):
        a beat that fails, e.g. while the database restarts, is logged and
        the next one tries again.
        """
        try:
            self._report_state()
        except Exception as exc:
            LOG.error('Heartbeat of %(host)s failed: %(cls)s: %(exc)s',
                      {'host': self.host, 'cls': type(exc).__name__,
                       'exc': exc})

    def _report_state(self):
        if not self.manager.is_service_ready():
            return
        ctx = ml_context.get_admin_context()
        try:
            db_api.service_report_heartbeat(
                ctx, self.service_id,
                availability_zone=self.manager.availability_zone)
        except exception.ServiceNotFound:
            LOG.warning('Services row of %s vanished; registering again.',
                        self.host)
            self.service_id = self._register(ctx)
            self.manager.service_id = self.service_id

    def periodic_tasks(self):
        """Run the due periodic tasks; returns seconds until the next one is due (None: periodic_interval)."""
        ctx = ml_context.get_admin_context()
        try:
            return self.manager.periodic_tasks(ctx)
        except Exception:
            LOG.exception('Periodic tasks of %s failed.', self.host)
            return None

    def cleanup_services(self):
        """Timer (cleanup_interval): remove the stopped services of our topic, as upstream's does."""
        try:
            removed = db_api.service_soft_delete_stopped(
                ml_context.get_admin_context(), self.topic)
        except Exception as exc:
            LOG.error('Clean-up of stopped services failed: %(cls)s: '
                      '%(exc)s', {'cls': type(exc).__name__, 'exc': exc})
            return
        if removed:
            LOG.info('Removed %d stopped services of topic %s.', removed,
                     self.topic)

    # -- stop ----------------------------------------------------------------------
    def stop(self, graceful=True):
        """Stop consuming, let in-flight operations finish, mark the row stopped."""
        self._stopping.set()
        # Requests waiting for a driver set-up attempt fail at once.
        self.manager._driver_setup_finished()
        self._stop_rpc()
        for timer in self._timers:
            timer.stop()
        self._timers = []
        if self.service_id is not None:
            try:
                db_api.service_update(ml_context.get_admin_context(),
                                      self.service_id,
                                      {'state': c.SERVICE_STATE_STOPPED})
            except Exception:
                LOG.exception('Could not mark %s stopped.', self.host)
        LOG.info('%s stopped.', self.host)

    def wait(self):
        pass

    def reset(self):
        """SIGHUP: options were mutated; nothing to rebuild (spacings need a restart)."""
        LOG.info('%s reloaded mutable options.', self.host)


def is_up(service_row, now=None):
    """Return whether a services row's heartbeat is within service_down_time."""
    last = service_row['updated_at'] or service_row['created_at']
    if last is None:
        return False
    now = now or timeutils.utcnow()
    return abs((now - last).total_seconds()) <= CONF.service_down_time
