"""Read shares with upstream manila's own DB API in a tight loop, as its API's ``GET /v2/shares/{id}`` does.

It reports every read of a live share without a live instance, as JSON
(runs inside the upstream venv).

The share ids to read are the lines of ``--watch-file`` (reloaded when it
changes); the loop stops when ``--stop-file`` exists. Upstream's
``share_get`` reads the share row and then, in a second SELECT, its live
instances (the ``Share.instances`` relationship); its API view then reads
``share.instance``, which is None when that second SELECT found no live
instance. With ``--isolation repeatable_read`` each ``share_get`` reads one
snapshot of the database (MySQL's default isolation level, which upstream
deployments mostly run): a share seen without a live instance is then a
state some writer committed. Under PostgreSQL's default (read committed) each
SELECT reads its own snapshot, so a single transaction deleting the last
instance together with the share can fall between the two SELECTs; such
reads are reported apart (``straddled``): upstream's own share service
causes them too.
"""

import os
import time

import _upstream


def _set_isolation(level):
    """Make every new database connection use ``level`` (SQLAlchemy's name)."""
    import sqlalchemy as sa

    @sa.event.listens_for(sa.pool.Pool, 'connect')
    def _on_connect(dbapi_conn, record):
        dbapi_conn.set_session(isolation_level=level.replace('_', ' '))


def _load_ids(path, state):
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return state.get('ids', [])
    if mtime != state.get('mtime'):
        with open(path) as f:
            state['ids'] = [line.strip() for line in f if line.strip()]
        state['mtime'] = mtime
    return state['ids']


def _rows_now(ctx, share_id):
    """The share's and its instances' rows as they are now (deleted ones too)."""
    from manila.db.sqlalchemy import api as sqla_api
    from manila.db.sqlalchemy import models
    ctx = ctx.elevated(read_deleted='yes')
    with sqla_api.context_manager.reader.using(ctx):
        share = sqla_api.model_query(ctx, models.Share).filter_by(
            id=share_id).first()
        instances = sqla_api.model_query(
            ctx, models.ShareInstance).filter_by(share_id=share_id).all()
        return {
            'share_deleted_at': share and str(share['deleted_at']),
            'instances': [(i['id'], i['status'], i['deleted'],
                           str(i['deleted_at'])) for i in instances]}


def _straddled(rows):
    """Whether the share was deleted together with its last instance (one transaction)."""
    ends = {at for _id, _status, _deleted, at in rows['instances']}
    return rows['share_deleted_at'] not in (None, 'None') and (
        rows['share_deleted_at'] in ends)


def watch(ctx, args):
    from manila import db
    from manila import exception

    state, reads, statuses = {}, {}, {}
    anomalies, straddled = [], []
    loops = 0
    while not os.path.exists(args.stop_file):
        loops += 1
        ids = _load_ids(args.watch_file, state)
        if not ids:
            time.sleep(0.01)
        for share_id in ids:
            try:
                share = db.share_get(ctx, share_id)
            except exception.NotFound:
                continue
            reads[share_id] = reads.get(share_id, 0) + 1
            instance = share.get('instance')
            if instance is not None:
                statuses.setdefault(share_id, set()).add(instance['status'])
                continue
            rows = _rows_now(ctx, share_id)
            entry = dict(rows, share_id=share_id, at=time.time())
            (straddled if _straddled(rows) else anomalies).append(entry)
    return {'loops': loops, 'reads': reads,
            'statuses': {k: sorted(v) for k, v in statuses.items()},
            'anomalies': anomalies, 'straddled': straddled}


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--watch-file', required=True)
    p.add_argument('--stop-file', required=True)
    p.add_argument('--isolation', default='repeatable_read',
                   choices=['repeatable_read', 'read_committed'])
    p.add_argument('--ready-file', help='created once the loop starts')
    args = p.parse_args()
    _set_isolation(args.isolation)
    ctx = _upstream.setup(args)
    if args.ready_file:
        open(args.ready_file, 'w').close()
    _upstream.finish(watch(ctx, args))


if __name__ == '__main__':
    main()
