"""manila-lite-share: parse the config, check it, set up logging and serve every enabled backend."""

import manila_lite.cmd  # noqa: F401  (must stay first: selects the backend)

import contextlib
import gc
import os
import signal
import sys
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_reports import opts as gmr_opts
from oslo_service import opts as service_opts

from manila_lite import concurrency
from manila_lite import exception
from manila_lite import version

CONF = cfg.CONF
LOG = logging.getLogger('manila_lite.share')

# Cyclic collection thresholds of the daemon. Reading thousands of rows
# through the ORM (start-up ensure, periodic tasks) allocates millions of
# container objects; with Python's default (700, 10, 10) the collector then
# takes about as much CPU as the reads themselves (half of a 10,000-share
# ensure). Collections stay regular, so cyclic garbage is still freed.
GC_THRESHOLD = (10000, 10, 10)


def _fail(line):
    sys.stderr.write('manila-lite-share: %s\n' % line)
    return 2


@contextlib.contextmanager
def _start_up_gc():
    """No cyclic garbage collection while the process imports and builds its services.

    Start-up creates hundreds of thousands of long-lived objects (modules,
    classes, ORM mappers) and almost no garbage, yet each of them counts
    towards the next collection: collecting during start-up only walks
    them again and again. Afterwards they are frozen (never walked again,
    which also makes every later full collection cheaper) and collection
    is switched back on, with GC_THRESHOLD.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLD)
        if enabled:
            gc.enable()


def _setup_guru_meditation():
    """Guru meditation reports on SIGUSR2 (or a watched file), as upstream.

    The report code (jinja2, psutil) is imported when a report is asked
    for, not at start-up; a watched file needs it at once.
    """
    if CONF.oslo_reports.file_event_handler or not hasattr(signal,
                                                           'SIGUSR2'):
        from oslo_reports import guru_meditation_report as gmr
        gmr.TextGuruMeditation.setup_autorun(version, conf=CONF)
        return
    log_dir = CONF.oslo_reports.log_dir

    def report(signum, frame):
        from oslo_reports import guru_meditation_report as gmr
        gmr.TextGuruMeditation.handle_signal(version, None, log_dir, frame)
    signal.signal(signal.SIGUSR2, report)


def _build_services():
    from manila_lite import service
    if CONF.enabled_share_backends:
        return [service.Service('%s@%s' % (CONF.host, name), backend=name)
                for name in CONF.enabled_share_backends]
    return [service.Service(CONF.host)]


def _serve(services):
    # db.api imported now: importing it once the stop's deadline runs
    # (seconds on a loaded host) would eat into graceful_shutdown_timeout.
    from manila_lite.db import api as db_api
    from oslo_service import service as oslo_service
    launcher = oslo_service.Launcher(CONF, restart_method='mutate')
    stop = threading.Event()
    reload = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    for svc in services:
        launcher.launch_service(svc)
    while not stop.wait(0.5):
        if reload.is_set():
            reload.clear()
            LOG.info('SIGHUP: reloading mutable options.')
            launcher.restart()
    LOG.info('SIGTERM: stopping; in-flight operations finish first.')
    _exit_if_not_done_within(CONF.graceful_shutdown_timeout)
    db_api.stop_retrying()
    launcher.stop()
    return 0


def _exit_if_not_done_within(seconds):
    """Exit with status 1 (one log line) if the process still runs ``seconds`` from now; 0: no bound.

    As upstream's graceful_shutdown_timeout: a driver call or database
    operation that hangs must not keep a stopping service alive forever.
    Requests it had not begun stay on the broker (see
    rpc.BoundedIntakeRPCServer); those in flight are settled at the next
    start by the reconciliation of transitional states.
    """
    if not seconds:
        return

    def watchdog():
        time.sleep(seconds)
        LOG.error('Graceful shutdown not done within %d s '
                  '(graceful_shutdown_timeout); exiting now.', seconds)
        os._exit(1)
    threading.Thread(target=watchdog, name='shutdown-watchdog',
                     daemon=True).start()


def main(argv=None):
    with _start_up_gc():
        started = _start(argv)
    if isinstance(started, int):
        return started
    return _serve(started)


def _start(argv):
    """Parse and check the config, set up logging and build the services (or an exit code)."""
    # Imported here, with the cyclic collector off (see _start_up_gc).
    from manila_lite.cmd import config_check
    from manila_lite import conf as ml_conf  # noqa: F401  (registers options)
    from manila_lite import rpc
    logging.register_options(CONF)
    gmr_opts.set_defaults(CONF)
    service_opts.register_service_opts(CONF)  # graceful_shutdown_timeout
    try:
        CONF(sys.argv[1:] if argv is None else argv, project='manila',
             prog='manila-lite-share', version=version.VERSION)
    except (cfg.Error, ValueError) as exc:
        return _fail('invalid configuration: %s' % exc)
    try:
        config_check.check_service_config(CONF)
    except exception.ConfigError as exc:
        return _fail(str(exc))
    logging.setup(CONF, 'manila')
    concurrency.warn_if_eventlet(LOG)
    _setup_guru_meditation()
    rpc.init(CONF)
    try:
        services = _build_services()
    except exception.ConfigError as exc:
        return _fail(str(exc))
    except exception.ManilaException as exc:
        return _fail('invalid configuration: %s' % exc)
    LOG.info('manila-lite-share %(ver)s serving %(hosts)s (backend: %(be)s).',
             {'ver': version.VERSION, 'hosts': [s.host for s in services],
              'be': concurrency.select()})
    return services


if __name__ == '__main__':
    sys.exit(main())
