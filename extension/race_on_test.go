//go:build race

package extension_test

// raceEnabled: the race detector changes allocation and collection timing (heap bounds widen).
const raceEnabled = true
