// Package driver is the connector contract of azbind: what a connector package implements and
// registers, and what it is given. Applications use package extension; a connector imports
// this package (and the Azure SDK) and nothing of the runtime, the way a database/sql driver
// imports only database/sql/driver.
//
// The connector template is described in extension's package documentation until it moves here.
package driver
