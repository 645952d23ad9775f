// The Azure Communication Services resource and the Event Grid system topic that publishes its
// events (IncomingCall among them). The subscription to the topic lives in app/incoming-call-subscription.bicep.
param name string
param systemTopicName string
param tags object = {}
@description('Where ACS stores data at rest, e.g. "United States", "Europe". Cannot be changed after creation.')
param dataLocation string

resource acs 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  properties: {
    source: acs.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

output name string = acs.name
output id string = acs.id
output endpoint string = 'https://${acs.properties.hostName}'
// The immutable resource id is the audience of the JWTs that sign Call Automation callbacks.
output immutableResourceId string = acs.properties.immutableResourceId
output systemTopicName string = systemTopic.name
