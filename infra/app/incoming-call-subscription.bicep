// The Event Grid subscription that hands each IncomingCall to the incoming_call function.
// Azure validates the destination when the subscription is created, so the function must already be
// deployed: main.bicep deploys this module only once SUBSCRIBE_INCOMING_CALL is true, which the azd
// postdeploy hook sets before provisioning a second time (infra/hooks/postdeploy.*).
//
// Filtered on the called party by default. ACS raises an IncomingCall for every call to an ACS user or an
// owned number, including the legs the app itself creates (ring groups, add participant, transfer,
// redirect): its incoming-call docs recommend subscription filters, since without them such legs can loop.
// So by default only calls to phone numbers (data.to.rawId begins with '4:') reach the app; with
// calledNumbers, exactly those numbers; calledParty 'all' (the operator's explicit choice) takes every
// IncomingCall of the resource, calls to ACS and Teams users included.
param systemTopicName string
param functionAppName string
param name string = 'incoming-call'
@description('Called numbers (E.164, with the +) whose calls this app steers; empty for the calledParty filter.')
param calledNumbers array = []
@description('Without calledNumbers: phoneNumbers (default) takes calls to any phone number of the resource; all widens to every IncomingCall, calls to ACS and Teams users included.')
@allowed([
  'phoneNumbers'
  'all'
])
param calledParty string = 'phoneNumbers'
@description('How long Event Grid keeps retrying an IncomingCall. The call rings for well under a minute: a later delivery is useless.')
@minValue(1)
@maxValue(5)
param eventTimeToLiveInMinutes int = 1
@description('Delivery attempts per IncomingCall: the first and one retry (Event Grid retries after about 10 s). A call rings about 30 s, so later attempts reach a caller who has hung up.')
@minValue(1)
@maxValue(5)
param maxDeliveryAttempts int = 2

// A phone number's raw id is '4:' and the number in E.164 (see the recorded IncomingCall payloads).
var calledRawIds = [for number in calledNumbers: '4:${number}']
var calledPartyFilters = (calledParty == 'all') ? [] : [
  {
    operatorType: 'StringBeginsWith'
    key: 'data.to.rawId'
    values: [
      '4:'
    ]
  }
]
var advancedFilters = empty(calledNumbers) ? calledPartyFilters : [
  {
    operatorType: 'StringIn'
    key: 'data.to.rawId'
    values: calledRawIds
  }
]

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: name
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/incoming_call'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.IncomingCall'
      ]
      enableAdvancedFilteringOnArrays: false
      advancedFilters: advancedFilters
    }
    retryPolicy: {
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      maxDeliveryAttempts: maxDeliveryAttempts
    }
  }
}

output name string = subscription.name
