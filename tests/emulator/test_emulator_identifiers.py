"""Raw ids map to and from the spec's identifier models the way the SDK and the service spell them."""

from __future__ import annotations

import pytest
from azure.communication.callautomation import (CommunicationUserIdentifier, MicrosoftTeamsUserIdentifier,
                                                PhoneNumberIdentifier)
from azure.communication.callautomation._generated.models import CommunicationIdentifierModel
from azure.communication.callautomation._utils import deserialize_identifier, serialize_identifier
from hypothesis import given
from hypothesis import strategies as st

from devtools.emulator.errors import AcsError
from devtools.emulator.identifiers import Identifier, identifier_from_model


@pytest.mark.parametrize(("given_id", "kind", "raw_id"), [
    ("+14255550123", "phoneNumber", "4:+14255550123"),
    ("4:+14255550123", "phoneNumber", "4:+14255550123"),
    ("8:acs:resource_user", "communicationUser", "8:acs:resource_user"),
    ("8:orgid:0000-aaaa", "microsoftTeamsUser", "8:orgid:0000-aaaa"),
    ("8:teamsvisitor:guest", "microsoftTeamsUser", "8:teamsvisitor:guest"),
    ("28:orgid:app-1", "microsoftTeamsApp", "28:orgid:app-1"),
    ("something-else", "unknown", "something-else"),
])
def test_a_raw_id_or_bare_number_gets_its_kind(given_id, kind, raw_id):
    identifier = Identifier.parse(given_id)

    assert (identifier.kind, identifier.raw_id) == (kind, raw_id)
    assert identifier.to_model()["kind"] == kind


@pytest.mark.parametrize("sdk_identifier", [
    PhoneNumberIdentifier("+14255550123"),
    CommunicationUserIdentifier("8:acs:resource_user"),
    MicrosoftTeamsUserIdentifier("0000-aaaa"),
])
def test_what_the_sdk_sends_reads_back_to_the_same_raw_id(sdk_identifier):
    sent = serialize_identifier(sdk_identifier).serialize()

    assert identifier_from_model(sent, "target").raw_id == sdk_identifier.raw_id


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_a_phone_model_round_trips_through_the_sdk_parser(number):
    model = Identifier.parse(number).to_model()

    parsed = deserialize_identifier(CommunicationIdentifierModel.deserialize(model))

    assert parsed == PhoneNumberIdentifier(number)
    assert identifier_from_model({"phoneNumber": model["phoneNumber"]}, "x").raw_id == model["rawId"]


@pytest.mark.parametrize("model", [{}, {"phoneNumber": {}}, {"phoneNumber": {"value": "+1"}, "communicationUser": {"id": "8:acs:x"}},
                                   {"rawId": ""}, "4:+1"])
def test_an_identifier_model_without_a_usable_identity_is_a_bad_request(model):
    with pytest.raises(AcsError) as refused:
        identifier_from_model(model, "participantToAdd")

    assert refused.value.status == 400
