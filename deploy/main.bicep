// aml-handlers on Azure Functions: a Linux Consumption function app running the custom handler,
// the Azure ML workspace's Event Grid system topic, one event subscription per chosen function,
// and the role the app's managed identity needs on the workspace. See deploy/README.md.
// Deploy into the resource group that holds the workspace.

@minLength(2)
@maxLength(40)
@description('Function app name (globally unique; letters, digits, hyphens). Also names the plan and the event subscriptions, and seeds the storage account name.')
param appName string

@description('Name of the existing Azure ML workspace, in the resource group deployed to.')
param workspaceName string

@description('Region of the storage account, plan and function app. The system topic always goes to the workspace region.')
param location string = resourceGroup().location

@minLength(1)
@allowed([
  'DatasetDriftDetected'
  'ModelDeployed'
  'ModelRegistered'
  'RunCompleted'
  'RunStatusChanged'
])
@description('Functions that get an event subscription (folder names under function-definitions/).')
param functions array = [
  'DatasetDriftDetected'
  'ModelDeployed'
  'ModelRegistered'
  'RunCompleted'
  'RunStatusChanged'
]

@description('Create or update the storage account, plan, function app and role assignment. false leaves them untouched: an update rewrites the app settings and would drop the WEBSITE_RUN_FROM_PACKAGE that zip deploy added.')
param deployApp bool = true

@description('Create the event subscriptions. Event Grid checks that each function exists, so set false until the app code is published.')
param deploySubscriptions bool = true

@description('Name of the workspace system topic. A workspace can have only one: give the existing one\'s name if it has one.')
param systemTopicName string = '${replace(workspaceName, '_', '-')}-events'

@secure()
@description('AML_NOTIFY_URL: incoming-webhook URL notifications are POSTed to; empty sends none.')
param notifyUrl string = ''

@description('AML_NOTIFY_RUN_STATUSES: comma-separated run statuses RunStatusChanged acts on.')
param notifyRunStatuses string = 'Failed,Canceled'

@description('AML_RETRAIN_DRIFT_THRESHOLD: drift coefficient from 0 to 1 at or above which DatasetDriftDetected retrains (a string: Bicep has no decimals).')
param retrainDriftThreshold string = '0.5'

@maxLength(12)
@description('Event Grid filter on RunStatusChanged: only these data.runStatus values are delivered (case-insensitive). Empty: no filter.')
param runStatusFilter array = split(notifyRunStatuses, ',')

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

// AzureML Data Scientist: read runs and models, submit jobs; cannot create or delete compute.
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning#azureml-data-scientist
var amlDataScientistRoleId = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var storageName = 'st${uniqueString(resourceGroup().id, appName)}'

// Advanced filters per function (none where they do not apply). Event Grid compares string
// values case-insensitively and allows 25 filter values per subscription:
// https://learn.microsoft.com/azure/event-grid/event-filtering
var runStatusFilters = empty(runStatusFilter) ? [] : [
  { operatorType: 'StringIn', key: 'data.runStatus', values: runStatusFilter }
]
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
  RunStatusChanged: runStatusFilters
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = if (deployApp) {
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

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = if (deployApp) {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (deployApp) {
  parent: blobService
  name: deadLetterContainerName
}

// Classic Linux Consumption (Y1). reserved: true is what makes a plan Linux.
resource plan 'Microsoft.Web/serverfarms@2023-12-01' = if (deployApp) {
  name: '${appName}-plan'
  location: location
  sku: { name: 'Y1', tier: 'Dynamic' }
  properties: { reserved: true }
}

var storageConnection = deployApp ? 'DefaultEndpointsProtocol=https;AccountName=${storageName};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}' : ''

resource functionApp 'Microsoft.Web/sites@2023-12-01' = if (deployApp) {
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: '' // custom handler: no language stack, host.json names the executable
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
        { name: 'AzureWebJobsStorage', value: storageConnection }
        { name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', value: storageConnection }
        { name: 'WEBSITE_CONTENTSHARE', value: toLower(appName) }
        { name: 'AML_WORKSPACES', value: workspace.id }
        { name: 'AML_NOTIFY_URL', value: notifyUrl }
        { name: 'AML_NOTIFY_RUN_STATUSES', value: notifyRunStatuses }
        { name: 'AML_RETRAIN_DRIFT_THRESHOLD', value: retrainDriftThreshold }
        { name: 'AML_LOG_FORMAT', value: 'json' }
      ]
    }
  }
}

resource amlRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (deployApp) {
  name: guid(workspace.id, functionApp.id, amlDataScientistRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', amlDataScientistRoleId)
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

// Plain deadLetterDestination: Event Grid writes the blobs with its own access, so the topic
// needs no identity and no role on the storage account. deadLetterWithResourceIdentity is the
// choice when the account is behind a firewall or has shared-key access turned off.
// https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events
resource subscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for name in functions: if (deploySubscriptions) {
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

output functionAppName string = appName
output functionAppPrincipalId string = deployApp ? functionApp.identity.principalId : ''
output systemTopicName string = systemTopic.name
output storageAccountName string = storageName
