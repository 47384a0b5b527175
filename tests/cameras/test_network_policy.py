"""The SSRF policy: which camera destinations ORIN may connect to."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orin.cameras.network_policy import (
    DestinationRefused,
    NetworkPolicy,
    Refusal,
    check_address,
    check_destination,
    parse_ip_literal,
    parse_ipv4_loose,
    resolve_and_check,
)
from orin.config import CameraSettings

DEFAULT = NetworkPolicy.from_settings(CameraSettings())


def policy_allowing(*cidrs: str) -> NetworkPolicy:
    return NetworkPolicy.from_settings(CameraSettings(allowed_networks=list(cidrs)))


class FakeResolver:
    """Answers from a table, remembering what it was asked; unknown names fail like DNS."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


async def refusal_for(host: str, policy: NetworkPolicy = DEFAULT) -> DestinationRefused:
    with pytest.raises(DestinationRefused) as caught:
        await check_destination(host, policy, resolver=FakeResolver({}))
    return caught.value


@pytest.mark.parametrize(
    ("host", "reason", "words"),
    [
        ("127.0.0.1", "loopback", "loopback address"),
        ("127.255.0.9", "loopback", "loopback address"),
        ("::1", "loopback", "loopback address"),
        ("[::1]", "loopback", "loopback address"),
        ("0.0.0.0", "unspecified", "unspecified address"),
        ("::", "unspecified", "unspecified address"),
        ("169.254.169.254", "metadata", "cloud metadata address"),
        ("[fd00:ec2::254]", "metadata", "cloud metadata address"),
        ("100.100.100.200", "metadata", "cloud metadata address"),
        ("169.254.1.1", "link_local", "link-local"),
        ("fe80::1", "link_local", "link-local"),
        ("fe80::1%eth0", "link_local", "link-local"),
        ("10.0.0.5", "private", "private network"),
        ("172.16.0.1", "private", "private network"),
        ("172.31.255.255", "private", "private network"),
        ("192.168.1.20", "private", "private network"),
        ("fd12:3456::1", "private", "private network"),
        ("100.64.0.1", "shared", "carrier-grade NAT"),
        ("224.0.0.1", "multicast", "multicast address"),
        ("ff02::1", "multicast", "multicast address"),
        ("255.255.255.255", "broadcast", "broadcast address"),
        ("240.0.0.1", "reserved", "reserved address"),
        ("192.0.2.10", "reserved", "reserved address"),
        ("2001:db8::1", "reserved", "reserved address"),
    ],
)
async def test_special_addresses_are_refused_with_their_reason(
    host: str, reason: str, words: str
) -> None:
    refused = await refusal_for(host)
    assert refused.reason == reason
    assert words in str(refused)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("::ffff:127.0.0.1", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.1.2.3", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("2002:a9fe:a9fe::1", "metadata"),  # 6to4 of 169.254.169.254
        ("64:ff9b::10.0.0.1", "private"),  # NAT64
        ("64:ff9b::169.254.169.254", "metadata"),
    ],
)
async def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_it(host: str, reason: str) -> None:
    assert (await refusal_for(host)).reason == reason


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "0x7F000001",
        "017700000001",
        "127.1",  # short form
        "127.0.1",
        "0x7f.1",
        "127.0.0.1.",  # trailing dot
        "[127.0.0.1]",
    ],
)
async def test_every_inet_aton_form_of_loopback_is_refused(host: str) -> None:
    refused = await refusal_for(host)
    assert refused.reason == "loopback"
    assert refused.address == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.256", "10.1.1.0"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("0xA9.0376.0xa9fe", "169.254.169.254"),
        ("4294967295", "255.255.255.255"),
    ],
)
def test_loose_ipv4_parsing_follows_inet_aton(text: str, expected: str) -> None:
    assert parse_ipv4_loose(text) == ipaddress.IPv4Address(expected)


@pytest.mark.parametrize(
    "text",
    ["4294967296", "256.0.0.1", "1.2.3.4.5", "08.0.0.1", "1..2", "", "0x1g", "1.2.3.256", "a.b"],
)
def test_malformed_ipv4_is_not_an_address(text: str) -> None:
    assert parse_ipv4_loose(text) is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_loose_ipv4_agrees_with_the_standard_parser_on_dotted_quads(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    assert parse_ipv4_loose(str(address)) == address
    assert parse_ipv4_loose(str(number)) == address
    assert parse_ipv4_loose(hex(number)) == address


async def test_metadata_host_name_is_refused_without_resolving() -> None:
    resolver = FakeResolver({"metadata.google.internal": ["8.8.8.8"]})
    for host in ("metadata.google.internal", "METADATA.google.internal."):
        with pytest.raises(DestinationRefused) as caught:
            await check_destination(host, DEFAULT, resolver=resolver)
        assert caught.value.reason == "metadata"
    assert resolver.calls == []


@pytest.mark.parametrize(
    "host", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "[2606:4700:4700::1111]"]
)
async def test_public_literals_are_accepted_without_resolving(host: str) -> None:
    resolver = FakeResolver({})
    addresses = await check_destination(host, DEFAULT, resolver=resolver)
    assert addresses == [ipaddress.ip_address(host.strip("[]"))]
    assert resolver.calls == []


async def test_public_ipv6_embedding_a_public_ipv4_is_accepted() -> None:
    assert await check_destination("::ffff:8.8.8.8", DEFAULT) == [
        ipaddress.IPv6Address("::ffff:8.8.8.8")
    ]


async def test_loopback_is_allowed_when_listed() -> None:
    policy = policy_allowing("127.0.0.1/32")
    assert await check_destination("127.0.0.1", policy) == [ipaddress.IPv4Address("127.0.0.1")]
    assert await check_destination("0177.0.0.1", policy) == [ipaddress.IPv4Address("127.0.0.1")]
    assert await check_destination("::ffff:127.0.0.1", policy)
    # Only that address: the rest of 127/8 and ::1 stay refused.
    assert (await refusal_for("127.0.0.2", policy)).reason == "loopback"
    assert (await refusal_for("::1", policy)).reason == "loopback"


async def test_a_private_network_is_allowed_when_listed() -> None:
    policy = policy_allowing("192.168.1.0/24", "fd00:1::/64")
    assert await check_destination("192.168.1.77", policy)
    assert await check_destination("fd00:1::5", policy)
    assert (await refusal_for("192.168.2.1", policy)).reason == "private"


async def test_metadata_stays_refused_inside_an_allowed_network_unless_listed_exactly() -> None:
    wide = policy_allowing("169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/0")
    assert await check_destination("169.254.10.10", wide)
    for host in ("169.254.169.254", "100.100.100.200", "::ffff:169.254.169.254"):
        assert (await refusal_for(host, wide)).reason == "metadata"
    exact = policy_allowing("169.254.169.254/32")
    assert await check_destination("169.254.169.254", exact)


async def test_name_resolving_to_a_private_address_is_refused_naming_it() -> None:
    resolver = FakeResolver({"cam.example.com": ["203.0.114.7", "10.0.0.5"]})
    with pytest.raises(DestinationRefused) as caught:
        await check_destination("cam.example.com", DEFAULT, resolver=resolver)
    assert caught.value.reason == "private"
    assert "resolves to a private address 10.0.0.5" in str(caught.value)


async def test_name_is_refused_when_any_address_is_refused() -> None:
    resolver = FakeResolver({"cam.example.com": ["8.8.8.8", "::1"]})
    with pytest.raises(DestinationRefused) as caught:
        await check_destination("cam.example.com", DEFAULT, resolver=resolver)
    assert caught.value.reason == "loopback"


async def test_name_resolving_to_public_addresses_returns_them_for_pinning() -> None:
    resolver = FakeResolver({"cam.example.com": ["8.8.8.8", "2001:4860:4860::8888", "8.8.8.8"]})
    checked = await resolve_and_check("Cam.Example.COM.", DEFAULT, resolver=resolver)
    assert checked.host == "cam.example.com"
    assert checked.addresses == (
        ipaddress.IPv4Address("8.8.8.8"),
        ipaddress.IPv6Address("2001:4860:4860::8888"),
    )
    assert checked.pinned_hosts == ("8.8.8.8", "[2001:4860:4860::8888]")
    assert resolver.calls == ["cam.example.com"]


async def test_international_names_are_resolved_in_their_idna_form() -> None:
    resolver = FakeResolver({"xn--mnchen-3ya.de": ["8.8.4.4"]})
    checked = await resolve_and_check("München.de", DEFAULT, resolver=resolver)
    assert checked.host == "xn--mnchen-3ya.de"


async def test_localhost_resolved_by_the_system_is_refused_as_loopback() -> None:
    with pytest.raises(DestinationRefused) as caught:
        await check_destination("localhost", DEFAULT)
    assert caught.value.reason == "loopback"
    assert "resolves to a loopback address" in str(caught.value)


async def test_unresolvable_name_is_refused() -> None:
    with pytest.raises(DestinationRefused) as caught:
        await check_destination("nonexistent.invalid", DEFAULT)
    assert caught.value.reason == "unresolvable"
    assert "host name could not be resolved" in str(caught.value)


async def test_resolver_returning_nothing_or_garbage_is_unresolvable() -> None:
    for answer in ([], ["not-an-address"]):
        resolver = FakeResolver({"cam.example.com": answer})
        with pytest.raises(DestinationRefused) as caught:
            await check_destination("cam.example.com", DEFAULT, resolver=resolver)
        assert caught.value.refusal is Refusal.UNRESOLVABLE


async def test_slow_resolution_times_out_as_unresolvable() -> None:
    async def slow(host: str) -> list[str]:
        await asyncio.sleep(10)
        return ["8.8.8.8"]

    policy = NetworkPolicy(dns_timeout_s=0.05)
    with pytest.raises(DestinationRefused) as caught:
        await check_destination("cam.example.com", policy, resolver=slow)
    assert caught.value.reason == "unresolvable"


@pytest.mark.parametrize(
    "host",
    ["", "cam example.com", "cam/../x", "-cam.example.com", "1.2.3.4.5", "host:554", "a" * 300],
)
async def test_malformed_hosts_are_refused(host: str) -> None:
    assert (await refusal_for(host)).reason == "invalid"


def test_check_address_rechecks_at_connect_time() -> None:
    check_address(ipaddress.IPv4Address("8.8.8.8"), DEFAULT)
    with pytest.raises(DestinationRefused):
        check_address(ipaddress.IPv4Address("10.0.0.1"), DEFAULT)


def test_parse_ip_literal_recognises_brackets_and_rejects_names() -> None:
    assert parse_ip_literal("[::1]") == ipaddress.IPv6Address("::1")
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("[not-v6]") is None


def test_bad_allowed_network_setting_is_reported() -> None:
    with pytest.raises(ValueError, match="not a network"):
        policy_allowing("192.168.1.0/33")
    # Host bits set are tolerated: the network that contains them is meant.
    assert policy_allowing("192.168.1.7/24").allowed_networks == (
        ipaddress.IPv4Network("192.168.1.0/24"),
    )
