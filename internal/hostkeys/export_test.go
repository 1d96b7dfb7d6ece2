package hostkeys

// Marvin32ForTest exposes marvin32 to the tests.
var Marvin32ForTest = marvin32
