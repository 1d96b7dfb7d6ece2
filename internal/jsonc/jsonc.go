// Package jsonc reads JSON as the Azure Functions host and Core Tools read function.json,
// host.json and local.settings.json: leniently, the way Json.NET's JObject.Parse and
// JsonConvert do. On top of standard JSON it accepts
//
//   - a UTF-8 byte-order mark at the start (File.ReadAllText drops it; Visual Studio writes it),
//   - comments: // to the end of the line and /* … */,
//   - a trailing comma before '}' or ']',
//   - single-quoted strings, as keys and as values ('it\'s' and "say \"hi\"" both work),
//   - unquoted property names made of letters, digits, '_' and '$' ({version: '2.0'}),
//   - raw control characters (a literal tab or newline) inside strings, and the escape \'.
//
// Standard converts such text to standard JSON; Unmarshal decodes it. Every error position
// (byte offset, line and column) points into the original text, so a user can find it in an
// editor. Like Json.NET, a second value after the first is an error, as are NaN, Infinity,
// hexadecimal numbers and empty array slots.
package jsonc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"unicode/utf8"
)

// BOM is the UTF-8 byte-order mark.
var BOM = []byte{0xEF, 0xBB, 0xBF}

// SyntaxError is a JSON syntax error positioned in the original text.
type SyntaxError struct {
	Msg    string // what is wrong, e.g. "invalid character '}' looking for beginning of value"
	Offset int64  // 0-based byte offset of the offending byte in the original text (its length at the end)
	Line   int    // 1-based
	Column int    // 1-based, in characters (a byte-order mark does not count)
}

// Error reads "not valid JSON: MSG at byte N (line L, column C)", N counting bytes from 1 (at
// the end of the text, N is its length).
func (e *SyntaxError) Error() string {
	n := e.Offset + 1
	if e.Msg == msgEOF {
		n = e.Offset
	}
	return fmt.Sprintf("not valid JSON: %s at byte %d (line %d, column %d)", e.Msg, n, e.Line, e.Column)
}

const msgEOF = "unexpected end of file"

// ErrEmpty is returned for a document with nothing but white space and comments.
var ErrEmpty = errors.New("the file is empty")

// anchor records that output offset out corresponds to input offset in; offsets between two
// anchors move together.
type anchor struct{ out, in int }

// Map translates offsets in converted text back to the original text.
type Map struct{ anchors []anchor }

// Offset returns the original offset of converted offset out.
func (m *Map) Offset(out int64) int64 {
	if m == nil || len(m.anchors) == 0 {
		return out
	}
	i := sort.Search(len(m.anchors), func(i int) bool { return int64(m.anchors[i].out) > out }) - 1
	if i < 0 {
		return out
	}
	a := m.anchors[i]
	return int64(a.in) + out - int64(a.out)
}

type converter struct {
	src  []byte
	out  []byte
	m    Map
	i    int
	last int // out-in delta at the last anchor
}

// mark records the current position as an anchor when the offset delta has changed.
func (c *converter) mark() {
	if d := len(c.out) - c.i; d != c.last || len(c.m.anchors) == 0 {
		c.m.anchors = append(c.m.anchors, anchor{out: len(c.out), in: c.i})
		c.last = d
	}
}

func (c *converter) errAt(off int, format string, args ...any) error {
	line, col := Position(c.src, int64(off))
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: int64(off), Line: line, Column: col}
}

// container kinds on the nesting stack.
const (
	inObject = iota
	inArray
)

// Standard converts lenient JSON text to standard JSON. The Map translates offsets in the result
// (e.g. of a later decoding error) back to src. An unterminated string or comment is a
// *SyntaxError; other syntax errors are left for the JSON decoder to find.
func Standard(src []byte) ([]byte, *Map, error) {
	c := &converter{src: src, out: make([]byte, 0, len(src)+8)}
	if bytes.HasPrefix(src, BOM) {
		c.i = len(BOM)
	}
	c.mark()
	var stack []int
	expectKey := false
	var lastSig byte // the last significant byte copied (a string counts as '"')
	for c.i < len(c.src) {
		b := c.src[c.i]
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' && b != '/' && b != ',' {
			lastSig = b
		}
		switch {
		case b == '/' && c.i+1 < len(c.src) && (c.src[c.i+1] == '/' || c.src[c.i+1] == '*'):
			if err := c.comment(); err != nil {
				return nil, nil, err
			}
			continue
		case b == '"' || b == '\'':
			if err := c.str(b); err != nil {
				return nil, nil, err
			}
			expectKey = false
			continue
		case b == '{':
			stack = append(stack, inObject)
			expectKey = true
		case b == '[':
			stack = append(stack, inArray)
			expectKey = false
		case b == '}' || b == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case b == ',':
			// A trailing comma after a value: drop it. After '{', '[' or another ',' it is an
			// empty slot, which Json.NET refuses too: keep it for the decoder to report.
			if next := c.peekSignificant(c.i + 1); (next == '}' || next == ']') && lastSig != ',' && lastSig != '{' && lastSig != '[' {
				// A trailing comma: drop it (a space keeps offsets unchanged).
				c.out = append(c.out, ' ')
				c.i++
				continue
			}
			expectKey = len(stack) > 0 && stack[len(stack)-1] == inObject
			lastSig = ','
		case b == ':':
			expectKey = false
		case expectKey && isIdentStart(b):
			c.out = append(c.out, '"')
			c.mark()
			for c.i < len(c.src) && isIdentPart(c.src[c.i]) {
				c.out = append(c.out, c.src[c.i])
				c.i++
			}
			c.out = append(c.out, '"')
			c.mark()
			expectKey = false
			continue
		}
		c.out = append(c.out, b)
		c.i++
	}
	return c.out, &c.m, nil
}

func isIdentStart(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == '$'
}

func isIdentPart(b byte) bool { return isIdentStart(b) || b >= '0' && b <= '9' }

// peekSignificant returns the first byte at or after i that is not white space or inside a
// comment (0 at the end).
func (c *converter) peekSignificant(i int) byte {
	for i < len(c.src) {
		switch b := c.src[i]; {
		case b == ' ' || b == '\t' || b == '\r' || b == '\n':
			i++
		case b == '/' && i+1 < len(c.src) && c.src[i+1] == '/':
			for i < len(c.src) && c.src[i] != '\n' {
				i++
			}
		case b == '/' && i+1 < len(c.src) && c.src[i+1] == '*':
			end := bytes.Index(c.src[i+2:], []byte("*/"))
			if end < 0 {
				return 0
			}
			i += 2 + end + 2
		default:
			return b
		}
	}
	return 0
}

// comment replaces a comment with spaces, keeping line breaks (so offsets do not move).
func (c *converter) comment() error {
	start := c.i
	if c.src[c.i+1] == '/' {
		for c.i < len(c.src) && c.src[c.i] != '\n' && c.src[c.i] != '\r' {
			c.out = append(c.out, ' ')
			c.i++
		}
		return nil
	}
	end := bytes.Index(c.src[c.i+2:], []byte("*/"))
	if end < 0 {
		return c.errAt(start, "unterminated /* comment")
	}
	stop := c.i + 2 + end + 2
	for ; c.i < stop; c.i++ {
		if b := c.src[c.i]; b == '\n' || b == '\r' {
			c.out = append(c.out, b)
		} else {
			c.out = append(c.out, ' ')
		}
	}
	return nil
}

// str converts a string quoted with q (" or ') to a standard double-quoted string.
func (c *converter) str(q byte) error {
	start := c.i
	c.mark()
	c.out = append(c.out, '"')
	c.i++
	for {
		if c.i >= len(c.src) {
			return c.errAt(start, "unterminated string")
		}
		b := c.src[c.i]
		switch {
		case b == q:
			c.out = append(c.out, '"')
			c.i++
			c.mark()
			return nil
		case b == '\\':
			if c.i+1 >= len(c.src) {
				return c.errAt(start, "unterminated string")
			}
			e := c.src[c.i+1]
			switch e {
			case '\'':
				c.mark()
				c.out = append(c.out, '\'')
				c.i += 2
				c.mark()
			default:
				// Other escapes are copied for the decoder to check (\u needs its 4 hex digits).
				c.out = append(c.out, '\\', e)
				c.i += 2
			}
		case b == '"': // only inside a single-quoted string
			c.mark()
			c.out = append(c.out, '\\', '"')
			c.i++
			c.mark()
		case b < 0x20:
			c.mark()
			c.out = append(c.out, fmt.Sprintf(`\u%04x`, b)...)
			c.i++
			c.mark()
		default:
			c.out = append(c.out, b)
			c.i++
		}
	}
}

// Position returns the 1-based line and column (in characters) of byte offset off in src. A
// byte-order mark at the start does not count as a column.
func Position(src []byte, off int64) (line, col int) {
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	if off < 0 {
		off = 0
	}
	start := 0
	if bytes.HasPrefix(src, BOM) {
		start = len(BOM)
	}
	line, col = 1, 1
	for i := start; i < int(off); {
		r, n := utf8.DecodeRune(src[i:])
		if r == '\n' {
			line++
			col = 1
		} else if r == '\r' {
			if i+1 < len(src) && src[i+1] == '\n' {
				// CRLF: the '\n' starts the new line.
				col++
			} else {
				line++
				col = 1
			}
		} else {
			col++
		}
		i += n
	}
	return line, col
}

// Options for Decode.
type Options struct {
	UseNumber bool // numbers as json.Number instead of float64
}

// Unmarshal decodes lenient JSON text into v (as encoding/json does). Syntax errors are
// *SyntaxError; an *json.UnmarshalTypeError has its Offset moved into src; an empty document is
// ErrEmpty.
func Unmarshal(src []byte, v any) error { return Decode(src, v, Options{}) }

// Decode is Unmarshal with options.
func Decode(src []byte, v any, opt Options) error {
	std, m, err := Standard(src)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(std))
	if opt.UseNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return mapError(src, std, m, err, dec.InputOffset())
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		off := m.Offset(end)
		// Point at the extra value itself, not at the white space before it.
		for off < int64(len(src)) && isSpace(src[off]) {
			off++
		}
		line, col := Position(src, off)
		return &SyntaxError{Msg: "unexpected data after the top-level value", Offset: off, Line: line, Column: col}
	}
	return nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func mapError(src, std []byte, m *Map, err error, fallback int64) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// encoding/json's Offset counts the bytes read, up to and including the offending one.
		off := m.Offset(se.Offset - 1)
		if se.Offset-1 >= int64(len(std)) {
			off = int64(len(src))
		}
		line, col := Position(src, off)
		msg := se.Error()
		if len(msg) > 6 && msg[:6] == "json: " {
			msg = msg[6:]
		}
		if msg == "unexpected end of JSON input" {
			msg = msgEOF
		}
		return &SyntaxError{Msg: msg, Offset: off, Line: line, Column: col}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		off := int64(len(src))
		line, col := Position(src, off)
		return &SyntaxError{Msg: msgEOF, Offset: off, Line: line, Column: col}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		te.Offset = m.Offset(te.Offset)
		return err
	}
	_ = fallback
	return err
}

// Kind names a decoded JSON value's kind for messages ("a string", "a number", "an object", …).
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
