// callsteer: steers phone calls with Azure Communication Services Call Automation from a Python
// Function App on the Flex Consumption plan. Deployed with `azd up` (see README.md, "Deploy to Azure").
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of the resource group, the Function App, storage, Key Vault and monitoring (ACS and its Event Grid topic are global). Only regions that offer the Flex Consumption plan: as listed by the Microsoft azd quickstart Azure-Samples/functions-quickstart-python-http-azd (infra/main.bicep), without its canary region eastus2euap; `az functionapp list-flexconsumption-locations` gives the current list.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Where ACS keeps its data at rest. Cannot be changed once the resource exists.')
@allowed([
  'Africa'
  'Asia Pacific'
  'Australia'
  'Brazil'
  'Canada'
  'Europe'
  'France'
  'Germany'
  'India'
  'Japan'
  'Korea'
  'Norway'
  'Switzerland'
  'UAE'
  'UK'
  'United States'
])
param acsDataLocation string = 'United States'

@description('Default caller id (E.164, a number the ACS resource owns) for outgoing legs; empty for none.')
param acsCallerId string = ''

@description('Comma-separated E.164 numbers whose calls are sent to the app; empty sends every IncomingCall of the ACS resource.')
param incomingCallNumbers string = ''

@description('Create the Event Grid subscription to the incoming_call function. Leave false until the code is deployed: Azure rejects a subscription to a function that does not exist yet. The azd postdeploy hook sets it.')
param subscribeIncomingCall bool = false

@description('Minutes Event Grid keeps retrying an IncomingCall (1 to 5).')
@minValue(1)
@maxValue(5)
param incomingCallEventTtlMinutes int = 1

@description('Delivery attempts per IncomingCall (1 to 5): the first and one retry by default; a call rings about 30 s.')
@minValue(1)
@maxValue(5)
param incomingCallMaxDeliveryAttempts int = 2

@description('Always-ready (pre-warmed) instances for incoming_call and for the HTTP functions: 0 is cheapest at rest, 1 takes the cold start off the first ring.')
@minValue(0)
@maxValue(10)
param alwaysReadyInstances int = 0

@description('Memory of each Function App instance in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Routing rules as inline JSON; empty uses infra/routing-rules.json.')
param routingRules string = ''

@secure()
@minLength(32)
@description('Secret that signs the per-call callback tokens. azd generates it once per environment (infra/hooks/preprovision.*); it goes to Key Vault only.')
param callbackSecret string

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'callsteer'
}
var functionAppName = '${abbrs.webSitesFunctions}callsteer-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var callbackSecretName = 'callback-secret'
var rules = empty(routingRules) ? string(loadJsonContent('routing-rules.json')) : routingRules
var calledNumbers = empty(incomingCallNumbers) ? [] : split(replace(incomingCallNumbers, ' ', ''), ',')

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}callsteer-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    secretName: callbackSecretName
    secretValue: callbackSecret
  }
}

module communication 'core/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    name: '${abbrs.communicationCommunicationServices}${resourceToken}'
    systemTopicName: '${abbrs.eventGridSystemTopics}acs-${resourceToken}'
    tags: tags
    dataLocation: acsDataLocation
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    communicationServiceName: communication.outputs.name
    keyVaultName: keyVault.outputs.name
    callbackSecretName: keyVault.outputs.secretName
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    alwaysReadyInstances: alwaysReadyInstances
    instanceMemoryMB: instanceMemoryMB
    acsEndpoint: communication.outputs.endpoint
    acsImmutableResourceId: communication.outputs.immutableResourceId
    acsCallerId: acsCallerId
    callbackSecretUri: keyVault.outputs.secretUri
    routingRules: rules
  }
  // The app must not start before it may read its secret, storage and ACS.
  dependsOn: [
    rbac
  ]
}

module incomingCallSubscription 'app/incoming-call-subscription.bicep' = if (subscribeIncomingCall) {
  name: 'incoming-call-subscription'
  scope: rg
  params: {
    systemTopicName: communication.outputs.systemTopicName
    functionAppName: functionApp.outputs.name
    name: '${abbrs.eventGridEventSubscriptions}incoming-call'
    calledNumbers: calledNumbers
    eventTimeToLiveInMinutes: incomingCallEventTtlMinutes
    maxDeliveryAttempts: incomingCallMaxDeliveryAttempts
  }
}

// Outputs become azd environment values. None of them is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output ACS_RESOURCE_NAME string = communication.outputs.name
output ACS_ENDPOINT string = communication.outputs.endpoint
output EVENT_GRID_SYSTEM_TOPIC_NAME string = communication.outputs.systemTopicName
output INCOMING_CALL_SUBSCRIBED bool = subscribeIncomingCall
