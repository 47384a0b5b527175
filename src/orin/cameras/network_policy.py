"""The SSRF policy for camera addresses: which hosts ORIN may open a stream to.

A user types a camera's address; ORIN's ingest process then connects to it from inside the
deployment. Without a policy that lets a user reach the cloud metadata service, the database or
anything else on the server's networks. So a destination is refused when it is (or, for a host
name, when *any* address it resolves to is) loopback, unspecified, link-local, private, shared
(carrier-grade NAT), multicast, broadcast, reserved or a cloud metadata address — unless the
operator listed a network that contains it in ``cameras.allowed_networks`` (home and on-premises
installs, whose cameras live on the LAN).

Cloud metadata addresses stay refused even inside an allowed network: listing ``10.0.0.0/8`` or
``169.254.0.0/16`` to reach cameras must not open the metadata service as a side effect. An
operator who really wants one lists it exactly (``169.254.169.254/32``).

IP literals are recognised in every form the C resolver accepts (``inet_aton``): decimal
``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.0.0.1`` and short ``127.1`` all mean
127.0.0.1. IPv6 addresses that carry an IPv4 address (mapped ``::ffff:127.0.0.1``, compatible,
6to4, NAT64) are judged by the IPv4 address they lead to.

DNS rebinding: a name checked now may resolve elsewhere a moment later. Callers must connect to
one of the addresses :func:`resolve_and_check` returned (pin it), or check again at connect time
with :func:`check_address` on the address actually connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from orin.config import CameraSettings

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver: TypeAlias = Callable[[str], Awaitable[list[str]]]
"""Resolves a host name to address strings; raises ``OSError`` (or returns ``[]``) on failure."""


class Refusal(Enum):
    """Why a destination is refused: a stable code and the words shown to the user."""

    UNSPECIFIED = ("unspecified", "unspecified address")
    LOOPBACK = ("loopback", "loopback address")
    LINK_LOCAL = ("link_local", "link-local")
    METADATA = ("metadata", "cloud metadata address")
    PRIVATE = ("private", "private network")
    SHARED = ("shared", "shared address space (carrier-grade NAT)")
    MULTICAST = ("multicast", "multicast address")
    BROADCAST = ("broadcast", "broadcast address")
    RESERVED = ("reserved", "reserved address")
    UNRESOLVABLE = ("unresolvable", "host name could not be resolved")
    INVALID = ("invalid", "not a valid host name")

    def __init__(self, code: str, words: str) -> None:
        self.code = code
        self.words = words


_RESOLVED_WORDS: Final[dict[Refusal, str]] = {
    Refusal.UNSPECIFIED: "an unspecified address",
    Refusal.LOOPBACK: "a loopback address",
    Refusal.LINK_LOCAL: "a link-local address",
    Refusal.METADATA: "a cloud metadata address",
    Refusal.PRIVATE: "a private address",
    Refusal.SHARED: "a shared (carrier-grade NAT) address",
    Refusal.MULTICAST: "a multicast address",
    Refusal.BROADCAST: "a broadcast address",
    Refusal.RESERVED: "a reserved address",
}


class DestinationRefused(ValueError):
    """A camera destination the SSRF policy refuses; the message is safe to show to the user."""

    def __init__(self, message: str, *, refusal: Refusal, address: IPAddress | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.refusal = refusal
        self.address = address

    @property
    def reason(self) -> str:
        """Stable code for the refusal (``loopback``, ``metadata``, ``private``, …)."""
        return self.refusal.code


METADATA_HOST_NAMES: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
"""Names of cloud metadata services, refused without resolving them."""

METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean, …
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
"""Cloud metadata endpoints: refused unless listed exactly (/32, /128) in allowed networks."""


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Checked in order; the first match names the refusal.
_V4_RULES: Final[tuple[tuple[Refusal, tuple[IPNetwork, ...]], ...]] = (
    (Refusal.UNSPECIFIED, _networks("0.0.0.0/8")),
    (Refusal.LOOPBACK, _networks("127.0.0.0/8")),
    (Refusal.LINK_LOCAL, _networks("169.254.0.0/16")),
    (Refusal.PRIVATE, _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    (Refusal.SHARED, _networks("100.64.0.0/10")),
    (Refusal.MULTICAST, _networks("224.0.0.0/4")),
    (Refusal.BROADCAST, _networks("255.255.255.255/32")),
    (
        Refusal.RESERVED,
        _networks(
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation
            "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
            "198.18.0.0/15",  # benchmarking
            "198.51.100.0/24",  # documentation
            "203.0.113.0/24",  # documentation
            "240.0.0.0/4",  # reserved
        ),
    ),
)
_V6_RULES: Final[tuple[tuple[Refusal, tuple[IPNetwork, ...]], ...]] = (
    (Refusal.UNSPECIFIED, _networks("::/128")),
    (Refusal.LOOPBACK, _networks("::1/128")),
    (Refusal.LINK_LOCAL, _networks("fe80::/10")),
    (Refusal.PRIVATE, _networks("fc00::/7", "fec0::/10")),
    (Refusal.MULTICAST, _networks("ff00::/8")),
    (
        Refusal.RESERVED,
        _networks(
            "100::/64",  # discard-only
            "64:ff9b:1::/48",  # local-use NAT64
            "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, …)
            "2001:db8::/32",  # documentation
            "3fff::/20",  # documentation
            "5f00::/16",  # SRv6 SIDs
        ),
    ),
)
_V6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_V4_TRANSLATED: Final = ipaddress.IPv6Network("::ffff:0:0:0/96")
_SIX_TO_FOUR: Final = ipaddress.IPv6Network("2002::/16")


@dataclass(frozen=True)
class NetworkPolicy:
    """What camera destinations are allowed: the refusals above, minus the allowed networks."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    dns_timeout_s: float = 3.0

    @classmethod
    def from_settings(cls, settings: CameraSettings) -> NetworkPolicy:
        """Build the policy from ``cameras`` settings; a bad CIDR raises ``ValueError``."""
        networks: list[IPNetwork] = []
        for cidr in settings.allowed_networks:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"cameras.allowed_networks: {cidr!r} is not a network like 192.168.1.0/24"
                ) from None
        return cls(allowed_networks=tuple(networks), dns_timeout_s=settings.dns_timeout_s)

    def allows(self, address: IPAddress) -> bool:
        """Whether an allowed network contains ``address`` (scope ids are ignored)."""
        plain = _without_scope(address)
        return any(
            network.version == plain.version and plain in network
            for network in self.allowed_networks
        )

    def lists_exactly(self, address: IPAddress) -> bool:
        """Whether ``address`` is listed on its own (/32 or /128) in the allowed networks."""
        plain = _without_scope(address)
        return any(
            network.version == plain.version
            and network.num_addresses == 1
            and network.network_address == plain
            for network in self.allowed_networks
        )


def _without_scope(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return ipaddress.IPv6Address(address.packed)
    return address


# --- IP literals ------------------------------------------------------------------------------

_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


def parse_ipv4_loose(text: str) -> ipaddress.IPv4Address | None:
    """Parse an IPv4 address with ``inet_aton`` rules, or return ``None``.

    One to four dot-separated parts, each decimal, octal (leading ``0``) or hex (``0x``); the
    last part fills the remaining bytes: ``127.1`` is 127.0.0.1, ``2130706433`` is 127.0.0.1.
    """
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if not _IPV4_PART.fullmatch(part):
            return None
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part[0] == "0":
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(value > 0xFF for value in leading) or last >= 1 << (8 * (5 - len(values))):
        return None
    number = last
    for index, value in enumerate(leading):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def looks_like_ipv4(host: str) -> bool:
    """Whether a host must be read as IPv4 (its last label is numeric), as URL parsers do."""
    return bool(_NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]))


def parse_ip_literal(host: str) -> IPAddress | None:
    """Read ``host`` as an IP address in any form a resolver would, or return ``None``.

    Accepts ``[::1]``-style brackets, IPv6 text and every ``inet_aton`` IPv4 form; a single
    trailing dot is ignored.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    if text.endswith("."):
        text = text[:-1]
    return parse_ipv4_loose(text)


# --- Judging addresses ------------------------------------------------------------------------


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    plain = _without_scope(address)
    if plain in _NAT64 or plain in _V4_TRANSLATED:
        return ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
    if plain in _V4_COMPATIBLE and int(plain) > 1:  # :: and ::1 are themselves
        return ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
    return None


def _classify(address: IPAddress) -> Refusal | None:
    """The refusal ``address`` earns by itself, ignoring allowed networks."""
    plain = _without_scope(address)
    if plain in METADATA_ADDRESSES:
        return Refusal.METADATA
    if isinstance(plain, ipaddress.IPv6Address):
        inner = embedded_ipv4(plain)
        if inner is not None:
            return _classify(inner)
        rules = _V6_RULES
    else:
        rules = _V4_RULES
    for refusal, networks in rules:
        if any(plain in network for network in networks):
            return refusal
    if isinstance(plain, ipaddress.IPv6Address) and plain not in _V6_GLOBAL_UNICAST:
        return Refusal.RESERVED  # unassigned IPv6 space
    return None


def address_refusal(address: IPAddress, policy: NetworkPolicy) -> Refusal | None:
    """Why the policy refuses ``address``, or ``None`` when it may be connected to."""
    refusal = _classify(address)
    if refusal is None:
        return None
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            candidates.append(inner)
    if refusal is Refusal.METADATA:
        allowed = any(policy.lists_exactly(candidate) for candidate in candidates)
    else:
        allowed = any(policy.allows(candidate) for candidate in candidates)
    return None if allowed else refusal


def check_address(address: IPAddress, policy: NetworkPolicy) -> None:
    """Raise :class:`DestinationRefused` unless ``address`` may be connected to.

    Use it at connect time on the address actually connected to (against DNS rebinding).
    """
    refusal = address_refusal(address, policy)
    if refusal is not None:
        raise DestinationRefused(
            f"The camera address is not allowed: {refusal.words}.",
            refusal=refusal,
            address=address,
        )


# --- Host names -------------------------------------------------------------------------------

_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def normalise_host_name(host: str) -> str | None:
    """A host name lowercased and IDNA-encoded without its trailing dot, or ``None`` if bad."""
    name = host.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > 253:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    name = name.lower()
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return name


async def _system_resolver(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class CheckedDestination:
    """A host that passed the policy and the addresses it was checked at (connect to these)."""

    host: str
    addresses: tuple[IPAddress, ...]

    @property
    def pinned_hosts(self) -> tuple[str, ...]:
        """Every checked address as URL host text, in the resolver's order."""
        return tuple(f"[{a}]" if a.version == 6 else str(a) for a in self.addresses)


async def resolve_and_check(
    host: str, policy: NetworkPolicy, *, resolver: Resolver | None = None
) -> CheckedDestination:
    """Resolve ``host`` and check every address it leads to; return them for pinning.

    IP literals (in any ``inet_aton`` form, IPv6 with or without brackets) are checked without
    resolving. Names are resolved with ``policy.dns_timeout_s`` (system resolver by default) and
    refused when any address is refused, when they cannot be resolved, and when they name a
    cloud metadata service. The ingest process must connect to one of the returned addresses or
    re-check with :func:`check_address` at connect time: DNS may answer differently later.
    """
    literal = parse_ip_literal(host)
    if literal is not None:
        check_address(literal, policy)
        return CheckedDestination(host=str(literal), addresses=(literal,))
    name = normalise_host_name(host)
    if name is None or looks_like_ipv4(name):
        raise DestinationRefused(
            f"The camera address is not allowed: {Refusal.INVALID.words}.",
            refusal=Refusal.INVALID,
        )
    if name in METADATA_HOST_NAMES:
        raise DestinationRefused(
            f"The camera address is not allowed: {Refusal.METADATA.words}.",
            refusal=Refusal.METADATA,
        )
    addresses = await _resolve(name, policy, resolver or _system_resolver)
    for address in addresses:
        refusal = address_refusal(address, policy)
        if refusal is not None:
            raise DestinationRefused(
                "The camera address is not allowed: the host name resolves to "
                f"{_RESOLVED_WORDS[refusal]} {_without_scope(address)}.",
                refusal=refusal,
                address=address,
            )
    return CheckedDestination(host=name, addresses=tuple(addresses))


async def _resolve(name: str, policy: NetworkPolicy, resolver: Resolver) -> list[IPAddress]:
    unresolvable = DestinationRefused(
        f"The camera address is not allowed: {Refusal.UNRESOLVABLE.words}.",
        refusal=Refusal.UNRESOLVABLE,
    )
    try:
        async with asyncio.timeout(policy.dns_timeout_s):
            texts = await resolver(name)
    except (OSError, TimeoutError, UnicodeError):
        raise unresolvable from None
    try:
        addresses = _unique(ipaddress.ip_address(text) for text in texts)
    except ValueError:
        raise unresolvable from None
    if not addresses:
        raise unresolvable
    return addresses


async def check_destination(
    host: str, policy: NetworkPolicy, *, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Check a camera host against the SSRF policy; return the addresses it was checked at.

    Raises :class:`DestinationRefused`. See :func:`resolve_and_check` about DNS rebinding: the
    caller must connect to a returned address or check again at connect time.
    """
    checked = await resolve_and_check(host, policy, resolver=resolver)
    return list(checked.addresses)
