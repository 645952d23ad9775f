"""Properties of the hardening at the edge: whatever text arrives, a parsed target is ASCII and of one known shape,
an accepted wire id has only its rule's characters, no string that reaches the app holds a lone surrogate or a
control character, and a logged value is one visible line."""

from __future__ import annotations

import json
import re

from hypothesis import example, given
from hypothesis import strategies as st

from shared.domain.events import decode_json
from shared.domain.identifiers import CALL_CONNECTION_ID, EVENT_ID, SERVER_CALL_ID, is_wire_id, parse_target
from shared.errors import ValidationError
from shared.logsafe import escape
from tests.property.strategies import JSON, PROPERTY, TRICKY

TARGET_SHAPE = re.compile(r"4:\+[1-9][0-9]{6,14}|(8:(acs|spool|dod-acs|gcch-acs|orgid|dod|gcch|teamsvisitor)|"
                          r"28:(orgid|dod|gcch)):[A-Za-z0-9_-]+")
ANY = st.one_of(st.text(max_size=60), TRICKY, st.text(alphabet=st.characters(codec="utf-16", exclude_categories=()),
                                                      max_size=30))


@PROPERTY
@given(st.one_of(ANY, st.builds(lambda p, t: p + t, st.sampled_from(["4:", "4:4:", "+", "8:acs:", "28:orgid:"]), ANY)))
@example("4:4:hello world")
@example("+\uff11\uff14\uff12\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13")
def test_a_parsed_target_is_always_one_ascii_raw_id_of_a_known_shape(value):
    try:
        parsed = parse_target(value, "target")
    except ValidationError:
        return
    assert parsed.raw_id.isascii() and TARGET_SHAPE.fullmatch(parsed.raw_id), parsed


@PROPERTY
@given(ANY)
@example("..")
@example("a\\b")
def test_an_accepted_wire_id_has_only_safe_characters(value):
    for rule in (CALL_CONNECTION_ID, EVENT_ID, SERVER_CALL_ID):
        if is_wire_id(value, rule):
            assert value.isascii() and value.isprintable() and not set(value) & set(" \\#?%")
    for rule in (CALL_CONNECTION_ID, SERVER_CALL_ID):  # the ones that name storage partitions and ACS paths
        if is_wire_id(value, rule):
            assert "." not in value and "/" not in value or rule is SERVER_CALL_ID and ".." not in value


@PROPERTY
@given(JSON)
def test_decoded_json_holds_no_lone_surrogate_or_control_character(value):
    try:
        decoded = decode_json(json.dumps(value).encode())
    except ValidationError:
        return
    text = json.dumps(decoded, ensure_ascii=False)
    assert not re.search(r"[\ud800-\udfff]", text)
    assert not re.search(r"\\u00(0[0-8]|0b|0c|0e|0f|1[0-9a-f])", json.dumps(decoded))


@PROPERTY
@given(ANY)
def test_an_escaped_value_is_one_visible_line(value):
    logged = escape(value)
    assert "\n" not in logged and "\r" not in logged and "\x1b" not in logged
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]", logged)
