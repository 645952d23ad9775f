// The Azure Communication Services resource and the Event Grid system topic that publishes its
// events (IncomingCall among them). The subscription to the topic lives in app/incoming-call-subscription.bicep.
// Local (access key) auth is off: the app reaches ACS with its managed identity only (Entra ID).
param name string
param systemTopicName string
param tags object = {}
@description('Where ACS stores data at rest, e.g. "United States", "Europe". Cannot be changed after creation.')
param dataLocation string

// 2025-05-01 is the first stable API version with disableLocalAuth (tests/infra/bicep-types/).
resource acs 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    disableLocalAuth: true
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
