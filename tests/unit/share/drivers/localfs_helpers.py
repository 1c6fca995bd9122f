"""Shared pieces of the localfs driver unit tests: a driver factory on temporary pools and tree snapshots for comparisons."""

import os
import stat

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.conf import localfs as localfs_opts
from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import context as ml_context
from manila_lite.share import configuration
from manila_lite.share.drivers import localfs
from manila_lite.share import drivers_private_data

CONF = cfg.CONF


class Factory(object):
    """Builds LocalFSDriver objects in fresh backend sections under ``tmp_path``."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.overrides = []
        self.storage = drivers_private_data.DriverPrivateData(
            storage=drivers_private_data.MemoryStorageDriver())
        CONF.set_override('state_path', str(tmp_path / 'state'))

    def options(self, name, **options):
        for _group, opts in share_driver_opts.list_opts():
            CONF.register_opts(opts, group=name)
        CONF.register_opts(localfs_opts.localfs_opts, group=name)
        values = {'driver_handles_share_servers': False,
                  'localfs_pools': [str(self.tmp_path / 'a')],
                  'localfs_export_ips': ['192.0.2.10']}
        values.update(options)
        for key, value in values.items():
            CONF.set_override(key, value, group=name)
            self.overrides.append((key, name))

    def __call__(self, name=None, setup=True, storage=None, **options):
        name = name or 'lfs_%s' % uuidutils.generate_uuid(dashed=False)[:10]
        self.options(name, **options)
        conf = configuration.Configuration([], config_group=name)
        drv = localfs.LocalFSDriver(configuration=conf,
                                    private_storage=storage or self.storage)
        if setup:
            drv.do_setup(ml_context.get_admin_context())
            drv.check_for_setup_error()
        return drv

    def cleanup(self):
        for key, group in self.overrides:
            CONF.clear_override(key, group=group)
        CONF.clear_override('state_path')


@pytest.fixture
def localfs_factory(tmp_path):
    factory = Factory(tmp_path)
    yield factory
    factory.cleanup()


def make_share(pool='a', proto='NFS', size=1, **extra):
    instance_id = uuidutils.generate_uuid()
    share = {'id': instance_id, 'share_id': uuidutils.generate_uuid(),
             'name': 'share-%s' % instance_id, 'share_proto': proto,
             'size': size, 'host': 'hostA@lfs#%s' % pool,
             'export_locations': [], 'mount_point_name': None}
    share.update(extra)
    return share


def make_snapshot(share, **extra):
    instance_id = uuidutils.generate_uuid()
    snapshot = {'id': instance_id, 'snapshot_id': uuidutils.generate_uuid(),
                'name': 'share-snapshot-%s' % instance_id,
                'share_id': share['id'], 'share_instance_id': share['id'],
                'share_name': share['name'], 'share': share,
                'size': share['size'], 'provider_location': None}
    snapshot.update(extra)
    return snapshot


def wait_copy(drv, key):
    """Wait (30 s at most) for the background copy ``key`` of ``drv``, if any."""
    job = drv.jobs.get(key)
    if job is not None:
        assert job.finished.wait(30)


def rule(access_to='10.0.0.1', access_type='ip', level='rw'):
    return {'access_id': uuidutils.generate_uuid(),
            'id': uuidutils.generate_uuid(), 'access_type': access_type,
            'access_to': access_to, 'access_level': level,
            'access_key': None}


def path_of(locations):
    """The directory behind the first ``ip:/path`` export location."""
    return locations[0]['path'].split(':', 1)[1] if not locations[0][
        'path'].startswith('[') else locations[0]['path'].split(']:', 1)[1]


def populate(root):
    """Write a small tree with a nested dir, a symlink, a hard link and odd modes."""
    os.makedirs(os.path.join(root, 'docs', 'deep'))
    with open(os.path.join(root, 'a.txt'), 'w') as f:
        f.write('alpha\n')
    with open(os.path.join(root, 'docs', 'deep', 'b.bin'), 'wb') as f:
        f.write(os.urandom(200000))
    os.symlink('a.txt', os.path.join(root, 'link-to-a'))
    os.symlink('/etc/hostname', os.path.join(root, 'abs-link'))
    os.link(os.path.join(root, 'a.txt'), os.path.join(root, 'hard-a'))
    os.chmod(os.path.join(root, 'docs'), 0o750)
    os.chmod(os.path.join(root, 'a.txt'), 0o640)


def tree(root, skip=()):
    """{relative path: (kind, content or link target, mode)} of a tree."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel in skip:
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ('link', os.readlink(full), None)
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ('dir', None, stat.S_IMODE(st.st_mode))
            else:
                with open(full, 'rb') as f:
                    result[rel] = ('file', f.read(),
                                   stat.S_IMODE(st.st_mode))
    return result
