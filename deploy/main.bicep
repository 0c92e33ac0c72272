// aml-handlers on Azure Functions: a function app running the custom handler (Flex Consumption by
// default, or a classic Premium or Dedicated plan), its storage account, the roles its managed
// identity needs, the Azure ML workspace's Event Grid system topic, and one event subscription per
// chosen function. See deploy/README.md. Deploy into the resource group that holds the workspace.
//
// Deploy in two passes: first without subscriptions (createSubscriptions=false, the default), then
// publish the code, then deploy again with createSubscriptions=true. Event Grid checks that each
// function exists before it subscribes it, and the functions exist only once the code is published.
//
// Flex Consumption shapes (plan FC1, functionAppConfig) follow Azure's own templates:
// https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code
// https://github.com/Azure/azure-quickstart-templates/tree/master/quickstarts/microsoft.web/function-app-flex-managed-identities
// https://github.com/Azure-Samples/azure-functions-flex-consumption-samples/tree/main/IaC/bicep

@minLength(2)
@maxLength(40)
@description('Function app name (globally unique; letters, digits, hyphens). Also names the plan, the deployment container and the event subscriptions, and seeds the storage account name.')
param appName string

@description('Name of the existing Azure ML workspace, in the resource group deployed to.')
param workspaceName string

@description('Region of the storage account, plan and function app (Flex Consumption: a region that offers it). The system topic always goes to the workspace region.')
param location string = resourceGroup().location

@allowed([
  'flex'
  'premium'
  'dedicated'
])
@description('Hosting plan: flex (Flex Consumption FC1, the default), premium (Elastic Premium EP1) or dedicated (App Service B1). Linux Consumption (Y1) is legacy and not offered.')
param plan string = 'flex'

@minValue(1)
@maxValue(1000)
@description('Flex Consumption only: the most instances the app scales out to (functionAppConfig.scaleAndConcurrency.maximumInstanceCount).')
param maximumInstanceCount int = 40

@minLength(1)
@allowed([
  'DatasetDriftDetected'
  'ModelDeployed'
  'ModelRegistered'
  'RunCompleted'
  'RunStatusChanged'
])
@description('Functions that get an event subscription (folder names under function-definitions/). DatasetDriftDetected is left out by default: it comes only from v1 dataset monitors, retired on 2025-09-01.')
param functions array = [
  'ModelDeployed'
  'ModelRegistered'
  'RunCompleted'
  'RunStatusChanged'
]

@description('Create the event subscriptions. Event Grid checks that each function exists, so deploy with false, publish the code, then deploy again with true.')
param createSubscriptions bool = false

@description('Name of the workspace system topic. A workspace can have only one: give the existing one\'s name if it has one.')
param systemTopicName string = '${replace(workspaceName, '_', '-')}-events'

@secure()
@description('AML_NOTIFY_URL: notification targets (see the main README); empty sends none.')
param notifyUrl string = ''

@secure()
@description('AML_NOTIFY_SECRET: a Standard Webhooks secret (whsec_ and base64) that signs the plain webhook targets of notifyUrl; empty signs none.')
param notifySecret string = ''

@description('AML_NOTIFY_RUN_STATUSES: comma-separated run statuses RunStatusChanged acts on; also the statuses runStatusFilter=failures delivers.')
param notifyRunStatuses string = 'Failed,Canceled'

@description('AML_RETRAIN_DRIFT_THRESHOLD: drift coefficient from 0 to 1 at or above which DatasetDriftDetected retrains (a string: Bicep has no decimals).')
param retrainDriftThreshold string = '0.5'

@allowed([
  'all'
  'failures'
  'monitorBreach'
])
@description('Event Grid filter on RunStatusChanged: all (no filter), failures (data.runStatus in notifyRunStatuses) or monitorBreach (Azure\'s model-monitor breach filter on the run tag).')
param runStatusFilter string = 'failures'

@description('Tag key for the ModelRegistered (data.modelTags.KEY) and ModelDeployed (data.serviceTags.KEY) filters.')
param modelTagFilterKey string = 'stage'

@maxLength(25)
@description('Tag values to deliver, e.g. [\'production\']. Empty: no tag filter. Events without the tag are not delivered.')
param modelTagFilterValues array = []

@minLength(3)
@maxLength(63)
@description('Blob container that receives events Event Grid could not deliver.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@minValue(1)
@maxValue(30)
@description('Delivery attempts before an event is dead-lettered.')
param maxDeliveryAttempts int = 30

@minValue(1)
@maxValue(1440)
@description('Minutes Event Grid keeps retrying an event before it is dead-lettered.')
param eventTimeToLiveInMinutes int = 1440

var isFlex = plan == 'flex'
var storageName = 'st${uniqueString(resourceGroup().id, appName)}'
// Flex Consumption reads the app's package from this container, with the app's identity.
var deploymentContainerName = 'app-package-${toLower(appName)}'

// Built-in roles for the app's identity:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning#azureml-data-scientist
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
// AzureML Data Scientist: read runs and models, submit jobs; cannot create or delete compute.
var amlDataScientistRoleId = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
// Storage Blob Data Owner: the Functions host's own blobs (keys, leases) and, on Flex, the
// deployment container. "Covers the basic needs of Functions host storage":
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor: the action ledger (table AML_LEDGER_TABLE, default amlhandlers),
// which falls back to the host's AzureWebJobsStorage connection.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

// Plan per `plan`. reserved: true is what makes a plan Linux. Premium's shape follows
// https://github.com/Azure-Samples/function-app-arm-templates/tree/main/function-app-premium-plan
var planSkus = {
  flex: { name: 'FC1', tier: 'FlexConsumption' }
  premium: { name: 'EP1', tier: 'ElasticPremium' }
  dedicated: { name: 'B1', tier: 'Basic' }
}
var planKinds = {
  flex: 'functionapp'
  premium: 'elastic'
  dedicated: 'linux'
}

// Flex Consumption: the runtime, the package and the scale live in functionAppConfig, not in app
// settings. Custom handlers are runtime `custom`, version 1.0 (check a region with
// `az functionapp list-flexconsumption-runtimes --location REGION --runtime custom`).
var flexAppConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
      authentication: {
        type: 'SystemAssignedIdentity'
      }
    }
  }
  runtime: {
    name: 'custom'
    version: '1.0'
  }
  scaleAndConcurrency: {
    instanceMemoryMB: 512
    maximumInstanceCount: maximumInstanceCount
  }
}

// Host storage through the app's identity on every plan: no account key in AzureWebJobsStorage.
// Service URIs rather than __accountName, which works only outside sovereign clouds:
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var hostStorageSettings = [
  { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
]
// Classic plans only. Flex Consumption refuses these: the runtime is functionAppConfig.runtime and
// the package is functionAppConfig.deployment (don't set WEBSITE_RUN_FROM_PACKAGE on Flex):
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
// https://learn.microsoft.com/azure/azure-functions/deployment-zip-push
// WEBSITE_RUN_FROM_PACKAGE=1 makes zip deploy keep the package in /home/data/SitePackages, so a
// later run of this template (which rewrites the app settings) keeps the published code.
var classicSettings = [
  { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
  { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' }
]
// Premium only: its content share is on Azure Files, which takes only a connection string (no
// identity), built from the account key at deploy time.
var contentShareSettings = [
  {
    name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
    value: 'DefaultEndpointsProtocol=https;AccountName=${storageName};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
  }
  { name: 'WEBSITE_CONTENTSHARE', value: toLower(appName) }
]
var handlerSettings = [
  { name: 'AML_WORKSPACES', value: workspace.id }
  { name: 'AML_NOTIFY_URL', value: notifyUrl }
  { name: 'AML_NOTIFY_SECRET', value: notifySecret }
  { name: 'AML_NOTIFY_RUN_STATUSES', value: notifyRunStatuses }
  { name: 'AML_RETRAIN_DRIFT_THRESHOLD', value: retrainDriftThreshold }
  { name: 'AML_LOG_FORMAT', value: 'json' }
]

// Advanced filters per function (none where they do not apply). Event Grid compares string
// values case-insensitively and allows 25 filter values per subscription:
// https://learn.microsoft.com/azure/event-grid/event-filtering
var runStatusFilters = {
  all: []
  failures: [
    {
      operatorType: 'StringIn'
      key: 'data.runStatus'
      values: map(split(notifyRunStatuses, ','), status => trim(status))
    }
  ]
  // Azure's own filter for model monitoring (v2): a breached monitor run fails with this run tag.
  // https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance
  monitorBreach: [
    {
      operatorType: 'StringContains'
      key: 'data.RunTags.azureml_modelmonitor_threshold_breached'
      values: [
        'has failed due to one or more features violating metric thresholds'
      ]
    }
  ]
}
var modelTagFilters = empty(modelTagFilterValues) ? [] : [
  { operatorType: 'StringIn', key: 'data.modelTags.${modelTagFilterKey}', values: modelTagFilterValues }
]
var serviceTagFilters = empty(modelTagFilterValues) ? [] : [
  { operatorType: 'StringIn', key: 'data.serviceTags.${modelTagFilterKey}', values: modelTagFilterValues }
]
var advancedFilters = {
  DatasetDriftDetected: []
  ModelDeployed: serviceTagFilters
  ModelRegistered: modelTagFilters
  RunCompleted: []
  RunStatusChanged: runStatusFilters[runStatusFilter]
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

// Shared-key access stays on: Premium's content share needs the key, and the plain dead-letter
// destination below writes with Event Grid's own access.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (isFlex) {
  parent: blobService
  name: deploymentContainerName
}

resource hostingPlan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: planKinds[plan]
  sku: planSkus[plan]
  properties: {
    reserved: true
    maximumElasticWorkerCount: plan == 'premium' ? 20 : null
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: hostingPlan.id
    reserved: true
    httpsOnly: true
    functionAppConfig: isFlex ? flexAppConfig : null
    siteConfig: {
      // Classic custom handlers run with an empty stack (host.json names the executable); Flex
      // takes its runtime from functionAppConfig instead.
      linuxFxVersion: isFlex ? null : ''
      // Dedicated plans unload idle apps unless Always On is set; the other plans scale by events.
      alwaysOn: plan == 'dedicated' ? true : null
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      appSettings: concat(isFlex ? [] : classicSettings, hostStorageSettings, plan == 'premium' ? contentShareSettings : [], handlerSettings)
    }
  }
  dependsOn: [
    deploymentContainer
  ]
}

resource amlRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, functionApp.id, amlDataScientistRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', amlDataScientistRoleId)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// A system topic is regional: it lives where the workspace lives.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: workspace.location
  properties: {
    source: workspace.id
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

// AzureFunction destinations: Event Grid delivers through the Functions host with the function's
// system key, which it looks up itself, so no key or URL is written here.
// Plain deadLetterDestination: Event Grid writes the blobs with its own access, so the topic
// needs no identity and no role on the storage account. deadLetterWithResourceIdentity is the
// choice when the account is behind a firewall or has shared-key access turned off.
// https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events
resource subscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for name in functions: if (createSubscriptions) {
  parent: systemTopic
  name: '${appName}-${toLower(name)}'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/${name}'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.MachineLearningServices.${name}'
      ]
      advancedFilters: advancedFilters[name]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: storage.id
        blobContainerName: deadLetterContainerName
      }
    }
  }
  dependsOn: [
    deadLetterContainer
  ]
}]

output functionAppName string = functionApp.name
output functionAppPrincipalId string = functionApp.identity.principalId
output systemTopicName string = systemTopic.name
output storageAccountName string = storage.name
output deploymentContainerName string = isFlex ? deploymentContainerName : ''
