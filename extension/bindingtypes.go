package extension

import (
	"fmt"
	"strings"

	"github.com/azbind/azbind/internal/suggest"

	"github.com/azbind/azbind/extension/driver"
)

// moduleConnectors are the binding types of the connectors in this module, by the package that
// registers them, for a program that uses a type without linking its connector.
var moduleConnectors = map[string]string{
	"queuetrigger":      "github.com/azbind/azbind/queue",
	"queue":             "github.com/azbind/azbind/queue",
	"blobtrigger":       "github.com/azbind/azbind/blob",
	"blob":              "github.com/azbind/azbind/blob",
	"table":             "github.com/azbind/azbind/table",
	"cosmosdbtrigger":   "github.com/azbind/azbind/cosmos",
	"cosmosdb":          "github.com/azbind/azbind/cosmos",
	"eventgridtrigger":  "github.com/azbind/azbind/eventgrid",
	"eventgrid":         "github.com/azbind/azbind/eventgrid",
	"eventhubtrigger":   "github.com/azbind/azbind/eventhubs",
	"eventhub":          "github.com/azbind/azbind/eventhubs",
	"servicebustrigger": "github.com/azbind/azbind/servicebus",
	"servicebus":        "github.com/azbind/azbind/servicebus",
}

// functionsTypes are binding types of Azure Functions (built in or from its extensions) that
// azbind has no connector for; planned marks those the README says are to follow.
var functionsTypes = map[string]bool{
	"timertrigger": false, "warmuptrigger": false,
	"documentdb": false, // the Functions v1 name of cosmosDB
	"signalr":    false, "signalrconnectioninfo": false, "signalrtrigger": false,
	"sendgrid": false, "twiliosms": false, "notificationhub": false, "mobiletable": false,
	"kafkatrigger": false, "kafka": false, "rabbitmqtrigger": false, "rabbitmq": false,
	"sqltrigger": false, "sql": false, "mysqltrigger": false, "mysql": false,
	"redispubsubtrigger": false, "redisliststrigger": false, "redisstreamtrigger": false, "redis": false,
	"webpubsubtrigger": false, "webpubsub": false, "webpubsubconnection": false, "webpubsubcontext": false,
	"orchestrationtrigger": false, "activitytrigger": false, "entitytrigger": false,
	"durableclient": false, "orchestrationclient": false,
	"daprservicinvocationtrigger": false, "daprbindingtrigger": false, "daprtopictrigger": false,
	"daprstate": false, "daprinvoke": false, "daprpublish": false, "daprbinding": false, "daprsecret": false,
	"mcptooltrigger": false, "openai": false,
}

// unknownTypeProblem describes a binding type that no linked connector registers: a type of
// one of this module's connectors (naming the import that adds it), a Functions type azbind does
// not support (listing what it does), or a type nobody knows.
func unknownTypeProblem(typ string, trigger bool) (problem, fix string) {
	kind := "binding"
	if trigger {
		kind = "trigger"
	}
	supported := strings.Join(driver.BindingTypes(), ", ")
	if supported == "" {
		supported = "none linked"
	}
	key := strings.ToLower(typ)
	if key == "documentdb" {
		return fmt.Sprintf("%q is the Functions 1.x name of the cosmosDB %s type", typ, kind),
			`set "type": "cosmosDB" and use the Cosmos DB extension 4.x property names (containerName, connection, …)`
	}
	if pkg, ok := moduleConnectors[key]; ok {
		return fmt.Sprintf("%q is a %s type of the azbind connector %s, which this program does not link", typ, kind, pkg),
			fmt.Sprintf("add `import _ %q` to the program (linked types: %s)", pkg, supported)
	}
	if planned, ok := functionsTypes[key]; ok {
		p := fmt.Sprintf("%q is an Azure Functions %s type that is not supported by azbind", typ, kind)
		if planned {
			p += " yet"
		}
		return p, fmt.Sprintf("azbind supports %s; run this function on Azure Functions, or change it to a supported type", supported)
	}
	problem = fmt.Sprintf("%q is not a known %s type", typ, kind)
	if near := closestType(typ); near != "" {
		problem += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return problem, fmt.Sprintf("use a supported type (%s), check the spelling, or register a connector for it with driver.Register", supported)
}

// closestType returns the linked or module binding type one or two edits away from typ, if any.
func closestType(typ string) string {
	t := strings.ToLower(typ)
	best, bestD := "", 3
	cands := driver.BindingTypes()
	cands = append(cands, []string{"queueTrigger", "queue", "blobTrigger", "blob", "table", "cosmosDBTrigger", "cosmosDB", "eventGridTrigger", "eventGrid", "eventHubTrigger", "eventHub", "serviceBusTrigger", "serviceBus"}...)
	for _, c := range cands {
		if d := suggest.Distance(t, strings.ToLower(c)); d > 0 && d < bestD && d*4 <= len(t) {
			best, bestD = c, d
		}
	}
	return best
}
