//! Targets: what a scan covers, parsed from the forms users type.
//!
//! Accepted tokens (IPv4 and IPv6 alike): a CIDR block `10.0.0.0/24`, an address `10.0.0.5`, a
//! short range on the last part `10.0.0.1-50` (`fd00::1-ff` for IPv6, in hex), a full range
//! `10.0.0.1-10.0.1.20`, and a host name `nas.lan` (resolved by the caller: this crate does no
//! I/O). No target at all means the attached subnets ([`attached_subnets`]).
//!
//! Parsing never sends a packet: a bad token is an error naming it, before anything runs.
//!
//! An IPv6 block too large to sweep address by address (over a /112, a /104 with `allow_large`:
//! a /64 holds 2^64) is kept as a *link* ([`TargetSet::links`]), from a /48 to a /127: no
//! address of it is enumerated; discovery (the `ndp` scanner) finds its hosts by multicast on
//! the attached links, and every host found in it is scanned.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// The most addresses one token may cover without `allow_large` (a /16).
pub const LARGE_TARGET: u128 = 1 << 16;
/// The most addresses a whole scan may cover even with `allow_large` (a /8).
pub const MAX_TARGET: u128 = 1 << 24;

/// A target that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The token is not an address, range, CIDR block or host name.
    #[error("invalid target {token:?}: {reason}")]
    Invalid {
        /// The token as typed.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token covers more than a /16 and `allow_large` was not given.
    #[error(
        "target {token:?} covers {count} addresses, more than a /16; pass --allow-large to scan it"
    )]
    TooLarge {
        /// The token as typed (a CIDR, range or name).
        token: String,
        /// How many addresses it covers.
        count: u128,
    },
    /// An IPv6 range too large to sweep address by address (over a /112's worth without
    /// `allow_large`, a /104's with it), or an IPv6 block larger than a /48. Blocks from /48 to
    /// the sweepable size are links, found by multicast ([`TargetSet::links`]).
    #[error(
        "target {token:?} covers {count} IPv6 addresses: IPv6 is not swept address by address (a \
         /64 holds 2^64); give the link as a CIDR block from /48 to /127 (its hosts are found by \
         multicast on attached links), or a range of at most 65,536 addresses (16,777,216 with \
         --allow-large)"
    )]
    Ipv6TooLarge {
        /// The token as typed.
        token: String,
        /// How many addresses it covers.
        count: u128,
    },
    /// Even with `allow_large`, the scan is too big to sweep.
    #[error("the targets cover {count} addresses, more than the {MAX_TARGET} a scan can sweep")]
    TooManyAddresses {
        /// How many addresses the targets cover.
        count: u128,
    },
    /// A host name that did not resolve.
    #[error("target {token:?} did not resolve to any address")]
    Unresolved {
        /// The host name as typed.
        token: String,
    },
}

/// One parsed target token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A CIDR block.
    Net(IpNet),
    /// An inclusive range of addresses of one family (a single address is a range of one).
    Range(IpAddr, IpAddr),
    /// A host name to resolve.
    Host(String),
}

impl Target {
    /// Parses one token.
    pub fn parse(token: &str) -> Result<Target, TargetError> {
        token.parse()
    }

    /// How many addresses it covers (host names: unknown until resolved, counted as 1; all of
    /// IPv6, `::/0`, as `u128::MAX`).
    pub fn count(&self) -> u128 {
        match self {
            Target::Net(n) => {
                let r = net_range(n);
                (r.end - r.start).saturating_add(1)
            }
            Target::Range(a, b) => to_u128(*b).saturating_sub(to_u128(*a)).saturating_add(1),
            Target::Host(_) => 1,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Net(n) => write!(f, "{n}"),
            Target::Range(a, b) if a == b => write!(f, "{a}"),
            Target::Range(a, b) => write!(f, "{a}-{b}"),
            Target::Host(h) => f.write_str(h),
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let token = raw.trim();
        let invalid = |reason: &str| TargetError::Invalid {
            token: raw.to_owned(),
            reason: reason.into(),
        };
        if token.is_empty() {
            return Err(invalid("empty target"));
        }
        if token.contains('/') {
            let net: IpNet = token
                .parse()
                .map_err(|_| invalid("not a CIDR block (expected e.g. 10.0.0.0/24)"))?;
            return Ok(Target::Net(net.trunc()));
        }
        if let Ok(ip) = token.parse::<IpAddr>() {
            return Ok(Target::Range(ip, ip));
        }
        if let Some((left, right)) = split_range(token) {
            let start: IpAddr = left
                .parse()
                .map_err(|_| invalid("range start is not an address"))?;
            let end: IpAddr = if let Ok(end) = right.parse::<IpAddr>() {
                end
            } else {
                short_range_end(start, right).ok_or_else(|| {
                    invalid(match start {
                        IpAddr::V4(_) => "range end must be an address or a number 0-255",
                        IpAddr::V6(_) => "range end must be an address or a hex number 0-ffff",
                    })
                })?
            };
            if start.is_ipv4() != end.is_ipv4() {
                return Err(invalid("range mixes IPv4 and IPv6"));
            }
            if to_u128(end) < to_u128(start) {
                return Err(invalid("range ends before it starts"));
            }
            return Ok(Target::Range(start, end));
        }
        if is_host_name(token) {
            return Ok(Target::Host(token.to_ascii_lowercase()));
        }
        Err(invalid("not an address, range, CIDR block or host name"))
    }
}

/// Splits `a-b` where `a` is an address; host names may contain `-` too.
fn split_range(token: &str) -> Option<(&str, &str)> {
    let (left, right) = token.split_once('-')?;
    left.parse::<IpAddr>().ok()?;
    Some((left, right))
}

fn short_range_end(start: IpAddr, right: &str) -> Option<IpAddr> {
    match start {
        IpAddr::V4(s) => {
            let last: u8 = right.parse().ok()?;
            let o = s.octets();
            Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last)))
        }
        IpAddr::V6(s) => {
            if right.is_empty() || right.len() > 4 {
                return None;
            }
            let last = u16::from_str_radix(right, 16).ok()?;
            let mut seg = s.segments();
            seg[7] = last;
            Some(IpAddr::V6(Ipv6Addr::from(seg)))
        }
    }
}

fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        // All-numeric dotted names are malformed addresses, not names.
        && !s.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v6: bool, v: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(v))
    } else {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    }
}

/// An inclusive range of one family, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    v6: bool,
    start: u128,
    end: u128,
}

/// The addresses of a CIDR block worth probing: an IPv4 block of /30 or larger leaves out its
/// network and broadcast addresses, which name no host.
fn net_range(n: &IpNet) -> Span {
    let (v6, start, end) = match n {
        IpNet::V4(n) => (
            false,
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    };
    if !v6 && n.prefix_len() <= 30 {
        Span {
            v6,
            start: start + 1,
            end: end - 1,
        }
    } else {
        Span { v6, start, end }
    }
}

/// What the user asked for: targets and exclusions, as parsed, before host names resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// Targets; empty means the attached subnets.
    pub include: Vec<String>,
    /// Exclusions (same forms).
    pub exclude: Vec<String>,
}

impl TargetSpec {
    /// A spec from tokens, checked: every token must parse.
    pub fn new(
        include: &[impl AsRef<str>],
        exclude: &[impl AsRef<str>],
    ) -> Result<Self, TargetError> {
        let spec = TargetSpec {
            include: include
                .iter()
                .map(|s| s.as_ref().trim().to_owned())
                .collect(),
            exclude: exclude
                .iter()
                .map(|s| s.as_ref().trim().to_owned())
                .collect(),
        };
        spec.parsed()?;
        Ok(spec)
    }

    /// The parsed include and exclude lists.
    pub fn parsed(&self) -> Result<(Vec<Target>, Vec<Target>), TargetError> {
        let inc = self
            .include
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Target>, _>>()?;
        let exc = self
            .exclude
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Target>, _>>()?;
        Ok((inc, exc))
    }

    /// The host names that must be resolved before [`TargetSpec::build`].
    pub fn host_names(&self) -> Vec<String> {
        let Ok((inc, exc)) = self.parsed() else {
            return Vec::new();
        };
        let mut names: Vec<String> = inc
            .into_iter()
            .chain(exc)
            .filter_map(|t| {
                if let Target::Host(h) = t {
                    Some(h)
                } else {
                    None
                }
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Builds the set of addresses to scan. `resolved` maps each host name to its addresses;
    /// `attached` is used when no target was given; a token over a /16 needs `allow_large`.
    pub fn build(
        &self,
        resolved: &BTreeMap<String, Vec<IpAddr>>,
        attached: &[IpNet],
        allow_large: bool,
    ) -> Result<TargetSet, TargetError> {
        let (inc, exc) = self.parsed()?;
        let inc = if inc.is_empty() {
            attached.iter().map(|n| Target::Net(*n)).collect()
        } else {
            inc
        };
        let mut links: Vec<ipnet::Ipv6Net> = Vec::new();
        let mut to_spans =
            |targets: &[Target], check_size: bool| -> Result<Vec<Span>, TargetError> {
                let mut out = Vec::new();
                for t in targets {
                    let v6_block = matches!(
                        t,
                        Target::Net(IpNet::V6(_)) | Target::Range(IpAddr::V6(_), _)
                    );
                    let limit = if allow_large {
                        MAX_TARGET
                    } else {
                        LARGE_TARGET
                    };
                    if check_size && v6_block && t.count() > limit {
                        if let Target::Net(IpNet::V6(n)) = t {
                            if n.prefix_len() >= 48 {
                                links.push(n.trunc());
                                continue;
                            }
                        }
                        return Err(TargetError::Ipv6TooLarge {
                            token: t.to_string(),
                            count: t.count(),
                        });
                    }
                    if check_size && !allow_large && t.count() > LARGE_TARGET {
                        return Err(TargetError::TooLarge {
                            token: t.to_string(),
                            count: t.count(),
                        });
                    }
                    match t {
                        Target::Net(n) => out.push(net_range(n)),
                        Target::Range(a, b) => out.push(Span {
                            v6: a.is_ipv6(),
                            start: to_u128(*a),
                            end: to_u128(*b),
                        }),
                        Target::Host(h) => {
                            let ips = resolved
                                .get(h)
                                .filter(|v| !v.is_empty())
                                .ok_or_else(|| TargetError::Unresolved { token: h.clone() })?;
                            for ip in ips {
                                out.push(Span {
                                    v6: ip.is_ipv6(),
                                    start: to_u128(*ip),
                                    end: to_u128(*ip),
                                });
                            }
                        }
                    }
                }
                Ok(out)
            };
        let spans = normalise(to_spans(&inc, true)?);
        let excluded = to_spans(&exc, false)?;
        links.sort();
        links.dedup();
        let mut set = TargetSet {
            spans,
            links,
            link_exclusions: Vec::new(),
        };
        for ex in excluded {
            set.spans = subtract(&set.spans, ex);
            if ex.v6 && !set.links.is_empty() {
                set.link_exclusions.push(ex);
            }
        }
        let count = set.len();
        if count > MAX_TARGET {
            return Err(TargetError::TooManyAddresses { count });
        }
        Ok(set)
    }
}

fn normalise(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(l) if l.v6 == s.v6 && s.start <= l.end.saturating_add(1) => {
                l.end = l.end.max(s.end)
            }
            _ => out.push(s),
        }
    }
    out
}

fn subtract(spans: &[Span], ex: Span) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    for s in spans {
        if s.v6 != ex.v6 || ex.end < s.start || ex.start > s.end {
            out.push(*s);
            continue;
        }
        if ex.start > s.start {
            out.push(Span {
                v6: s.v6,
                start: s.start,
                end: ex.start - 1,
            });
        }
        if ex.end < s.end {
            out.push(Span {
                v6: s.v6,
                start: ex.end + 1,
                end: s.end,
            });
        }
    }
    out
}

/// A set of addresses to scan: sorted, without duplicates, exclusions removed; and IPv6 links,
/// whose hosts are found by discovery rather than enumerated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    spans: Vec<Span>,
    links: Vec<ipnet::Ipv6Net>,
    link_exclusions: Vec<Span>,
}

impl TargetSet {
    /// The addresses of `tokens`: addresses, ranges and CIDR blocks, each prefixed with `!` to
    /// exclude it (`TargetSet::parse(&["10.0.0.0/24", "!10.0.0.1"])`). For library callers that
    /// have no host names to resolve and no attached subnets to fall back on: a host name is
    /// [`TargetError::Unresolved`] (resolve it and use [`TargetSpec::build`]), a block over a /16
    /// is [`TargetError::TooLarge`], and no target at all is [`TargetError::Invalid`].
    pub fn parse(tokens: &[impl AsRef<str>]) -> Result<TargetSet, TargetError> {
        let (exclude, include): (Vec<&str>, Vec<&str>) = tokens
            .iter()
            .map(|t| t.as_ref().trim())
            .partition(|t| t.starts_with('!'));
        let exclude: Vec<&str> = exclude.iter().map(|t| t[1..].trim()).collect();
        if include.is_empty() {
            return Err(TargetError::Invalid {
                token: String::new(),
                reason: "no target given (only exclusions)".into(),
            });
        }
        TargetSpec::new(&include, &exclude)?.build(&BTreeMap::new(), &[], false)
    }

    /// A set from explicit addresses.
    pub fn from_addrs(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        TargetSet {
            spans: normalise(
                addrs
                    .into_iter()
                    .map(|ip| Span {
                        v6: ip.is_ipv6(),
                        start: to_u128(ip),
                        end: to_u128(ip),
                    })
                    .collect(),
            ),
            ..TargetSet::default()
        }
    }

    /// How many addresses are enumerated ([`TargetSet::iter`]); links are not counted.
    pub fn len(&self) -> u128 {
        self.spans.iter().map(|s| s.end - s.start + 1).sum()
    }

    /// No address and no link at all.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.links.is_empty()
    }

    /// Whether `ip` is in the set: one of its addresses, or in one of its links and not
    /// excluded.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let v = to_u128(ip);
        let within = |s: &Span| s.v6 == ip.is_ipv6() && s.start <= v && v <= s.end;
        if self.spans.iter().any(within) {
            return true;
        }
        let IpAddr::V6(v6) = ip else {
            return false;
        };
        self.links.iter().any(|n| n.contains(&v6)) && !self.link_exclusions.iter().any(within)
    }

    /// The IPv6 links: blocks too large to enumerate (a /64), whose hosts discovery finds by
    /// multicast on attached links. [`TargetSet::iter`] leaves them out.
    pub fn links(&self) -> &[ipnet::Ipv6Net] {
        &self.links
    }

    /// The addresses, IPv4 first, in order (links are not enumerated).
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.spans
            .iter()
            .flat_map(|s| (s.start..=s.end).map(move |v| from_u128(s.v6, v)))
    }
}

/// A network interface of the machine the scan runs on, as the caller read it from the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInterface {
    /// Its name (`eth0`).
    pub name: String,
    /// Whether it is up.
    pub up: bool,
    /// Whether it is a loopback interface.
    pub loopback: bool,
    /// Its addresses with their prefix lengths.
    pub addrs: Vec<IpNet>,
}

/// The default targets: the IPv4 subnets of the interfaces that are up, never loopback or
/// link-local, and never a Docker or veth bridge (containers are found through Docker's API).
/// IPv6 links are scanned when named (`fd77::/64`): the contract keeps the default to IPv4.
/// A subnet larger than a /16 is narrowed to the /16 around the interface's address, with a
/// warning, so that the default never needs `--allow-large`.
pub fn attached_subnets(ifaces: &[HostInterface]) -> (Vec<IpNet>, Vec<String>) {
    let mut nets = Vec::new();
    let mut warnings = Vec::new();
    for i in ifaces {
        if !i.up
            || i.loopback
            || ["docker", "br-", "veth"]
                .iter()
                .any(|p| i.name.starts_with(p))
        {
            continue;
        }
        for a in &i.addrs {
            let IpNet::V4(v4) = a else { continue };
            let ip = v4.addr();
            if ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() {
                continue;
            }
            let net = if v4.prefix_len() < 16 {
                let narrowed = Ipv4Net::new(ip, 16).map(|n| n.trunc()).unwrap_or(*v4);
                warnings.push(format!(
                    "{} on {} is larger than a /16: scanning only {narrowed}",
                    v4.trunc(),
                    i.name
                ));
                narrowed
            } else {
                v4.trunc()
            };
            nets.push(IpNet::V4(net));
        }
    }
    nets.sort();
    nets.dedup();
    (nets, warnings)
}

#[cfg(test)]
mod tests;
