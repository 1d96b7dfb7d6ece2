package expr

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Cases ported from azure-webjobs-sdk's BindingTemplateTests, BlobPathSourceTests,
// BindingDataPathHelperTests and BindingParameterResolverTests (test names in comments).

func TestPortedBindingTemplateBind(t *testing.T) {
	jobj := json.RawMessage(`{"prop": "bar", "x-header": "header", "null": null}`)
	tests := []struct {
		name, tmpl string
		data       MapData
		want, err  string
	}{
		{"Bind_IfValidInput_ReturnsResolvedPath", `{p1}-p2/{{2014}}/{d3}/folder/{name}.{ext}`,
			MapData{"p1": "container", "d3": "path/to", "name": "file.1", "ext": "txt"}, "container-p2/{2014}/path/to/folder/file.1.txt", ""},
		{"Bind_IfNonParameterizedPath_ReturnsResolvedPath", "container", MapData{"name": "value"}, "container", ""},
		{"Bind_IfParameterizedPath_ReturnsResolvedPath", "container/{name}", MapData{"name": "value"}, "container/value", ""},
		{"Bind_DotExpression", "container/{a.b.c}", MapData{"a": map[string]any{"b": map[string]any{"c": 123}}}, "container/123", ""},
		{"Bind_DotExpression_With_JObject dashes", "container/{a.x-header}", MapData{"a": jobj}, "container/header", ""},
		{"Bind_DotExpression_With_JObject prop", "container/{a.prop}", MapData{"a": jobj}, "container/bar", ""},
		{"Bind_DotExpression_With_JObject casing", "container/{a.pRop}", MapData{"a": jobj}, "container/bar", ""},
		{"Bind_DotExpression_With_JObject missing", "container/{a.missing}", MapData{"a": jobj}, "", "Error while accessing 'missing': property doesn't exist."},
		{"Bind_DotExpression_With_JObject null", "a{null}b", MapData{"a": jobj, "null": nil}, "ab", ""},
		{"Bind_DotExpression_With_JObject member null", "a{a.null}b", MapData{"a": jobj}, "ab", ""},
		{"Bind_Dictionary", "{a.p1}", MapData{"a": map[string]any{"p1": "v1", "p2": 123}}, "v1", ""},
		{"Bind_Dictionary missing", "{a.missing}", MapData{"a": map[string]any{"p1": "v1"}}, "", "Error while accessing 'missing': property doesn't exist."},
		{"Bind_DotExpression_Illegal", "container/{a.missing}", MapData{"a": map[string]any{"b": map[string]any{"c": 123}}}, "", "Error while accessing 'missing': property doesn't exist."},
		{"Bind_IfMissingParameter_Throws", "container/{missing}", MapData{"name": "value"}, "", "No value for named parameter 'missing'."},
		// FromString_IgnoreCase_CreatesCaseInsensitiveTemplate: Functions binds case-insensitively.
		{"FromString_IgnoreCase_CreatesCaseInsensitiveTemplate", "A/{B}/{c}", MapData{"b": "TestB", "C": "TestC"}, "A/TestB/TestC", ""},
		// DateTimeFormats: 'Y' is not a .NET specifier, so "YYYYMMdd" keeps the Ys.
		{"DateTimeFormats", "{dt:YYYYMMdd}", MapData{"dt": time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)}, "YYYY0309", ""},
	}
	for _, tc := range tests {
		got, err := MustParse(tc.tmpl).Eval(tc.data, nil)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrUnresolved) {
				t.Errorf("%s: Eval(%q) = %q, %v; want error %q", tc.name, tc.tmpl, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: Eval(%q) = %q, %v; want %q", tc.name, tc.tmpl, got, err, tc.want)
		}
	}
	// Bind_DotExpression_IsLateBound: the same template, different data.
	tp := MustParse("container/{a.b.c}")
	for _, tc := range []struct {
		data MapData
		want string
	}{
		{MapData{"a": map[string]any{"b": map[string]any{"c": "first"}}}, "container/first"},
		{MapData{"a": map[string]any{"b": map[string]any{"c": 123, "d": 456}, "b2": 789}}, "container/123"},
	} {
		if got, err := tp.Eval(tc.data, nil); err != nil || got != tc.want {
			t.Errorf("Bind_DotExpression_IsLateBound: %q, %v; want %q", got, err, tc.want)
		}
	}
}

// BindingTemplateTests.GuidFormats: GUID binding data honours N, D, B, P, X and "" (D).
func TestPortedGuidFormats(t *testing.T) {
	g := uuid.MustParse("c914be08-fae6-4014-a619-c5f7ebf3fe37")
	type GUID [16]byte // like table.GUID
	want := map[string]string{
		"N": "c914be08fae64014a619c5f7ebf3fe37",
		"D": "c914be08-fae6-4014-a619-c5f7ebf3fe37",
		"B": "{c914be08-fae6-4014-a619-c5f7ebf3fe37}",
		"P": "(c914be08-fae6-4014-a619-c5f7ebf3fe37)",
		"X": "{0xc914be08,0xfae6,0x4014,{0xa6,0x19,0xc5,0xf7,0xeb,0xf3,0xfe,0x37}}",
		"":  "c914be08-fae6-4014-a619-c5f7ebf3fe37",
		" ": "c914be08-fae6-4014-a619-c5f7ebf3fe37", // white space is normalized to no format
	}
	for _, v := range []any{g, &g, GUID(g)} {
		for f, w := range want {
			got, err := MustParse("{g:"+f+"}").Eval(MapData{"g": v}, nil)
			if err != nil || got != w {
				t.Errorf("{g:%s} of %T = %q, %v; want %q", f, v, got, err, w)
			}
		}
		// No format at all: D (BindingDataPathHelperTests.ConvertParamValueToString_IfGuidParam_ReturnsStringValue).
		if got, _ := MustParse("{g}").Eval(MapData{"g": v}, nil); got != want["D"] {
			t.Errorf("{g} of %T = %q", v, got)
		}
	}
	if _, err := MustParse("{g:Q}").Eval(MapData{"g": g}, nil); !errors.Is(err, ErrSyntax) {
		t.Errorf("{g:Q}: %v; want a format error", err)
	}
	// A [16]byte that is not named like a GUID (an MD5 sum) is not a GUID.
	if _, err := MustParse("{h}").Eval(MapData{"h": [16]byte{1}}, nil); err == nil {
		t.Errorf("[16]byte rendered as a GUID")
	}
}

// BindingParameterResolverTests.RandGuidResolver_ReturnsExpectedValue and IsSystemParameter.
func TestPortedRandGuid(t *testing.T) {
	for _, tc := range []struct {
		tmpl   string
		length int
		dashes int
	}{
		{"{rand-guid}", 36, 4}, {"{rand-guid:}", 36, 4}, {"{rand-guid:D}", 36, 4}, {"{rand-guid:N}", 32, 0}, {"{rand-guid:B}", 38, 4}, {"{RAND-GUID}", 36, 4},
	} {
		got, err := MustParse(tc.tmpl).Eval(nil, nil)
		if err != nil || len(got) != tc.length || strings.Count(got, "-") != tc.dashes {
			t.Errorf("%s = %q, %v", tc.tmpl, got, err)
		}
	}
	for name, want := range map[string]bool{"rand-guid": true, "RAND-GUID": true, "datetime": true, "foobar": false} {
		if IsBuiltin(name) != want {
			t.Errorf("IsBuiltin(%q) = %v", name, !want)
		}
	}
}

// BindingDataPathHelperTests.ConvertParamValueToString_IfSupportedType_ReturnsStringValue and
// ConvertParamValueToString_IfJTokenParam_ReturnsStringValue.
func TestPortedConvertParamValueToString(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{int16(-123), "-123"}, {int32(1234567890), "1234567890"}, {int64(123000000000000000), "123000000000000000"},
		{uint16(123), "123"}, {uint32(1234567890), "1234567890"}, {uint64(1230000000000000000), "1230000000000000000"},
		{byte(255), "255"}, {int8(-127), "-127"}, {"Some random test string", "Some random test string"},
		{json.RawMessage(`123`), "123"}, {json.RawMessage(`"str"`), "str"}, {json.RawMessage(`123.45`), "123.45"},
		{json.RawMessage(`"c914be08-fae6-4014-a619-c5f7ebf3fe37"`), "c914be08-fae6-4014-a619-c5f7ebf3fe37"},
	} {
		got, err := MustParse("{v}").Eval(MapData{"v": tc.v}, nil)
		if err != nil || got != tc.want {
			t.Errorf("{v} of %T %v = %q, %v; want %q", tc.v, tc.v, got, err, tc.want)
		}
	}
}

// BlobPathSourceTests matching cases and BindingTemplateTests.CreateBindingData_*.
func TestPortedBlobPathMatch(t *testing.T) {
	tests := []struct {
		name, pattern, path string
		want                map[string]string // nil: no match
	}{
		{"TestMethod1", "container", "container/item", map[string]string{}},
		{"TestMethod2", "container/blob", "container/blob", map[string]string{}},
		{"TestMethod3", "container/{name}.csv", "container/foo.csv", map[string]string{"name": "foo"}},
		{"TestMethod4", "container/{name}", "container/foo.csv", map[string]string{"name": "foo.csv"}},
		{"TestMethodExtension", "container/{name}.csv", "container/foo.alpha.csv", map[string]string{"name": "foo.alpha"}},
		{"TestGreedy", "container/{a}.{b}", "container/foo.alpha.beta.csv", map[string]string{"a": "foo.alpha.beta", "b": "csv"}},
		{"TestMethod6", "daas-test-input/{name}.txt", "daas-test-input/bob.txtoutput", nil},
		{"TestMethod5", "container/{name}-{date}.csv", "container/foo-Jan1st.csv", map[string]string{"name": "foo", "date": "Jan1st"}},
		{"CreateBindingData_IfExtensionSpecialScenario_ReturnsNamedParams", "input/{name}.csv", "input/a.b.csv", map[string]string{"name": "a.b"}},
		{"CreateBindingData_IfNameExtensionCombination 1", "input/{name}.{extension}", "input/foo.txt", map[string]string{"name": "foo", "extension": "txt"}},
		{"CreateBindingData_IfNameExtensionCombination 2", "input/foo/{name}.{extension}", "input/foo/foo.txt", map[string]string{"name": "foo", "extension": "txt"}},
		{"CreateBindingData_IfNameExtensionCombination 3", "input/{name}/foo/{skip}.{extension}", "input/foo/foo/bar.txt", map[string]string{"name": "foo", "skip": "bar", "extension": "txt"}},
		{"CreateBindingData_IfNameExtensionCombination 4", "input/{name}.{extension}/foo/{part}", "input/foo.txt/foo/part", map[string]string{"name": "foo", "extension": "txt", "part": "part"}},
		{"CreateBindingData_IfNameExtensionCombination 5", "input/{name}/{extension}", "input/foo/txt", map[string]string{"name": "foo", "extension": "txt"}},
		{"CreateBindingData_IfNameExtensionCombination 6", "input/{name}/foo/{skip}.{extension}", "input/name/foo/skip/bar.txt", map[string]string{"name": "name", "skip": "skip/bar", "extension": "txt"}},
		{"CreateBindingData_IfNameExtensionCombination 7", "input/foo/{name}.{extension}", "input/foo/skip/bar.txt", map[string]string{"name": "skip/bar", "extension": "txt"}},
		{"CreateBindingData_IfExtensionLongest_WorksMultiple", "input/{name}.{extension}-/{other}", "input/foo.bar.txt-/asd-/ijij", map[string]string{"name": "foo.bar", "extension": "txt-/asd", "other": "ijij"}},
		{"CreateBindingData_IfExtensionLongest_WorksMultiCharacterSeparator", "input/{name}.-/{extension}", "input/foo.-/bar.txt", map[string]string{"name": "foo", "extension": "bar.txt"}},
	}
	for _, tc := range tests {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Errorf("%s: ParsePattern(%q): %v", tc.name, tc.pattern, err)
			continue
		}
		_, blobName, _ := strings.Cut(tc.path, "/")
		got, ok := p.Match(blobName)
		if ok != (tc.want != nil) || len(got) != len(tc.want) {
			t.Errorf("%s: %q.Match(%q) = %v, %v; want %v", tc.name, tc.pattern, blobName, got, ok, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q; want %q", tc.name, k, got[k], v)
			}
		}
	}
	// BlobPathSourceTests.GetNames: parameter names in order.
	if p, _ := ParsePattern("container/{name}-{date}.csv"); strings.Join(p.Captures(), ",") != "name,date" {
		t.Errorf("GetNames: %q", p.Captures())
	}
	// BlobPathSourceTests.TestToString.
	a, _ := ParsePattern("container/dir/subdir/{name}.csv")
	b, _ := ParsePattern("container/dir/subdir/{name}.csv")
	c, _ := ParsePattern("container/dir/subdir/other.csv")
	if a.String() != b.String() || b.String() == c.String() {
		t.Errorf("TestToString: %q %q %q", a, b, c)
	}
	// CreateBindingData_IfNoMatch_ReturnsNull.
	if p, err := ParsePattern("input/{name}.-/"); err != nil {
		t.Errorf("CreateBindingData_IfNoMatch_ReturnsNull: %v", err)
	} else if m, ok := p.Match("foo.bar.-/txt"); ok {
		t.Errorf("CreateBindingData_IfNoMatch_ReturnsNull: matched %v", m)
	}
}

// BlobNameValidationAttribute rules and texts, and the queue-name rules of QueueClient.
func TestStorageNames(t *testing.T) {
	for _, ok := range []string{"abc", "a-b-c", "$root", "$web", strings.Repeat("z", 63), "0ab"} {
		if err := ValidateContainerName(ok); err != nil {
			t.Errorf("ValidateContainerName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", strings.Repeat("z", 64), "Abc", "a--b", "-ab", "ab-", "a_b", "a.b", "a[b", "a^b", "ab\x00"} {
		err := ValidateContainerName(bad)
		if err == nil || !errors.Is(err, ErrInvalidName) || !strings.HasPrefix(err.Error(), "Invalid container name: "+bad) {
			t.Errorf("ValidateContainerName(%q) = %v", bad, err)
		}
	}
	for name, msg := range map[string]string{
		"":                        "is too short",
		strings.Repeat("b", 1025): "is too long",
		"a.":                      "has an invalid suffix",
		"a/":                      "has an invalid suffix",
		`a\b`:                     "contain illegal characters",
	} {
		if err := ValidateBlobName(name); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ValidateBlobName(%.20q) = %v; want %q", name, err, msg)
		}
	}
	if err := ValidateBlobName("dir/file.txt"); err != nil {
		t.Error(err)
	}
	// QueueTriggerAttributeBindingProvider: names are lower-cased ("coerce here to be nice"), then validated.
	if got := NormalizeQueueName("Shipped-A1"); got != "shipped-a1" {
		t.Errorf("NormalizeQueueName = %q", got)
	}
	for name, msg := range map[string]string{
		"":      "A queue name can't be null or empty",
		"ab":    "A queue name must be from 3 to 63 characters long",
		"-abc":  "The dash (-) character may not be the first or last letter",
		"Abc":   "Queue names must be all lower case",
		"a_bc":  "A queue name can contain only letters, numbers, and dash(-) characters",
		"a--bc": "A queue name cannot contain consecutive dash(-) characters.",
	} {
		if err := ValidateQueueName(name); err == nil || !strings.HasPrefix(err.Error(), msg) || !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateQueueName(%q) = %v; want %q", name, err, msg)
		}
	}
	if err := ValidateQueueName("shipped-a1"); err != nil {
		t.Error(err)
	}
}
