"""Repeatability-Request-ID: deterministic per key, in the version 4 UUID form the spec describes."""

import uuid
from datetime import datetime, timezone

from shared.adapters.acs import Repeatability

SENT = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


def test_the_id_is_the_same_for_the_same_key_and_differs_between_keys():
    assert Repeatability.for_key("call-1:answer", SENT).request_id == Repeatability.for_key("call-1:answer", SENT).request_id
    assert Repeatability.for_key("call-1:answer", SENT).request_id != Repeatability.for_key("call-2:answer", SENT).request_id


def test_every_id_has_the_version_4_and_rfc_4122_variant_bits():
    for n in range(200):
        parsed = uuid.UUID(Repeatability.for_key(f"key-{n}", SENT).request_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_first_sent_is_an_imf_fixdate():
    assert Repeatability.for_key("k", SENT).headers()["Repeatability-First-Sent"] == "Wed, 02 Dec 2026 06:00:00 GMT"
