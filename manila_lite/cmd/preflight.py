"""Checks every command runs before it works, each failure one line: configuration, transport URL, database.

One style for every message an operator reads on stderr or in the log::

    Invalid configuration: [section] option: why
    Database unreachable: why
    Database schema missing: why; create it with ...

and one meaning for exit codes: ``EXIT_CONFIG`` (2) when the configuration
must change before a retry can pass (systemd's unit does not restart on
it), ``EXIT_FAILED`` (1) for a failure that may pass by itself (a database
that is down, a schema not created yet).
"""

import logging as std_logging
import time

from oslo_config import cfg
from oslo_log import log as logging

from manila_lite.conf import validation
from manila_lite import exception

LOG = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

# Shared with the library (network plugins check their sections too).
_LOCATION = validation.LOCATION
_one_line = validation.one_line
option_error = validation.option_error
read_options = validation.read_options


def cli_logging_defaults(conf):
    """Before parsing: a command logs to stderr, and not the libraries' retry chatter (broker, stevedore)."""
    logging.register_options(conf)
    conf.set_default('use_stderr', True)
    logging.set_defaults(default_log_levels=(
        logging.get_default_log_levels() +
        ['stevedore=ERROR', 'oslo.messaging=CRITICAL',
         'oslo_messaging=CRITICAL']))


def setup_cli_logging(conf):
    """After parsing: stderr carries warnings and the one-line errors only, unless --debug."""
    logging.setup(conf, 'manila_lite')
    if not conf.debug:
        std_logging.getLogger().setLevel(std_logging.WARNING)


def parse_error_line(exc):
    """One line for an error oslo.config raised while parsing files and arguments."""
    if isinstance(exc, cfg.ConfigFilesNotFoundError):
        return ('Invalid configuration: cannot read config file(s): %s'
                % ', '.join(exc.config_files))
    if isinstance(exc, cfg.ConfigFileParseError):
        return 'Invalid configuration: %s: %s' % (exc.config_file, exc.msg)
    if isinstance(exc, cfg.ConfigFileValueError):
        return str(option_error('DEFAULT', '?', exc)).replace(
            '[DEFAULT] ?: ', '')
    text = _one_line(str(exc).splitlines()[0] if str(exc) else repr(exc))
    return 'Invalid configuration: %s' % _LOCATION.sub('', text)


def init_transport(conf):
    """Create the process's RPC transport; a bad ``transport_url`` becomes one ConfigError."""
    from manila_lite import rpc
    import oslo_messaging as messaging
    # stevedore would log its own WARNING for an unknown scheme first.
    quiet = std_logging.getLogger('stevedore')
    level = quiet.level
    quiet.setLevel(std_logging.ERROR)
    try:
        rpc.init(conf)
    except messaging.DriverLoadFailure as exc:
        raise exception.ConfigError(
            section='DEFAULT', option='transport_url',
            reason='unknown transport scheme %r (installed: %s)'
                   % (exc.driver, ', '.join(_transport_schemes()))) from None
    except (messaging.InvalidTransportURL, ValueError) as exc:
        raise exception.ConfigError(
            section='DEFAULT', option='transport_url',
            reason=_one_line(exc)) from None
    finally:
        quiet.setLevel(level)


def _transport_schemes():
    import importlib.metadata
    return sorted({ep.name for ep in importlib.metadata.entry_points(
        group='oslo.messaging.drivers')})


def check_database():
    """One look at the database, no retries (commands): raise a one-line error or return."""
    from manila_lite.db import api as db_api
    db_api.check_database()


def wait_for_database(attempts, interval, stopping=None):
    """Check the database at start-up, trying ``attempts`` times (-1: forever) while it is unreachable.

    Paced by oslo.db's start-up options (``[database] max_retries``,
    ``retry_interval``), one WARNING line per failed attempt. A refused
    login, a missing database or schema raise at once: waiting would not
    change them. ``stopping`` (an Event) ends the wait early.
    """
    from manila_lite.db import api as db_api
    tried = 0
    while True:
        try:
            return db_api.check_database()
        except exception.DatabaseUnavailable as exc:
            tried += 1
            if 0 <= attempts <= tried or (stopping is not None and
                                          stopping.is_set()):
                raise
            LOG.warning('%(exc)s (attempt %(n)d of %(of)s; next in %(s)s s, '
                        '[database] max_retries, retry_interval)',
                        {'exc': exc, 'n': tried,
                         'of': attempts if attempts >= 0 else 'unlimited',
                         's': interval})
        if stopping is not None:
            if stopping.wait(interval):
                raise exception.DatabaseUnavailable(
                    reason='stopped while waiting for the database')
        else:
            time.sleep(interval)
