"""manila-lite-manage: database sync/version, service list and share admin commands."""

import manila_lite.cmd  # noqa: F401  (selects the concurrency backend first)

import sys
import time

from oslo_config import cfg
from oslo_db import exception as db_exception
from oslo_log import log as logging
from oslo_utils import timeutils
import sqlalchemy

from manila_lite.cmd import preflight
from manila_lite.common import constants
from manila_lite.common import message_field
from manila_lite import conf as ml_conf  # noqa: F401  (registers options)
from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite import version

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PROG = 'manila-lite-manage'
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_INTERVAL = 1.0
PROGRESS_EVERY = 10.0
SEND_BOUND = 20.0      # seconds a send may wait for the broker without --wait


def _arg(*names, **kwargs):
    return names, kwargs


_WAIT_HELP = 'Poll until the operation finished, for at most SECONDS.'
_PROJECT_ARGS = [
    _arg('--project-id', default='admin',
         help='Project that owns the share and is charged quota.'),
    _arg('--user-id', default='admin', help='User recorded on the share.'),
]

# category -> action -> (handler name, argparse arguments)
COMMANDS = {
    'db': {
        'sync': ('db_sync', [_arg('version', nargs='?', default=None,
                                  help='Target revision (default: head).')]),
        'version': ('db_version', []),
    },
    'service': {
        'list': ('service_list', []),
    },
    'share': {
        'create': ('share_create', [
            _arg('--size', type=int, required=True, help='Size in GiB.'),
            _arg('--proto', default='NFS', help='Share protocol.'),
            # A dest must not be 'name' (oslo.config answers the category
            # name for it) nor shadow a [DEFAULT] option (it refuses those).
            _arg('--host', dest='share_host', required=True,
                 help='Backend to create the share on: host@backend#pool.'),
            _arg('--name', dest='display_name', default=None,
                 help='Display name.'),
            _arg('--description', default=None, help='Display description.'),
            _arg('--share-type', default=None,
                 help='Share type name (default: "default", created with '
                      'driver_handles_share_servers=False when missing).'),
            _arg('--wait', type=float, default=None, metavar='SECONDS',
                 help=_WAIT_HELP),
        ] + _PROJECT_ARGS),
        'list': ('share_list', []),
        'show': ('share_show', [_arg('share_id', help='Share id.')]),
        'delete': ('share_delete', [
            _arg('share_id', help='Share id.'),
            _arg('--force', action='store_true', default=False,
                 help='Delete whatever the status; a share whose host has '
                      'no share service (never registered) is removed '
                      'from the database at once.'),
            _arg('--wait', type=float, default=None, metavar='SECONDS',
                 help=_WAIT_HELP),
        ]),
        'reset-state': ('share_reset_state', [
            _arg('share_id', help='Share id.'),
            _arg('--state', default=constants.STATUS_AVAILABLE,
                 help='New status (default: available), as upstream\'s '
                      'reset_status admin action accepts: '
                      'available, error, creating, deleting, '
                      'error_deleting, migrating, migrating_to, '
                      'server_migrating.'),
        ]),
    },
}


def add_command_parsers(subparsers):
    """Build the argparse sub-commands from COMMANDS (oslo.config handler)."""
    for category, actions in COMMANDS.items():
        parser = subparsers.add_parser(category)
        action_parsers = parser.add_subparsers(dest='action')
        action_parsers.required = True
        for action, (handler, arguments) in actions.items():
            action_parser = action_parsers.add_parser(action)
            for names, kwargs in arguments:
                action_parser.add_argument(*names, **kwargs)
            action_parser.set_defaults(handler=handler)


category_opt = cfg.SubCommandOpt('category', title='Command categories',
                                 handler=add_command_parsers)


# -- configuration -------------------------------------------------------

def check_config(conf):
    """Read every registered option; return a one-line error or None."""
    for name in sorted(conf):
        try:
            value = conf[name]
        except cfg.Error as exc:
            return str(preflight.option_error('DEFAULT', name, exc))
        if not isinstance(value, cfg.ConfigOpts.GroupAttr):
            continue
        try:
            preflight.read_options(conf, name, sorted(value))
        except exception.ConfigError as exc:
            return str(exc)
    return None


def parse_config(argv, conf=CONF):
    """Parse the command line and config files; return an error line or None."""
    conf.clear()
    conf.register_cli_opt(category_opt)
    preflight.cli_logging_defaults(conf)
    try:
        conf(argv, project='manila', prog=PROG, version=version.VERSION)
    except (cfg.Error, ValueError) as exc:
        return preflight.parse_error_line(exc)
    return check_config(conf)


def _init_rpc():
    preflight.init_transport(CONF)


def _use_database(schema=True):
    """A command answers at once: no waiting on the database, one look first."""
    from manila_lite.db import api as db_api
    db_api.stop_retrying()
    db_api.check_database(schema=schema)


# -- helpers -------------------------------------------------------------

def _field(row, name, default=None):
    try:
        return row[name]
    except (KeyError, TypeError, AttributeError):
        return getattr(row, name, default)


def _admin_context(args=None):
    project_id = getattr(args, 'project_id', None)
    user_id = getattr(args, 'user_id', None)
    return ml_context.RequestContext(
        user_id=user_id, project_id=project_id, is_admin=True,
        roles=['admin'], overwrite=False)


def print_table(headers, rows, out=None):
    """Print ``rows`` under ``headers`` in left-aligned columns."""
    out = out or sys.stdout
    rows = [['' if c is None else str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(headers)]
    fmt = '  '.join('{:<%d}' % w for w in widths)
    print(fmt.format(*headers).rstrip(), file=out)
    for row in rows:
        print(fmt.format(*row).rstrip(), file=out)


def service_is_up(service, now=None):
    """True when the service's last heartbeat is within service_down_time."""
    last = _field(service, 'updated_at') or _field(service, 'created_at')
    if last is None:
        return False
    last = timeutils.normalize_time(last)
    now = now or timeutils.utcnow()
    return abs((now - last).total_seconds()) <= CONF.service_down_time


def _zone_name(service):
    zone = _field(service, 'availability_zone')
    if zone is not None and not isinstance(zone, str):
        zone = _field(zone, 'name')
    return zone or _field(service, 'availability_zone_id') or ''


# -- db ------------------------------------------------------------------

def db_sync(args):
    from manila_lite.db import migration
    _use_database(schema=False)
    migration.db_sync(version=args.version)
    print('Database is at revision %s.' % migration.db_version())
    return EXIT_OK


def db_version(args):
    from manila_lite.db import migration
    _use_database(schema=False)
    print(migration.db_version())
    return EXIT_OK


# -- service -------------------------------------------------------------

def service_list(args):
    from manila_lite.db import api as db_api
    _use_database()
    services = db_api.service_get_all(_admin_context())
    now = timeutils.utcnow()
    rows = []
    for svc in services:
        rows.append([
            _field(svc, 'host'), _field(svc, 'binary'), _zone_name(svc),
            'disabled' if _field(svc, 'disabled') else 'enabled',
            ':-)' if service_is_up(svc, now) else 'XXX',
            _field(svc, 'updated_at'),
        ])
    print_table(['Host', 'Binary', 'Zone', 'Status', 'State', 'Updated At'],
                rows)
    return EXIT_OK


# -- share ---------------------------------------------------------------

def _share_api(send_retries=None):
    from manila_lite.share import api as share_api
    return share_api.API(send_retries=send_retries)


def _print_share(share):
    instance = _field(share, 'instance')
    print_table(['Property', 'Value'], [
        ['id', _field(share, 'id')],
        ['name', _field(share, 'display_name')],
        ['status', _field(instance, 'status') if instance else None],
        ['host', _field(instance, 'host') if instance else None],
        ['size', _field(share, 'size')],
        ['share_proto', _field(share, 'share_proto')],
        ['share_type_id',
         _field(instance, 'share_type_id') if instance else None],
        ['project_id', _field(share, 'project_id')],
        ['created_at', _field(share, 'created_at')],
    ])


def _print_export_locations(api, context, share):
    locations = api.export_locations(context, share)
    print('Export locations:')
    if not locations:
        print('  (none)')
    for loc in locations:
        admin = ' (admin only)' if _field(loc, 'is_admin_only') else ''
        print('  %s%s' % (_field(loc, 'path'), admin))


def _lookup(codes_cls):
    table = {}
    for value in vars(codes_cls).values():
        if isinstance(value, tuple) and len(value) == 2:
            table[value[0]] = value[1]
    return table


def _print_messages(api, context, share_id):
    messages = api.messages(context, share_id)
    if not messages:
        return
    actions = _lookup(message_field.Action)
    details = _lookup(message_field.Detail)
    print('User messages:')
    for msg in messages:
        action_id = _field(msg, 'action_id')
        detail_id = _field(msg, 'detail_id')
        print('  %s %s: %s: %s (request %s)' % (
            _field(msg, 'created_at'), _field(msg, 'message_level'),
            actions.get(action_id, action_id),
            details.get(detail_id, detail_id), _field(msg, 'request_id')))


def _wait(api, context, share_id, seconds, done):
    """Poll the share until ``done(share)`` is true; return it (None if gone).

    Progress goes to stderr: each status change, and the time spent every
    PROGRESS_EVERY seconds.
    """
    began = time.monotonic()
    deadline = began + seconds
    shown, shown_at = None, began
    while True:
        try:
            share = api.get(context, share_id)
        except exception.ShareNotFound:
            return None
        now = time.monotonic()
        status = _status(share)
        # No live instance: the share's row was read before, and its
        # instances after, the commit that deleted both; read again.
        settled = status is not None and done(share)
        if settled or now >= deadline:
            return share
        if status is not None and (status != shown
                                   or now - shown_at >= PROGRESS_EVERY):
            print('share %s: %s (%.0f s of %s s)' % (
                share_id, status, now - began, _seconds(seconds)),
                file=sys.stderr)
            shown, shown_at = status, now
        time.sleep(POLL_INTERVAL)


def _seconds(value):
    return ('%g' % value)


def _status(share):
    instance = _field(share, 'instance')
    return _field(instance, 'status') if instance is not None else None


def _send_retries(wait):
    """Reconnections a send may try while the broker is unreachable: as many as fit in half of ``wait`` (default SEND_BOUND).

    The broker's reconnection delays grow 1, 3, 5, ... seconds (plus
    oslo.messaging's own second), so the command fails within its wait.
    """
    budget = (SEND_BOUND if wait is None else wait) / 2.0
    retries, spent = 0, 0.0
    while spent + (2 * retries + 1) + 1 <= budget:
        spent += (2 * retries + 1) + 1
        retries += 1
    return retries


def share_create(args):
    _init_rpc()
    _use_database()
    api = _share_api(send_retries=_send_retries(args.wait))
    context = _admin_context(args)
    share = api.create(context, args.size, args.proto, args.share_host,
                       name=args.display_name, description=args.description,
                       share_type_name=args.share_type)
    _print_share(share)
    if args.wait is None:
        return EXIT_OK
    share_id = _field(share, 'id')
    share = _wait(api, context, share_id, args.wait,
                  lambda s: _status(s) != constants.STATUS_CREATING)
    if share is None:
        print('%s: share %s disappeared' % (PROG, share_id), file=sys.stderr)
        return EXIT_FAILED
    status = _status(share)
    print('status: %s' % status)
    _print_export_locations(api, context, share)
    if status == constants.STATUS_CREATING:
        print('%s: timed out after %ss waiting for share %s (still %s)'
              % (PROG, _seconds(args.wait), share_id, status),
              file=sys.stderr)
        return EXIT_FAILED
    if status != constants.STATUS_AVAILABLE:
        _print_messages(api, context, share_id)
        return EXIT_FAILED
    return EXIT_OK


def share_list(args):
    _use_database()
    api = _share_api()
    rows = []
    for share in api.get_all(_admin_context()):
        instance = _field(share, 'instance')
        rows.append([_field(share, 'id'), _field(share, 'display_name'),
                     _field(share, 'size'), _field(share, 'share_proto'),
                     _status(share),
                     _field(instance, 'host') if instance else None])
    print_table(['ID', 'Name', 'Size', 'Proto', 'Status', 'Host'], rows)
    return EXIT_OK


def share_show(args):
    _use_database()
    api = _share_api()
    context = _admin_context()
    share = api.get(context, args.share_id)
    _print_share(share)
    _print_export_locations(api, context, share)
    _print_messages(api, context, args.share_id)
    return EXIT_OK


def share_delete(args):
    _init_rpc()
    _use_database()
    api = _share_api(send_retries=_send_retries(args.wait))
    context = _admin_context()
    api.delete(context, args.share_id, force=args.force)
    try:
        api.get(context, args.share_id)
    except exception.ShareNotFound:
        print('Share %s deleted (no share service serves its host: rows '
              'removed without a driver call).' % args.share_id)
        return EXIT_OK
    print('Deletion of share %s requested.' % args.share_id)
    if args.wait is None:
        return EXIT_OK
    share = _wait(api, context, args.share_id, args.wait,
                  lambda s: _status(s) != constants.STATUS_DELETING)
    if share is None:
        print('Share %s deleted.' % args.share_id)
        return EXIT_OK
    status = _status(share)
    if status == constants.STATUS_DELETING:
        print('%s: timed out after %ss waiting for share %s (still %s)'
              % (PROG, _seconds(args.wait), args.share_id, status),
              file=sys.stderr)
    else:
        print('%s: share %s is %s' % (PROG, args.share_id, status),
              file=sys.stderr)
        _print_messages(api, context, args.share_id)
    return EXIT_FAILED


def share_reset_state(args):
    _use_database()
    api = _share_api()
    share = api.reset_status(_admin_context(), args.share_id, args.state)
    print('Share %s is now %s.' % (args.share_id, _status(share)))
    return EXIT_OK


# -- entry point ---------------------------------------------------------

def _dispatch(args):
    handler = globals()[args.handler]
    try:
        return handler(args)
    except exception.ConfigError as exc:
        return _error(exc, EXIT_USAGE)
    except exception.ManilaException as exc:
        return _error(exc, EXIT_FAILED)
    except (db_exception.DBError, sqlalchemy.exc.SQLAlchemyError) as exc:
        from manila_lite.db import api as db_api
        LOG.debug('Database error', exc_info=True)
        described = db_api.describe_database_error(exc)
        if described is None:
            described = 'Database error: %s' % str(
                getattr(exc, 'inner_exception', None) or exc).splitlines()[0]
        return _error(described, EXIT_USAGE if isinstance(
            described, exception.ConfigError) else EXIT_FAILED)
    finally:
        from manila_lite.db import api as db_api
        from manila_lite import rpc
        rpc.cleanup()
        db_api.resume_retrying()      # see _use_database


def _error(message, code):
    print('%s: %s' % (PROG, ' '.join(str(message).split())), file=sys.stderr)
    return code


def run(argv=None):
    """Run one command; return the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    error = parse_config(argv)
    if error:
        return _error(error, EXIT_USAGE)
    preflight.setup_cli_logging(CONF)
    return _dispatch(CONF.category)


def main():
    """Console-script entry point of manila-lite-manage."""
    sys.exit(run())


if __name__ == '__main__':
    main()
