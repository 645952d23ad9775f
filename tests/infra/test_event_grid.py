"""IncomingCall delivery: a system topic on the ACS resource and one subscription, to incoming_call only,
filtered to IncomingCall (and optionally to the called numbers), retried briefly."""

from __future__ import annotations

import re

from infra_bicep import render

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


def test_called_numbers_filter_is_optional(infra):
    advanced = subscription(infra)["properties"]["filter"]["advancedFilters"]["operator"]["operands"]
    assert advanced["true_value"] == []
    assert advanced["false_value"] == [
        {"operatorType": "StringIn", "key": "data.to.phoneNumber.value", "values": "calledNumbers"}
    ]
    assert infra[SUB].params["calledNumbers"]["default"] == []
    assert infra.main.params["incomingCallNumbers"]["default"] == ""
    assert infra.main.module("incomingCallSubscription")["params"]["calledNumbers"] == "calledNumbers"


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
