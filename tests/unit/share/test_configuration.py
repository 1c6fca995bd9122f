"""Tests of the per-backend Configuration view (option grafting, safe_get, DEFAULT mode)."""

import copy

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.share import configuration

CONF = cfg.CONF

opt_a = cfg.StrOpt('cfgtest_option_a', default='a-default')
opt_b = cfg.IntOpt('cfgtest_option_b', default=7)


@pytest.fixture
def group():
    name = 'cfgtest_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    overrides = []
    yield name, overrides
    for opt_name, grp in overrides:
        CONF.clear_override(opt_name, group=grp)


def test_grafts_opts_into_the_backend_group(group):
    name, _ = group
    conf = configuration.Configuration([opt_a], config_group=name)
    assert conf.config_group == name
    assert conf.cfgtest_option_a == 'a-default'
    assert CONF[name].cfgtest_option_a == 'a-default'


def test_values_of_the_section_are_read(group):
    name, overrides = group
    conf = configuration.Configuration([opt_a], config_group=name)
    CONF.set_override('cfgtest_option_a', 'set-in-section', group=name)
    overrides.append(('cfgtest_option_a', name))
    assert conf.cfgtest_option_a == 'set-in-section'
    assert conf.safe_get('cfgtest_option_a') == 'set-in-section'


def test_sections_do_not_share_values(group):
    name, overrides = group
    other = name + '_other'
    conf1 = configuration.Configuration([opt_a], config_group=name)
    conf2 = configuration.Configuration([opt_a], config_group=other)
    CONF.set_override('cfgtest_option_a', 'one', group=name)
    overrides.append(('cfgtest_option_a', name))
    assert conf1.cfgtest_option_a == 'one'
    assert conf2.cfgtest_option_a == 'a-default'


def test_append_config_values_adds_options(group):
    name, _ = group
    conf = configuration.Configuration([opt_a], config_group=name)
    assert conf.safe_get('cfgtest_option_b') is None
    conf.append_config_values([opt_b])
    assert conf.cfgtest_option_b == 7
    # grafting the same list again is harmless
    conf.append_config_values([opt_a, opt_b])
    assert conf.safe_get('cfgtest_option_b') == 7


def test_safe_get_unknown_option_is_none(group):
    name, _ = group
    conf = configuration.Configuration([], config_group=name)
    assert conf.safe_get('cfgtest_no_such_option') is None


def test_attribute_access_of_unknown_option_raises(group):
    name, _ = group
    conf = configuration.Configuration([opt_a], config_group=name)
    with pytest.raises(cfg.NoSuchOptError):
        conf.cfgtest_no_such_option  # noqa: B018


def test_default_section_when_no_group():
    conf = configuration.Configuration([opt_a])
    assert conf.config_group is None
    assert conf.local_conf is CONF
    assert conf.cfgtest_option_a == 'a-default'
    CONF.set_override('cfgtest_option_a', 'in-default')
    try:
        assert conf.safe_get('cfgtest_option_a') == 'in-default'
    finally:
        CONF.clear_override('cfgtest_option_a')


def test_copy_does_not_recurse(group):
    name, _ = group
    conf = configuration.Configuration([opt_a], config_group=name)
    clone = copy.copy(conf)
    assert clone.config_group == name
    assert 'cfgtest' in repr(conf)
