// Package eventhubs is azbind's Azure Event Hubs connector: the `eventHubTrigger` trigger and the
// `eventHub` output binding (extension name "eventHubs", host.json section
// `extensions.eventHubs`), built on azeventhubs v2. Importing the package registers them.
package eventhubs
