package expr

import (
	"fmt"
	"strings"
	"time"
)

// standardFormats maps .NET's single-letter standard DateTime formats (invariant culture) to
// custom formats.
var standardFormats = map[string]string{
	"d": "MM/dd/yyyy",
	"D": "dddd, dd MMMM yyyy",
	"f": "dddd, dd MMMM yyyy HH:mm",
	"F": "dddd, dd MMMM yyyy HH:mm:ss",
	"g": "MM/dd/yyyy HH:mm",
	"G": "MM/dd/yyyy HH:mm:ss",
	"m": "MMMM dd", "M": "MMMM dd",
	"o": "yyyy-MM-ddTHH:mm:ss.fffffffK", "O": "yyyy-MM-ddTHH:mm:ss.fffffffK",
	"r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
	"s": "yyyy-MM-ddTHH:mm:ss",
	"t": "HH:mm",
	"T": "HH:mm:ss",
	"u": "yyyy-MM-dd HH:mm:ssZ",
	"U": "dddd, dd MMMM yyyy HH:mm:ss",
	"y": "yyyy MMMM", "Y": "yyyy MMMM",
}

// FormatTime formats t with a .NET date and time format string (invariant culture): the
// standard formats d D f F g G m o r s t T u U y, or a custom format built from yyyy yy y MMMM
// MMM MM M dddd ddd dd d HH H hh h mm m ss s f…fffffff F…FFFFFFF tt t K zzz zz z, the separators
// ':' and '/', quoted 'text' or "text", \-escaped characters, and other characters literally.
func FormatTime(t time.Time, format string) (string, error) {
	if std, ok := standardFormats[format]; ok {
		if format == "u" || format == "r" || format == "R" || format == "U" {
			t = t.UTC()
		}
		format = std
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		n := 1
		for i+n < len(format) && format[i+n] == c {
			n++
		}
		switch c {
		case 'y':
			y := t.Year()
			switch n {
			case 1:
				fmt.Fprintf(&b, "%d", y%100)
			case 2:
				fmt.Fprintf(&b, "%02d", y%100)
			default:
				fmt.Fprintf(&b, "%0*d", n, y)
			}
		case 'M':
			switch n {
			case 1:
				fmt.Fprintf(&b, "%d", int(t.Month()))
			case 2:
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			case 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
		case 'd':
			switch n {
			case 1:
				fmt.Fprintf(&b, "%d", t.Day())
			case 2:
				fmt.Fprintf(&b, "%02d", t.Day())
			case 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
		case 'H':
			num(&b, t.Hour(), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(&b, h, n)
		case 'm':
			num(&b, t.Minute(), n)
		case 's':
			num(&b, t.Second(), n)
		case 'f', 'F':
			if n > 7 {
				return "", syntaxErr("Input string was not in a correct format: %q has more than 7 '%c' characters.", format, c)
			}
			frac := fmt.Sprintf("%09d", t.Nanosecond())[:n]
			if c == 'F' {
				frac = strings.TrimRight(frac, "0")
				if frac == "" {
					// .NET also drops a preceding '.' when the fraction is empty.
					if s := b.String(); strings.HasSuffix(s, ".") {
						b.Reset()
						b.WriteString(s[:len(s)-1])
					}
				}
			}
			b.WriteString(frac)
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if n == 1 {
				ampm = ampm[:1]
			}
			b.WriteString(ampm)
		case 'K':
			for range n {
				if t.Location() == time.UTC {
					b.WriteString("Z")
				} else {
					b.WriteString(t.Format("-07:00"))
				}
			}
		case 'z':
			_, off := t.Zone()
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			switch n {
			case 1:
				fmt.Fprintf(&b, "%c%d", sign, off/3600)
			case 2:
				fmt.Fprintf(&b, "%c%02d", sign, off/3600)
			default:
				fmt.Fprintf(&b, "%c%02d:%02d", sign, off/3600, off%3600/60)
			}
		case '\'', '"':
			end := strings.IndexByte(format[i+1:], c)
			if end < 0 {
				return "", syntaxErr("Cannot find a matching quote character for the character '%c' in the format %q.", c, format)
			}
			b.WriteString(format[i+1 : i+1+end])
			i += end + 2
			continue
		case '\\':
			if i+1 >= len(format) {
				return "", syntaxErr("Input string was not in a correct format: %q ends with '\\'.", format)
			}
			b.WriteByte(format[i+1])
			i += 2
			continue
		case '%':
			// "%d" is the custom specifier d on its own.
			i++
			continue
		default:
			b.WriteString(format[i : i+n])
		}
		i += n
	}
	return b.String(), nil
}

func num(b *strings.Builder, v, n int) {
	if n == 1 {
		fmt.Fprintf(b, "%d", v)
		return
	}
	fmt.Fprintf(b, "%02d", v)
}
