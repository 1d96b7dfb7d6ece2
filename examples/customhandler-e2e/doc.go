// Package e2e runs the custom-handler example apps (examples/customhandler-go, -node, -python)
// end to end: the azbind binary (`azbind start`), the handler as its real child process, and
// Azurite. It has only tests.
package e2e
