"""Connection settings: clear refusals for unusable settings, and credentials that never print."""

from __future__ import annotations

import pytest
import trustme

from ece_restart.connection import (
    ApiKeyCredentials,
    BasicCredentials,
    ConnectionConfig,
    InvalidConnectionError,
    Secret,
)

CANARY_KEY = "canary-api-key-7f3a9c"
CANARY_PASSWORD = "canary-password-b81e"


def test_credentials_never_show_in_repr_or_str() -> None:
    config = ConnectionConfig("https://ece.example:12443", BasicCredentials("admin", Secret(CANARY_PASSWORD)))
    keyed = ConnectionConfig("https://ece.example:12443", ApiKeyCredentials(Secret(CANARY_KEY)))
    for text in (repr(config), str(config), repr(keyed), str(keyed), repr(keyed.credentials), f"{keyed}"):
        assert CANARY_KEY not in text and CANARY_PASSWORD not in text
    assert keyed.credentials.api_key.reveal() == CANARY_KEY


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ece.example:12443", "https://ece.example:12443"),
        ("https://ece.example:12443/", "https://ece.example:12443"),
        ("https://ece.example:12443/api/v1", "https://ece.example:12443"),
        ("https://proxy.example/ece/api/v1/", "https://proxy.example/ece"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_urls_are_normalised_to_the_api_base(url: str, expected: str) -> None:
    assert ConnectionConfig(url, ApiKeyCredentials(Secret("k"))).url == expected


@pytest.mark.parametrize(
    ("url", "insecure", "message"),
    [
        ("ftp://ece.example", False, "scheme 'ftp'"),
        ("ece.example:12443", False, "not supported"),
        ("https://", False, "no host"),
        ("https://user:pw@ece.example", False, "must not carry credentials"),
        ("http://ece.example:12400", False, "plain http"),
        ("https://ece.example:99999", False, "invalid port"),
        ("https://ece.example/?x=1", False, "query"),
    ],
)
def test_unusable_urls_are_refused_with_what_to_fix(url: str, insecure: bool, message: str) -> None:
    with pytest.raises(InvalidConnectionError, match=message) as caught:
        ConnectionConfig(url, ApiKeyCredentials(Secret("k")), insecure_skip_verify=insecure)
    assert "pw" not in str(caught.value)


def test_plain_http_is_allowed_to_a_remote_host_only_when_explicitly_insecure(caplog: pytest.LogCaptureFixture) -> None:
    config = ConnectionConfig("http://ece.example:12400", ApiKeyCredentials(Secret("k")), insecure_skip_verify=True)
    assert config.url == "http://ece.example:12400"


def test_environment_gives_the_default_connection() -> None:
    config = ConnectionConfig.from_env({"ECE_URL": "https://ece.example:12443", "ECE_API_KEY": CANARY_KEY})
    assert config is not None and isinstance(config.credentials, ApiKeyCredentials)
    basic = ConnectionConfig.from_env(
        {"ECE_URL": "https://ece.example", "ECE_USERNAME": "admin", "ECE_PASSWORD": CANARY_PASSWORD,
         "ECE_INSECURE_SKIP_VERIFY": "true"}
    )
    assert basic is not None and isinstance(basic.credentials, BasicCredentials) and basic.insecure_skip_verify
    assert ConnectionConfig.from_env({}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ECE_URL": "https://e.example"}, "no credentials"),
        ({"ECE_URL": "https://e.example", "ECE_API_KEY": "k", "ECE_USERNAME": "u"}, "not both"),
        ({"ECE_URL": "https://e.example", "ECE_USERNAME": "u"}, "together"),
        ({"ECE_URL": "https://e.example", "ECE_API_KEY": "k", "ECE_INSECURE_SKIP_VERIFY": "maybe"}, "true or false"),
        ({"ECE_URL": "https://e.example", "ECE_API_KEY": "k", "ECE_CA_FILE": "/nonexistent/ca.pem"}, "cannot be read"),
    ],
)
def test_bad_environment_is_refused_with_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidConnectionError, match=message):
        ConnectionConfig.from_env(env)


def test_a_ca_bundle_that_is_not_a_certificate_is_refused_up_front() -> None:
    with pytest.raises(InvalidConnectionError, match="not a PEM certificate"):
        ConnectionConfig("https://e.example", ApiKeyCredentials(Secret("k")), ca_pem="hello, not a cert")


def test_a_real_ca_bundle_is_accepted() -> None:
    ca = trustme.CA()
    config = ConnectionConfig("https://e.example", ApiKeyCredentials(Secret("k")), ca_pem=ca.cert_pem.bytes().decode())
    assert config.ca_pem is not None and "hello" not in repr(config)
