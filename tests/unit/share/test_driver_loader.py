"""Tests of share_driver resolution: entry-point aliases, legacy upstream paths, dotted paths and errors."""

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import exception
from manila_lite.share import configuration
from manila_lite.share import driver
from manila_lite.share import driver_loader
from manila_lite.share.drivers import dummy
from manila_lite.share import drivers_private_data

CONF = cfg.CONF


class NotADriver(object):
    def __init__(self, *args, **kwargs):
        pass


class RecordingDriver(driver.ShareDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(False, *args, **kwargs)
        self.kwargs = kwargs


@pytest.fixture
def conf():
    name = 'loadtest_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    for _group, opts in share_driver_opts.list_opts():
        CONF.register_opts(opts, group=name)
    values = {'driver_handles_share_servers': False,
              'dummy_driver_default_driver_method_delay': 0,
              'dummy_driver_driver_methods_delays': {}}
    for key, value in values.items():
        CONF.set_override(key, value, group=name)
    yield configuration.Configuration([], config_group=name)
    for key in values:
        CONF.clear_override(key, group=name)


@pytest.fixture
def storage():
    return drivers_private_data.DriverPrivateData(
        storage=drivers_private_data.MemoryStorageDriver())


def test_dummy_is_a_registered_alias():
    assert 'dummy' in driver_loader.available_aliases()


def test_load_by_alias(conf, storage):
    drv = driver_loader.load_driver('dummy', conf, storage)
    assert type(drv) is dummy.DummyDriver
    assert drv.configuration is conf
    assert drv.private_storage is storage


@pytest.mark.parametrize('path', [
    'manila.tests.share.drivers.dummy.DummyDriver',
    'manila.share.drivers.dummy.DummyDriver',
    'manila_lite.share.drivers.dummy.DummyDriver',
    '  dummy  ',
])
def test_upstream_and_dotted_dummy_paths(conf, storage, path):
    drv = driver_loader.load_driver(path, conf, storage)
    assert isinstance(drv, dummy.DummyDriver)


def test_load_dotted_path_passes_upstream_kwargs(conf, storage):
    drv = driver_loader.load_driver(
        '%s.RecordingDriver' % __name__, conf, storage)
    assert drv.kwargs == {'configuration': conf,
                          'private_storage': storage}


def _assert_config_error(info, conf):
    message = str(info.value)
    assert info.value.kwargs['section'] == conf.config_group
    assert info.value.kwargs['option'] == 'share_driver'
    assert '[%s] share_driver' % conf.config_group in message
    assert 'dummy' in message  # lists the available aliases


@pytest.mark.parametrize('name', [
    'no_such_alias',
    'no.such.module.Driver',
    'manila.share.drivers.generic.GenericShareDriver',
    '%s.Missing' % __name__,
    '',
    None,
])
def test_unknown_driver_raises_config_error(conf, storage, name):
    with pytest.raises(exception.ConfigError) as info:
        driver_loader.load_driver(name, conf, storage)
    _assert_config_error(info, conf)


def test_upstream_driver_message_says_unavailable(conf, storage):
    with pytest.raises(exception.ConfigError) as info:
        driver_loader.load_driver(
            'manila.share.drivers.generic.GenericShareDriver', conf, storage)
    assert 'not available in manila_lite' in str(info.value)


def test_class_must_be_a_share_driver(conf, storage):
    with pytest.raises(exception.ConfigError) as info:
        driver_loader.load_driver('%s.NotADriver' % __name__, conf, storage)
    _assert_config_error(info, conf)
    assert 'not a ShareDriver subclass' in str(info.value)


def test_default_section_named_when_no_group(storage):
    conf = configuration.Configuration([])
    with pytest.raises(exception.ConfigError) as info:
        driver_loader.load_driver('nope', conf, storage)
    assert '[DEFAULT] share_driver' in str(info.value)


def test_section_can_be_named_explicitly(conf, storage):
    with pytest.raises(exception.ConfigError) as info:
        driver_loader.load_driver('nope', conf, storage, section='other')
    assert '[other] share_driver' in str(info.value)


def test_driver_errors_propagate(conf, storage):
    CONF.set_override('driver_handles_share_servers', None,
                      group=conf.config_group)
    with pytest.raises(exception.InvalidParameterValue):
        driver_loader.load_driver('dummy', conf, storage)


def test_resolve_driver_class():
    assert driver_loader.resolve_driver_class('dummy') is dummy.DummyDriver
