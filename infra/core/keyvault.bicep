// Key Vault holding CALLBACK_SECRET; the Function App reads it through a Key Vault reference
// with its user-assigned identity (Key Vault Secrets User on this one secret, see rbac.bicep).
param name string
param location string
param tags object = {}
param secretName string
@secure()
@minLength(32)
param secretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the Function App is not in a virtual network and App Service is not a trusted service of the Key Vault firewall, so Key Vault references need the public endpoint; reads need Entra RBAC.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109.
  // checkov:skip=CKV_AZURE_42: same reason as CKV_AZURE_110: soft delete is on (7 days), purge protection is not.
  // checkov:skip=CKV_AZURE_110: purge protection would keep the vault name taken for the retention period after `azd down --purge`, so the same environment could not be recreated; the vault holds one secret the hooks regenerate.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: an expired secret cannot be read, so an expiry date would silently break every callback; rotate by setting a new CALLBACK_SECRET and provisioning again.
  parent: vault
  name: secretName
  properties: {
    value: secretValue
    contentType: 'text/plain'
  }
}

output name string = vault.name
output secretName string = secret.name
// The versionless URI: the app picks up a rotated value on its next restart.
output secretUri string = '${vault.properties.vaultUri}secrets/${secret.name}'
