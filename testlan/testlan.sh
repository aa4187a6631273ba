#!/usr/bin/env bash
# The project's test LAN: network namespaces, veth pairs and bridges on 10.77.0.0/16, with real
# servers. Every scanning test sends packets only here or to 127.0.0.1 (DEVELOPERS.md: the
# network rule). Nothing is created in the machine's own network namespace: even the bridges
# live in a namespace of their own.
#
#   sudo testlan/testlan.sh up        build it (tears down any leftover first)
#   sudo testlan/testlan.sh down      remove all of it (safe to run any time, twice)
#   sudo testlan/testlan.sh status    exit 0 when every host answers
#   sudo testlan/testlan.sh selftest  up, check, down, check it is gone; twice
#   sudo testlan/testlan.sh join NAME MAC HOSTNAME VENDOR   a new host joins the home segment:
#                                     busybox udhcpc asks media's DHCP server for an address with
#                                     that host name and vendor class, configures it and sends a
#                                     gratuitous ARP
#                                     (prints link_up=EPOCH when its link is up, ip=ADDRESS)
#   sudo testlan/testlan.sh leave NAME                      it leaves (its namespace is removed)
#   sudo testlan/testlan.sh flood NAME COUNT RATE           a host on the home segment sends COUNT
#                                     ARP packets from random MACs at RATE/s (0: at full speed)
#
# Layout (keep in sync with testlan/src/lib.rs):
#   10.77.0.0/24  "lan" (bridge br0 in sclan-sw)
#     .1   sclan-rtr    router to 10.77.1.0/24, default gateway, dnsmasq (DNS with PTR records),
#                       snmpd (community lab-ro: its ARP cache and addresses)
#     .2   sclan-scan   the scanner's namespace: tests run their probes from here
#     .10  sclan-web    nginx on 80 and 443 (TLS), redis on 6379  MAC 00:11:32:77:00:10 (Synology OUI)
#     .11  sclan-ssh    OpenSSH on 22                         MAC 02:77:00:00:00:11
#     .12  sclan-quiet  no open port (answers with resets)    MAC 02:77:00:00:00:12
#     .13  sclan-drop   drops all TCP                         MAC 02:77:00:00:00:13
#     .20  sclan-svc    PostgreSQL 5432, mosquitto 1883, snmpd 161/udp   MAC 02:77:00:00:00:20
#     .21  sclan-many   200 open ports (nginx on 20001-20200)  MAC 02:77:00:00:00:21
#   fd77::/64     IPv6 on "lan": the router (fd77::1) advertises it with radvd and every host takes
#                 a SLAAC address (EUI-64 of its MAC); the scanner has fd77::2 (no SLAAC), web also
#                 fd77::10 (nginx on [::]:80 and 443); ssh only its SLAAC address fd77::77:ff:fe00:11
#                 (sshd on ::); quiet ignores multicast echo (as Windows); svc prefers a temporary
#                 address; dnsmasq has their AAAA and ip6.arpa PTR records
#   10.78.0.0/16  "wide" (bridge br2 in sclan-sw): the scanner's second leg (eth1, 10.78.0.2)
#     .0.10 and .200.20  sclan-wide  no servers; for sweeps of a /16   MAC 02:78:00:00:00:10
#   10.77.1.0/24  "far" (bridge br1 in sclan-sw), behind the router
#     .1   sclan-rtr
#     .10  sclan-far    busybox httpd on 8080                 MAC 02:77:00:01:00:10
#     .20  sclan-farquiet  no servers, drops all TCP; only ICMP answers  MAC 02:77:00:01:00:20
#   10.77.2.0/24  "hostile" (bridge br3 in sclan-sw): hosts that try to stall or fool a scan
#     .1   sclan-rtr    (its third leg; dnsmasq forwards 2.77.10.in-addr.arpa to .35)
#     .2   sclan-scan   the scanner's third leg (eth2)
#     .30  sclan-mute     443 accepts and never speaks (socat SYSTEM:"sleep 300");
#                         25 an SMTP server that greets after 1.5 s and hangs up on a client
#                         that speaks first (hostile.py lategreet)            MAC 02:77:00:02:00:30
#     .31  sclan-trickle  443 sends one byte every 50 ms, forever                  MAC 02:77:00:02:00:31
#     .32  sclan-flood    80 sends 8 MiB of banner                                 MAC 02:77:00:02:00:32
#     .33  sclan-tlsstall 443 reads the ClientHello, sends half a ServerHello, stalls MAC 02:77:00:02:00:33
#     .34  sclan-every    every TCP port answers (nftables redirect to one listener
#                         that greets with terminal escapes, then stalls)          MAC 02:77:00:02:00:34
#     .35  sclan-badudp   161/udp malformed BER, 53/udp and 5353/udp malformed DNS, 1900/udp 40
#                         SSDP answers pointing elsewhere, 137/udp a
#                         NetBIOS name table cut short, with terminal escapes; the PTR names of
#                         .30-.34 (control characters, 63-byte labels, a 253-byte name)  MAC 02:77:00:02:00:35
#     .36  sclan-liar     answers ARP (and TCP, with resets) for 10.77.2.64/26 too      MAC 02:77:00:02:00:36
#   10.77.3.0/24  "home" (bridge br4 in sclan-sw): devices that announce themselves
#     .2   sclan-scan   the scanner's fourth leg (eth3)
#     .30  sclan-media  avahi-daemon (mDNS/DNS-SD): host name media.local, an IPP printer
#                       "Office Printer" (TXT ty=Scanopy LabJet 400) and _http._tcp;
#                       Samba's nmbd (NetBIOS name MEDIA, workgroup LAB); a dnsmasq that is the
#                       segment's DHCP server, 10.77.3.100-149, for `join`    MAC 02:77:00:03:00:30
#     .40  sclan-tv     minissdpd (SSDP on 1900/udp) with a UPnP MediaRenderer and busybox httpd
#                       on 8080 serving its description: "Living Room TV", Scanopy Labs
#                       ScreenCast 55 (testlan/upnp.py registers it)          MAC 02:77:00:03:00:40
#   10.77.4.0/24  "campus": two managed switches in a row (namespaces with a Linux bridge each,
#                 snmpd with community lab-ro serving the bridge's real forwarding table, VLANs
#                 declared per port, lldpd as AgentX sub-agent for LLDP-MIB) and lldpd on hosts
#     .2   sclan-scan   the scanner's fifth leg (eth4), on sw1 ge1 (VLAN 10 lab)
#     .3   sclan-sw1    switch, management address on its bridge   MAC 02:77:04:00:00:03
#                       (its lldpd sends CDP frames as well as LLDP)
#                       ge1 scanner, ge2 ca, ge3 cb (VLAN 20 office), ge8 uplink to sw2 ge1
#     .4   sclan-sw2    switch                                     MAC 02:77:04:00:00:04
#                       ge1 uplink to sw1 ge8, ge2 cc, ge3 cd (both VLAN 20 office)
#     .10  sclan-ca     lldpd, on sw1 ge2                          MAC 02:77:04:00:00:10
#     .11  sclan-cb     lldpd, on sw1 ge3                          MAC 02:77:04:00:00:11
#     .20  sclan-cc     lldpd, on sw2 ge2                          MAC 02:77:04:00:00:20
#     .21  sclan-cd     lldpd, on sw2 ge3                          MAC 02:77:04:00:00:21
#   The hostile segment is a /24 of its own so that scans of 10.77.0.0/24 see the same hosts
#   as before; the hostile services are testlan/hostile.py (python3) and socat.
set -euo pipefail

PREFIX=sclan
STATE=${SCANOPY_TESTLAN_STATE:-/run/scanopy-testlan}
SW=$PREFIX-sw
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() { echo "testlan: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing $1 (install: $2)"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-" || true; }

down() {
  local ns pids
  for ns in $(namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local left=""
    for ns in $(namespaces); do left+=$(ip netns pids "$ns" 2>/dev/null || true); done
    [ -z "$left" ] && break
    sleep 0.2
  done
  for ns in $(namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$STATE"
  if [ -n "$(namespaces)" ]; then die "could not remove: $(namespaces | tr '\n' ' ')"; fi
}

# host NAME IP/PREFIX MAC BRIDGE GATEWAY
host() {
  local name=$1 addr=$2 mac=$3 br=$4 gw=$5 ns=$PREFIX-$1
  ip netns add "$ns"
  ip -n "$SW" link add "p-$name" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "p-$name" master "$br" up
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" addr add "$addr" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  [ -n "$gw" ] && ip -n "$ns" route add default via "$gw"
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 10.77.0.1" > "/etc/netns/$ns/resolv.conf"
}

# start NAMESPACE LOGNAME COMMAND...: detached, its output in $STATE/LOGNAME.log
start() {
  local ns=$PREFIX-$1 log=$2; shift 2
  setsid ip netns exec "$ns" "$@" > "$STATE/$log.log" 2>&1 < /dev/null &
}

# wait_tcp IP PORT: until it accepts from the scanner's namespace
wait_tcp() {
  for _ in $(seq 1 100); do
    if nsx $PREFIX-scan timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$1:$2 did not come up; logs in $STATE"
}

# udp_check: the hostile UDP host answers on 53 and 161, and the router hands on its PTR names
udp_check() {
  nsx $PREFIX-scan python3 - <<'PY'
import socket, sys
def ask(addr, port, q):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(q, (addr, port))
    return s.recv(4096)
ptr = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0230\x012\x0277\x0210\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
try:
    assert ask("10.77.2.35", 161, b"\x30\x00").startswith(b"\x30\x84")
    assert b"mute" in ask("10.77.2.35", 53, ptr)
    assert b"mute" in ask("10.77.0.1", 53, ptr), "the router does not forward the hostile PTR names"
except Exception as e:
    print("hostile UDP:", e or type(e).__name__)
    sys.exit(1)
PY
}

wait_udp() {
  for _ in $(seq 1 50); do udp_check >/dev/null 2>&1 && return 0; sleep 0.1; done
  udp_check || die "the hostile UDP host did not come up; logs in $STATE"
}

# media_avahi: the media host's avahi configuration and static services.
media_avahi() {
  local d=/etc/netns/$PREFIX-media/avahi
  mkdir -p "$d/services"
  cat > "$d/avahi-daemon.conf" <<'CONF'
[server]
host-name=media
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
[rlimits]
CONF
  cat > "$d/services/printer.service" <<'XML'
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>Office Printer</name>
  <service>
    <type>_ipp._tcp</type>
    <port>631</port>
    <txt-record>txtvers=1</txt-record>
    <txt-record>ty=Scanopy LabJet 400</txt-record>
    <txt-record>product=(Scanopy LabJet 400)</txt-record>
  </service>
  <service>
    <type>_http._tcp</type>
    <port>80</port>
  </service>
</service-group>
XML
  [ -e /etc/avahi/hosts ] && cp /etc/avahi/hosts "$d/hosts"
  return 0
}

# media_nmbd: Samba's NetBIOS name server for the media host, every path in $STATE/nmbd.
media_nmbd() {
  local d=$STATE/nmbd
  mkdir -p "$d"/{lock,state,cache,pid,private,log}
  cat > "$d/smb.conf" <<CONF
[global]
netbios name = MEDIA
workgroup = LAB
interfaces = 10.77.3.30/24
bind interfaces only = yes
lock directory = $d/lock
state directory = $d/state
cache directory = $d/cache
pid directory = $d/pid
private dir = $d/private
ncalrpc dir = $d/lock/ncalrpc
log file = $d/log/nmbd.log
local master = no
domain master = no
preferred master = no
dns proxy = no
CONF
}

# mdns_check: the media host's avahi answers a unicast DNS-SD query from the scanner.
mdns_check() {
  nsx $PREFIX-scan python3 - <<'PY'
import socket, sys
q = b"\x5c\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x09_services\x07_dns-sd\x04_udp\x05local\x00\x00\x0c\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
try:
    s.sendto(q, ("10.77.3.30", 5353))
    assert b"_ipp" in s.recv(4096)
    nb = b"\x4e\x42\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x20CK" + b"A" * 30 + b"\x00\x00\x21\x00\x01"
    s.sendto(nb, ("10.77.3.30", 137))
    assert b"MEDIA" in s.recv(4096)
except Exception as e:
    print("mdns/netbios:", e or type(e).__name__)
    sys.exit(1)
PY
}

# The ssh host's SLAAC address: EUI-64 of its MAC 02:77:00:00:00:11 in fd77::/64.
SSH_SLAAC=fd77::77:ff:fe00:11

# ipv6_radvd: the router advertises fd77::/64 on the LAN, for SLAAC.
ipv6_radvd() {
  cat > "$STATE/radvd.conf" <<'CONF'
interface eth0 {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 10;
  prefix fd77::/64 { AdvOnLink on; AdvAutonomous on; };
};
CONF
  start rtr radvd radvd -n -m stderr -C "$STATE/radvd.conf" -p "$STATE/radvd.pid"
}

# ipv6_check: the ssh host has its SLAAC address (DAD done) and answers on it from the scanner.
ipv6_check() {
  ip -n $PREFIX-ssh -6 addr show dev eth0 | grep -q "inet6 $SSH_SLAAC/64 scope global dynamic" \
    && ! ip -n $PREFIX-ssh -6 addr show dev eth0 | grep -q tentative \
    && nsx $PREFIX-scan timeout 2 bash -c "exec 3<>/dev/tcp/$SSH_SLAAC/22" 2>/dev/null \
    && nsx $PREFIX-scan timeout 2 bash -c "exec 3<>/dev/tcp/fd77::10/80" 2>/dev/null \
    || { echo "IPv6: $SSH_SLAAC (ssh, SLAAC) or fd77::10 (web) does not answer"; return 1; }
}

wait_ipv6() {
  for _ in $(seq 1 150); do ipv6_check >/dev/null 2>&1 && return 0; sleep 0.1; done
  ipv6_check || die "IPv6 SLAAC did not come up on the LAN; logs in $STATE"
}

# tv: the home segment's UPnP TV: busybox httpd serves its device description on 8080, and
# minissdpd answers SSDP searches for the services testlan/upnp.py registers through its socket.
tv() {
  host tv 10.77.3.40/24 02:77:00:03:00:40 br4 ""
  mkdir -p "$STATE/tv/www"
  cat > "$STATE/tv/www/description.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>
    <friendlyName>Living Room TV</friendlyName>
    <manufacturer>Scanopy Labs</manufacturer>
    <modelName>ScreenCast</modelName>
    <modelNumber>55</modelNumber>
    <serialNumber>SC55-0001</serialNumber>
    <UDN>uuid:4d696e69-444c-164e-9d41-b827eb000001</UDN>
  </device>
</root>
XML
  start tv tv-httpd busybox httpd -f -p 10.77.3.40:8080 -h "$STATE/tv/www"
  start tv minissdpd minissdpd -d -i eth0 -s "$STATE/tv/minissdpd.sock" -p "$STATE/tv/minissdpd.pid"
  for _ in $(seq 1 50); do [ -S "$STATE/tv/minissdpd.sock" ] && break; sleep 0.1; done
  python3 "$(dirname "$0")/upnp.py" "$STATE/tv/minissdpd.sock" http://10.77.3.40:8080/description.xml
}

# ssdp_check: the TV answers a unicast M-SEARCH from the scanner with its description's URL.
ssdp_check() {
  nsx $PREFIX-scan python3 - <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
try:
    s.sendto(b'M-SEARCH * HTTP/1.1\r\nHOST: 10.77.3.40:1900\r\nMAN: "ssdp:discover"\r\nST: ssdp:all\r\n\r\n',
             ("10.77.3.40", 1900))
    assert b"LOCATION: http://10.77.3.40:8080/description.xml" in s.recv(4096)
except Exception as e:
    print("10.77.3.40 (tv) ssdp:", e or type(e).__name__)
    sys.exit(1)
PY
}

# farquiet: beyond the router, no servers, every TCP packet dropped (nftables, as on drop); only
# ICMP (echo, timestamp) answers, so only ICMP discovery finds it.
farquiet() {
  host farquiet 10.77.1.20/24 02:77:00:01:00:20 br1 10.77.1.1
  nsx $PREFIX-farquiet nft -f - <<NFT
table inet testlan {
  chain input { type filter hook input priority 0; policy accept; meta l4proto tcp drop; }
}
NFT
}

# farquiet_check: from the scanner, 10.77.1.20 answers an ICMP echo and drops a TCP SYN.
farquiet_check() {
  ip netns list | grep -qw "$PREFIX-farquiet" || { echo "missing namespace $PREFIX-farquiet"; return 1; }
  nsx $PREFIX-scan python3 - <<'PY'
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
try:
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    r.settimeout(1)
    m = struct.pack("!BBHHH", 8, 0, 0, 0x7e57, 1) + b"testlan!"
    r.sendto(m[:2] + struct.pack("!H", csum(m)) + m[4:], ("10.77.1.20", 0))
    end = time.time() + 1
    while True:
        assert time.time() < end, "no echo reply"
        p, (src, _) = r.recvfrom(2048)
        ihl = (p[0] & 15) * 4
        if src == "10.77.1.20" and p[ihl] == 0 and p[ihl + 4:ihl + 6] == b"\x7e\x57": break
    t = socket.socket()
    t.settimeout(1)
    try:
        t.connect(("10.77.1.20", 80))
        raise AssertionError("TCP 80 accepted")
    except socket.timeout:
        pass
except Exception as e:
    print("10.77.1.20 (farquiet):", e or type(e).__name__)
    sys.exit(1)
PY
}

wait_mdns() {
  for _ in $(seq 1 100); do mdns_check >/dev/null 2>&1 && return 0; sleep 0.1; done
  mdns_check || die "avahi or nmbd on 10.77.3.30 did not come up; logs in $STATE"
}

# lldp NAME HOSTNAME INTERFACES AGENTX [FLAGS…]: lldpd in sclan-NAME, sending every 5 s; with
# AGENTX (a socket path) also an AgentX sub-agent of that namespace's snmpd, serving LLDP-MIB;
# FLAGS go to lldpd (-l -ccc: LLDP, CDPv1 and CDPv2 frames, peer or not; with -ccc alone lldpd
# sends no LLDP where no peer speaks it).
lldp() {
  local conf="$STATE/lldpd-$1.conf" x=()
  printf 'configure system hostname %s\nconfigure lldp tx-interval 5\n' "$2" > "$conf"
  [ -n "$4" ] && x=(-x -X "unix:$4")
  x+=("${@:5}")
  start "$1" "lldpd-$1" lldpd -d -u "$STATE/lldpd-$1.sock" -O "$conf" -I "$3" "${x[@]}"
}

# chost SWITCH NAME IP/PREFIX MAC PORT: a campus host on port PORT of SWITCH's bridge, running
# lldpd (real LLDP frames to the switch; its chassis id is its MAC, its name NAME.lab.test).
chost() {
  local sw=$PREFIX-$1 name=$2 addr=$3 mac=$4 port=$5 ns=$PREFIX-$2
  ip netns add "$ns"
  ip -n "$sw" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$sw" link set "$port" master br0 up
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" addr add "$addr" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 10.77.0.1" > "/etc/netns/$ns/resolv.conf"
  lldp "$name" "$name.lab.test" eth0 ""
}

# The campus segment (issue 12): two managed switches in a row, each a namespace with a Linux
# bridge whose management address is on the bridge itself, snmpd (community lab-ro) serving the
# kernel's real forwarding table (bridge_mib.py: BRIDGE-MIB, and Q-BRIDGE-MIB with the VLANs
# declared in $STATE/vlans-SW) with lldpd as its AgentX sub-agent (LLDP-MIB); four hosts with
# lldpd. The truth of who is on which port is this wiring (testlan/src/lib.rs: CAMPUS).
campus() {
  local here sw n=3
  here="$(dirname "$(readlink -f "$0")")"
  mkdir -p /run/lldpd
  for sw in sw1 sw2; do
    ip netns add $PREFIX-$sw
    ip -n $PREFIX-$sw link set lo up
    ip -n $PREFIX-$sw link add br0 type bridge
  done
  ip -n $PREFIX-sw1 link set br0 address 02:77:04:00:00:03
  ip -n $PREFIX-sw2 link set br0 address 02:77:04:00:00:04
  # The scanner's fifth leg, on sw1's ge1; sw1's ge8 to sw2's ge1.
  ip -n $PREFIX-sw1 link add ge1 type veth peer name eth4 netns $PREFIX-scan
  ip -n $PREFIX-sw1 link set ge1 master br0 up
  ip -n $PREFIX-scan link set eth4 address 02:77:04:00:00:02
  ip -n $PREFIX-scan addr add 10.77.4.2/24 dev eth4
  ip -n $PREFIX-scan link set eth4 up
  ip -n $PREFIX-sw1 link add ge8 type veth peer name ge1 netns $PREFIX-sw2
  ip -n $PREFIX-sw1 link set ge8 master br0 up
  ip -n $PREFIX-sw2 link set ge1 master br0 up
  chost sw1 ca 10.77.4.10/24 02:77:04:00:00:10 ge2
  chost sw1 cb 10.77.4.11/24 02:77:04:00:00:11 ge3
  chost sw2 cc 10.77.4.20/24 02:77:04:00:00:20 ge2
  chost sw2 cd 10.77.4.21/24 02:77:04:00:00:21 ge3
  printf 'ge1 10 lab\nge2 10 lab\nge3 20 office\nge8 1 default\n' > "$STATE/vlans-sw1"
  printf 'ge1 1 default\nge2 20 office\nge3 20 office\n' > "$STATE/vlans-sw2"
  for sw in sw1 sw2; do
    ip -n $PREFIX-$sw addr add 10.77.4.$n/24 dev br0
    ip -n $PREFIX-$sw link set br0 up
    {
      echo "rocommunity lab-ro default"
      echo "sysName $sw.lab.test"
      echo "sysDescr Scanopy Labs LS-8 switch ($sw, a Linux bridge)"
      echo "sysLocation lab rack 1"
      echo "engineID scanopy-$sw"
      echo "master agentx"
      echo "agentXSocket unix:$STATE/agentx-$sw.sock"
      echo "pass_persist .1.3.6.1.2.1.17 /usr/bin/python3 $here/bridge_mib.py br0 $STATE/vlans-$sw"
    } > "$STATE/snmpd-$sw.conf"
    mkdir -p "$STATE/snmp-$sw"
    SNMP_PERSISTENT_DIR="$STATE/snmp-$sw" start "$sw" "snmpd-$sw" snmpd -f -Lo -C -I -smux \
      -c "$STATE/snmpd-$sw.conf" -p "$STATE/snmpd-$sw.pid" "udp:10.77.4.$n:161"
    n=$((n + 1))
  done
  # lldpd on the switches once their snmpd's AgentX socket is there.
  for sw in sw1 sw2; do
    for _ in $(seq 1 50); do [ -S "$STATE/agentx-$sw.sock" ] && break; sleep 0.1; done
    # sw1 speaks CDP as well: the scanner's listener on its ge1 hears both.
    if [ $sw = sw1 ]; then
      lldp "$sw" "$sw.lab.test" 'ge*' "$STATE/agentx-$sw.sock" -l -ccc
    else
      lldp "$sw" "$sw.lab.test" 'ge*' "$STATE/agentx-$sw.sock"
    fi
  done
}

# campus_check: every LLDP neighbour is heard (lldpd sends every 5 s): sw1 hears ca, cb and
# sw2; sw2 hears sw1, cc and cd.
campus_check() {
  local sw n
  for sw in sw1 sw2; do
    for _ in $(seq 1 100); do
      n=$(nsx $PREFIX-$sw lldpcli -u "$STATE/lldpd-$sw.sock" show neighbors 2>/dev/null \
          | grep -c 'SysName:' || true)
      [ "$n" -ge 3 ] && break
      sleep 0.2
    done
    [ "$n" -ge 3 ] || die "campus: $sw hears $n LLDP neighbours, not 3"
  done
  # The switches' and the router's agents answer (sysName.0 with community lab-ro), their
  # sub-agents and scripts started.
  nsx $PREFIX-scan python3 - <<'PY' || die "campus: an SNMP agent (lab-ro) does not answer; logs in $STATE"
import socket, sys, time
def tlv(t, b): return bytes([t, len(b)]) + b
oid = tlv(6, bytes([0x2b, 6, 1, 2, 1, 1, 5, 0]))
pdu = tlv(0xa0, tlv(2, b"\x01") + tlv(2, b"\x00") + tlv(2, b"\x00") + tlv(0x30, tlv(0x30, oid + b"\x05\x00")))
msg = tlv(0x30, tlv(2, b"\x01") + tlv(4, b"lab-ro") + pdu)
for addr in ("10.77.4.3", "10.77.4.4", "10.77.0.1"):
    deadline = time.time() + 20
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        try:
            s.sendto(msg, (addr, 161))
            if b"lab.test" in s.recv(4096):
                break
        except OSError:
            pass
        if time.time() > deadline:
            print("no SNMP answer from", addr)
            sys.exit(1)
        time.sleep(0.2)
PY
}

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  need ip iproute2; need nginx nginx-light; need sshd openssh-server; need busybox busybox-static
  need redis-server redis-server; need dnsmasq dnsmasq-base; need nft nftables
  need mosquitto mosquitto; need snmpd snmpd; need runuser util-linux; need openssl openssl
  need socat socat; need python3 python3; need avahi-daemon avahi-daemon; need nmbd samba
  need minissdpd minissdpd
  need radvd radvd
  need lldpd lldpd
  [ -x "$PGBIN/initdb" ] || die "missing PostgreSQL 15 in $PGBIN (install: postgresql-15)"
  down
  # Whatever fails from here on (a command, or die), tear down what was built.
  trap 'rc=$?; if [ $rc != 0 ]; then echo "testlan: failed, tearing down" >&2; down; fi' EXIT
  trap 'exit 1' ERR
  mkdir -p "$STATE/www" /run/sshd
  ip netns add "$SW"
  ip -n "$SW" link set lo up
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link add br1 type bridge
  ip -n "$SW" link add br2 type bridge
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set br1 up
  ip -n "$SW" link add br3 type bridge
  ip -n "$SW" link set br2 up
  ip -n "$SW" link set br3 up
  ip -n "$SW" link add br4 type bridge
  ip -n "$SW" link set br4 up

  # The router: one leg on each bridge.
  ip netns add $PREFIX-rtr
  ip -n "$SW" link add p-rtr0 type veth peer name eth0 netns $PREFIX-rtr
  ip -n "$SW" link add p-rtr1 type veth peer name eth1 netns $PREFIX-rtr
  ip -n "$SW" link set p-rtr0 master br0 up
  ip -n "$SW" link set p-rtr1 master br1 up
  ip -n $PREFIX-rtr link set eth0 address 02:77:00:00:00:01
  ip -n $PREFIX-rtr link set eth1 address 02:77:00:01:00:01
  ip -n $PREFIX-rtr addr add 10.77.0.1/24 dev eth0
  ip -n $PREFIX-rtr addr add 10.77.1.1/24 dev eth1
  ip -n $PREFIX-rtr link set lo up
  ip -n $PREFIX-rtr link set eth0 up
  ip -n $PREFIX-rtr link set eth1 up
  ip -n "$SW" link add p-rtr2 type veth peer name eth2 netns $PREFIX-rtr
  ip -n "$SW" link set p-rtr2 master br3 up
  ip -n $PREFIX-rtr link set eth2 address 02:77:00:02:00:01
  ip -n $PREFIX-rtr addr add 10.77.2.1/24 dev eth2
  ip -n $PREFIX-rtr link set eth2 up
  nsx $PREFIX-rtr sysctl -qw net.ipv4.ip_forward=1
  # IPv6 on the LAN, fd77::/64: the router routes and advertises the prefix (radvd, below).
  nsx $PREFIX-rtr sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -n $PREFIX-rtr addr add fd77::1/64 dev eth0 nodad

  host scan  10.77.0.2/24  02:77:00:00:00:02 br0 10.77.0.1
  host web   10.77.0.10/24 00:11:32:77:00:10 br0 10.77.0.1
  host ssh   10.77.0.11/24 02:77:00:00:00:11 br0 10.77.0.1
  host quiet 10.77.0.12/24 02:77:00:00:00:12 br0 10.77.0.1
  host drop  10.77.0.13/24 02:77:00:00:00:13 br0 10.77.0.1
  host svc   10.77.0.20/24 02:77:00:00:00:20 br0 10.77.0.1
  host many  10.77.0.21/24 02:77:00:00:00:21 br0 10.77.0.1
  host far   10.77.1.10/24 02:77:00:01:00:10 br1 10.77.1.1
  # IPv6: every LAN host takes a SLAAC address from the router's advertisements; the scanner
  # has fd77::2 only (no advertisements taken), web fd77::10 besides its SLAAC address.
  nsx $PREFIX-scan sysctl -qw net.ipv6.conf.eth0.accept_ra=0
  ip -n $PREFIX-scan addr add fd77::2/64 dev eth0 nodad
  ip -n $PREFIX-web addr add fd77::10/64 dev eth0 nodad
  # quiet ignores multicast echo, as Windows does; svc also takes a temporary address and
  # prefers it as its source (RFC 8981).
  nsx $PREFIX-quiet sysctl -qw net.ipv6.icmp.echo_ignore_multicast=1
  nsx $PREFIX-svc sysctl -qw net.ipv6.conf.eth0.use_tempaddr=2
  ipv6_radvd
  farquiet
  host wide  10.78.0.10/16 02:78:00:00:00:10 br2 ""
  ip -n $PREFIX-wide addr add 10.78.200.20/16 dev eth0
  # The scanner's second leg, on the /16.
  ip -n "$SW" link add p-scan1 type veth peer name eth1 netns $PREFIX-scan
  ip -n "$SW" link set p-scan1 master br2 up
  ip -n $PREFIX-scan link set eth1 address 02:78:00:00:00:02
  ip -n $PREFIX-scan addr add 10.78.0.2/16 dev eth1
  ip -n $PREFIX-scan link set eth1 up
  # The scanner's third leg, on the hostile segment.
  ip -n "$SW" link add p-scan2 type veth peer name eth2 netns $PREFIX-scan
  ip -n "$SW" link set p-scan2 master br3 up
  ip -n $PREFIX-scan link set eth2 address 02:77:00:02:00:02
  ip -n $PREFIX-scan addr add 10.77.2.2/24 dev eth2
  ip -n $PREFIX-scan link set eth2 up
  # The scanner's fourth leg, on the home segment.
  ip -n "$SW" link add p-scan3 type veth peer name eth3 netns $PREFIX-scan
  ip -n "$SW" link set p-scan3 master br4 up
  ip -n $PREFIX-scan link set eth3 address 02:77:00:03:00:02
  ip -n $PREFIX-scan addr add 10.77.3.2/24 dev eth3
  ip -n $PREFIX-scan link set eth3 up
  host media    10.77.3.30/24 02:77:00:03:00:30 br4 ""
  host mute     10.77.2.30/24 02:77:00:02:00:30 br3 10.77.2.1
  host trickle  10.77.2.31/24 02:77:00:02:00:31 br3 10.77.2.1
  host flood    10.77.2.32/24 02:77:00:02:00:32 br3 10.77.2.1
  host tlsstall 10.77.2.33/24 02:77:00:02:00:33 br3 10.77.2.1
  host every    10.77.2.34/24 02:77:00:02:00:34 br3 10.77.2.1
  host badudp   10.77.2.35/24 02:77:00:02:00:35 br3 10.77.2.1
  host liar     10.77.2.36/24 02:77:00:02:00:36 br3 10.77.2.1

  # DNS with reverse records, on the router.
  start rtr dnsmasq dnsmasq -k --no-resolv --no-hosts --bind-interfaces --listen-address=10.77.0.1 \
    --pid-file="$STATE/dnsmasq.pid" --domain=lab.test --local=/lab.test/ \
    --host-record=router.lab.test,10.77.0.1 --host-record=web.lab.test,10.77.0.10,fd77::10 \
    --host-record=ssh.lab.test,10.77.0.11,$SSH_SLAAC --host-record=quiet.lab.test,10.77.0.12 \
    --host-record=drop.lab.test,10.77.0.13 --host-record=svc.lab.test,10.77.0.20 \
    --host-record=many.lab.test,10.77.0.21 --host-record=far.lab.test,10.77.1.10 \
    --server=/2.77.10.in-addr.arpa/10.77.2.35
  # SNMP on the router (community lab-ro, so the udp scanner's `public` gets no answer; no
  # SMUX, so no 199/tcp): its real ARP cache and addresses (IP-MIB), which hold the hosts
  # behind it (10.77.1.0/24). SNMPv3 users too, one per security level and hash
  # (testlan/src/lib.rs ROUTER_V3_USERS says them in --snmp-v3's form).
  {
    echo "rocommunity lab-ro default"
    echo "sysName router.lab.test"
    echo "sysDescr scanopy test LAN router"
    echo "engineID scanopy-rtr"
    echo 'createUser lab-sha SHA "rtr-auth-sha1" AES "rtr-priv-sha1"'
    echo 'createUser lab-256 SHA-256 "rtr-auth-sha256" AES "rtr-priv-sha256"'
    echo 'createUser lab-md5 MD5 "rtr-auth-md5"'
    echo 'createUser lab-none'
    echo "rouser lab-sha priv"
    echo "rouser lab-256 priv"
    echo "rouser lab-md5 auth"
    echo "rouser lab-none noauth"
  } > "$STATE/snmpd-rtr.conf"
  mkdir -p "$STATE/snmp-rtr"
  SNMP_PERSISTENT_DIR="$STATE/snmp-rtr" start rtr snmpd-rtr snmpd -f -Lo -C -I -smux \
    -c "$STATE/snmpd-rtr.conf" -p "$STATE/snmpd-rtr.pid" udp:10.77.0.1:161

  # DHCP for hosts that join the home segment (testlan.sh join), from a dnsmasq of its own (no
  # DNS) on the media host; not on the LAN, whose tests expect exactly its hosts.
  start media dhcp dnsmasq -k --port=0 --interface=eth0 --bind-interfaces --dhcp-authoritative \
    --dhcp-range=10.77.3.100,10.77.3.149,255.255.255.0,1h --dhcp-leasefile="$STATE/dhcp.leases" \
    --pid-file="$STATE/dhcp.pid"

  # nginx (HTTP, and HTTPS with a self-signed certificate) and redis on web.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/O=Scanopy test LAN/CN=web.lab.test" -addext "subjectAltName=DNS:web.lab.test,IP:10.77.0.10" \
    -keyout "$STATE/web.key" -out "$STATE/web.crt" 2>/dev/null
  cat > "$STATE/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $STATE/nginx.pid;
error_log $STATE/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $STATE/nginx-body;
  proxy_temp_path $STATE/nginx-proxy;
  fastcgi_temp_path $STATE/nginx-fastcgi;
  uwsgi_temp_path $STATE/nginx-uwsgi;
  scgi_temp_path $STATE/nginx-scgi;
  server {
    listen 10.77.0.10:80;
    listen 10.77.0.10:443 ssl;
    listen [::]:80 ipv6only=on;
    listen [::]:443 ssl ipv6only=on;
    ssl_certificate $STATE/web.crt;
    ssl_certificate_key $STATE/web.key;
    default_type text/html;
    location / { return 200 "<!doctype html><html><head><title>Scanopy test web</title></head><body>ok</body></html>\n"; }
  }
}
NGINX
  start web nginx nginx -c "$STATE/nginx.conf" -p "$STATE"
  start web redis redis-server --bind 10.77.0.10 --port 6379 --save "" --appendonly no \
    --protected-mode no --dir "$STATE" --daemonize no

  # OpenSSH on ssh, with a host key of its own.
  ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh_host_ed25519_key"
  cat > "$STATE/sshd_config" <<SSHD
ListenAddress 10.77.0.11
ListenAddress ::
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
SSHD
  start ssh sshd "$(command -v sshd)" -D -e -f "$STATE/sshd_config"

  # drop: a firewall that drops every TCP packet.
  nsx $PREFIX-drop nft -f - <<NFT
table inet testlan {
  chain input { type filter hook input priority 0; policy accept; meta l4proto tcp drop; }
}
NFT

  # far: an HTTP server beyond the router.
  echo '<html><head><title>far away</title></head><body>far</body></html>' > "$STATE/www/index.html"
  start far httpd busybox httpd -f -p 10.77.1.10:8080 -h "$STATE/www"

  # svc: PostgreSQL (a throwaway cluster), mosquitto, snmpd.
  mkdir -p "$STATE/pg" "$STATE/pgsock"
  chown postgres "$STATE/pg" "$STATE/pgsock"
  runuser -u postgres -- "$PGBIN/initdb" -D "$STATE/pg" --auth=trust --no-sync -U postgres >/dev/null
  start svc postgres runuser -u postgres -- "$PGBIN/postgres" -D "$STATE/pg" -k "$STATE/pgsock" \
    -c listen_addresses=10.77.0.20 -c port=5432 -c fsync=off
  cat > "$STATE/mosquitto.conf" <<MQTT
listener 1883 10.77.0.20
allow_anonymous true
persistence false
MQTT
  start svc mosquitto mosquitto -c "$STATE/mosquitto.conf"
  echo "rocommunity public default" > "$STATE/snmpd.conf"
  echo "sysName svc.lab.test" >> "$STATE/snmpd.conf"
  echo "sysDescr scanopy test LAN service host" >> "$STATE/snmpd.conf"
  start svc snmpd snmpd -f -Lo -C -c "$STATE/snmpd.conf" -p "$STATE/snmpd.pid" udp:10.77.0.20:161

  # many: one nginx listening on 200 ports.
  {
    echo "daemon off; worker_processes 1; pid $STATE/nginx-many.pid; error_log $STATE/nginx-many-error.log;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $STATE/nm-body; proxy_temp_path $STATE/nm-proxy;"
    echo "  fastcgi_temp_path $STATE/nm-fcgi; uwsgi_temp_path $STATE/nm-uwsgi; scgi_temp_path $STATE/nm-scgi;"
    echo "  server {"
    for p in $(seq 20001 20200); do echo "    listen 10.77.0.21:$p;"; done
    echo "    location / { return 200 \"many\\n\"; }"
    echo "  }"
    echo "}"
  } > "$STATE/nginx-many.conf"
  start many nginx-many nginx -c "$STATE/nginx-many.conf" -p "$STATE"

  # The hostile segment.
  local hostile; hostile="$(dirname "$(readlink -f "$0")")/hostile.py"
  start mute socat socat TCP-LISTEN:443,bind=10.77.2.30,fork,reuseaddr SYSTEM:"sleep 300"
  start mute lategreet python3 "$hostile" lategreet 10.77.2.30 25
  start trickle trickle python3 "$hostile" trickle 10.77.2.31 443
  start flood flood python3 "$hostile" flood 10.77.2.32 80
  start tlsstall tlsstall python3 "$hostile" tlsstall 10.77.2.33 443
  nsx $PREFIX-every nft -f - <<NFT
table ip testlan {
  chain pre { type nat hook prerouting priority dstnat; policy accept; tcp dport != 7 redirect to :7; }
}
NFT
  start every every python3 "$hostile" junk 10.77.2.34 7
  start badudp badudp python3 "$hostile" udp 10.77.2.35
  # Every address of 10.77.2.64/26 is local to the liar: its kernel answers ARP (and TCP, with
  # resets) for all of them.
  ip -n $PREFIX-liar route add local 10.77.2.64/26 dev lo

  # The home segment: avahi with its own configuration (ip netns exec mounts
  # /etc/netns/NS/avahi over /etc/avahi), no D-Bus, static services.
  media_avahi
  start media avahi avahi-daemon --no-drop-root --no-chroot --no-rlimits -f /etc/avahi/avahi-daemon.conf
  media_nmbd
  start media nmbd nmbd -F --no-process-group --debug-stdout -s "$STATE/nmbd/smb.conf"
  tv
  campus

  wait_tcp 10.77.0.10 80
  wait_tcp 10.77.0.10 443
  wait_tcp 10.77.0.20 5432
  wait_tcp 10.77.0.20 1883
  wait_tcp 10.77.0.21 20200
  wait_tcp 10.77.0.10 6379
  wait_tcp 10.77.0.11 22
  wait_tcp 10.77.1.10 8080
  wait_tcp 10.77.2.30 443
  wait_tcp 10.77.2.30 25
  wait_tcp 10.77.2.31 443
  wait_tcp 10.77.2.32 80
  wait_tcp 10.77.2.33 443
  wait_tcp 10.77.2.34 12345
  wait_udp
  wait_mdns
  wait_ipv6
  wait_tcp 10.77.3.40 8080
  ssdp_check || die "minissdpd on 10.77.3.40 (tv) does not answer SSDP; logs in $STATE"
  farquiet_check || die "10.77.1.20 (farquiet) does not answer ICMP as it should"
  campus_check
  trap - ERR EXIT
  echo "testlan: up (10.77.0.0/24, 10.77.1.0/24, hostile 10.77.2.0/24, home 10.77.3.0/24, campus 10.77.4.0/24; scanner namespace $PREFIX-scan)"
}

status() {
  local ok=0
  for ns in sw rtr scan web ssh quiet drop svc many wide far mute trickle flood tlsstall every \
            badudp liar media tv sw1 sw2 ca cb cc cd; do
    ip netns list | grep -qw "$PREFIX-$ns" || { echo "missing namespace $PREFIX-$ns"; ok=1; }
  done
  [ $ok = 0 ] || return 1
  for t in 10.77.0.10:80 10.77.0.10:6379 10.77.0.11:22 10.77.0.20:5432 10.77.0.20:1883 \
           10.77.0.21:20001 10.77.0.21:20200 10.77.1.10:8080 10.77.2.30:443 10.77.2.31:443 \
           10.77.2.32:80 10.77.2.33:443 10.77.2.34:1 10.77.2.34:65535; do
    nsx $PREFIX-scan timeout 2 bash -c "exec 3<>/dev/tcp/${t%:*}/${t#*:}" 2>/dev/null \
      || { echo "$t does not answer"; ok=1; }
  done
  udp_check || ok=1
  mdns_check || { echo "10.77.3.30 (media) does not answer mDNS or NetBIOS"; ok=1; }
  ssdp_check || ok=1
  ipv6_check || ok=1
  farquiet_check || ok=1
  (campus_check) || ok=1
  # The liar refuses at once on an address it does not own (it answered ARP for it); a silent
  # address would time out instead (status 124).
  local rc=0
  nsx $PREFIX-scan timeout 2 bash -c "exec 3<>/dev/tcp/10.77.2.100/1" 2>/dev/null || rc=$?
  [ $rc = 1 ] || { echo "10.77.2.100 (the liar) does not answer: $rc"; ok=1; }
  [ $ok = 0 ] && echo "testlan: all hosts answer"
  return $ok
}

selftest() {
  for round in 1 2; do
    up
    status || die "round $round: not every host answered"
    down
    [ -z "$(namespaces)" ] || die "round $round: namespaces left: $(namespaces)"
    [ ! -e "$STATE" ] || die "round $round: $STATE left"
    echo "testlan: round $round up and down cleanly"
  done
}

# join NAME MAC HOSTNAME VENDOR: a new namespace on the home segment that takes an address by
# DHCP. Joined namespaces are $PREFIX-j-NAME (never a LAN host's), NAME at most 13 characters.
join() {
  local name=$1 mac=$2 hostname=$3 vendor=$4 ns=$PREFIX-j-$1
  [ -d "$STATE" ] || die "the test LAN is not up"
  ip netns add "$ns"
  ip -n "$SW" link add "j-$name" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "j-$name" master br4 up
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  echo "link_up=$(date +%s.%N)"
  cat > "$STATE/udhcpc-$name.sh" <<'SCRIPT'
#!/bin/sh
# udhcpc's event script: take the address, announce it with a gratuitous ARP.
case "$1" in
  bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "ip=$ip"
    busybox arping -U -c 1 -I "$interface" "$ip" >/dev/null 2>&1 || true ;;
esac
exit 0
SCRIPT
  chmod +x "$STATE/udhcpc-$name.sh"
  nsx "$ns" busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -x "hostname:$hostname" -V "$vendor" \
    -s "$STATE/udhcpc-$name.sh" > "$STATE/udhcpc-$name.log" 2>&1 \
    || die "$name got no DHCP lease; $STATE/udhcpc-$name.log"
  grep '^ip=' "$STATE/udhcpc-$name.log" | tail -1
}

# join6 NAME MAC HOSTNAME: a host joins the home segment and asks for IPv6 settings only: one
# DHCPv6 SOLICIT (ISC dhclient -6, Client FQDN HOSTNAME) from its link-local address (no DHCPv6
# server answers it), then stays until `leave NAME`.
join6() {
  local name=$1 mac=$2 hostname=$3 ns=$PREFIX-j-$1
  [ -d "$STATE" ] || die "the test LAN is not up"
  need dhclient isc-dhcp-client
  ip netns add "$ns"
  ip -n "$SW" link add "j-$name" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "j-$name" master br4 up
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  echo "link_up=$(date +%s.%N)"
  # The link-local address must be past duplicate address detection before dhclient binds.
  for _ in $(seq 50); do
    ip -n "$ns" -6 addr show dev eth0 scope link | grep -q tentative || break
    sleep 0.1
  done
  printf 'send fqdn.fqdn "%s";\n' "$hostname" > "$STATE/dhclient6-$name.conf"
  nsx "$ns" timeout 3 dhclient -6 -1 -sf /bin/true -cf "$STATE/dhclient6-$name.conf" \
    -lf "$STATE/dhclient6-$name.leases" -pf "$STATE/dhclient6-$name.pid" eth0 \
    > "$STATE/dhclient6-$name.log" 2>&1 || true
  echo "ll=$(ip -n "$ns" -6 addr show dev eth0 scope link | awk '/inet6/ {sub("/.*", "", $2); print $2; exit}')"
}

# flood NAME COUNT RATE: a namespace on the home segment sends COUNT ARP packets from random
# MACs at RATE a second (0: as fast as it can), then goes away.
flood() {
  local name=$1 count=$2 rate=$3 ns=$PREFIX-j-$1
  [ -d "$STATE" ] || die "the test LAN is not up"
  leave "$name"
  ip netns add "$ns"
  ip -n "$SW" link add "j-$name" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "j-$name" master br4 up
  ip -n "$ns" link set eth0 up
  nsx "$ns" python3 "$(dirname "$(readlink -f "$0")")/flood.py" "$count" "$rate" || { leave "$name"; die "the flood failed"; }
  leave "$name"
}

# leave NAME: the joined host goes away.
leave() {
  local ns=$PREFIX-j-$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -f "$STATE/udhcpc-$1.sh" "$STATE/udhcpc-$1.log"
}

case "${1:-}" in
  up) up ;;
  down) down; echo "testlan: down" ;;
  status) status ;;
  selftest) selftest ;;
  join) [ $# = 5 ] || die "usage: $0 join NAME MAC HOSTNAME VENDOR"; join "$2" "$3" "$4" "$5" ;;
  join6) [ $# = 4 ] || die "usage: $0 join6 NAME MAC HOSTNAME"; join6 "$2" "$3" "$4" ;;
  leave) [ $# = 2 ] || die "usage: $0 leave NAME"; leave "$2" ;;
  flood) [ $# = 4 ] || die "usage: $0 flood NAME COUNT RATE"; flood "$2" "$3" "$4" ;;
  *) echo "usage: $0 up|down|status|selftest|join|join6|leave|flood" >&2; exit 2 ;;
esac
