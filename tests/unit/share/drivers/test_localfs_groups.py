"""The localfs driver's share groups on real directories: group snapshots consistent across members, groups cloned from them."""

import os

import pytest

from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite.share.drivers.localfs import groups
from tests.unit.share.drivers.localfs_helpers import make_share
from tests.unit.share.drivers.localfs_helpers import path_of
from tests.unit.share.drivers.localfs_helpers import populate
from tests.unit.share.drivers.localfs_helpers import tree

CTX = ml_context.get_admin_context()
MEMBER_IDS = ['00000000-0000-4000-8000-00000000000%d' % i for i in (1, 2)]


@pytest.fixture
def group(localfs_factory, tmp_path):
    drv = localfs_factory(localfs_pools=[str(tmp_path / 'a'),
                                         str(tmp_path / 'b')])
    shares, paths = [], []
    for pool in ('a', 'b'):
        share = make_share(pool=pool)
        path = path_of(drv.create_share(CTX, share))
        populate(path)
        shares.append(share)
        paths.append(path)
    return drv, shares, paths


def _snap_dict(shares, snap_id='gs1'):
    members = [{'id': MEMBER_IDS[i], 'share_group_snapshot_id': snap_id,
                'share_id': s['id'], 'share_instance_id': s['id'],
                'share_name': s['name'], 'name': 'share-snapshot-m%d' % i,
                'size': s['size'], 'share_proto': s['share_proto'],
                'provider_location': None, 'share': s}
               for i, s in enumerate(shares)]
    return {'id': snap_id, 'share_group_id': 'g1',
            'share_group_snapshot_members': members}


def _write(path, name, text):
    with open(os.path.join(path, name), 'w') as f:
        f.write(text)


def test_group_snapshot_copies_every_member(group):
    drv, shares, paths = group
    update, members = drv.create_share_group_snapshot(CTX,
                                                      _snap_dict(shares))
    assert update is None
    assert [m['id'] for m in members] == MEMBER_IDS
    for member, path in zip(members, paths):
        assert tree(member['provider_location']) == tree(path)
    assert drv.get_share_stats(refresh=True)['share_group_stats'] == {
        'consistent_snapshot_support': 'host'}


def test_a_write_during_the_copies_makes_the_group_be_taken_again(
        group, monkeypatch, caplog):
    drv, shares, paths = group
    real = drv.create_snapshot
    calls = []

    def create(context, snapshot, share_server=None):
        result = real(context, snapshot, share_server=share_server)
        calls.append(snapshot['id'])
        if len(calls) == 1:
            # A client writes to both shares once the first is copied.
            _write(paths[0], 'counter', '1')
            _write(paths[1], 'counter', '1')
        return result
    monkeypatch.setattr(drv, 'create_snapshot', create)
    _update, members = drv.create_share_group_snapshot(CTX,
                                                       _snap_dict(shares))
    assert calls == MEMBER_IDS * 2
    for member in members:
        copied = tree(member['provider_location'])
        assert copied['counter'][1] == b'1'
    assert 'changed during attempt 1' in caplog.text
    snapshot_dirs = os.listdir(os.path.dirname(members[0][
        'provider_location']))
    assert len(snapshot_dirs) == 1        # the first attempt's copy is gone


def test_a_group_that_never_holds_still_fails_and_leaves_nothing(
        group, monkeypatch):
    drv, shares, paths = group
    real = drv.create_snapshot
    counter = []

    def create(context, snapshot, share_server=None):
        result = real(context, snapshot, share_server=share_server)
        counter.append(1)
        _write(paths[1], 'counter', str(len(counter)))
        return result
    monkeypatch.setattr(drv, 'create_snapshot', create)
    with pytest.raises(exception.ShareBackendException,
                       match='kept changing'):
        drv.create_share_group_snapshot(CTX, _snap_dict(shares))
    assert len(counter) == 2 * groups.GROUP_SNAPSHOT_ATTEMPTS
    assert drv.registry.get(MEMBER_IDS[0]) is None
    assert drv.registry.get(MEMBER_IDS[1]) is None


def test_group_from_a_group_snapshot_is_ready_when_created(group):
    drv, shares, paths = group
    snap = _snap_dict(shares)
    _update, members = drv.create_share_group_snapshot(CTX, snap)
    for member, update in zip(snap['share_group_snapshot_members'], members):
        member['provider_location'] = update['provider_location']
    clones = [make_share(pool=s['host'].split('#')[1],
                         source_share_group_snapshot_member_id=m['id'])
              for s, m in zip(shares, snap['share_group_snapshot_members'])]
    _write(paths[0], 'later', 'not in the snapshot')
    update, results = drv.create_share_group_from_share_group_snapshot(
        CTX, {'id': 'g2', 'shares': clones}, snap)
    assert update is None
    assert [r['status'] for r in results] == ['available', 'available']
    for result, path in zip(results, paths):
        assert tree(path_of(result['export_locations']), skip=('later',)) \
            == tree(path, skip=('later',))
    assert 'later' not in tree(path_of(results[0]['export_locations']))
    # Asked again (a restart), the clones are answered as they are.
    again = drv.create_share_group_from_share_group_snapshot(
        CTX, {'id': 'g2', 'shares': clones}, snap)[1]
    assert again == results
