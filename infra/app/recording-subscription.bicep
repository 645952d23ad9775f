// The Event Grid subscription that hands each Microsoft.Communication.RecordingFileStatusUpdated (a call
// recording, such as a voicemail, written to the recordings container) to the recording_file_status function.
// Like the IncomingCall subscription it needs the function to exist, so main.bicep creates it in the same
// second provision (SUBSCRIBE_INCOMING_CALL, set by the azd postdeploy hook).
param systemTopicName string
param functionAppName string
param name string = 'recording-file-status'
@description('How long Event Grid keeps retrying: a recording stays useful for hours, so the Event Grid default (1440 minutes).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440
@description('Delivery attempts: the Event Grid default (30); a lost event would leave a voicemail unlisted.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

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
        resourceId: '${functionApp.id}/functions/recording_file_status'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.RecordingFileStatusUpdated'
      ]
    }
    retryPolicy: {
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      maxDeliveryAttempts: maxDeliveryAttempts
    }
  }
}

output name string = subscription.name
