package expr_test

import (
	"fmt"
	"time"

	"github.com/azbind/azbind/extension/expr"
)

func Example() {
	settings := map[string]string{"OutputContainer": "thumbnails"}
	path, _ := expr.ResolveSettings("%OutputContainer%/{name}-{DateTime:yyyy}.{data.ext}", func(n string) (string, bool) {
		v, ok := settings[n]
		return v, ok
	})
	t, err := expr.Parse(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := t.Eval(expr.MapData{
		"name": "cat",
		"data": []byte(`{"ext": "png"}`),
	}, &expr.Options{Now: func() time.Time { return time.Date(2018, 2, 16, 17, 59, 55, 0, time.UTC) }})
	fmt.Println(out, err)

	p, _ := expr.ParsePattern("input/{blobname}.{blobextension}")
	m, ok := p.Match("report.v2.pdf")
	fmt.Println(p.Container(), m["blobname"], m["blobextension"], ok)
	// Output:
	// thumbnails/cat-2018.png <nil>
	// input report.v2 pdf true
}
