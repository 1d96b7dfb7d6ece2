package servicebus_test

const killHelperEnv = "AZBIND_SERVICEBUS_KILL_HELPER"

func runKillHelper() int { return 0 }
