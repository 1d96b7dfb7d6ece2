package extension

import (
	"fmt"
	"sort"
	"strings"
)

// renamedProperties are function.json properties of older Functions extension versions, by
// binding type (lower case), mapped to the property that replaced them. The Cosmos DB table is
// the "function.json" table of Microsoft's "Migrate function apps from Azure Cosmos DB extension
// version 3.x to version 4.x" (plus collectionThroughput, the 3.x output's name for
// containerThroughput).
//
// The 4.x host ignores the old names without a word; azbind refuses them on purpose: with
// "connectionStringSetting": "Orders" ignored, the binding silently uses the default CosmosDB
// connection, and a migrated app can read or write the wrong account.
var renamedProperties = map[string]map[string]string{
	"cosmosdbtrigger": cosmosV3Names,
	"cosmosdb":        cosmosV3Names,
}

var cosmosV3Names = map[string]string{
	"connectionstringsetting":          "connection",
	"collectionname":                   "containerName",
	"leaseconnectionstringsetting":     "leaseConnection",
	"leasecollectionname":              "leaseContainerName",
	"createleasecollectionifnotexists": "createLeaseContainerIfNotExists",
	"leasescollectionthroughput":       "leasesContainerThroughput",
	"leasecollectionprefix":            "leaseContainerPrefix",
	"collectionthroughput":             "containerThroughput",
}

// removedProperties are properties an older extension version had and the current one dropped
// (same source): they do nothing, so they get a warning.
var removedProperties = map[string]map[string]bool{
	"cosmosdbtrigger": cosmosV3Removed,
	"cosmosdb":        cosmosV3Removed,
}

var cosmosV3Removed = map[string]bool{
	"usemultiplewritelocations": true, "checkpointinterval": true, "checkpointdocumentcount": true,
	"usedefaultjsonserialization": true,
}

// checkRenamed reports the old-version property names of binding b, one line each.
func checkRenamed(ps *problems, field string, b *BindingSpec) {
	typ := strings.ToLower(b.Type)
	renamed, removed := renamedProperties[typ], removedProperties[typ]
	if renamed == nil && removed == nil {
		return
	}
	keys := make([]string, 0, len(b.Properties))
	for k := range b.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if nk, ok := renamed[lk]; ok {
			fix := fmt.Sprintf("rename it to %q", nk)
			if _, both := lookupProp(b.Properties, nk); both {
				fix = fmt.Sprintf("remove it (%q is set)", nk)
			}
			ps.add(field+"."+k, fmt.Sprintf("%q is the Cosmos DB extension 3.x name of %q; the 4.x extension (Functions v4) ignores it, so the binding would run without it", k, nk), fix)
			continue
		}
		if removed[lk] {
			ps.warn(field+"."+k, fmt.Sprintf("%q was removed in the Cosmos DB extension 4.x and is ignored", k), "remove it")
		}
	}
}

func lookupProp(m map[string]any, name string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}
