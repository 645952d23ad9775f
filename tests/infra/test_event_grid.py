"""IncomingCall delivery: a system topic on the ACS resource and one subscription, to incoming_call only,
filtered to IncomingCall and, by default, to calls to phone numbers (or to the listed numbers), retried briefly."""

from __future__ import annotations

import json
import re

import pytest

from bicep_eval import Env, Unsupported, evaluate, event_grid_matches
from infra_bicep import INFRA, ROOT, render

SUB = "app/incoming-call-subscription.bicep"


def subscription(infra):
    return infra[SUB].one("Microsoft.EventGrid/systemTopics/eventSubscriptions")


def test_system_topic_is_on_the_acs_resource(infra):
    comm = infra["core/communication.bicep"]
    topic = comm.one("Microsoft.EventGrid/systemTopics")
    assert topic["properties"]["topicType"] == "Microsoft.Communication.CommunicationServices"
    assert render(topic["properties"]["source"]) == "acs.id"
    assert topic["location"] == "global"
    acs = comm.one("Microsoft.Communication/communicationServices")
    assert acs["location"] == "global"
    assert acs["properties"]["dataLocation"] == "dataLocation"
    assert infra.main.module("communication")["params"]["dataLocation"] == "acsDataLocation"


def test_subscription_hangs_off_that_topic(infra):
    sub = subscription(infra)
    assert sub["parent"] == "systemTopic"
    topics = infra[SUB].resources_of("Microsoft.EventGrid/systemTopics", existing=True)
    assert [t["config"]["name"] for t in topics.values()] == ["systemTopicName"]
    params = infra.main.module("incomingCallSubscription")["params"]
    assert render(params["systemTopicName"]) == "communication.outputs.systemTopicName"
    assert render(params["functionAppName"]) == "functionApp.outputs.name"


def test_destination_is_the_incoming_call_function(infra):
    destination = subscription(infra)["properties"]["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionApp.id}/functions/incoming_call"
    assert destination["properties"]["maxEventsPerBatch"] == 1
    apps = infra[SUB].resources_of("Microsoft.Web/sites", existing=True)
    assert [a["config"]["name"] for a in apps.values()] == ["functionAppName"]


def test_only_incoming_call_events_are_delivered(infra):
    event_filter = subscription(infra)["properties"]["filter"]
    assert event_filter["includedEventTypes"] == ["Microsoft.Communication.IncomingCall"]


EVENTS = ROOT / "tests" / "events"


def incoming_call(name: str) -> dict:
    """A recorded-shape IncomingCall from tests/events, as Event Grid delivers it (one event)."""
    (event,) = json.loads((EVENTS / f"eventgrid_incoming_call_{name}.json").read_text())
    assert event["eventType"] == "Microsoft.Communication.IncomingCall"
    return event


def delivered_filters(infra, **main_args) -> list[dict]:
    """The subscription's advanced filters for these main.bicep parameters: main's values followed into the
    module, then through the module's variables (bicep_eval refuses anything it cannot compute)."""
    main_env = Env(infra.main.json, main_args)
    module_params = infra.main.module("incomingCallSubscription")["params"]
    module_args = {name: evaluate(module_params[name], main_env) for name in ("calledNumbers", "calledParty")}
    module_env = Env(infra[SUB].json, module_args)
    return evaluate(subscription(infra)["properties"]["filter"]["advancedFilters"], module_env)


def reaches_the_app(infra, event: dict, **main_args) -> bool:
    return event_grid_matches(delivered_filters(infra, **main_args), event)


def test_by_default_only_calls_to_phone_numbers_reach_the_app(infra):
    """The app's own legs to ACS users (ring groups, add participant, transfer) raise IncomingCall too:
    by default they are filtered out in Event Grid, so they can never loop through the app."""
    assert delivered_filters(infra) == [{"operatorType": "StringBeginsWith", "key": "data.to.rawId", "values": ["4:"]}]
    assert reaches_the_app(infra, incoming_call("phone"))
    assert reaches_the_app(infra, incoming_call("teams_user"))  # a Teams user calling an owned number
    assert not reaches_the_app(infra, incoming_call("acs_user"))  # a call to an ACS user (8:acs:...)
    assert infra.main.params["incomingCallFilter"]["default"] == "phoneNumbers"
    assert infra[SUB].params["calledParty"]["default"] == "phoneNumbers"


def test_listed_numbers_reach_the_app_and_no_other(infra):
    listed = "+18005550100, +18005550101"  # as an operator types it: spaces are dropped
    assert delivered_filters(infra, incomingCallNumbers=listed) == [
        {"operatorType": "StringIn", "key": "data.to.rawId", "values": ["4:+18005550100", "4:+18005550101"]}
    ]
    assert reaches_the_app(infra, incoming_call("phone"), incomingCallNumbers=listed)
    assert not reaches_the_app(infra, incoming_call("phone"), incomingCallNumbers="+18005550199")
    assert not reaches_the_app(infra, incoming_call("acs_user"), incomingCallNumbers=listed)
    # The list stays the narrowest choice even when the operator also widened the filter.
    assert not reaches_the_app(infra, incoming_call("acs_user"), incomingCallNumbers=listed, incomingCallFilter="all")


def test_every_incoming_call_only_when_the_operator_widens_the_filter(infra):
    assert delivered_filters(infra, incomingCallFilter="all") == []
    for name in ("phone", "teams_user", "acs_user"):
        assert reaches_the_app(infra, incoming_call(name), incomingCallFilter="all"), name
    assert infra.main.decorators("incomingCallFilter")["allowed"] == ["phoneNumbers", "all"]
    assert infra[SUB].decorators("calledParty")["allowed"] == ["phoneNumbers", "all"]
    # The azd value that sets it, with the safe default when unset.
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["incomingCallFilter"]["value"] == "${INCOMING_CALL_FILTER=phoneNumbers}"
    assert parameters["incomingCallNumbers"]["value"] == "${INCOMING_CALL_NUMBERS=}"


def test_the_filter_evaluation_is_not_vacuous(infra):
    """A value bicep_eval cannot compute is an error, not an empty filter that lets every call through."""
    with pytest.raises(Unsupported):
        evaluate({"function": {"type": "uniqueString", "parameters": {}}}, Env(infra.main.json))
    with pytest.raises(Unsupported):
        Env(infra[SUB].json).lookup("noSuchName")
    # A filter on a key the event lacks never matches (Event Grid drops the event).
    assert not event_grid_matches([{"operatorType": "StringIn", "key": "data.to.nothing", "values": ["x"]}],
                                  incoming_call("phone"))


def test_retry_policy_fits_a_ringing_call(infra):
    retry = subscription(infra)["properties"]["retryPolicy"]
    assert retry == {"eventTimeToLiveInMinutes": "eventTimeToLiveInMinutes", "maxDeliveryAttempts": "maxDeliveryAttempts"}
    sub = infra[SUB]
    assert sub.params["eventTimeToLiveInMinutes"]["default"] == 1
    assert sub.decorators("eventTimeToLiveInMinutes")["max_value"] <= 5
    # A call rings about 30 s: the first delivery and one retry (after about 10 s), no more.
    assert sub.params["maxDeliveryAttempts"]["default"] == 2
    assert infra.main.params["incomingCallMaxDeliveryAttempts"]["default"] == 2
    assert infra.main.module("incomingCallSubscription")["params"]["maxDeliveryAttempts"] == "incomingCallMaxDeliveryAttempts"
    assert sub.decorators("maxDeliveryAttempts")["max_value"] <= 5
    assert infra.main.params["incomingCallEventTtlMinutes"]["default"] == 1
    assert infra.main.decorators("incomingCallEventTtlMinutes")["max_value"] <= 5


def test_subscription_waits_for_the_deployed_code(infra):
    """Azure refuses a subscription to a function that does not exist: it is created on the second pass."""
    module = infra.main.modules["incomingCallSubscription"]["config"]
    assert module["condition"] == "subscribeIncomingCall"
    assert infra.main.params["subscribeIncomingCall"]["default"] is False
    text = infra.main.path.read_text()
    # Its only dependency on the app is the app's name: the function must be deployed before this runs.
    assert re.search(r"functionAppName: functionApp\.outputs\.name", text)


RECORDING_SUB = "app/recording-subscription.bicep"


def test_recording_files_go_to_recording_file_status_in_the_same_second_pass(infra):
    """Voicemail (issue 13): ACS publishes RecordingFileStatusUpdated when a recording is in the container."""
    module = infra.main.modules["recordingSubscription"]["config"]
    assert infra.main.modules["recordingSubscription"]["detail"]["path"] == RECORDING_SUB
    assert module["condition"] == "subscribeIncomingCall"  # created with the IncomingCall subscription
    params = infra.main.module("recordingSubscription")["params"]
    assert render(params["systemTopicName"]) == "communication.outputs.systemTopicName"
    assert render(params["functionAppName"]) == "functionApp.outputs.name"
    sub = infra[RECORDING_SUB].one("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert sub["parent"] == "systemTopic"
    destination = sub["properties"]["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionApp.id}/functions/recording_file_status"
    assert sub["properties"]["filter"]["includedEventTypes"] == ["Microsoft.Communication.RecordingFileStatusUpdated"]
    # Not time-critical like a ringing call: Event Grid's default retries, so no voicemail goes unlisted.
    assert infra[RECORDING_SUB].params["maxDeliveryAttempts"]["default"] == 30
    assert infra[RECORDING_SUB].params["eventTimeToLiveInMinutes"]["default"] == 1440
