package driver_test

import (
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// BenchmarkLookupFold: the case-insensitive binding-data lookup (C19) for the spellings a
// template uses against a connector's PascalCase metadata.
func BenchmarkLookupFold(b *testing.B) {
	m := driver.MapMetadata{"Id": "1", "DequeueCount": int64(1), "InsertionTime": "x", "PopReceipt": "p", "QueueTrigger": "q"}
	for _, name := range []string{"Id", "ID", "id", "dequeueCount", "queuetrigger"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := m.Lookup(name); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}
