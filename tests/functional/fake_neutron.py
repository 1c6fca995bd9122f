"""A small Neutron v2.0 HTTP service for tests: networks, subnets and ports in memory, served on 127.0.0.1 from a thread.

It answers the calls manila_lite's Neutron plugins make (extensions,
network and subnet reads, port create/read/list/delete) with Neutron's
bodies and error format (``{"NeutronError": {"type", "message",
"detail"}}``), hands out addresses from a subnet's allocation pool in order
(409 ``IpAddressGenerationFailure`` when it is used up), and keeps every
request for assertions. :meth:`FakeNeutron.fail` makes the next matching
requests fail with a given status. No token is checked (the plugins use
keystoneauth's ``none`` auth with ``[neutron] url``).
"""

import http.server
import ipaddress
import json
import random
import threading
import urllib.parse
import uuid

EXTENSIONS = ('Provider Network', 'Port Binding')


class _Error(Exception):
    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class FakeNeutron(object):
    """In-memory Neutron; ``url`` is its endpoint once started."""

    def __init__(self, port_status='ACTIVE'):
        self.networks, self.subnets, self.ports = {}, {}, {}
        self.requests = []
        self.port_status = port_status
        self._rules = []
        self._lock = threading.Lock()
        self._server = None

    # -- set-up -------------------------------------------------------------

    def add_network(self, network_type='vlan', segmentation_id=1001,
                    mtu=1450, **extra):
        net_id = str(uuid.uuid4())
        self.networks[net_id] = dict({
            'id': net_id, 'name': 'net-' + net_id[:8], 'subnets': [],
            'status': 'ACTIVE', 'admin_state_up': True, 'mtu': mtu,
            'provider:network_type': network_type,
            'provider:segmentation_id': segmentation_id,
            'router:external': False, 'shared': False}, **extra)
        return net_id

    def add_subnet(self, network_id, cidr='10.20.0.0/24', gateway_ip=None,
                   pool=None):
        """A subnet of ``network_id``; ``pool`` is (first, last) address, default every host but the gateway."""
        net = ipaddress.ip_network(cidr)
        hosts = list(net.hosts()) if net.num_addresses > 2 else list(net)
        gateway_ip = gateway_ip or str(hosts[0])
        first, last = pool or (str(hosts[1]), str(hosts[-1]))
        subnet_id = str(uuid.uuid4())
        self.subnets[subnet_id] = {
            'id': subnet_id, 'network_id': network_id, 'cidr': cidr,
            'gateway_ip': gateway_ip, 'ip_version': net.version,
            'allocation_pools': [{'start': first, 'end': last}],
            'enable_dhcp': False}
        self.networks[network_id]['subnets'].append(subnet_id)
        return subnet_id

    def fail(self, method, path, status=500, kind='InternalServerError',
             message='fake neutron failure', times=1, after=0):
        """Answer the next ``times`` ``method`` requests on paths starting with ``path`` (after ``after`` good ones) with an error."""
        with self._lock:
            self._rules.append({'method': method, 'path': path,
                                'status': status, 'kind': kind,
                                'message': message, 'times': times,
                                'after': after})

    def ports_of(self, device_id):
        with self._lock:
            return [p for p in self.ports.values()
                    if p['device_id'] == device_id]

    def port_bodies(self):
        """The ``port`` bodies of every POST /v2.0/ports received."""
        return [body['port'] for method, path, body in self.requests
                if method == 'POST' and path == '/v2.0/ports']

    # -- serving ------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                fake._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever,
                         kwargs={'poll_interval': 0.1}, daemon=True).start()
        return self

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self._server.server_address[1]

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _dispatch(self, handler):
        parsed = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get('Content-Length') or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        query = urllib.parse.parse_qs(parsed.query)
        with self._lock:
            self.requests.append((handler.command, parsed.path, body))
            try:
                self._injected(handler.command, parsed.path)
                status, answer = self._route(handler.command, parsed.path,
                                             query, body)
            except _Error as err:
                status, answer = err.status, {'NeutronError': {
                    'type': err.kind, 'message': err.message,
                    'detail': ''}}
        data = json.dumps(answer).encode() if answer is not None else b''
        handler.send_response(status)
        handler.send_header('Content-Type', 'application/json')
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _injected(self, method, path):
        for rule in self._rules:
            if rule['method'] != method or not path.startswith(rule['path']):
                continue
            if rule['after'] > 0:
                rule['after'] -= 1
                return
            if rule['times'] > 0:
                rule['times'] -= 1
                raise _Error(rule['status'], rule['kind'], rule['message'])

    def _route(self, method, path, query, body):
        parts = path.strip('/').split('/')
        if parts[0] != 'v2.0' or len(parts) < 2:
            raise _Error(404, 'HTTPNotFound', 'no such path %s' % path)
        kind, item = parts[1], (parts[2] if len(parts) > 2 else None)
        if kind == 'extensions' and method == 'GET':
            return 200, {'extensions': [{'name': n, 'alias': n.lower()}
                                        for n in EXTENSIONS]}
        if kind in ('networks', 'subnets') and item and method == 'GET':
            store = self.networks if kind == 'networks' else self.subnets
            if item not in store:
                raise _Error(404, '%sNotFound' % kind[:-1].capitalize(),
                             '%s %s could not be found.' % (kind[:-1], item))
            return 200, {kind[:-1]: store[item]}
        if kind == 'ports':
            return self._ports(method, item, query, body)
        raise _Error(404, 'HTTPNotFound', 'no such path %s' % path)

    def _ports(self, method, item, query, body):
        if item is None and method == 'GET':
            return 200, {'ports': [p for p in self.ports.values()
                                   if _matches(p, query)]}
        if item is None and method == 'POST':
            port = self._new_port(body['port'])
            self.ports[port['id']] = port
            return 201, {'port': port}
        if item not in self.ports:
            raise _Error(404, 'PortNotFound',
                         'Port %s could not be found.' % item)
        if method == 'GET':
            return 200, {'port': self.ports[item]}
        if method == 'DELETE':
            del self.ports[item]
            return 204, None
        raise _Error(405, 'HTTPMethodNotAllowed', method)

    def _new_port(self, req):
        net_id = req.get('network_id')
        if net_id not in self.networks:
            raise _Error(404, 'NetworkNotFound',
                         'Network %s could not be found.' % net_id)
        fixed = []
        for wanted in req.get('fixed_ips') or [
                {'subnet_id': self.networks[net_id]['subnets'][0]}]:
            fixed.append({'subnet_id': wanted['subnet_id'],
                          'ip_address': self._free_ip(net_id, wanted)})
        port = {key: value for key, value in req.items()
                if key not in ('fixed_ips', 'binding:host_id')}
        port.update({
            'id': str(uuid.uuid4()), 'network_id': net_id,
            'fixed_ips': fixed, 'status': self.port_status,
            'mac_address': 'fa:16:3e:%02x:%02x:%02x' % tuple(
                random.randrange(256) for _ in range(3)),
            'device_id': req.get('device_id', ''),
            'device_owner': req.get('device_owner', ''),
            'binding:host_id': req.get('binding:host_id', ''),
            'binding:vif_type': ('ovs' if req.get('binding:host_id')
                                 else 'unbound')})
        return port

    def _free_ip(self, net_id, wanted):
        subnet = self.subnets.get(wanted['subnet_id'])
        if subnet is None or subnet['network_id'] != net_id:
            raise _Error(400, 'InvalidInput', 'subnet %s is not on network '
                         '%s' % (wanted['subnet_id'], net_id))
        taken = {ip['ip_address'] for p in self.ports.values()
                 for ip in p['fixed_ips']}
        pool = subnet['allocation_pools'][0]
        address = ipaddress.ip_address(pool['start'])
        while address <= ipaddress.ip_address(pool['end']):
            if str(address) not in taken:
                return str(address)
            address += 1
        raise _Error(409, 'IpAddressGenerationFailure',
                     'No more IP addresses available on network %s.'
                     % net_id)


def _matches(port, query):
    for key, values in query.items():
        if key == 'fixed_ips':
            for value in values:
                field, _, wanted = value.partition('=')
                if not any(ip.get(field) == wanted
                           for ip in port['fixed_ips']):
                    return False
        elif key in ('fields', 'limit', 'marker'):
            continue
        elif str(port.get(key)) not in values:
            return False
    return True
