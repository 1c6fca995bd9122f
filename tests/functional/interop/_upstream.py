"""Set-up shared by the interop helper scripts: upstream manila's CONF, RPC transport and request context (runs inside the upstream venv)."""

import argparse
import contextlib
import json
import os
import sys
import tempfile


def parser(description):
    """An argument parser with the options every helper script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--transport-url', required=True)
    p.add_argument('--connection', required=True, help='database URL')
    p.add_argument('--control-exchange', default=None,
                   help='oslo.messaging exchange (default: upstream\'s)')
    return p


def add_lock_options(p):
    """The share service's state_path and lock_path: upstream's API takes the same locks."""
    p.add_argument('--state-path', required=True,
                   help="the share service's state_path (coordination)")
    p.add_argument('--lock-path', required=True,
                   help="the share service's [oslo_concurrency] lock_path")


@contextlib.contextmanager
def share_service_locks(args):
    """Run as if manila-api ran on the share service's host: same lock files; the coordinator stopped after."""
    from oslo_config import cfg

    from manila import coordination
    cfg.CONF.set_override('state_path', args.state_path)
    cfg.CONF.set_override('lock_path', args.lock_path,
                          group='oslo_concurrency')
    try:
        yield
    finally:
        coordination.LOCK_COORDINATOR.stop()


def setup(args):
    """Configure upstream manila like its API service; return a context."""
    from oslo_config import cfg

    from manila.common import config  # noqa: F401 - registers global opts
    from manila import context
    from manila import db  # noqa: F401 - registers [database] opts
    from manila import rpc

    lines = ['[DEFAULT]', 'transport_url = %s' % args.transport_url]
    if args.control_exchange:
        lines.append('control_exchange = %s' % args.control_exchange)
    lines += ['[database]', 'connection = %s' % args.connection, '']
    fd, path = tempfile.mkstemp(prefix='upstream-', suffix='.conf')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write('\n'.join(lines))
        conf = cfg.CONF
        conf(['--config-file', path], project='manila',
             default_config_files=[])
    finally:
        os.unlink(path)
    rpc.init(conf)
    return context.RequestContext(user_id='interop-user',
                                  project_id='interop-project',
                                  is_admin=True)


def finish(result):
    """Flush and close the RPC transport, print ``result`` as JSON."""
    from manila import rpc

    rpc.cleanup()
    json.dump(result, sys.stdout, default=str)
    sys.stdout.write('\n')


def wait(read, wanted, timeout, what):
    """Poll ``read()`` until it returns one of ``wanted``; AssertionError after ``timeout`` seconds."""
    import time
    deadline = time.monotonic() + timeout
    value = read()
    while value not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError('%s is %r, not %r after %ss'
                                 % (what, value, wanted, timeout))
        time.sleep(0.1)
        value = read()
    return value


def status(get, ctx, row_id, key='status'):
    """``get(ctx, row_id)[key]``, or 'gone' when upstream's DB API finds no such row."""
    from manila import exception
    try:
        return get(ctx, row_id)[key]
    except exception.NotFound:
        return 'gone'
