"""The signed leg header (shared/domain/legs.py): an invitation the app sends carries it, and the IncomingCall it comes
back as is known as the app's own only when the header is genuine, for that target, and recent. A forged, moved,
altered or stale header reads as no header: the call is then routed as any other call (and hop-counted), never
left unanswered on the word of a header the app did not make."""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.legs import LEG_HEADER, LEG_TOKEN_TTL, MAX_HOPS, Leg, leg_headers, leg_token, read_leg

SECRET = b"s" * 40
AGENT = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-00000000a9e1"
NUMBER = "4:+18005550111"
SENT = datetime(2026, 12, 2, 14, 0, 0, tzinfo=timezone.utc)


def expected_mac(hop: int, issued: int, target: str, secret: bytes = SECRET) -> str:
    """HMAC-SHA256 of `callsteer/leg/v1:<hop>.<issued>.<target>`, URL-safe base64, first 22 characters: the format
    invitations already in flight carry, so it must not change between versions."""
    digest = hmac.new(secret, b"callsteer/leg/v1:" + f"{hop}.{issued}.{target}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def test_the_token_is_version_hop_issued_time_and_the_mac_of_all_three_with_the_target():
    issued = int(SENT.timestamp())
    assert leg_token(SECRET, AGENT, 3, SENT) == f"v1.3.{issued}.{expected_mac(3, issued, AGENT)}"


def test_a_phone_number_gets_the_header_as_sip_and_anyone_else_as_voip():
    token = leg_token(SECRET, NUMBER, 1, SENT)
    assert leg_headers(SECRET, NUMBER, 1, SENT) == ({LEG_HEADER: token}, {})
    token = leg_token(SECRET, AGENT, 1, SENT)
    assert leg_headers(SECRET, AGENT, 1, SENT) == ({}, {LEG_HEADER: token})


@pytest.mark.parametrize("hop", [0, 1, MAX_HOPS, 99])
@pytest.mark.parametrize("target", [AGENT, NUMBER])
def test_a_genuine_header_reads_back_as_its_hop(hop, target):
    sip, voip = leg_headers(SECRET, target, hop, SENT)
    assert read_leg(SECRET, {**sip, **voip}, target, SENT + timedelta(seconds=2)) == Leg(hop=hop)


@pytest.mark.parametrize("name", [LEG_HEADER.lower(), LEG_HEADER.upper(), "x-MS-custom-callsteer-LEG"])
def test_the_header_name_is_matched_in_any_case(name):
    assert read_leg(SECRET, {name: leg_token(SECRET, AGENT, 2, SENT)}, AGENT, SENT) == Leg(hop=2)


def test_other_headers_beside_it_do_not_matter_and_no_header_is_no_leg():
    token = leg_token(SECRET, AGENT, 1, SENT)
    assert read_leg(SECRET, {"X-MS-Custom-Other": "v1", LEG_HEADER: token}, AGENT, SENT) == Leg(hop=1)
    assert read_leg(SECRET, {"X-MS-Custom-Other": token}, AGENT, SENT) is None
    assert read_leg(SECRET, {}, AGENT, SENT) is None


def test_a_header_made_for_another_target_or_under_another_secret_is_no_leg():
    token = leg_token(SECRET, AGENT, 1, SENT)
    assert read_leg(SECRET, {LEG_HEADER: token}, NUMBER, SENT) is None
    assert read_leg(b"t" * 40, {LEG_HEADER: token}, AGENT, SENT) is None


def altered(token: str, part: int, value: str) -> str:
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


@pytest.mark.parametrize("part,value", [(1, "4"), (2, str(int(SENT.timestamp()) + 1))], ids=["hop", "time"])
def test_a_header_whose_hop_or_time_was_changed_is_no_leg(part, value):
    token = leg_token(SECRET, AGENT, 3, SENT)
    assert read_leg(SECRET, {LEG_HEADER: altered(token, part, value)}, AGENT, SENT) is None


def test_a_header_whose_mac_was_changed_in_one_character_is_no_leg():
    token = leg_token(SECRET, AGENT, 3, SENT)
    mac = token.rsplit(".", 1)[1]
    changed = ("A" if mac[-1] != "A" else "B")
    assert read_leg(SECRET, {LEG_HEADER: token[:-1] + changed}, AGENT, SENT) is None


@pytest.mark.parametrize("value", [
    "", "v1", "v2.1.{t}.{m}", "v1.1.{t}", "v1.123.{t}.{m}", "v1.x.{t}.{m}", "v1.1.{t}.{m}=", "v1.1.{t}.{m}.",
    " v1.1.{t}.{m}", "v1.1.-{t}.{m}", "v1.1.{t}.{short}",
], ids=["empty", "version only", "other version", "no mac", "3-digit hop", "letter hop", "padded mac",
        "trailing dot", "leading space", "negative time", "short mac"])
def test_a_malformed_header_is_no_leg(value):
    issued = int(SENT.timestamp())
    mac = expected_mac(1, issued, AGENT)
    text = value.format(t=issued, m=mac, short=mac[:21])
    assert read_leg(SECRET, {LEG_HEADER: text}, AGENT, SENT) is None


@pytest.mark.parametrize("offset,known", [
    (LEG_TOKEN_TTL, True), (LEG_TOKEN_TTL + timedelta(seconds=1), False),
    (-LEG_TOKEN_TTL, True), (-LEG_TOKEN_TTL - timedelta(seconds=1), False),
], ids=["TTL after", "past TTL after", "TTL before", "past TTL before"])
def test_a_header_is_known_up_to_its_time_to_live_either_side_of_the_incoming_call(offset, known):
    token = leg_token(SECRET, AGENT, 1, SENT)
    assert (read_leg(SECRET, {LEG_HEADER: token}, AGENT, SENT + offset) is not None) is known


def test_the_time_to_live_outlasts_the_longest_ring_and_max_hops_allows_a_transfer_then_voicemail():
    assert LEG_TOKEN_TTL >= timedelta(seconds=180) and 2 <= MAX_HOPS <= 10
