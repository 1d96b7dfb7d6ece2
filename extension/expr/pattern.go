package expr

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Pattern is a blob path pattern with captures, e.g. "input/{name}.{ext}" (checklist C28). Each
// `{name}` captures greedily; `{{` and `}}` are literal braces.
type Pattern struct {
	src       string
	container string
	prefix    string
	captures  []string
	re        *regexp.Regexp
	tmpl      *Template
}

// ParsePattern parses a blob trigger path pattern "container/blobPattern" as the host's
// BlobPathSource.Create does: the container part may not contain captures or '\', a '/' must
// have a container before it and a blob pattern after it, and capture names may not contain '.'.
// A path without '/' names a container and matches every blob in it. The container name is
// checked against the storage rules (ValidateContainerName) here, at load, where the host would
// only meet the storage service's 400 at run time; a fixed blob name is checked as the host does.
func ParsePattern(s string) (*Pattern, error) {
	if !utf8.ValidString(s) {
		return nil, syntaxErr("Invalid blob path %q. The path is not valid UTF-8.", s)
	}
	container, blob, hasBlob := strings.Cut(s, "/")
	if hasBlob && (container == "" || blob == "") || strings.Contains(container, `\`) || s == "" {
		return nil, syntaxErr("Invalid blob trigger path '%s'. Paths must be in the format 'container/blob'.", s)
	}
	if strings.Contains(container, "{") {
		return nil, syntaxErr("Invalid blob trigger path '%s'. Container paths cannot contain {resolve} tokens.", s)
	}
	if strings.Contains(container, "}") {
		return nil, syntaxErr("Invalid blob trigger path '%s'. Container paths cannot contain {resolve} tokens.", s)
	}
	if err := ValidateContainerName(container); err != nil {
		return nil, &Error{Msg: fmt.Sprintf("Invalid blob trigger path '%s'. %s.", s, err.Error()), Kind: ErrInvalidName}
	}
	t, err := Parse(s)
	if err != nil {
		return nil, err
	}
	p := &Pattern{src: s, container: container, tmpl: t}
	bt, err := Parse(blob)
	if err != nil {
		return nil, err
	}
	var re strings.Builder
	re.WriteString(`^(?s:`)
	seenCapture := false
	for _, pt := range bt.parts {
		if pt.expr == nil {
			re.WriteString(regexp.QuoteMeta(pt.lit))
			if !seenCapture {
				p.prefix += pt.lit
			}
			continue
		}
		e := pt.expr
		if len(e.Path) != 1 || e.HasFormat {
			return nil, syntaxErr("Invalid blob path '%s'. The capture '{%s}' must be a simple name: captures cannot contain '.' or ':'.", s, e.String())
		}
		for _, c := range p.captures {
			if strings.EqualFold(c, e.Path[0]) {
				return nil, syntaxErr("Invalid blob path '%s'. The capture name '%s' is used twice.", s, c)
			}
		}
		seenCapture = true
		p.captures = append(p.captures, e.Path[0])
		re.WriteString(`(.*)`)
	}
	re.WriteString(`)$`)
	if hasBlob && len(p.captures) == 0 {
		if err := ValidateBlobName(bt.Literal()); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("Invalid blob trigger path '%s'. %s", s, err.Error()), Kind: ErrInvalidName}
		}
	}
	src := re.String()
	if !hasBlob {
		src = `^(?s:.*)$`
	}
	if p.re, err = regexp.Compile(src); err != nil {
		return nil, syntaxErr("Invalid blob path %q: %v.", s, err)
	}
	return p, nil
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.src }

// Container returns the pattern's container.
func (p *Pattern) Container() string { return p.container }

// Prefix returns the literal blob-name prefix before the first capture (for listing).
func (p *Pattern) Prefix() string { return p.prefix }

// Captures returns the capture names in order.
func (p *Pattern) Captures() []string { return append([]string(nil), p.captures...) }

// Template returns the whole path ("container/blob…") as a template, for using a pattern as an
// output path: evaluating it with the captures of a match gives back "container/" + the blob name.
func (p *Pattern) Template() *Template { return p.tmpl }

// Match matches a blob name (without container) and returns the captures, or ok=false.
func (p *Pattern) Match(blobName string) (map[string]string, bool) {
	m := p.re.FindStringSubmatch(blobName)
	if m == nil {
		return nil, false
	}
	out := make(map[string]string, len(p.captures))
	for i, c := range p.captures {
		out[c] = m[i+1]
	}
	return out, true
}
