"""manila-lite-share: parse the config, check it, set up logging and serve every enabled backend."""

import manila_lite.cmd  # noqa: F401  (must stay first: selects the backend)

import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging
from oslo_reports import guru_meditation_report as gmr
from oslo_reports import opts as gmr_opts

from manila_lite.cmd import backend
from manila_lite.cmd import config_check
from manila_lite import conf as ml_conf  # noqa: F401  (registers options)
from manila_lite import exception
from manila_lite import rpc
from manila_lite import version

CONF = cfg.CONF
LOG = logging.getLogger('manila_lite.share')


def _fail(line):
    sys.stderr.write('manila-lite-share: %s\n' % line)
    return 2


def _build_services():
    from manila_lite import service
    if CONF.enabled_share_backends:
        return [service.Service('%s@%s' % (CONF.host, name), backend=name)
                for name in CONF.enabled_share_backends]
    return [service.Service(CONF.host)]


def _serve(services):
    from oslo_service import service as oslo_service
    launcher = oslo_service.Launcher(CONF, restart_method='mutate')
    stop = threading.Event()
    reload = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    for svc in services:
        launcher.launch_service(svc)
    while not stop.wait(0.5):
        if reload.is_set():
            reload.clear()
            LOG.info('SIGHUP: reloading mutable options.')
            launcher.restart()
    LOG.info('SIGTERM: stopping; in-flight operations finish first.')
    launcher.stop()
    return 0


def main(argv=None):
    logging.register_options(CONF)
    gmr_opts.set_defaults(CONF)
    try:
        CONF(sys.argv[1:] if argv is None else argv, project='manila',
             prog='manila-lite-share', version=version.VERSION)
    except (cfg.Error, ValueError) as exc:
        return _fail('invalid configuration: %s' % exc)
    try:
        config_check.check_service_config(CONF)
    except exception.ConfigError as exc:
        return _fail(str(exc))
    logging.setup(CONF, 'manila')
    backend.warn_if_eventlet(LOG)
    gmr.TextGuruMeditation.setup_autorun(version, conf=CONF)
    rpc.init(CONF)
    try:
        services = _build_services()
    except exception.ConfigError as exc:
        return _fail(str(exc))
    except exception.ManilaException as exc:
        return _fail('invalid configuration: %s' % exc)
    LOG.info('manila-lite-share %(ver)s serving %(hosts)s (backend: %(be)s).',
             {'ver': version.VERSION, 'hosts': [s.host for s in services],
              'be': backend.select()})
    return _serve(services)


if __name__ == '__main__':
    sys.exit(main())
