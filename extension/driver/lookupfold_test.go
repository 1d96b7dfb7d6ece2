package driver_test

import (
	"strings"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// Binding data names match case-insensitively (checklist C19), whichever path LookupFold takes:
// the exact key, Title case, the first letter flipped, or the scan.
func TestLookupFold(t *testing.T) {
	long := strings.Repeat("x", 70)
	m := driver.MapMetadata{"Id": 1, "DequeueCount": 2, "insertionTime": 3, "UPPER": 4, "mIxEd": 5, "Long" + long: 6, "ö": 7}
	for _, c := range []struct {
		name string
		want any
	}{
		{"Id", 1}, {"ID", 1}, {"id", 1}, {"iD", 1},
		{"dequeueCount", 2}, {"DEQUEUECOUNT", 2}, {"dequeuecount", 2},
		{"InsertionTime", 3}, {"INSERTIONTIME", 3},
		{"upper", 4}, {"Upper", 4},
		{"MiXeD", 5}, {"mixed", 5},
		{"long" + strings.ToUpper(long), 6},
		{"Ö", 7},
	} {
		if v, ok := m.Lookup(c.name); !ok || v != c.want {
			t.Errorf("Lookup(%q) = %v, %v; want %v", c.name, v, ok, c.want)
		}
	}
	for _, name := range []string{"", "Idx", "I", "dequeue", "x"} {
		if v, ok := m.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %v; want no value", name, v)
		}
	}
	if _, ok := driver.LookupFold(map[string]int(nil), "a"); ok {
		t.Error("a nil map has a value")
	}
	if n := testing.AllocsPerRun(100, func() { m.Lookup("ID"); m.Lookup("dequeueCount") }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}
