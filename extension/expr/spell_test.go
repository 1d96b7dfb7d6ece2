package expr

import (
	"errors"
	"strings"
	"testing"
)

// exactData answers only exact names, so a test can see which spelling Eval asked for.
type exactData map[string]any

func (d exactData) Value(name string) (any, bool) { v, ok := d[name]; return v, ok }

// Spell makes an expression ask for the trigger's declared spelling; names it does not match, and
// built-ins, are asked for as written; errors quote the expression as written.
func TestSpell(t *testing.T) {
	tp := MustParse("{ID}-{dequeueCount}-{other}-{DateTime:yyyy}")
	tp.Spell([]string{"Id", "DequeueCount", "*"})
	got, err := tp.Eval(exactData{"Id": "7", "DequeueCount": int64(2), "other": "o"}, fixedOpts())
	if err != nil || got != "7-2-o-2018" {
		t.Fatalf("Eval = %q, %v; want 7-2-o-2018", got, err)
	}
	// Case-insensitive data gives the same value whichever spelling is asked for (C19).
	got, err = tp.Eval(MapData{"id": "7", "DEQUEUECOUNT": int64(2), "OTHER": "o"}, fixedOpts())
	if err != nil || got != "7-2-o-2018" {
		t.Fatalf("Eval over case-insensitive data = %q, %v", got, err)
	}
	one := MustParse("{ID.missing}")
	one.Spell([]string{"Id"})
	_, err = one.Eval(exactData{}, fixedOpts())
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "'ID'") {
		t.Errorf("error %v does not quote 'ID' as written", err)
	}
}

// The one-expression shapes give the same text as the general path, escape once, and a template
// that is only an expression returns the value itself without allocating.
func TestEvalOneExpression(t *testing.T) {
	d := MapData{"id": "O'Brien", "n": 3}
	for _, c := range []struct{ in, want string }{
		{"{id}", "O''Brien"},
		{"pre-{id}", "pre-O''Brien"},
		{"{id}.json", "O''Brien.json"},
		{"a{{{id}}}b", "a{O''Brien}b"},
		{"{id}-{n}", "O''Brien-3"},
		{"{n}{n}{n}{n}{n}{n}", "333333"},
	} {
		got, err := MustParse(c.in).Eval(d, &Options{Escape: EscapeODataString})
		if err != nil || got != c.want {
			t.Errorf("%s: Eval = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	tp := MustParse("{id}")
	data := exactData{"id": "value"}
	opt := &Options{}
	if n := testing.AllocsPerRun(100, func() { _, _ = tp.Eval(data, opt) }); n != 0 {
		t.Errorf("{id} allocates %.0f times per Eval; want 0", n)
	}
	tp = MustParse("shipped-{id}")
	if n := testing.AllocsPerRun(100, func() { _, _ = tp.Eval(data, opt) }); n != 1 {
		t.Errorf("shipped-{id} allocates %.0f times per Eval; want 1 (the result)", n)
	}
}
