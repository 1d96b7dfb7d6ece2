package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"azurewebjobstorage", "azurewebjobsstorage", 1}, // a missing letter
		{"ab", "ba", 1}, // a transposition counts once
		{"queuetriger", "queuetrigger", 1},
		{"", "abc", 3},
		{"same", "same", 0},
		{"kitten", "sitting", 3},
	} {
		if d := Distance(c.a, c.b); d != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, d, c.want)
		}
	}
}
