package conformance

import "testing"

// Every capability a trigger test needs names a Capabilities field, and has reads bool and int
// fields as declared.
func TestCapabilityNames(t *testing.T) {
	all := Capabilities{Redelivery: true, PoisonAfter: 3, CompetingConsumers: true, HandlerSettlement: true,
		Batch: true, OrderedPerKey: true, Checkpoints: true, Push: true}
	for _, tc := range triggerTests {
		if tc.need == "" {
			continue
		}
		if !all.has(tc.need) {
			t.Errorf("%s: capability %s not declared by a Capabilities with every capability", tc.name, tc.need)
		}
		if (Capabilities{}).has(tc.need) {
			t.Errorf("%s: capability %s declared by the zero Capabilities", tc.name, tc.need)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("has accepted an unknown capability name")
		}
	}()
	all.has("Teleport")
}
