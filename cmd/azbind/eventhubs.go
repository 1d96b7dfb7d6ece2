package main

import (
	"fmt"
	"io"
)

func init() {
	commands["eventhubs"] = command{
		summary: "alias: `azbind eventhubs deadletters …` is `azbind deadletters …`",
		run:     runEventHubs,
	}
}

// runEventHubs keeps `azbind eventhubs deadletters list|show|replay` working: it is
// `azbind deadletters`, which serves every stream trigger.
func runEventHubs(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "deadletters" {
		return runDeadLetters("azbind eventhubs deadletters", args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, "usage: azbind eventhubs deadletters list|show|replay … (an alias of azbind deadletters)\n\n"+deadLettersUsage)
		return 0
	}
	fmt.Fprint(stderr, "usage: azbind eventhubs deadletters list|show|replay … (an alias of azbind deadletters)\n\n"+deadLettersUsage)
	return 2
}
