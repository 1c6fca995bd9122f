"""The services-table heartbeat survives database errors (the looping call would stop on an exception)."""

from manila_lite import service


class _Manager:
    availability_zone = 'nova'
    service_id = None

    @staticmethod
    def is_service_ready():
        return True


class _Service:
    """What report_state uses of a Service, on a database that is down."""

    host = 'h@alpha'
    service_id = 'missing'
    manager = _Manager()
    _report_state = service.Service._report_state

    def _register(self, ctx):
        raise ConnectionError('database is restarting')


def test_heartbeat_error_is_logged_not_raised(monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError('database is restarting')
    monkeypatch.setattr(service.db_api, 'service_report_heartbeat', down)
    service.Service.report_state(_Service())
    assert 'Heartbeat of h@alpha failed' in caplog.text


def test_failed_registration_after_a_vanished_row_is_not_raised(monkeypatch,
                                                                caplog):
    from manila_lite import exception

    def vanished(*args, **kwargs):
        raise exception.ServiceNotFound(service_id='missing')
    monkeypatch.setattr(service.db_api, 'service_report_heartbeat', vanished)
    service.Service.report_state(_Service())
    assert 'Heartbeat of h@alpha failed: ConnectionError' in caplog.text
