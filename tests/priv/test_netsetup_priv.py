"""netsetup in throwaway network namespaces: a private "host" netns holds the
bridges and our nft table; "containers" and an "external" peer are further
namespaces. Everything is created with unique names and deleted afterwards."""
import os
import secrets
import subprocess
import tempfile
import time

import pytest

from dindtest import binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def sh(*args, check=True, timeout=20):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


class Lab:
    def __init__(self):
        self.tag = "dn" + secrets.token_hex(3)
        self.host = self.tag + "h"
        self.namespaces = []
        self.state = tempfile.mkdtemp(prefix="dind-netsetup-")
        self.procs = []

    def ns(self, suffix):
        name = self.tag + suffix
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        self.namespaces.append(name)
        return name

    def in_ns(self, ns, *args, check=True, timeout=20):
        return sh("ip", "netns", "exec", ns, *args, check=check, timeout=timeout)

    def netsetup(self, *args, check=True):
        return self.in_ns(self.host, binary("dind-netsetup"), "--state", self.state, "--table", "dind_test",
                          *args, check=check)

    def snapshot(self):
        return {what: self.in_ns(self.host, *cmd).stdout for what, cmd in {
            "link": ["ip", "-o", "link"], "addr": ["ip", "-o", "addr"], "route": ["ip", "route"],
            "nft": ["nft", "list", "ruleset"]}.items()}

    def serve(self, ns, port, text):
        code = ("import socket\n"
                "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                f"s.bind(('0.0.0.0', {port})); s.listen()\n"
                "while True:\n"
                f"    c,_=s.accept(); c.sendall(b'{text}\\n'); c.close()\n")
        p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code])
        self.procs.append(p)
        time.sleep(0.3)

    def fetch(self, ns, ip, port):
        return self.in_ns(ns, "busybox", "nc", "-w", "2", ip, str(port), check=False, timeout=10).stdout.strip()

    def ping(self, ns, ip):
        return self.in_ns(ns, "busybox", "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        sh("rm", "-rf", self.state)


@pytest.fixture
def lab():
    lab = Lab()
    try:
        lab.ns("h")
        # No IPv6 duplicate-address detection in the lab's host netns: its
        # "tentative" flag would make before/after snapshots differ by timing.
        for scope in ("all", "default"):
            lab.in_ns(lab.host, "sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_dad=0")
        # The "external" peer: a veth between the host netns and ext, 10.199.0.0/30.
        ext = lab.ns("x")
        sh("ip", "link", "add", lab.tag + "u0", "netns", lab.host, "type", "veth", "peer", "name", "eth0",
           "netns", ext)
        lab.in_ns(lab.host, "ip", "addr", "add", "10.199.0.1/30", "dev", lab.tag + "u0")
        lab.in_ns(lab.host, "ip", "link", "set", lab.tag + "u0", "up")
        lab.in_ns(ext, "ip", "addr", "add", "10.199.0.2/30", "dev", "eth0")
        lab.in_ns(ext, "ip", "link", "set", "eth0", "up")
        lab.ext = ext
        yield lab
    finally:
        lab.close()


def test_two_networks_published_ports_isolation_and_exact_teardown(lab):
    before = lab.snapshot()
    c1, c2, c3 = lab.ns("c1"), lab.ns("c2"), lab.ns("c3")
    out = lab.netsetup("network", "create", "front", "--subnet", "10.88.1.0/24", "--mtu", "1400").stdout
    assert "10.88.1.0/24 gateway 10.88.1.1 mtu 1400" in out
    lab.netsetup("network", "create", "back", "--subnet", "10.88.2.0/24")
    assert lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c1}", "--name", "web",
                        "-p", "8080:80").stdout.startswith("10.88.1.2 eth0")
    assert lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c2}", "--name", "client",
                        "--ip", "10.88.1.50").stdout.startswith("10.88.1.50 eth0")
    lab.netsetup("attach", "--network", "back", "--netns", f"/run/netns/{c3}", "--name", "db")

    # Inside a container: eth0 with the MTU, the MAC from the IP, the default route.
    link = lab.in_ns(c1, "ip", "-o", "link", "show", "eth0").stdout
    assert "mtu 1400" in link and "02:42:0a:58:01:02" in link
    assert "default via 10.88.1.1 dev eth0" in lab.in_ns(c1, "ip", "route").stdout

    assert lab.ping(c2, "10.88.1.2"), "containers on one network reach each other"
    assert lab.ping(c1, "10.88.1.1"), "and their gateway"
    assert lab.ping(c1, "10.199.0.2"), "and the outside, masqueraded"
    assert not lab.ping(c3, "10.88.1.2"), "another network is isolated"

    lab.serve(c1, 80, "hello from web")
    assert lab.fetch(lab.host, "127.0.0.1", 8080) == "hello from web", "host loopback -> published port"
    assert lab.fetch(lab.host, "10.199.0.1", 8080) == "hello from web", "host address -> published port"
    assert lab.fetch(lab.ext, "10.199.0.1", 8080) == "hello from web", "outside -> published port"
    assert lab.fetch(c2, "10.199.0.1", 8080) == "hello from web", "hairpin through the host address"
    assert lab.fetch(c1, "10.199.0.1", 8080) == "hello from web", "a container reaching its own port"

    # A clash on the host port is refused clearly and changes nothing.
    snap = lab.snapshot()
    clash = lab.netsetup("attach", "--network", "back", "--netns", f"/run/netns/{c2}", "-p", "8080:81",
                         check=False)
    assert clash.returncode == 1 and "port is already allocated" in clash.stderr
    assert lab.snapshot() == snap

    for ns, net in [(c1, "front"), (c2, "front"), (c3, "back")]:
        lab.netsetup("detach", "--network", net, "--netns", f"/run/netns/{ns}")
    lab.netsetup("network", "rm", "front")
    lab.netsetup("network", "rm", "back")
    assert lab.snapshot() == before, "teardown restores link, addr, route and the nft ruleset exactly"


def test_bad_input_is_refused_and_nothing_is_half_created(lab):
    before = lab.snapshot()
    lab.netsetup("network", "create", "a", "--subnet", "10.88.3.0/24")
    mid = lab.snapshot()
    cases = [
        (["network", "create", "b", "--subnet", "10.88.3.128/25"], "overlaps"),
        (["network", "create", "a", "--subnet", "10.88.4.0/24"], "already exists"),
        (["network", "create", "c", "--subnet", "10.88.5.0/24", "--gateway", "10.88.6.1"], "not in subnet"),
        (["network", "create", "bad\tname"], "invalid network name"),
        (["network", "create", "d", "--bridge", "bad;name"], "invalid bridge name"),
        (["attach", "--network", "nope", "--netns", "/run/netns/" + lab.host], "not found"),
        (["attach", "--network", "a", "--netns", "/run/netns/doesnotexist" + lab.tag], "No such file"),
        (["attach", "--network", "a", "--netns", "/run/netns/" + lab.ext, "--ip", "10.88.9.9"], "not in subnet"),
        (["attach", "--network", "a", "--netns", "/run/netns/" + lab.ext, "--name", "bad name"], "valid DNS name"),
        (["attach", "--network", "a", "--netns", "/run/netns/" + lab.ext, "-p", "99999:80"], "invalid port"),
        (["network", "rm", "nope"], "not found"),
    ]
    for args, needle in cases:
        p = lab.netsetup(*args, check=False)
        assert p.returncode != 0, args
        assert needle in p.stderr, (args, p.stderr)
        assert lab.snapshot() == mid, args
    # Subnets come from the pools, skipping what is taken.
    pooled = [lab.in_ns(lab.host, binary("dind-netsetup"), "--state", lab.state, "--table", "dind_test",
                        "--pool", "base=10.87.0.0/23,size=24", "network", "create", name).stdout.split()[2]
              for name in ("p1", "p2")]
    assert pooled == ["10.87.0.0/24", "10.87.1.0/24"]
    full = lab.in_ns(lab.host, binary("dind-netsetup"), "--state", lab.state, "--table", "dind_test",
                     "--pool", "base=10.87.0.0/23,size=24", "network", "create", "p3", check=False)
    assert full.returncode == 1 and "fully subnetted" in full.stderr
    lab.netsetup("network", "rm", "p1")
    lab.netsetup("network", "rm", "p2")
    assert lab.snapshot() == mid
    # A host port some other process holds is refused too.
    holder = subprocess.Popen(["ip", "netns", "exec", lab.host, "/usr/bin/python3", "-c",
                               "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 9090)); "
                               "s.listen(); print('bound', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    lab.procs.append(holder)
    assert holder.stdout.readline().strip() == "bound"
    p = lab.netsetup("attach", "--network", "a", "--netns", "/run/netns/" + lab.ext, "-p", "9090:80", check=False)
    assert p.returncode == 1 and "Bind for 0.0.0.0:9090/tcp failed: port is already allocated" in p.stderr
    assert lab.snapshot() == mid
    # A namespace that vanishes is refused without leftovers.
    gone = lab.ns("g")
    sh("ip", "netns", "del", gone)
    lab.namespaces.remove(gone)
    p = lab.netsetup("attach", "--network", "a", "--netns", f"/run/netns/{gone}", check=False)
    assert p.returncode == 1
    assert lab.snapshot() == mid
    lab.netsetup("network", "rm", "a")
    assert lab.snapshot() == before


FAKE_UPSTREAM = r'''
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.199.0.2", 53))
while True:
    data, peer = s.recvfrom(4096)
    qid = data[:2]
    end = 12
    while data[end] != 0:
        end += data[end] + 1
    question = data[12:end + 5]
    labels, i = [], 12
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode()); i += data[i] + 1
    name = ".".join(labels).lower()
    if name == "outside.test":
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([1, 2, 3, 4])
        s.sendto(qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + answer, peer)
    else:
        s.sendto(qid + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + question, peer)
'''

TCP_QUERY = r'''
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00\x00\x01\x00\x01"
c = socket.create_connection((server, 53), timeout=5)
c.sendall(struct.pack("!H", len(q)) + q)
n = struct.unpack("!H", c.recv(2))[0]
r = b""
while len(r) < n:
    r += c.recv(n - len(r))
ancount = struct.unpack("!H", r[6:8])[0]
print("rcode", r[3] & 15, "answers", ancount, ".".join(str(b) for b in r[-4:]) if ancount else "")
'''


def test_embedded_dns_names_aliases_isolation_and_forwarding(lab):
    c1, c2, c3 = lab.ns("c1"), lab.ns("c2"), lab.ns("c3")
    lab.netsetup("network", "create", "front", "--subnet", "10.88.1.0/24")
    lab.netsetup("network", "create", "back", "--subnet", "10.88.2.0/24")
    lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c1}", "--name", "web", "--name", "www")
    lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c2}", "--name", "client")
    lab.netsetup("attach", "--network", "back", "--netns", f"/run/netns/{c3}", "--name", "db")
    upstream = subprocess.Popen(["ip", "netns", "exec", lab.ext, "/usr/bin/python3", "-c", FAKE_UPSTREAM])
    lab.procs.append(upstream)
    dns = subprocess.Popen(["ip", "netns", "exec", lab.host, binary("dind-netsetup"), "--state", lab.state,
                            "--table", "dind_test", "dns", "--upstream", "10.199.0.2"],
                           stdout=subprocess.PIPE, text=True)
    lab.procs.append(dns)
    assert dns.stdout.readline().strip() == "ready"
    time.sleep(0.2)

    def nslookup(ns, name, server):
        return lab.in_ns(ns, "busybox", "nslookup", name, server, check=False).stdout

    assert "Address: 10.88.1.2" in nslookup(c2, "web", "10.88.1.1")
    assert "Address: 10.88.1.2" in nslookup(c2, "WWW", "10.88.1.1"), "aliases, case-insensitive"
    assert "Address: 10.88.1.2" in nslookup(c2, "web.front", "10.88.1.1")
    assert "Address: 1.2.3.4" in nslookup(c2, "outside.test", "10.88.1.1"), "forwarded upstream"
    assert "NXDOMAIN" in nslookup(c2, "nosuch.test", "10.88.1.1")
    assert "NXDOMAIN" in nslookup(c2, "db", "10.88.1.1"), "another network's names stay invisible"
    assert "Address: 10.88.2.2" in nslookup(c3, "db", "10.88.2.1")
    assert "NXDOMAIN" in nslookup(c3, "web", "10.88.2.1")
    tcp = lab.in_ns(c2, "/usr/bin/python3", "-c", TCP_QUERY, "web", "10.88.1.1").stdout
    assert tcp.strip() == "rcode 0 answers 1 10.88.1.2", tcp

    # The resolv.conf a container gets, used through `ip netns exec`'s
    # /etc/netns/<name>/ overlay: ping by name.
    conf = lab.netsetup("resolv-conf", "--network", "front").stdout
    assert "nameserver 10.88.1.1" in conf and "options ndots:0" in conf
    etc = f"/etc/netns/{c2}"
    os.makedirs(etc)
    try:
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write(conf)
        assert lab.in_ns(c2, "busybox", "ping", "-c", "1", "-W", "2", "web", check=False).returncode == 0
    finally:
        sh("rm", "-rf", etc)
    dns.terminate()
    assert dns.wait(timeout=10) == 0


UDP_SERVER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    data, peer = s.recvfrom(100)
    s.sendto(sys.argv[1].encode(), peer)
'''

UDP_CLIENT = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.199.0.2", 40000))  # the same source port every time: one conntrack flow
s.settimeout(1)
s.sendto(b"hi", ("10.199.0.1", 5353))
try:
    print(s.recv(100).decode())
except socket.timeout:
    print("timeout")
'''


def test_unmapping_flushes_conntrack_so_udp_flows_follow_the_new_mapping(lab):
    c1, c2 = lab.ns("c1"), lab.ns("c2")
    lab.netsetup("network", "create", "front", "--subnet", "10.88.1.0/24")
    lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c1}", "-p", "5353:53/udp")
    lab.procs.append(subprocess.Popen(["ip", "netns", "exec", c1, "/usr/bin/python3", "-c", UDP_SERVER, "c1"]))
    time.sleep(0.3)
    ask = lambda: lab.in_ns(lab.ext, "/usr/bin/python3", "-c", UDP_CLIENT).stdout.strip()
    assert ask() == "c1"
    lab.netsetup("detach", "--network", "front", "--netns", f"/run/netns/{c1}")
    lab.netsetup("attach", "--network", "front", "--netns", f"/run/netns/{c2}", "-p", "5353:53/udp")
    lab.procs.append(subprocess.Popen(["ip", "netns", "exec", c2, "/usr/bin/python3", "-c", UDP_SERVER, "c2"]))
    time.sleep(0.3)
    assert ask() == "c2", "the old flow would still be DNAT-ed to the removed container"
