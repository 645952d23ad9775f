// One storage account, reached only with Entra ID (shared keys off): the Functions host's
// AzureWebJobsStorage, the Flex Consumption deployment package container, the app's call state tables and
// the private container ACS writes call recordings (voicemail) into.
param name string
param location string
param tags object = {}
param deploymentContainerName string
@description('Private container for call recordings; ACS writes into it with its own identity (see rbac.bicep).')
param recordingsContainerName string = 'recordings'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without a virtual network reaches its storage over the public endpoint; access needs an Entra token (shared keys are off).
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: public network access stays on, every request needs an Entra token.
  // checkov:skip=CKV_AZURE_206: LRS is enough: the account holds a redeployable package and short-lived call state.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Call recordings (voicemail): ACS's system-assigned identity writes them here (Bring your own storage);
// no anonymous access, like every container of the account.
resource recordingsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: recordingsContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app creates its call state tables itself on first use (Storage Table Data Contributor allows it).
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
output recordingsContainerName string = recordingsContainer.name
// RECORDINGS_CONTAINER_URL: where the app asks ACS to put each recording.
output recordingsContainerUrl string = '${storage.properties.primaryEndpoints.blob}${recordingsContainer.name}'
