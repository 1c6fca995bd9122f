"""Set-up shared by the interop helper scripts: upstream manila's CONF, RPC transport and request context (runs inside the upstream venv)."""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import uuid


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


def admin(ctx, project_id=None):
    """Upstream's API runs policy checks: a copy of ``ctx`` with admin roles."""
    from manila import context
    return context.RequestContext(
        user_id=ctx.user_id, project_id=project_id or ctx.project_id,
        is_admin=True, roles=['admin', 'member', 'reader'])


def share_type(ctx, prefix, dhss):
    """A share type with snapshot support, DHSS as asked, named ``prefix`` plus a random tail."""
    from manila import db
    from manila.share import share_types
    row = db.share_type_create(ctx, {
        'name': '%s-%s' % (prefix, uuid.uuid4().hex[:8]),
        'extra_specs': {'driver_handles_share_servers': str(bool(dhss)),
                        'snapshot_support': 'True'}})
    return share_types.get_share_type(ctx, row['id'])


def create_share(ctx, api, host, share_type, timeout, name, **kwargs):
    """Create a share as the API and the scheduler do (set the host, cast create_share_instance); its row once settled."""
    from manila import db
    from manila.share import rpcapi
    share = api.create(ctx, 'NFS', 1, name, 'made by upstream manila',
                       share_type=share_type, **kwargs)
    inst_id = share.instance['id']
    db.share_instance_update(ctx, inst_id, {'host': host})
    inst = db.share_instance_get(ctx, inst_id, with_share_data=True)
    rpcapi.ShareAPI().create_share_instance(
        ctx, inst, host, request_spec={'share_id': share['id']},
        filter_properties={'scheduler_hints': None})
    wait(lambda: status(db.share_get, ctx, share['id']),
         ('available', 'error'), timeout, 'share %s' % share['id'])
    return db.share_get(ctx, share['id'])


def usages(ctx):
    """{resource: in_use + reserved} of the context's project."""
    from manila import db
    rows = db.quota_usage_get_all_by_project(ctx, ctx.project_id)
    return {k: v['in_use'] + v['reserved'] for k, v in rows.items()
            if isinstance(v, dict)}
