"""manila-lite-status: ``upgrade check`` (oslo.upgradecheck), as upstream's manila-status: database, schema, broker, backends.

Each check answers Success, Warning or Failure with a one-line detail;
the exit code is the worst result (0, 1, 2; 255 for an error of the
command itself), so a deployment tool can gate on it::

    manila-lite-status --config-file /etc/manila/manila.conf upgrade check
"""

import manila_lite.cmd  # noqa: F401  (selects the concurrency backend first)

import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from manila_lite.cmd import preflight
from manila_lite import exception
from manila_lite import version

CONF = cfg.CONF
PROG = 'manila-lite-status'
BROKER_TIMEOUT = 5      # seconds to open one broker connection

Code = upgradecheck.Code
Result = upgradecheck.Result


def _failure(exc):
    return Result(Code.FAILURE, ' '.join(str(exc).split()))


class Checks(upgradecheck.UpgradeCommands):
    """The checks of ``upgrade check``; one per backend is added at run time."""

    display_title = 'manila-lite upgrade check'

    def check(self):
        backends = CONF.enabled_share_backends or []
        self._upgrade_checks = (
            ('Database', Checks._check_database),
            ('Database schema', Checks._check_schema),
            ('Message broker', Checks._check_broker),
        ) + tuple(
            ('Backend %s' % name, (Checks._check_backend, {'name': name}))
            for name in backends) + (
            ('Share services', Checks._check_services),)
        return super().check()

    def _check_database(self):
        from manila_lite.db import api as db_api
        try:
            db_api.check_database(schema=False)
        except exception.ManilaException as exc:
            return _failure(exc)
        return Result(Code.SUCCESS, 'reachable')

    def _check_schema(self):
        from manila_lite.db import api as db_api
        from manila_lite.db import migration
        try:
            db_api.check_database()
            owner = migration.schema_owner()
            current = migration.db_version()
        except exception.ManilaException as exc:
            return _failure(exc)
        head = migration.head_revision()
        if owner == 'manila_lite':
            if current != head:
                return Result(Code.FAILURE, 'at revision %s, expected %s: '
                              'run "manila-lite-manage db sync"'
                              % (current, head))
            return Result(Code.SUCCESS, 'manila_lite schema at %s' % head)
        if owner == migration.UPSTREAM_OWNER:
            return Result(Code.SUCCESS, 'upstream manila schema (revision '
                          '%s), migrated by manila-manage' % current)
        return Result(Code.FAILURE, 'tables of %s; neither manila_lite nor '
                      'upstream manila migrated this database' % owner)

    def _check_broker(self):
        try:
            return _broker_result()
        except exception.ConfigError as exc:
            return _failure(exc)

    def _check_backend(self, name):
        from manila_lite.cmd import config_check
        from manila_lite.share import manager as share_manager
        try:
            config_check.check_backend(CONF, name)
            manager = share_manager.ShareManager(
                host='%s@%s' % (CONF.host, name), service_name=name)
        except exception.ManilaException as exc:
            return _failure(exc)
        except Exception as exc:
            return Result(Code.FAILURE, 'driver of [%s] could not be built: '
                          '%s: %s' % (name, type(exc).__name__,
                                      ' '.join(str(exc).split())))
        driver = type(manager.driver)
        return Result(Code.SUCCESS, 'driver %s.%s loads, options valid'
                      % (driver.__module__, driver.__name__))

    def _check_services(self):
        """This host's share services: registered and heartbeating (a warning otherwise: maybe not started yet)."""
        from manila_lite.cmd import manage
        from manila_lite import context
        from manila_lite.db import api as db_api
        try:
            db_api.check_database()
            rows = db_api.service_get_all(context.get_admin_context(),
                                          topic=CONF.share_topic)
        except exception.ManilaException as exc:
            return _failure(exc)
        wanted = ['%s@%s' % (CONF.host, b)
                  for b in CONF.enabled_share_backends or []]
        by_host = {row['host']: row for row in rows}
        down = [h for h in wanted
                if h not in by_host or not manage.service_is_up(by_host[h])]
        if down:
            return Result(Code.WARNING, 'not heartbeating (stopped, not '
                          'started yet, or failed to start): %s'
                          % ', '.join(down))
        return Result(Code.SUCCESS, 'up: %s' % (', '.join(wanted) or 'none'))


def _broker_result():
    """Open (and close) one connection to a broker of ``transport_url``."""
    import oslo_messaging as messaging
    preflight.init_transport(CONF)      # an unknown scheme: ConfigError
    url = messaging.TransportURL.parse(CONF, CONF.transport_url)
    if url.transport == 'fake':
        return Result(Code.SUCCESS, 'fake transport (tests only)')
    if url.transport not in ('rabbit', 'kombu'):
        return Result(Code.WARNING, 'transport %s is not checked'
                      % url.transport)
    errors = []
    for host in url.hosts or [messaging.TransportHost()]:
        where = '%s:%s' % (host.hostname or 'localhost', host.port or 5672)
        try:
            _connect_rabbit(url, host)
        except Exception as exc:
            errors.append('%s: %s' % (where, ' '.join(str(exc).split())))
        else:
            return Result(Code.SUCCESS, 'reachable at %s' % where)
    return Result(Code.FAILURE, 'Message broker unreachable: %s'
                  % '; '.join(errors))


def _connect_rabbit(url, host):
    import kombu
    opts = CONF.oslo_messaging_rabbit
    connection = kombu.Connection(
        hostname=host.hostname or 'localhost', port=host.port or 5672,
        userid=host.username or 'guest', password=host.password or 'guest',
        virtual_host=url.virtual_host or '/', ssl=bool(opts.ssl),
        connect_timeout=BROKER_TIMEOUT)
    try:
        connection.connect()
    finally:
        connection.release()


def main(argv=None):
    """Console-script entry point of manila-lite-status."""
    from manila_lite import conf as ml_conf  # noqa: F401  (registers options)
    argv = sys.argv[1:] if argv is None else list(argv)
    upgradecheck.register_cli_options(CONF, Checks())
    preflight.cli_logging_defaults(CONF)
    try:
        CONF(argv, project='manila', prog=PROG, version=version.VERSION)
        preflight.read_options(CONF, 'DEFAULT', list(CONF))
    except (cfg.Error, ValueError, exception.ConfigError) as exc:
        line = (str(exc) if isinstance(exc, exception.ConfigError)
                else preflight.parse_error_line(exc))
        print('%s: %s' % (PROG, line), file=sys.stderr)
        return preflight.EXIT_CONFIG
    preflight.setup_cli_logging(CONF)
    from manila_lite.db import api as db_api
    db_api.stop_retrying()          # a check answers, it does not wait
    upgradecheck.CONF = CONF        # for --json
    try:
        return upgradecheck.run(CONF)
    finally:
        db_api.resume_retrying()


if __name__ == '__main__':
    sys.exit(main())
