package configs

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// LookupFunc returns the value of an environment variable and whether it is
// set; os.LookupEnv is one.
type LookupFunc func(name string) (string, bool)

// substitution records that out[outStart:outEnd] replaced in[inStart:...].
type substitution struct {
	outStart, outEnd, inStart int
	cum                       int // sum over this and earlier substitutions of (in length - out length)
}

// interpolation is the result of expanding ${VAR} in a file: the new text
// and what is needed to map a position in it back to the original.
type interpolation struct {
	in, out []byte
	subs    []substitution
	inLines []int // byte offset of each line start in in
	outLine []int // byte offset of each line start in out
}

// interpolate replaces ${VAR} and ${VAR:-default} from env and $${ with a
// literal "${". A variable that is unset and has no default is an error at
// its position; so is an unterminated or malformed reference. Comment lines
// and trailing " #" comments are copied untouched so that a commented-out
// ${VAR} does not have to be set.
func interpolate(data []byte, env LookupFunc, errs *errorList) *interpolation {
	ip := &interpolation{in: data}
	ip.inLines = lineStarts(data)
	var out []byte
	s := string(data)
	i := 0
	for i < len(s) {
		lineEnd := strings.IndexByte(s[i:], '\n')
		if lineEnd < 0 {
			lineEnd = len(s)
		} else {
			lineEnd += i + 1
		}
		line := s[i:lineEnd]
		codeEnd := i + commentStart(line)
		for j := i; j < lineEnd; {
			if j >= codeEnd {
				out = append(out, s[j:lineEnd]...)
				break
			}
			switch {
			case strings.HasPrefix(s[j:], "$${"):
				ip.addSub(len(out), len(out)+2, j, 3)
				out = append(out, "${"...)
				j += 3
			case strings.HasPrefix(s[j:], "${"):
				end := strings.IndexByte(s[j:codeEnd], '}')
				if end < 0 {
					errs.add(ip.inPos(j), "", "unterminated variable reference %q: missing '}'", truncate(s[j:codeEnd], 40))
					out = append(out, s[j:codeEnd]...)
					j = codeEnd
					continue
				}
				ref := s[j+2 : j+end]
				name, def, hasDef := strings.Cut(ref, ":-")
				val := ""
				switch {
				case !validVarName(name):
					errs.add(ip.inPos(j), "", "invalid variable reference ${%s}: want ${NAME} or ${NAME:-default}", ref)
				default:
					v, ok := env(name)
					switch {
					case ok && (v != "" || !hasDef):
						val = v
					case hasDef:
						val = def
					default:
						errs.add(ip.inPos(j), "", "environment variable %s is not set (use ${%s:-default} to give a default)", name, name)
					}
				}
				n := end + 1
				ip.addSub(len(out), len(out)+len(val), j, n)
				out = append(out, val...)
				j += n
			default:
				out = append(out, s[j])
				j++
			}
		}
		i = lineEnd
	}
	ip.out = out
	ip.outLine = lineStarts(out)
	return ip
}

// commentStart returns the offset in line where a YAML comment begins (len
// when none): a '#' that starts the line's content or follows a blank and
// lies outside quotes. It is a heuristic: multi-line quoted scalars are rare
// in pipeline files.
func commentStart(line string) int {
	var quote byte
	for k := 0; k < len(line); k++ {
		c := line[k]
		switch {
		case quote != 0:
			if c == quote {
				if quote == '\'' && k+1 < len(line) && line[k+1] == '\'' {
					k++ // '' escapes a quote in single-quoted scalars
				} else {
					quote = 0
				}
			} else if c == '\\' && quote == '"' {
				k++
			}
		case c == '#' && (k == 0 || line[k-1] == ' ' || line[k-1] == '\t'):
			return k
		case (c == '"' || c == '\'') && (k == 0 || strings.IndexByte(" \t:[{,-", line[k-1]) >= 0):
			quote = c
		}
	}
	return len(line)
}

func validVarName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func lineStarts(b []byte) []int {
	starts := []int{0}
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// inPos converts a byte offset of the original text to a Position.
func (ip *interpolation) inPos(off int) Position {
	return offsetPos(ip.in, ip.inLines, off)
}

// origPos maps a yaml.v3 position in the interpolated text back to the
// original file. A position inside a substituted value maps to the "${"
// that produced it.
func (ip *interpolation) origPos(p Position) Position {
	if len(ip.subs) == 0 || !p.IsValid() {
		return p
	}
	off := posOffset(ip.out, ip.outLine, p)
	// Last substitution starting at or before off.
	k := sort.Search(len(ip.subs), func(k int) bool { return ip.subs[k].outStart > off }) - 1
	in := off
	if k >= 0 {
		s := ip.subs[k]
		if off < s.outEnd {
			in = s.inStart
		} else {
			in = off + s.cum
		}
	}
	return ip.inPos(in)
}

func (ip *interpolation) addSub(outStart, outEnd, inStart, inLen int) {
	cum := 0
	if n := len(ip.subs); n > 0 {
		cum = ip.subs[n-1].cum
	}
	ip.subs = append(ip.subs, substitution{outStart: outStart, outEnd: outEnd, inStart: inStart, cum: cum + inLen - (outEnd - outStart)})
}

func offsetPos(b []byte, lines []int, off int) Position {
	off = min(max(off, 0), len(b))
	l := sort.Search(len(lines), func(i int) bool { return lines[i] > off }) - 1
	return Position{Line: l + 1, Col: utf8.RuneCount(b[lines[l]:off]) + 1}
}

func posOffset(b []byte, lines []int, p Position) int {
	if p.Line > len(lines) {
		return len(b)
	}
	off := lines[p.Line-1]
	for c := 1; c < p.Col && off < len(b) && b[off] != '\n'; c++ {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}
