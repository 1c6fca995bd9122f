"""Load for the reliability tests: shares created and deleted the way manila-api does, casts sent in bursts, rows counted by status."""

import contextlib
import time

from oslo_config import cfg

from manila_lite.share import api as share_api
from manila_lite.share import reconcile
from tests.functional import fixtures
from tests.functional import share_rows as rows

CONF = cfg.CONF

TRANSITIONAL = tuple(reconcile.STRANDABLE)


@contextlib.contextmanager
def facade(db_url):
    """manila_lite.db.api of this process pointed at ``db_url`` (already synced)."""
    from manila_lite.db import api as db_api
    CONF.set_override('connection', db_url, group='database')
    db_api.dispose_engine()
    try:
        yield db_api
    finally:
        db_api.dispose_engine()
        CONF.clear_override('connection', group='database')


class CastBuffer:
    """A ShareAPI stand-in for share_api.API that keeps the casts to send them later in one burst.

    Upstream's API writes the rows and the scheduler casts a moment later;
    holding the casts lets a test put many of them on the broker at once.
    """

    def __init__(self, client):
        self._client = client
        self.pending = []

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def record(*args, **kwargs):
            self.pending.append((method, args, kwargs))
        return record

    def flush(self):
        sent, self.pending = self.pending, []
        for method, args, kwargs in sent:
            method(*args, **kwargs)
        return len(sent)


share_client = fixtures.share_client


def api(client):
    """share_api.API (upstream's row writing) over ``client``."""
    return share_api.API(share_rpc=client)


def create(share_api_obj, daemon, n):
    """Create ``n`` shares of 1 GB on the daemon's pool; return their ids."""
    ctx = rows.user_ctx()
    return [share_api_obj.create(ctx, 1, 'NFS', daemon.pool_host())['id']
            for _ in range(n)]


def delete(share_api_obj, share_ids):
    ctx = rows.user_ctx()
    for share_id in share_ids:
        share_api_obj.delete(ctx, share_id)


def instances(daemon, share_ids):
    """{share_id: instance row} of the shares' instances (deleted ones too)."""
    found = daemon.db.rows(
        'SELECT * FROM share_instances WHERE share_id = ANY(:ids)',
        ids=list(share_ids))
    return {r['share_id']: r for r in found}


def status_counts(daemon):
    """{status: count} of the live share instances."""
    return {r['status']: r['n'] for r in daemon.db.rows(
        "SELECT status, count(*) AS n FROM share_instances "
        "WHERE deleted = 'False' GROUP BY status")}


def transitional(daemon):
    """Ids of live instances in a transitional status."""
    return [r['id'] for r in daemon.db.rows(
        "SELECT id FROM share_instances WHERE deleted = 'False' "
        "AND status = ANY(:s)", s=list(TRANSITIONAL))]


def live_locations(daemon):
    """{instance id: live export location count}."""
    return {r['share_instance_id']: r['n'] for r in daemon.db.rows(
        'SELECT share_instance_id, count(*) AS n FROM '
        'share_instance_export_locations WHERE deleted = 0 '
        'GROUP BY share_instance_id')}


def messages_by_share(daemon):
    return {r['resource_id'] for r in daemon.db.rows(
        'SELECT resource_id FROM messages')}


def settled_in_log(daemon):
    """How many instances the reconciliation reported settling."""
    return daemon.log_text().count(' was stranded in ')


def timed(predicate, daemon, timeout, message, ignore=()):
    """Seconds until ``predicate`` held (bounded by ``timeout``)."""
    began = time.monotonic()
    daemon.wait_for(predicate, timeout=timeout, interval=0.2,
                    message=message, ignore=ignore)
    return time.monotonic() - began


def check_outcomes(daemon, created, deleted):
    """Every operation ended final: creations available with exports or error with a message, deletions deleted.

    Returns a summary dict; raises AssertionError naming the offenders.
    """
    insts = instances(daemon, list(created) + list(deleted))
    locations = live_locations(daemon)
    with_message = messages_by_share(daemon)
    bad, summary = [], {'available': 0, 'error': 0, 'deleted': 0}
    for share_id in created:
        inst = insts[share_id]
        if inst['status'] == 'available' and locations.get(inst['id']):
            summary['available'] += 1
        elif inst['status'] == 'error' and share_id in with_message:
            summary['error'] += 1
        else:
            bad.append(('create', share_id, inst['status'],
                        locations.get(inst['id'], 0)))
    for share_id in deleted:
        inst = insts[share_id]
        if inst['deleted'] != 'False' and not locations.get(inst['id']):
            summary['deleted'] += 1
        elif inst['status'] == 'error_deleting' and (
                {share_id, inst['id']} & with_message):
            summary['error'] += 1
        else:
            bad.append(('delete', share_id, inst['status'],
                        locations.get(inst['id'], 0)))
    assert not bad, 'operations not settled: %s\n%s' % (
        bad[:10], daemon.diagnostics())
    return summary
