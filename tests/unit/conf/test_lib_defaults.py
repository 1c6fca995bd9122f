"""manila_lite's defaults for library options reach a RabbitMQ transport, and an operator's value still wins."""

from oslo_config import cfg
import oslo_messaging as messaging

from manila_lite.conf import opts


def _rabbit_conf(tmp_path, text=''):
    path = tmp_path / 'manila.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='manila-lite')
    opts.set_lib_defaults()
    transport = messaging.get_rpc_transport(
        conf, url='rabbit://user:secret@127.0.0.1:1/')
    try:
        group = conf.oslo_messaging_rabbit
        return group.rabbit_qos_prefetch_count, group.rabbit_interval_max
    finally:
        transport.cleanup()


def test_defaults_reach_the_rabbit_driver(tmp_path):
    assert _rabbit_conf(tmp_path) == (opts.RABBIT_QOS_PREFETCH_COUNT,
                                      opts.RABBIT_INTERVAL_MAX)


def test_the_operator_value_wins(tmp_path):
    text = ('[oslo_messaging_rabbit]\nrabbit_qos_prefetch_count = 0\n'
            'rabbit_interval_max = 30\n')
    assert _rabbit_conf(tmp_path, text) == (0, 30)
