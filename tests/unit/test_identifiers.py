"""Identifiers (shared/domain/identifiers.py): what logs show of a number or id (the last four characters), the
kind a raw id denotes, and each refusal of a target or an event's identifier with its exact message and field, at
the length limit and one past it."""

import pytest

from shared.domain.identifiers import (
    ACS_USER, CALL_CONNECTION_ID, CORRELATION_ID, EVENT_ID, INVITATION_ID, MAX_RAW_ID, PHONE, TEAMS_APP, TEAMS_USER,
    UNKNOWN, Identifier, identifier_from_model, kind_of_raw_id, mask, parse_target, text_problem, wire_id,
)
from shared.errors import ValidationError

ACS = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-00000000a9e1"


@pytest.mark.parametrize("value,shown", [
    (None, "-"), ("", "-"), ("+14255550123", "+***0123"), ("4:+14255550123", "***0123"), (ACS, "***a9e1"),
    ("123", "***123"),
])
def test_a_masked_value_shows_only_its_last_four_characters_and_a_leading_plus(value, shown):
    assert mask(value) == shown


def test_an_identifier_is_masked_by_how_the_api_writes_it():
    assert parse_target("+14255550123", "target").masked() == "+***0123"
    assert parse_target(ACS, "target").masked() == "***a9e1"


@pytest.mark.parametrize("raw_id,kind", [
    ("+14255550123", PHONE), ("4:+14255550123", PHONE), (ACS, ACS_USER), ("8:spool:abc", ACS_USER),
    ("8:orgid:0000", TEAMS_USER), ("28:orgid:0000", TEAMS_APP), ("9:unknown", UNKNOWN),
])
def test_the_kind_of_a_raw_id_is_read_from_its_prefix(raw_id, kind):
    assert kind_of_raw_id(raw_id) == kind


def refusal(value, field="targets[0]"):
    with pytest.raises(ValidationError) as refused:
        parse_target(value, field)
    return str(refused.value), refused.value.field


@pytest.mark.parametrize("value", [None, "", 42, ["+14255550123"]])
def test_a_target_that_is_not_a_non_empty_string_is_refused_naming_the_field(value):
    assert refusal(value) == ("targets[0] must be a phone number (E.164) or a raw id such as 8:acs:...", "targets[0]")


def test_a_target_of_the_length_limit_is_parsed_and_one_past_it_refused():
    at_limit = "8:acs:" + "a" * (MAX_RAW_ID - len("8:acs:"))
    assert parse_target(at_limit, "target") == Identifier(ACS_USER, at_limit)
    assert refusal(at_limit + "a", "target") == (f"target is longer than {MAX_RAW_ID} characters", "target")


def test_a_phone_raw_id_without_a_number_after_it_is_refused_with_an_example():
    assert refusal("4:14255550123") == ("targets[0] '4:14255550123' is a phone raw id (4:) without an E.164 number "
                                        "after it (like 4:+14255550123)", "targets[0]")


def test_an_unknown_prefix_is_refused_naming_the_known_ones():
    assert refusal("9:someone") == ("targets[0] '9:someone' is neither an E.164 number nor a known raw id "
                                    "(8:acs:, 8:orgid:, 28:orgid:, ...)", "targets[0]")


def test_characters_past_a_known_prefix_are_refused_naming_the_prefix():
    assert refusal("8:acs:abc/def") == ("targets[0] '8:acs:abc/def' must be 8:acs: followed by ASCII letters, "
                                        "digits, - and _", "targets[0]")


def test_a_refused_target_is_quoted_to_its_first_40_characters():
    message, _ = refusal("9:" + "x" * 60)
    assert f"'9:{'x' * 38}'" in message and "x" * 39 not in message


# ---- identifiers in events (CommunicationIdentifierModel) ------------------------------------------------------


def model_refusal(model, field="participants[0]"):
    with pytest.raises(ValidationError) as refused:
        identifier_from_model(model, field)
    return str(refused.value), refused.value.field


@pytest.mark.parametrize("model", [None, "8:acs:x", ["8:acs:x"]])
def test_an_identifier_that_is_not_an_object_is_refused(model):
    assert model_refusal(model) == ("participants[0] must be an identifier object", "participants[0]")


@pytest.mark.parametrize("model", [{}, {"rawId": ""}, {"rawId": 5}, {"kind": "communicationUser"}])
def test_an_identifier_without_a_raw_id_or_parts_to_make_one_is_refused(model):
    assert model_refusal(model) == ("participants[0] has no rawId", "participants[0]")


def test_without_a_raw_id_it_is_made_from_the_phone_number_or_the_user_id():
    assert identifier_from_model({"rawId": "", "phoneNumber": {"value": "+14255550123"}}, "p") == \
        Identifier(PHONE, "4:+14255550123")
    assert identifier_from_model({"communicationUser": {"id": ACS}}, "p") == Identifier(ACS_USER, ACS)


def test_the_kind_given_is_kept_when_known_and_read_from_the_raw_id_otherwise():
    assert identifier_from_model({"rawId": ACS, "kind": "microsoftTeamsUser"}, "p").kind == TEAMS_USER
    assert identifier_from_model({"rawId": ACS, "kind": "somethingNew"}, "p").kind == ACS_USER
    assert identifier_from_model({"rawId": ACS}, "p").kind == ACS_USER


def test_an_event_raw_id_of_the_length_limit_is_read_and_one_past_it_refused():
    at_limit = "8:acs:" + "a" * (MAX_RAW_ID - len("8:acs:"))
    assert identifier_from_model({"rawId": at_limit}, "p").raw_id == at_limit
    assert model_refusal({"rawId": at_limit + "a"}) == (
        f"participants[0].rawId is longer than {MAX_RAW_ID} characters", "participants[0].rawId")


@pytest.mark.parametrize("raw_id", ["8:acs:a b", "8:acs:a\nb", "8:acs:\u00e9"])
def test_an_event_raw_id_with_spaces_control_or_non_ascii_characters_is_refused(raw_id):
    assert model_refusal({"rawId": raw_id}) == (
        "participants[0].rawId must be visible ASCII characters (no spaces or control characters)",
        "participants[0].rawId")


# ---- wire ids and free text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule,article", [(INVITATION_ID, "an"), (CALL_CONNECTION_ID, "a"), (EVENT_ID, "an"),
                                          (CORRELATION_ID, "a")])
def test_a_wire_id_with_characters_its_rule_does_not_allow_is_refused_naming_the_rule_and_what_it_allows(rule, article):
    with pytest.raises(ValidationError) as refused:
        wire_id("a/b", "data.id", rule)
    assert str(refused.value) == f"data.id: {article} {rule.name} has only {rule.characters}"
    assert refused.value.field == "data.id"


@pytest.mark.parametrize("text,problem", [
    ("ok\ttab\r\n", None), ("bell\x07", "holds control character U+0007"), ("esc\x1b", "holds control character U+001B"),
    ("\ud800 high", "holds a lone UTF-16 surrogate"), ("low \udfff", "holds a lone UTF-16 surrogate"),
    ("\ue000 private use", None), ("\ud7ff hangul", None),
])
def test_text_from_the_wire_is_refused_for_a_control_character_or_a_lone_surrogate_naming_which(text, problem):
    assert text_problem(text) == problem
