// The Function App on the Flex Consumption plan (Linux, Python 3.11), running as the user-assigned
// identity, with every setting the app reads (shared/config.py) and identity-based host storage.
param name string
param planName string
param location string
param tags object = {}

param identityId string
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param storageTableEndpoint string
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('Always-ready instances kept warm for the incoming_call function and for the HTTP group (callbacks, control API). 0 costs nothing at rest; each instance removes a cold start from the first ring.')
@minValue(0)
@maxValue(10)
param alwaysReadyInstances int = 0
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

param acsEndpoint string
param acsImmutableResourceId string
param acsCallerId string = ''
param callbackSecretUri string
param routingRules string
@description('URL of the private container ACS writes call recordings into (voicemail).')
param recordingsContainerUrl string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption is offered in some regions only and needs always-ready instances; it stays an opt-in for production.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: ACS must reach the app from the internet (IncomingCall through Event Grid, Call Automation callbacks); callbacks are verified by JWT and a per-call token, the control API needs a function key.
  // checkov:skip=CKV_AZURE_17: Event Grid and Call Automation present no client certificates.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales out on demand; warm instances are the alwaysReadyInstances parameter (0 by default to cost nothing at rest).
  // checkov:skip=CKV_AZURE_213: App Service health checks do not apply to Flex Consumption, whose platform manages the instances.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: (alwaysReadyInstances == 0) ? [] : [
          {
            name: 'function:incoming_call'
            instanceCount: alwaysReadyInstances
          }
          {
            name: 'http'
            instanceCount: alwaysReadyInstances
          }
        ]
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: as on the site: ACS must reach the app from the internet.
  // checkov:skip=CKV_AZURE_13: App Service Authentication would reject Event Grid's and Call Automation's requests; the app verifies each request itself (JWT, per-call token, function keys).
  // checkov:skip=CKV_AZURE_63: false positive: this resource is the appsettings list; the check reads the web config (HTTP logs are not offered on Flex Consumption; logs go to Application Insights).
  // checkov:skip=CKV_AZURE_65: false positive: this resource is the appsettings list, not the web config (detailed error pages are an App Service web feature).
  // checkov:skip=CKV_AZURE_66: false positive: this resource is the appsettings list, not the web config (failed request tracing is an App Service web feature).
  // checkov:skip=CKV_AZURE_80: false positive: the app is Python, not .NET.
  // checkov:skip=CKV_AZURE_88: false positive: Flex Consumption uses no Azure Files share; the package is in a blob container.
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Functions host storage, reached with the user-assigned identity (no connection string).
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // Telemetry with Entra ID (local auth is off on Application Insights).
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // DefaultAzureCredential in the app picks the user-assigned identity.
    AZURE_CLIENT_ID: identityClientId
    // The app's settings (shared/config.py).
    ACS_ENDPOINT: acsEndpoint
    ACS_RESOURCE_ID: acsImmutableResourceId
    ACS_CALLER_ID: acsCallerId
    CALLBACK_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
    CALLBACK_SECRET: '@Microsoft.KeyVault(SecretUri=${callbackSecretUri})'
    TABLES_ENDPOINT: storageTableEndpoint
    ROUTING_RULES: routingRules
    RECORDINGS_CONTAINER_URL: recordingsContainerUrl
  }
}

// Deployments go through the blob container with the identity: basic publishing credentials are not needed.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output id string = functionApp.id
output uri string = 'https://${functionApp.properties.defaultHostName}'
