"""Property tests for routing: rulesets load or are refused with RulesError; a loaded ruleset decides every call."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.routing import Answer, Redirect, Reject, Ruleset, load_rules, parse_rules
from shared.errors import RulesError, ValidationError
from tests.property.strategies import (
    BROKEN_RULESETS, INSTANTS, JSON, PROPERTY, incoming_calls, valid_ruleset,
)


@PROPERTY
@given(document=valid_ruleset())
def test_generated_valid_rulesets_load(document):
    ruleset = load_rules(json.dumps(document))
    assert isinstance(ruleset, Ruleset) and len(ruleset.rules) == len(document["rules"])


@PROPERTY
@given(document=BROKEN_RULESETS)
def test_any_ruleset_document_loads_or_is_refused_with_a_rules_error(document):
    try:
        parse_rules(document)
    except RulesError as exc:
        assert exc.field, "a refused ruleset names the field"
    except ValidationError as exc:  # pragma: no cover - RulesError is the documented type
        raise AssertionError(f"a ruleset was refused with {type(exc).__name__}, not RulesError: {exc}") from None


@PROPERTY
@given(text=st.one_of(st.text(max_size=200), JSON.map(json.dumps), valid_ruleset().map(lambda d: json.dumps(d)[:-1])))
def test_any_rules_text_loads_or_is_refused_with_a_rules_error_naming_the_source(text):
    try:
        load_rules(text, "ROUTING_RULES")
    except RulesError as exc:
        assert "ROUTING_RULES" in str(exc)


@PROPERTY
@given(document=valid_ruleset(), calls=st.lists(incoming_calls(), min_size=1, max_size=4),
       instants=st.lists(INSTANTS, min_size=1, max_size=4))
def test_a_loaded_ruleset_decides_every_call_at_every_instant(document, calls, instants):
    ruleset = parse_rules(document)
    for call in calls:
        for now in instants:
            decision = ruleset.decide(call, now)
            assert isinstance(decision, (Answer, Reject, Redirect))
            # The first matching rule wins, else the default: the decision is one the ruleset holds.
            assert decision in [r.decision for r in ruleset.rules] + [ruleset.default]
            assert ruleset.decide(call, now) == decision, "deciding is a pure function of the call and the clock"
