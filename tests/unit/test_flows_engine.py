"""The flow engine, pure: from stored state and an event, the ACS commands of each step; repeated, late and
stale events change nothing; the caller hanging up ends the flow."""

from dataclasses import replace
from datetime import datetime, timezone

from shared.domain import events as ev
from shared.domain import operations as ops
from shared.domain import plan as p
from shared.domain.call import CONNECTED, INBOUND, Call, apply_event
from shared.domain.routing import parse_rules
from shared.domain.steps import stored_plan
from tests.unit.test_flows_rules import ISSUE_RULES

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
CALLER = "+14255550123"
_seq = iter(range(1, 10_000))


def a_call(rule="main", rules=ISSUE_RULES):
    decision = next(r.decision for r in parse_rules(rules, recordings_configured=True).rules if r.name == rule)
    return Call(id="c1", call_key="i" + "0" * 31, direction=INBOUND, state=CONNECTED, started_at=NOW, updated_at=NOW,
                call_connection_id="c1", from_=CALLER, plan=stored_plan(decision.plan, decision.flows),
                plan_state={"phase": p.WAITING})


def event(cls, context=None, code=200, sub=0, **fields):
    return cls(id=f"e{next(_seq)}", type=f"Microsoft.Communication.{cls.__name__}", time=NOW, call_connection_id="c1",
               server_call_id=None, correlation_id=None, operation_context=context,
               result=ev.ResultInformation(code, sub, ""), **fields)


def feed(call, *events):
    """Apply events as the callback handler does, then advance the plan."""
    for e in events:
        call, _ = apply_event(call, e, NOW)
    return p.advance(call, NOW)


def accept(call, command, **changes):
    op = ops.find(call.operations, command.context)
    return replace(call, operations=ops.upsert(call.operations, replace(op, accepted_at=NOW, **changes)))


def press(call, command, tones):
    return feed(call, event(ev.RecognizeCompleted, command.context, sub=8531, digits=tones))


def silence(call, command):
    return feed(call, event(ev.RecognizeFailed, command.context, code=400, sub=8510))


def test_a_menu_plays_its_prompt_and_collects_one_interruptible_digit_from_the_caller():
    call, [command] = p.advance(a_call(), NOW)
    assert command == p.Recognize(command.context, CALLER, ("https://media.example.com/welcome.wav",), 5)
    assert call.plan_state["at"] == "flows/main-menu" and call.plan_state["phase"] == p.MENU
    assert ops.find(call.operations, command.context).action == ops.RECOGNIZE


def test_each_menu_option_goes_to_its_step():
    call, [ask] = p.advance(a_call(), NOW)
    _, ring = press(call, ask, "1")
    assert [type(c) for c in ring] == [p.AddParticipant, p.AddParticipant]  # simultaneous: both at once
    assert [c.target for c in ring] == ["8:acs:sales-1", "8:acs:sales-2"] and ring[0].timeout_seconds == 20
    _, [transfer] = press(call, ask, "2")
    assert transfer == p.Transfer(transfer.context, "+18005550199")
    queued, queue = press(call, ask, "3")
    assert [type(c) for c in queue] == [p.Hold, p.AddParticipant]  # sequential: the first agent only
    assert queue[0].music == "https://media.example.com/hold-music.wav" and queue[0].target == CALLER
    assert queued.plan_state["at"] == "flows/support-queue"
    again, [reask] = press(call, ask, "0")
    assert isinstance(reask, p.Recognize) and reask.context != ask.context  # the menu again, a new step
    assert [e["kind"] for e in again.plan_state["path"]] == ["flow", "menu", "digit", "flow", "menu"]


def test_an_invalid_digit_plays_the_invalid_prompt_then_asks_again():
    call, [ask] = p.advance(a_call(), NOW)
    call, [reask] = press(call, ask, "9")
    assert reask.prompts == ("https://media.example.com/invalid.wav", "https://media.example.com/welcome.wav")
    call, [transfer] = press(call, reask, "2")
    assert isinstance(transfer, p.Transfer)


def test_silence_through_every_retry_goes_to_no_input():
    call, [ask] = p.advance(a_call(), NOW)
    asked = [ask]
    for _ in range(2):  # retries: 2 more attempts
        call, [ask] = silence(call, ask)
        assert ask.prompts == ("https://media.example.com/welcome.wav",)
        asked.append(ask)
    call, [greeting] = silence(call, ask)
    assert isinstance(greeting, p.Play) and greeting.url.endswith("leave-a-message.wav")
    assert len({a.context for a in asked}) == 3 and call.plan_state["at"] == "flows/voicemail"


def test_a_repeated_or_late_recognize_event_changes_nothing():
    call, [ask] = p.advance(a_call(), NOW)
    done = event(ev.RecognizeCompleted, ask.context, sub=8531, digits="2")
    call, [transfer] = feed(call, done)
    again, commands = feed(call, done)  # the same result again: the menu was left
    assert commands == [] and again.plan_state["at"] == call.plan_state["at"]


def test_an_event_for_a_step_the_call_has_left_is_recorded_and_ignored():
    call, [ask] = p.advance(a_call(), NOW)
    call, [reask] = silence(call, ask)
    late = event(ev.RecognizeCompleted, ask.context, sub=8531, digits="2")  # the first attempt, after its failure
    after, commands = feed(call, late)
    assert commands == [] and after.plan_state["attempt"] == 1


def test_a_failed_play_hangs_up_with_the_failure_recorded():
    call, [play] = p.advance(a_call("holiday"), NOW)
    assert play == p.Play(play.context, "https://media.example.com/closed.wav")
    call, [hang_up] = feed(call, event(ev.PlayFailed, play.context, code=400, sub=8535, failed_play_source_index=0))
    assert hang_up == p.HangUp(hang_up.context, for_everyone=True)
    assert call.plan_state["outcome"] == "failed" and call.plan_state["error"]["result"]["subCode"] == 8535
    assert p.advance(call, NOW)[1] == []  # not twice


def test_a_played_announcement_goes_on_to_its_then():
    call, [play] = p.advance(a_call("holiday"), NOW)
    call, [hang_up] = feed(call, event(ev.PlayCompleted, play.context))
    assert isinstance(hang_up, p.HangUp) and call.plan_state["phase"] == p.HANGING_UP


def to_queue():
    call, [ask] = p.advance(a_call(), NOW)
    return press(call, ask, "3")


def test_a_queue_answered_by_the_second_agent_takes_the_caller_off_hold():
    call, [hold, first] = to_queue()
    call = accept(call, first, invitation_id="inv-1")
    call, [second] = feed(call, event(ev.AddParticipantFailed, first.context, code=408, sub=10004))
    assert second.target == "+14255550111" and second.timeout_seconds == 20
    call = accept(call, second, invitation_id="inv-2")
    call, [unhold] = feed(call, event(ev.AddParticipantSucceeded, second.context))
    assert unhold == p.Unhold(unhold.context, CALLER) and call.plan_state["winner"] == "+14255550111"


def test_a_queue_overflows_after_max_wait_seconds_of_ringing():
    call, commands = to_queue()
    invites = [c for c in commands if isinstance(c, p.AddParticipant)]
    rounds = 0
    while True:
        rounds += 1
        assert sum(i.timeout_seconds for i in invites) <= 300
        call, commands = feed(call, *(event(ev.AddParticipantFailed, i.context, code=408, sub=10004) for i in invites))
        invites = [c for c in commands if isinstance(c, p.AddParticipant)]
        if not invites:
            break
    assert rounds == 15  # 300 s of ringing in 20 s invitations, each agent in turn
    assert [type(c) for c in commands] == [p.Unhold, p.Play]  # off hold, then the voicemail greeting
    assert call.plan_state["outcome"] == "overflow"


def test_voicemail_records_after_the_greeting_and_stops_at_max_seconds():
    call, [ask] = p.advance(a_call(), NOW)
    for _ in range(3):
        call, [ask] = silence(call, ask)
    greeting = ask
    call, [record] = feed(call, event(ev.PlayCompleted, greeting.context))
    assert isinstance(record, p.StartRecording)
    call = accept(call, record, recording_id="rec-1")
    call, [timer] = p.advance(call, NOW)
    assert timer.prompts == () and timer.timeout_seconds == 120 and timer.target == CALLER
    call, [stop, hang_up] = silence(call, timer)
    assert stop == p.StopRecording(stop.context, "rec-1") and isinstance(hang_up, p.HangUp)


def test_a_long_voicemail_chains_its_timers():
    rules = {"flows": {"vm": {"voicemail": {"prompt": "https://m.example.com/g.wav", "maxSeconds": 600}}},
             "rules": [{"name": "vm", "action": "answer", "then": {"flow": "vm"}}], "default": {"action": "reject"}}
    call, [greeting] = p.advance(a_call("vm", rules), NOW)
    call, [record] = feed(call, event(ev.PlayCompleted, greeting.context))
    call, [timer] = p.advance(accept(call, record, recording_id="r"), NOW)
    timeouts = [timer.timeout_seconds]
    call, [timer] = silence(call, timer)
    timeouts.append(timer.timeout_seconds)
    call, commands = silence(call, timer)
    assert timeouts == [300, 300] and [type(c) for c in commands] == [p.StopRecording, p.HangUp]


def test_the_caller_hanging_up_ends_the_flow_in_any_step():
    call, [ask] = p.advance(a_call(), NOW)
    ended, commands = feed(call, event(ev.CallDisconnected))
    assert commands == [] and ended.plan_state["phase"] == p.DONE
    assert ended.plan_state["outcome"] == "caller hung up"
    assert ops.find(ended.operations, ask.context).status == ops.CANCELLED
    # And nothing after it brings the flow back.
    assert feed(ended, event(ev.RecognizeCompleted, ask.context, digits="1"))[1] == []


def test_a_caller_who_leaves_a_queue_that_goes_on_cancels_the_invitations_and_hangs_up():
    call, [hold, first] = to_queue()
    call = accept(call, first, invitation_id="inv-1")
    call = replace(call, participants=("8:acs:app",), participants_seq=4)
    _, commands = p.advance(call, NOW)
    assert [type(c) for c in commands] == [p.CancelAddParticipant, p.HangUp]


def test_unsent_steps_are_sent_again_as_they_were_asked():
    call, [ask] = p.advance(a_call(), NOW)
    assert p.unsent(call) == [ask]
    assert p.unsent(accept(call, ask)) == []
