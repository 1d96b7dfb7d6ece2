package main

// The connectors whose binding types `azbind validate` knows.
import (
	_ "github.com/azbind/azbind/blob"
	_ "github.com/azbind/azbind/cosmos"
	_ "github.com/azbind/azbind/eventgrid"
	_ "github.com/azbind/azbind/eventhubs"
	_ "github.com/azbind/azbind/queue"
	_ "github.com/azbind/azbind/servicebus"
	_ "github.com/azbind/azbind/table"
	_ "github.com/azbind/azbind/timer"
)
