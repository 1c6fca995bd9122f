"""The localfs driver never reads, writes or removes a path outside its pools: symlinked share and snapshot directories, '..' and absolute names."""

import os
import shutil

import pytest

from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite.share.drivers.localfs import paths
from tests.unit.share.drivers.localfs_helpers import make_share
from tests.unit.share.drivers.localfs_helpers import make_snapshot
from tests.unit.share.drivers.localfs_helpers import path_of
from tests.unit.share.drivers.localfs_helpers import rule
from tests.unit.share.drivers.localfs_helpers import tree

CTX = ml_context.get_admin_context()
REFUSALS = (paths.PathRefused, exception.ManilaException)


@pytest.fixture
def outside(tmp_path):
    """A directory beside the pool holding a file nothing may touch."""
    path = tmp_path / 'outside'
    (path / 'sub').mkdir(parents=True)
    (path / 'precious').write_text('keep me')
    (path / 'sub' / 'deeper').write_text('keep me too')
    return path


def _untouched(outside, before):
    """``outside`` unchanged, and none of its files copied into the pool."""
    assert tree(str(outside)) == before
    assert (outside / 'precious').read_text() == 'keep me'
    pool = outside.parent / 'a'
    copied = [os.path.join(d, f) for d, _dirs, files in os.walk(pool)
              for f in files if f in ('precious', 'deeper')]
    assert copied == []


def _swap_for_link(directory, target):
    """Replace ``directory`` with a symlink to ``target`` (an attacker's move)."""
    for entry in os.listdir(directory):
        full = os.path.join(directory, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    os.rmdir(directory)
    os.symlink(target, directory)


@pytest.mark.parametrize('operation', [
    'create_snapshot', 'shrink', 'ensure', 'usage', 'revert'])
def test_symlinked_share_directory_is_not_followed(localfs_factory, outside,
                                                   operation):
    drv = localfs_factory()
    share = make_share(size=2)
    directory = path_of(drv.create_share(CTX, share))
    snapshot = make_snapshot(share)
    drv.create_snapshot(CTX, snapshot)
    _swap_for_link(directory, str(outside))
    before = tree(str(outside))
    calls = {
        'create_snapshot': lambda: drv.create_snapshot(
            CTX, make_snapshot(share)),
        'shrink': lambda: drv.shrink_share(share, 1),
        'ensure': lambda: drv.ensure_shares(CTX, [share]),
        'usage': lambda: drv.update_share_usage_size(CTX, [share]),
        'revert': lambda: drv.revert_to_snapshot(CTX, snapshot, [], []),
    }
    try:
        result = calls[operation]()
    except REFUSALS:
        result = None
    _untouched(outside, before)
    assert os.path.islink(directory)
    if operation == 'usage' and result:
        # usage of a share that points outside is not measured there
        assert all(r.get('used_size', 0) < 1 for r in result)


@pytest.mark.parametrize('name', ['..', '../outside', '/tmp', 'a/../..'])
def test_share_names_with_dots_or_absolute_are_refused_everywhere(
        localfs_factory, outside, name):
    drv = localfs_factory()
    share = make_share(name=name)
    before = tree(str(outside))
    for call in (lambda: drv.delete_share(CTX, share),
                 lambda: drv.extend_share(share, 5),
                 lambda: drv.update_access(CTX, share, [rule()], [], [])):
        with pytest.raises(REFUSALS):
            call()
    _untouched(outside, before)


def test_symlinked_snapshot_directory_is_not_deleted_through(
        localfs_factory, outside):
    drv = localfs_factory()
    share = make_share()
    drv.create_share(CTX, share)
    snapshot = make_snapshot(share)
    result = drv.create_snapshot(CTX, snapshot)
    location = result.get('provider_location') or ''
    assert location and os.path.isdir(location)
    _swap_for_link(location, str(outside))
    before = tree(str(outside))
    clone = make_share()
    for call in (lambda: drv.delete_snapshot(CTX, snapshot),
                 lambda: drv.create_share_from_snapshot(CTX, clone,
                                                        snapshot)):
        try:
            call()
        except REFUSALS:
            pass
    _untouched(outside, before)
