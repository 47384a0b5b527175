"""Camera stream URLs: validation, credentials split out, and secrets kept out of messages."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orin.cameras.stream_url import (
    MAX_CREDENTIAL_LENGTH,
    MAX_JOINED_URL_LENGTH,
    MAX_URL_LENGTH,
    PASSWORD_MASK,
    StreamUrl,
    StreamUrlError,
    parse_stream_url,
)

SECRET = "Hunter2-s3cret"


def parse(text: str, *, allow_file: bool = False) -> StreamUrl:
    return parse_stream_url(text, allow_file=allow_file)


def error_message(text: str) -> str | None:
    """The refusal's message, or ``None`` when the text parses (the password moved elsewhere)."""
    try:
        parse(text)
    except StreamUrlError as error:
        return str(error)
    return None


def test_full_url_is_split_into_its_parts() -> None:
    url = parse(f"rtsp://admin:{SECRET}@Cam.Example.COM:554/Streaming/Channels/101?tcp=1")
    assert url == StreamUrl(
        scheme="rtsp",
        host="cam.example.com",
        port=554,
        path="/Streaming/Channels/101?tcp=1",
        username="admin",
        password=SECRET,
    )
    assert url.without_credentials() == "rtsp://cam.example.com:554/Streaming/Channels/101?tcp=1"
    assert url.effective_port == 554


def test_masked_keeps_the_user_name_and_hides_the_password() -> None:
    url = parse(f"rtsp://admin:{SECRET}@cam.example.com:554/stream")
    assert url.masked() == f"rtsp://admin:{PASSWORD_MASK}@cam.example.com:554/stream"
    assert str(url) == url.masked()
    assert SECRET not in repr(url)


def test_masked_hides_secret_looking_query_values() -> None:
    url = parse(f"rtsp://cam.example.com/live?channel=1&user=admin&password={SECRET}&token=abc")
    assert url.masked() == (
        f"rtsp://cam.example.com/live?channel=1&user=admin&password={PASSWORD_MASK}"
        f"&token={PASSWORD_MASK}"
    )


def test_url_without_credentials_or_path() -> None:
    url = parse("RTSPS://cam.example.com")
    assert (url.scheme, url.host, url.port, url.path) == ("rtsps", "cam.example.com", None, "")
    assert (url.username, url.password) == (None, None)
    assert url.effective_port == 322
    assert url.masked() == url.without_credentials() == "rtsps://cam.example.com"


def test_user_name_without_password_and_empty_password() -> None:
    assert parse("rtsp://admin@cam.example.com/").password is None
    url = parse("rtsp://admin:@cam.example.com/")
    assert (url.username, url.password) == ("admin", "")
    assert url.with_credentials("admin", "") == "rtsp://admin:@cam.example.com/"


def test_percent_encoded_credentials_are_decoded_and_round_trip() -> None:
    url = parse("rtsp://ad%3Amin:p%40ss%2Fw%C3%B6rd%25%23@cam.example.com/s")
    assert url.username == "ad:min"
    assert url.password == "p@ss/wörd%#"
    joined = url.with_credentials(url.username, url.password)
    assert joined == "rtsp://ad%3Amin:p%40ss%2Fw%C3%B6rd%25%23@cam.example.com/s"
    assert parse(joined) == url


def test_with_credentials_replaces_the_credentials() -> None:
    url = parse("rtsp://old:creds@cam.example.com:8554/a")
    assert url.with_credentials("new user", "p:w@d") == (
        "rtsp://new%20user:p%3Aw%40d@cam.example.com:8554/a"
    )
    assert url.with_credentials(None, None) == "rtsp://cam.example.com:8554/a"
    assert url.with_credentials("", None) == "rtsp://cam.example.com:8554/a"


def test_with_credentials_refuses_line_breaks() -> None:
    url = parse("rtsp://cam.example.com/")
    with pytest.raises(StreamUrlError) as caught:
        url.with_credentials("admin", "x\r\nInjected: yes")
    assert "Injected" not in str(caught.value)


TEXT = st.characters(codec="utf-8", exclude_categories=["Cc", "Zl", "Zp"])


CREDENTIAL = st.text(TEXT, max_size=MAX_CREDENTIAL_LENGTH)


@given(username=CREDENTIAL.filter(bool), password=st.none() | CREDENTIAL)
def test_any_credentials_round_trip(username: str, password: str | None) -> None:
    """Up to the API's length: 200 four-byte characters each make a URL far over 2048."""
    base = parse("rtsp://cam.example.com:554/stream?x=1")
    joined = base.with_credentials(username, password)
    url = parse_stream_url(joined, allow_file=False, max_length=MAX_JOINED_URL_LENGTH)
    assert (url.username, url.password) == (username, password)
    assert url.without_credentials() == base.without_credentials()
    if password is not None:
        assert url.masked() == (
            f"rtsp://{quote(username, safe='')}:{PASSWORD_MASK}@cam.example.com:554/stream?x=1"
        )


@pytest.mark.parametrize("control", ["\r\n", "\n", "\x00", "\x7f", "\u0085", "\u2028"])
def test_credentials_with_control_characters_are_refused(control: str) -> None:
    base = parse("rtsp://cam.example.com/")
    with pytest.raises(StreamUrlError):
        base.with_credentials("admin", f"pass{control}word")
    with pytest.raises(StreamUrlError):
        base.with_credentials(f"ad{control}min", None)
    encoded = quote(f"pass{control}word", safe="")
    with pytest.raises(StreamUrlError):
        parse(f"rtsp://admin:{encoded}@cam.example.com/")


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("rtsp://[::1]:8554/a", "::1"),
        ("rtsp://[2001:DB8::0:1]/a", "2001:db8::1"),
        ("rtsp://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("rtsp://192.168.1.10/", "192.168.1.10"),
        ("rtsp://2130706433/", "127.0.0.1"),
        ("rtsp://0177.0.0.1/", "127.0.0.1"),
        ("rtsp://0x7f.0.0.1/", "127.0.0.1"),
        ("rtsp://127.1/", "127.0.0.1"),
        ("rtsp://cam.example.com./", "cam.example.com"),
        ("rtsp://München.example/", "xn--mnchen-3ya.example"),
        ("rtsp://cam_1.lan/", "cam_1.lan"),
    ],
)
def test_hosts_are_normalised(text: str, host: str) -> None:
    assert parse(text).host == host


def test_ipv6_host_gets_its_brackets_back() -> None:
    url = parse("rtsp://u:p@[fe80::1]:554/s")
    assert url.without_credentials() == "rtsp://[fe80::1]:554/s"
    assert url.with_credentials("u", "p") == "rtsp://u:p@[fe80::1]:554/s"


def test_file_urls_only_when_allowed() -> None:
    url = parse("file:///srv/demo/parking.mp4", allow_file=True)
    assert url == StreamUrl("file", None, None, "/srv/demo/parking.mp4", None, None)
    assert url.without_credentials() == "file:///srv/demo/parking.mp4"
    assert url.effective_port is None
    with pytest.raises(StreamUrlError, match=r"rtsp://"):
        parse("file:///srv/demo/parking.mp4")
    with pytest.raises(StreamUrlError):
        url.with_credentials("admin", "x")


@pytest.mark.parametrize(
    "text",
    ["file://host/srv/a.mp4", "file://user:pw@/srv/a.mp4", "file:relative.mp4", "file:////x"],
)
def test_bad_file_urls_are_refused(text: str) -> None:
    with pytest.raises(StreamUrlError):
        parse(text, allow_file=True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cam.example.com/stream",
        "http://cam.example.com/stream",
        "rtmp://cam.example.com/live",
        "javascript:alert(1)",
        "rtsp:cam.example.com",
        "rtsp:/cam.example.com",
        "rtsp://",
        "rtsp:///stream",
        "rtsp://:554/stream",
        "rtsp://user:pw@/stream",
        "rtsp://user:pw@:554/stream",
        "rtsp://@cam.example.com/",
        "rtsp://cam.example.com:0/",
        "rtsp://cam.example.com:65536/",
        "rtsp://cam.example.com:/",
        "rtsp://cam.example.com:55a/",
        "rtsp://cam.example.com:-1/",
        "rtsp://cam.example.com/stream#frag",
        "rtsp://cam.example.com\\@evil.example/",
        "rtsp://cam.example.com/a b",
        " rtsp://cam.example.com/",
        "rtsp://cam.example.com/\n",
        "rtsp://cam.example.com/\x00",
        "rtsp://cam.example.com/\u202e",
        "rtsp://cam\u00a0example.com/",
        "rtsp://a@b@cam.example.com/",
        "rtsp://cam..example.com/",
        "rtsp://-cam.example.com/",
        "rtsp://cam%2eexample.com/",
        "rtsp://cam.example.com]/",
        "rtsp://[::1/",
        "rtsp://[::1]x/",
        "rtsp://[v1.fe]/",
        "rtsp://[fe80::1%25eth0]/",
        "rtsp://[not-ipv6]/",
        "rtsp://1.2.3.4.5/",
        "rtsp://256.1.1.1/",
        "rtsp://08.1.1.1/",
        "rtsp://user:p%zzw@cam.example.com/",
        "rtsp://user:p%@cam.example.com/",
        "rtsp://user:%ff%fe@cam.example.com/",
        "rtsp://user:a%0d%0aInjected:%20x@cam.example.com/",
        "rtsp://" + "a" * 300 + ".example/",
    ],
)
def test_malformed_urls_are_refused(text: str) -> None:
    with pytest.raises(StreamUrlError):
        parse(text)


def test_too_long_url_is_refused() -> None:
    prefix = "rtsp://cam.example.com/"
    parse(prefix + "a" * (MAX_URL_LENGTH - len(prefix)))
    with pytest.raises(StreamUrlError, match="too long"):
        parse(prefix + "a" * (MAX_URL_LENGTH - len(prefix) + 1))


def test_unencoded_special_characters_in_a_password_get_a_hint() -> None:
    with pytest.raises(StreamUrlError, match="percent-encode") as caught:
        parse(f"rtsp://admin:{SECRET}/x@cam.example.com/stream")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        "rtsp://admin:{secret}@cam.example.com:99999/",
        "rtsp://admin:{secret}@/stream",
        "rtsp://admin:{secret}@cam..example.com/",
        "rtsp://admin:{secret}@@cam.example.com/",
        "rtsp://admin:{secret}%@cam.example.com/",
        "rtsp://admin:{secret}%0A@cam.example.com/",
        "rtsp://admin:{secret}#@cam.example.com/",
        "rtsp://admin:{secret}/@cam.example.com/",
        "rtsp://admin:{secret}?@cam.example.com/",
        "rtsp://admin:{secret}@[::1/",
        "http://admin:{secret}@cam.example.com/",
        "{secret}:rtsp://cam.example.com/",
        "rtsp://admin:{secret} @cam.example.com/",
        "rtsp://admin:{secret}@cam.example.com/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_error_messages_never_contain_the_password(template: str) -> None:
    with pytest.raises(StreamUrlError) as caught:
        parse(template.format(secret=SECRET))
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None


@given(
    password=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="@"), min_size=6
    ).filter(lambda s: "hunter" not in s),
    tail=st.sampled_from(["@cam.example.com:0/", "@/x", "@[::1/", "@cam..x/", "@@h/"]),
)
def test_no_malformed_url_leaks_its_password(password: str, tail: str) -> None:
    message = error_message(f"rtsp://hunter:{password}{tail}")
    assert message is None or password not in message
