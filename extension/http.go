package extension

// The HTTP trigger and `http` output are the runtime's own: linked into every host, so that app
// folders with httpTrigger functions load without an import (Functions' built-in HTTP extension).
import _ "github.com/azbind/azbind/azhttp"
