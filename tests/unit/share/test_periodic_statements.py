"""One run of every periodic task sends as many SQL statements at 1,000 shares as at 10."""

import datetime
import itertools

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import models_infra
from tests.unit.db import helpers as db_helpers
from tests.unit.share import helpers

CONF = cfg.CONF

SI = models.ShareInstance
EL = models.ShareInstanceExportLocations
ELM = models.ShareInstanceExportLocationsMetadata
SHARE_META = models.ShareMetadata
SI_META = models.ShareInstanceMetadata


@pytest.fixture
def gathering():
    CONF.set_override('enable_gathering_share_usage_size', True)
    yield
    CONF.clear_override('enable_gathering_share_usage_size')


def _rows(conn, model, column, values):
    table = model.__table__
    return [dict(r._mapping) for r in conn.execute(
        sa.select(table).where(table.c[column].in_(list(values))))]


def _next_id(conn, model):
    table = model.__table__
    return (conn.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1


def _copy(rows, counter, **changes):
    result = []
    for row in rows:
        row = dict(row, **{k: f(row) for k, f in changes.items()})
        if counter is not None:
            row['id'] = next(counter)
        result.append(row)
    return result


def _clone_share(engine, share_id, copies):
    """Insert ``copies`` copies of a share with its instances, locations and metadata."""
    with engine.begin() as conn:
        share = _rows(conn, models.Share, 'id', [share_id])
        insts = _rows(conn, SI, 'share_id', [share_id])
        els = _rows(conn, EL, 'share_instance_id', [i['id'] for i in insts])
        elms = _rows(conn, ELM, 'export_location_id', [e['id'] for e in els])
        share_meta = _rows(conn, SHARE_META, 'share_id', [share_id])
        inst_meta = _rows(conn, SI_META, 'share_instance_id',
                          [i['id'] for i in insts])
        el_ids = itertools.count(_next_id(conn, EL))
        elm_ids = itertools.count(_next_id(conn, ELM))
        meta_ids = itertools.count(_next_id(conn, SHARE_META))
        inst_meta_ids = itertools.count(_next_id(conn, SI_META))
        out = {model: [] for model in (models.Share, SI, EL, ELM, SHARE_META,
                                       SI_META)}
        for _ in range(copies):
            new_share = uuidutils.generate_uuid()
            inst_map = {i['id']: uuidutils.generate_uuid() for i in insts}
            new_els = _copy(els, el_ids, uuid=lambda r: (
                uuidutils.generate_uuid()), share_instance_id=lambda r: (
                inst_map[r['share_instance_id']]))
            el_map = {old['id']: new['id'] for old, new in zip(els, new_els)}
            out[models.Share] += _copy(share, None, id=lambda r: new_share)
            out[SI] += _copy(insts, None, id=lambda r: inst_map[r['id']],
                             share_id=lambda r: new_share)
            out[EL] += new_els
            out[ELM] += _copy(elms, elm_ids, export_location_id=lambda r: (
                el_map[r['export_location_id']]))
            out[SHARE_META] += _copy(share_meta, meta_ids,
                                     share_id=lambda r: new_share)
            out[SI_META] += _copy(inst_meta, inst_meta_ids,
                                  share_instance_id=lambda r: (
                                      inst_map[r['share_instance_id']]))
        for model, rows in out.items():
            if rows:
                conn.execute(sa.insert(model.__table__), rows)


def _template(db, ctx):
    """An available share with locations and metadata of every kind."""
    share, inst = helpers.make_share(db, ctx, status='available')
    db.export_locations_update(ctx, inst['id'], [
        {'path': '10.0.0.1:/share-%s' % inst['id'], 'is_admin_only': False,
         'metadata': {'preferred': 'True'}},
        {'path': '10.0.0.2:/share-%s' % inst['id'], 'is_admin_only': True,
         'metadata': {'preferred': 'False'}}])
    db.share_metadata_update(ctx, share['id'], {'k1': 'v1', 'k2': 'v2'})
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(SI_META.__table__), [
            {'share_instance_id': inst['id'], 'key': 'ik', 'value': 'iv',
             'deleted': 'False'}])
    return share


def _one_periodic_run(mgr, ctx, engine):
    with db_helpers.StatementCounter(engine) as counter:
        for _name, task in mgr._periodic_tasks:
            task(mgr, ctx)
    return counter.statements


def test_periodic_run_statement_count_is_flat(manager_factory, db, admin_ctx,
                                              gathering):
    mgr = manager_factory()
    engine = db.get_engine()
    available = _template(db, admin_ctx)
    # Fresh transitional rows: read by reconcile, not yet stranded.
    creating, _ = helpers.make_share(db, admin_ctx, status='creating')
    # One share with two live instances (the sibling read).
    twin, _ = helpers.make_share(db, admin_ctx, status='available')
    with engine.begin() as conn:
        conn.execute(sa.insert(SI.__table__), _copy(
            _rows(conn, SI, 'share_id', [twin['id']]), None,
            id=lambda r: uuidutils.generate_uuid()))
    counts = {}
    have = 1
    for size in (10, 1000):
        _clone_share(engine, available['id'], size - have)
        _clone_share(engine, creating['id'], size - have)
        have = size
        _one_periodic_run(mgr, admin_ctx, engine)   # settles first-run work
        counts[size] = len(_one_periodic_run(mgr, admin_ctx, engine))
        live = db.share_instance_get_all_by_host(admin_ctx, mgr.host,
                                                 status='available')
        assert len(live) == size + 2
        assert all(len(i['export_locations']) == 2 for i in live
                   if i['share_id'] not in (twin['id'],))
    assert counts[10] == counts[1000]


# -- the expiry tasks: a run that processes N items costs the same at 10 and
# 1,000 (reads and writes are batched; casts and notifications are not SQL).

def _seed_expired_shares(db, ctx, engine, count):
    share = _template(db, ctx)
    db.share_update(ctx, share['id'], {
        'is_soft_deleted': True,
        'scheduled_to_be_deleted_at': timeutils.utcnow() -
        datetime.timedelta(minutes=1)})
    _clone_share(engine, share['id'], count - 1)


def _seed_expired_transfers(db, ctx, engine, count):
    share, _inst = helpers.make_share(db, ctx, status='awaiting_transfer')
    _clone_share(engine, share['id'], count - 1)
    table = models_infra.Transfer.__table__
    si = SI.__table__
    with engine.begin() as conn:
        share_ids = conn.scalars(sa.select(si.c.share_id).where(
            si.c.status == 'awaiting_transfer',
            si.c.share_id.not_in(sa.select(table.c.resource_id)))).all()
        conn.execute(sa.insert(table), [
            {'id': uuidutils.generate_uuid(), 'resource_type': 'share',
             'resource_id': share_id, 'deleted': 'False',
             'expires_at': timeutils.utcnow() - datetime.timedelta(
                 seconds=1)} for share_id in share_ids])


def _expiry_casts(mgr, monkeypatch):
    sent = []
    monkeypatch.setattr(mgr.share_rpcapi, 'delete_share_instance',
                        lambda ctx, inst, **kwargs: sent.append(inst['id']))
    return sent


def _expiry_done(db, ctx, task, sent):
    """How many items the runs so far processed."""
    if task == 'delete_expired_share':
        return len(sent)
    return len(db.share_instance_get_all(ctx, filters={
        'status': 'available'}))


@pytest.mark.parametrize('task, seed', [
    ('delete_expired_share', _seed_expired_shares),
    ('delete_expired_transfers', _seed_expired_transfers)])
def test_expiry_run_statement_count_is_flat(manager_factory, db, admin_ctx,
                                            monkeypatch, notifications,
                                            task, seed):
    mgr = manager_factory()
    engine = db.get_engine()
    sent = _expiry_casts(mgr, monkeypatch)
    counts = {}
    for size, total in ((10, 10), (1000, 1010)):
        seed(db, admin_ctx, engine, size)
        with db_helpers.StatementCounter(engine) as counter:
            getattr(mgr, task)(admin_ctx)
        counts[size] = len(counter.statements)
        assert _expiry_done(db, admin_ctx, task, sent) == total
    assert counts[10] == counts[1000]


# -- delete_free_share_servers: N unused servers with their allocations,
# details and subnet mappings are deleted with as many statements as 10.

def _seed_free_servers(db, ctx, mgr, count):
    from tests.unit.share import test_servers
    _net_id, subnet_id = test_servers.make_network(db)
    engine = db.get_engine()
    old = timeutils.utcnow() - datetime.timedelta(hours=1)
    ids = [uuidutils.generate_uuid() for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(sa.insert(models_infra.ShareServer.__table__), [
            {'id': sid, 'host': mgr.host, 'status': 'active',
             'is_auto_deletable': True, 'deleted': 'False',
             'created_at': old, 'updated_at': old} for sid in ids])
        conn.execute(sa.insert(
            models_infra.ShareServerShareNetworkSubnetMapping.__table__), [
            {'share_server_id': sid, 'share_network_subnet_id': subnet_id,
             'deleted': 0} for sid in ids])
        conn.execute(sa.insert(
            models_infra.ShareServerBackendDetails.__table__), [
            {'share_server_id': sid, 'key': 'service_ip', 'value': '10.0.0.1',
             'deleted': 'False'} for sid in ids])
        conn.execute(sa.insert(models_infra.NetworkAllocation.__table__), [
            {'id': uuidutils.generate_uuid(), 'share_server_id': sid,
             'ip_address': '10.254.%d.%d' % (n // 250, n % 250 + 1),
             'label': label, 'deleted': 'False'}
            for n, sid in enumerate(ids) for label in ('user', 'admin')])
    return ids


def test_free_server_cleanup_statement_count_is_flat(manager_factory, db,
                                                     admin_ctx):
    mgr = manager_factory(**helpers.dhss_options())
    engine = db.get_engine()
    counts = {}
    for size in (10, 1000):
        ids = _seed_free_servers(db, admin_ctx, mgr, size)
        with db_helpers.StatementCounter(engine) as counter:
            mgr.delete_free_share_servers(admin_ctx)
        counts[size] = len(counter.statements)
        assert db.share_server_get_all_by_host(admin_ctx, mgr.host) == []
        with engine.connect() as conn:
            table = models_infra.NetworkAllocation.__table__
            assert conn.scalar(sa.select(sa.func.count()).where(
                table.c.share_server_id.in_(ids),
                table.c.deleted == 'False')) == 0
    assert counts[10] == counts[1000]


# -- the replication tasks: one run polling N replicas (and N replica
# snapshots) costs the same at 10 and 1,000.

def _seed_replicated_share(mgr, db, ctx):
    from tests.unit.share.replication import helpers as rh
    share, _active = rh.replicated_share(mgr, db, ctx)
    rh.add_replica(db, ctx, share['id'], status='available')
    return share


def _seed_replica_snapshots(engine, replica_ids):
    table = models.ShareSnapshotInstance.__table__
    snapshots = models.ShareSnapshot.__table__
    rows, snaps = [], []
    for rid in replica_ids:
        snapshot_id = uuidutils.generate_uuid()
        snaps.append({'id': snapshot_id, 'share_id': rid, 'size': 1,
                      'deleted': 'False', 'project_id': 'p1',
                      'user_id': 'u1'})
        rows.append({'id': uuidutils.generate_uuid(), 'deleted': 'False',
                     'snapshot_id': snapshot_id, 'share_instance_id': rid,
                     'status': 'creating', 'progress': '0%'})
    with engine.begin() as conn:
        conn.execute(sa.insert(snapshots), snaps)
        conn.execute(sa.insert(table), rows)


def _replica_ids(engine, replica_state):
    si = SI.__table__
    with engine.connect() as conn:
        return conn.scalars(sa.select(si.c.id).where(
            si.c.replica_state == replica_state,
            si.c.deleted == 'False')).all()


def test_replica_tasks_statement_count_is_flat(manager_factory, db,
                                               admin_ctx, tooz_coordinator):
    mgr = manager_factory(replication_domain='rd1')
    engine = db.get_engine()
    share = _seed_replicated_share(mgr, db, admin_ctx)
    counts = {}
    have = 1
    si = SI.__table__
    for size in (10, 1000):
        _clone_share(engine, share['id'], size - have)
        have = size
        with engine.begin() as conn:
            conn.execute(sa.update(si).where(
                si.c.replica_state == 'in_sync').values(
                replica_state='out_of_sync'))
        with db_helpers.StatementCounter(engine) as counter:
            mgr.periodic_share_replica_update(admin_ctx)
        assert len(_replica_ids(engine, 'in_sync')) == size
        assert not _replica_ids(engine, 'out_of_sync')
        replica_ids = _replica_ids(engine, 'in_sync')
        _seed_replica_snapshots(engine, replica_ids)
        with db_helpers.StatementCounter(engine) as snap_counter:
            mgr.periodic_share_replica_snapshot_update(admin_ctx)
        done = db.share_snapshot_instance_get_all_with_filters(
            admin_ctx, {'share_instance_ids': replica_ids,
                        'statuses': ['available']})
        assert len(done) == len(replica_ids) == size
        with engine.begin() as conn:     # the next run starts alike
            conn.execute(sa.delete(models.ShareSnapshotInstance.__table__))
        counts[size] = (len(counter.statements), len(snap_counter.statements))
    assert counts[10] == counts[1000]


# -- the migration continue task: N sources in phase 1 polled in one run
# (two reads, then one UPDATE for every migration the driver finished).

def _task_states(engine):
    table = models.Share.__table__
    with engine.connect() as conn:
        return sorted(set(conn.scalars(sa.select(table.c.task_state).where(
            table.c.deleted == 'False')).all()))


def test_migration_continue_statement_count_is_flat(manager_factory, db,
                                                    admin_ctx):
    mgr = manager_factory()
    manager_factory(name='beta')        # the destination's services row
    engine = db.get_engine()
    share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_update(admin_ctx, share['id'],
                    {'task_state': 'migration_starting'})
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'migrating'})
    mgr.migration_start(
        helpers.user_ctx(), share_id=share['id'],
        dest_host='hostA@beta#fake_pool_for_beta',
        force_host_assisted_migration=False, preserve_metadata=False,
        writable=False, nondisruptive=False, preserve_snapshots=False)
    counts = {}
    have = 1
    table = models.Share.__table__
    for size in (10, 1000):
        _clone_share(engine, share['id'], size - have)
        have = size
        with engine.begin() as conn:
            conn.execute(sa.update(table).values(
                task_state='migration_driver_in_progress'))
        mgr.driver.migration_progress.clear()
        with db_helpers.StatementCounter(engine) as halfway:
            mgr.migration_driver_continue(admin_ctx)
        assert _task_states(engine) == ['migration_driver_in_progress']
        with db_helpers.StatementCounter(engine) as done:
            mgr.migration_driver_continue(admin_ctx)
        assert _task_states(engine) == ['migration_driver_phase1_done']
        counts[size] = (len(halfway.statements), len(done.statements))
    assert counts[10] == counts[1000]


# -- the share server migration continue task: N destination servers in
# phase 1 polled in one run (four reads, then one UPDATE for all finished).

def _seed_server_migrations(engine, src_host, dest_host, count):
    now = timeutils.utcnow()
    pairs = [(uuidutils.generate_uuid(), uuidutils.generate_uuid())
             for _ in range(count)]
    rows = []
    for src, dest in pairs:
        rows.append({'id': src, 'host': src_host, 'status': 'server_migrating',
                     'task_state': 'migration_driver_in_progress',
                     'source_share_server_id': None,
                     'deleted': 'False', 'created_at': now})
        rows.append({'id': dest, 'host': dest_host,
                     'status': 'server_migrating_to',
                     'task_state': 'migration_driver_in_progress',
                     'source_share_server_id': src, 'deleted': 'False',
                     'created_at': now})
    with engine.begin() as conn:
        conn.execute(sa.insert(models_infra.ShareServer.__table__), rows)
    return pairs


def _server_task_states(engine):
    table = models_infra.ShareServer.__table__
    with engine.connect() as conn:
        return sorted(set(conn.scalars(sa.select(table.c.task_state).where(
            table.c.deleted == 'False')).all()))


def test_server_migration_continue_statement_count_is_flat(
        manager_factory, db, admin_ctx):
    manager_factory(**helpers.dhss_options())
    mgr = manager_factory(name='beta', **helpers.dhss_options('beta'))
    engine = db.get_engine()
    table = models_infra.ShareServer.__table__
    counts = {}
    for size in (10, 1000):
        with engine.begin() as conn:
            conn.execute(sa.delete(table))
        _seed_server_migrations(engine, 'hostA@alpha', mgr.host, size)
        mgr.driver.migration_progress.clear()
        with db_helpers.StatementCounter(engine) as halfway:
            mgr.share_server_migration_driver_continue(admin_ctx)
        assert _server_task_states(engine) == ['migration_driver_in_progress']
        with db_helpers.StatementCounter(engine) as done:
            mgr.share_server_migration_driver_continue(admin_ctx)
        assert _server_task_states(engine) == [
            'migration_driver_phase1_done']
        counts[size] = (len(halfway.statements), len(done.statements))
    assert counts[10] == counts[1000]
