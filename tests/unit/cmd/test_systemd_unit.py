"""The systemd unit in etc/: readiness notification, restart on failure but not on bad configuration, stop bound above the graceful one."""

import configparser
import os

from oslo_config import cfg
from oslo_service import opts

UNIT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                    os.pardir, 'etc', 'systemd', 'manila-lite-share.service')


def _unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    with open(UNIT) as f:
        parser.read_file(f)
    return parser


def test_unit_notifies_readiness_and_restarts_on_failure():
    service = _unit()['Service']
    assert service['Type'] == 'notify'
    assert service['Restart'] == 'on-failure'
    # manila_lite.cmd.preflight.EXIT_CONFIG: the configuration must change.
    from manila_lite.cmd import preflight
    assert service['RestartPreventExitStatus'] == str(preflight.EXIT_CONFIG)
    assert service['ExecStart'].split()[0].endswith('/manila-lite-share')
    assert '--config-file' in service['ExecStart']


def test_stop_bound_exceeds_graceful_shutdown_timeout():
    conf = cfg.ConfigOpts()
    opts.register_service_opts(conf)
    conf([])
    default = conf.graceful_shutdown_timeout
    assert int(_unit()['Service']['TimeoutStopSec']) > default
