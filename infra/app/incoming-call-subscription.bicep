// The Event Grid subscription that hands each IncomingCall to the incoming_call function.
// Azure validates the destination when the subscription is created, so the function must already be
// deployed: main.bicep deploys this module only once SUBSCRIBE_INCOMING_CALL is true, which the azd
// postdeploy hook sets before provisioning a second time (infra/hooks/postdeploy.*).
param systemTopicName string
param functionAppName string
param name string = 'incoming-call'
@description('Called numbers (E.164) whose calls this app steers; empty for every call to the ACS resource.')
param calledNumbers array = []
@description('How long Event Grid keeps retrying an IncomingCall. The call rings for well under a minute: a later delivery is useless.')
@minValue(1)
@maxValue(5)
param eventTimeToLiveInMinutes int = 1
@description('Delivery attempts per IncomingCall: the first and one retry (Event Grid retries after about 10 s). A call rings about 30 s, so later attempts reach a caller who has hung up.')
@minValue(1)
@maxValue(5)
param maxDeliveryAttempts int = 2

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
      advancedFilters: empty(calledNumbers) ? [] : [
        {
          operatorType: 'StringIn'
          key: 'data.to.phoneNumber.value'
          values: calledNumbers
        }
      ]
    }
    retryPolicy: {
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      maxDeliveryAttempts: maxDeliveryAttempts
    }
  }
}

output name string = subscription.name
