"""The Neutron client of the network plugins: ``[neutron]`` checked at start-up, python-neutronclient over keystoneauth, errors as our exceptions.

Construction reads and checks every ``[neutron]`` option (a bad one is a
ConfigError naming it) and loads the keystoneauth session and auth plugin;
no connection is opened before the first call. Calls that cannot reach
Neutron (``ConnectFailure``) are retried a few times; Neutron's errors
become ``NetworkException`` (with Neutron's status code and message),
``IpAddressGenerationFailureClient`` or ``PortLimitExceeded``.
"""

import contextlib
import os
import threading

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from neutronclient.common import exceptions as neutron_exceptions
from neutronclient.v2_0 import client as neutron_client
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import netutils
import tenacity

from manila_lite.conf import neutron as neutron_conf
from manila_lite.conf import validation
from manila_lite import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
GROUP = neutron_conf.NEUTRON_GROUP

PROVIDER_NW_EXT = 'Provider Network'
PORTBINDING_EXT = 'Port Binding'
PORT_STATUS_ACTIVE = 'ACTIVE'
PORT_STATUS_ERROR = 'ERROR'
VIF_TYPE_BINDING_FAILED = 'binding_failed'

# Attempts and back-off (seconds) for calls Neutron did not receive.
CONNECT_ATTEMPTS = 5
CONNECT_WAIT_MAX = 4
# How many device ids one port listing filters on (keeps the URI short).
DEVICE_ID_CHUNK = 40


def _bad(option, reason):
    return exception.ConfigError(section=GROUP, option=option, reason=reason)


def _load_auth(conf):
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
    except ks_exceptions.NoMatchingPlugin as exc:
        raise _bad('auth_type', 'unknown auth plugin %r' % exc.name)
    except ks_exceptions.MissingRequiredOptions as exc:
        names = [opt.dest for opt in exc.options]
        raise _bad(names[0], 'required by auth_type %s (missing: %s)'
                   % (conf[GROUP].auth_type, ', '.join(names)))
    except (cfg.Error, ValueError) as exc:
        raise _bad('auth_type', str(exc))
    if auth is None:
        raise _bad('auth_type', "not set: use 'password' (with auth_url, "
                                "username, password, project_name, ...) or "
                                "'none' with url")
    return auth


def _check_client_options(conf):
    register = conf[GROUP]
    names = [opt.dest for opt in neutron_conf.neutron_opts +
             ks_loading.get_session_conf_options() +
             ks_loading.get_auth_common_conf_options()]
    validation.read_options(conf, GROUP, names)
    url = register.url
    if url and (netutils.urlsplit(url).scheme not in ('http', 'https')
                or not netutils.urlsplit(url).netloc):
        raise _bad('url', '%r is not an http(s) URL' % url)
    for option in ('cafile', 'certfile', 'keyfile'):
        path = register[option]
        if path and not os.access(path, os.R_OK):
            raise _bad(option, 'file %s is not readable' % path)
    if register.auth_type in ('none', 'noauth') and not url:
        raise _bad('url', "required with auth_type = %s (there is no "
                          "catalog to find Neutron in)" % register.auth_type)


@contextlib.contextmanager
def _translated(action):
    """Neutron's errors (after the retries) as manila_lite exceptions."""
    try:
        yield
    except neutron_exceptions.NeutronClientException as exc:
        raise exception.NetworkException(
            code=exc.status_code,
            message='Neutron %s failed (%s): %s'
                    % (action, exc.status_code, exc.message)) from None
    except ks_exceptions.ClientException as exc:
        raise exception.NetworkException(
            message='Neutron %s failed: %s' % (action, exc)) from None


_retry_connect = tenacity.retry(
    retry=tenacity.retry_if_exception_type(ks_exceptions.ConnectFailure),
    stop=tenacity.stop_after_attempt(CONNECT_ATTEMPTS),
    wait=tenacity.wait_exponential(multiplier=0.5, max=CONNECT_WAIT_MAX),
    before_sleep=lambda state: LOG.warning(
        'Neutron unreachable (%s); retrying.', state.outcome.exception()),
    reraise=True)


class API(object):
    """The Neutron calls the plugins make, with ``[neutron]``'s endpoint, session and credentials."""

    def __init__(self, conf=CONF):
        self.conf = conf
        neutron_conf.register_client_opts(conf)
        _check_client_options(conf)
        self._auth = _load_auth(conf)
        self._session = ks_loading.load_session_from_conf_options(conf,
                                                                  GROUP)
        self._client = None
        self._lock = threading.Lock()
        self._extensions = None

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                group = self.conf[GROUP]
                self._client = neutron_client.Client(
                    session=self._session, auth=self._auth,
                    endpoint_type=group.endpoint_type,
                    region_name=group.region_name,
                    endpoint_override=group.url)
            return self._client

    @property
    def admin_project_id(self):
        """The project of the service credentials (None without Keystone)."""
        try:
            return self._auth.get_project_id(self._session)
        except ks_exceptions.ClientException as exc:
            raise exception.NetworkException(
                message='Keystone authentication failed: %s' % exc)

    @_retry_connect
    def _call(self, method, *args, **kwargs):
        return getattr(self.client, method)(*args, **kwargs)

    def call(self, action, method, *args, **kwargs):
        with _translated(action):
            return self._call(method, *args, **kwargs)

    def list_extensions(self):
        """Neutron's extensions by name (cached after the first answer)."""
        if self._extensions is None:
            found = self.call('extension list', 'list_extensions')
            self._extensions = {ext['name']: ext
                                for ext in found.get('extensions', [])}
        return self._extensions

    def get_network(self, network_id):
        return self.call('network %s read' % network_id, 'show_network',
                         network_id).get('network', {})

    def get_subnet(self, subnet_id):
        return self.call('subnet %s read' % subnet_id, 'show_subnet',
                         subnet_id).get('subnet', {})

    def show_port(self, port_id):
        return self.call('port %s read' % port_id, 'show_port',
                         port_id).get('port', {})

    def list_ports(self, **filters):
        return self.call('port list', 'list_ports', **filters).get('ports',
                                                                   [])

    def list_ports_of_devices(self, device_ids, **filters):
        """Ports whose device_id is one of ``device_ids`` (a few listings of many ids each)."""
        device_ids = list(device_ids)
        ports = []
        for start in range(0, len(device_ids), DEVICE_ID_CHUNK):
            ports.extend(self.list_ports(
                device_id=device_ids[start:start + DEVICE_ID_CHUNK],
                **filters))
        return ports

    def delete_port(self, port_id):
        """Delete a port; one Neutron no longer has counts as deleted."""
        try:
            with _translated('port %s delete' % port_id):
                self._call('delete_port', port_id)
        except exception.NetworkException as exc:
            if exc.kwargs.get('code') != 404:
                raise
            LOG.warning('Neutron port %s was already gone.', port_id)

    def create_port(self, project_id, network_id, subnet_id=None,
                    host_id=None, **attributes):
        """Create a port on ``network_id`` (an address of ``subnet_id``); returns it."""
        body = dict(attributes, network_id=network_id)
        body.setdefault('admin_state_up', True)
        if project_id:
            body['project_id'] = project_id
        if subnet_id:
            body['fixed_ips'] = [{'subnet_id': subnet_id}]
        if host_id:
            if PORTBINDING_EXT not in self.list_extensions():
                raise exception.NetworkException(
                    message='host_id (%s) specified but Neutron has no '
                            'port binding extension' % host_id)
            body['binding:host_id'] = host_id
        try:
            return self._call('create_port', {'port': body}).get('port', {})
        except neutron_exceptions.IpAddressGenerationFailureClient as exc:
            LOG.warning('No free IP address in Neutron subnet %s.',
                        subnet_id)
            raise exception.IpAddressGenerationFailureClient(
                message='No free IP addresses available in neutron subnet '
                        '%s: %s' % (subnet_id, exc.message)) from None
        except neutron_exceptions.Conflict as exc:
            raise exception.PortLimitExceeded(
                message='Maximum number of ports exceeded: %s'
                        % exc.message) from None
        except (neutron_exceptions.NeutronClientException,
                ks_exceptions.ClientException) as exc:
            with _translated('port create on network %s' % network_id):
                raise exc
