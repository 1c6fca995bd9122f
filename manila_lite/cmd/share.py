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

from manila_lite.cmd import preflight
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


def _fail(line, code, logged=False):
    """Report a start-up failure in one line; return the exit code.

    The line goes to stderr (a terminal, systemd's journal), and once
    logging is set up to the log too, unless the log already is stderr or
    the journal.
    """
    if logged:
        LOG.error('%s', line)
    if not logged or not (CONF.use_stderr or CONF.use_journal):
        sys.stderr.write('manila-lite-share: %s\n' % line)
    return code


class _Signals:
    """SIGTERM and SIGINT ask for a stop, SIGHUP for a reload of the mutable options."""

    def __init__(self):
        self.stop = threading.Event()
        self.reload = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())


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


def _why(exc):
    """One line saying why a service did not start."""
    from manila_lite.db import api as db_api
    if not isinstance(exc, exception.ManilaException):
        exc = db_api.describe_database_error(exc) or exc
    if isinstance(exc, exception.ManilaException):
        return ' '.join(str(exc).split())
    # A DB-API error's first line, without SQLAlchemy's statement dump.
    orig = getattr(getattr(exc, 'inner_exception', None) or exc, 'orig',
                   None) or exc
    lines = str(orig).strip().splitlines() or ['']
    return '%s: %s' % (type(orig).__name__, lines[0])


def _expected(exc):
    """A failure its one line explains (ours or the database's): no traceback, even at DEBUG."""
    from oslo_db import exception as db_exc
    import sqlalchemy
    return isinstance(exc, (exception.ManilaException, db_exc.DBError,
                            sqlalchemy.exc.SQLAlchemyError))


def _start_services(services, stop):
    """Start every service, each in its own thread; return (started, still starting).

    A service that fails is logged in one line (an unexpected error's
    traceback at DEBUG) and stopped; the others go on. Returns early, when
    ``stop`` is set, with those still starting in the second list.
    """
    failures = {}

    def start(svc):
        try:
            svc.start()
        except Exception as exc:
            failures[svc] = exc
    threads = [threading.Thread(target=start, args=(svc,), daemon=True,
                                name='start-%s' % getattr(svc, 'host', i))
               for i, svc in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not stop.is_set():
            thread.join(0.2)
    started, pending = [], []
    for thread, svc in zip(threads, services):
        if thread.is_alive():
            pending.append(svc)
            continue
        if svc not in failures:
            started.append(svc)
            continue
        exc = failures[svc]
        LOG.error('Backend %(be)s (%(host)s) did not start: %(why)s',
                  {'be': getattr(svc, 'backend', None),
                   'host': getattr(svc, 'host', None), 'why': _why(exc)})
        if not _expected(exc):
            LOG.debug('Start-up failure of %s', getattr(svc, 'host', svc),
                      exc_info=exc)
        _stop_quietly(svc)
    return started, pending


def _stop_quietly(svc):
    try:
        svc.stop()
    except Exception:
        LOG.exception('Error stopping %s.', getattr(svc, 'host', svc))


def _serve(services, signals=None):
    """Start the services, serve until SIGTERM/SIGINT, stop them; return the exit code.

    Exits 1 at once when no service started. SIGHUP reloads the mutable
    options. systemd (Type=notify) is told the daemon is ready once every
    service that could start did.
    """
    # Imported before a stop can begin: the shutdown watchdog must not
    # count an import.
    from manila_lite.db import api as db_api
    from oslo_service import systemd
    signals = signals or _Signals()
    started, pending = _start_services(services, signals.stop)
    if not started and not signals.stop.is_set():
        LOG.error('No backend started (%d of %d failed); exiting.',
                  len(services), len(services))
        return preflight.EXIT_FAILED
    if len(started) < len(services) and not signals.stop.is_set():
        LOG.warning('Serving %(n)d of %(of)d backends: %(hosts)s.',
                    {'n': len(started), 'of': len(services),
                     'hosts': ', '.join(s.host for s in started)})
    systemd.notify_once()
    while not signals.stop.wait(0.5):
        if signals.reload.is_set():
            signals.reload.clear()
            LOG.info('SIGHUP: reloading mutable options.')
            CONF.mutate_config_files()
            for svc in started:
                svc.reset()
    LOG.info('SIGTERM: stopping; in-flight operations finish first.')
    _exit_if_not_done_within(CONF.graceful_shutdown_timeout)
    db_api.stop_retrying()
    for svc in started + pending:
        _stop_quietly(svc)
    return preflight.EXIT_OK


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
    signals = _Signals()
    with _start_up_gc():
        started = _start(argv, signals)
    if isinstance(started, int):
        return started
    return _serve(started, signals)


def _parse(argv):
    """Parse and check the configuration; an exit code on failure, else None."""
    from manila_lite.cmd import config_check
    from manila_lite import conf as ml_conf  # noqa: F401  (registers options)
    logging.register_options(CONF)
    # A request's resource tag reads "[share instance <id> of share <id>] "
    # (see share.guard), instead of oslo.log's "[instance: <id>] ".
    CONF.set_default('instance_uuid_format', '[%(uuid)s] ')
    gmr_opts.set_defaults(CONF)
    service_opts.register_service_opts(CONF)  # graceful_shutdown_timeout
    try:
        CONF(sys.argv[1:] if argv is None else argv, project='manila',
             prog='manila-lite-share', version=version.VERSION)
    except (cfg.Error, ValueError) as exc:
        return _fail(preflight.parse_error_line(exc), preflight.EXIT_CONFIG)
    try:
        config_check.check_service_config(CONF)
    except exception.ConfigError as exc:
        return _fail(str(exc), preflight.EXIT_CONFIG)
    return None


def _start(argv, signals):
    """Check the config, set up logging, transport and database, build the services (or an exit code)."""
    # Imported here, with the cyclic collector off (see _start_up_gc).
    failed = _parse(argv)
    if failed is not None:
        return failed
    logging.setup(CONF, 'manila')
    concurrency.warn_if_eventlet(LOG)
    _setup_guru_meditation()
    try:
        preflight.init_transport(CONF)
        services = _build_services()      # loads drivers, connects nothing
        preflight.wait_for_database(CONF.database.max_retries,
                                    CONF.database.retry_interval,
                                    stopping=signals.stop)
    except exception.ManilaException as exc:
        error = exc
    else:
        LOG.info('manila-lite-share %(ver)s serving %(hosts)s (backend: '
                 '%(be)s).', {'ver': version.VERSION,
                              'hosts': [s.host for s in services],
                              'be': concurrency.select()})
        return services
    # Logged outside the handler: oslo.log would append the exception.
    if signals.stop.is_set():
        return preflight.EXIT_OK
    if isinstance(error, (exception.DatabaseUnavailable,
                          exception.DatabaseSchemaMissing)):
        return _fail(str(error), preflight.EXIT_FAILED, logged=True)
    line = str(error)
    if not isinstance(error, exception.ConfigError):
        line = 'Invalid configuration: %s' % line
    return _fail(line, preflight.EXIT_CONFIG, logged=True)


if __name__ == '__main__':
    sys.exit(main())
