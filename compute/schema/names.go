package schema

import (
	"strings"
	"unicode/utf8"
)

// nameIndex finds columns or STRUCT fields by name, exactly or the way ksqlDB
// matches JSON object keys: ignoring case.
type nameIndex struct {
	names  []string
	folds  []string         // foldName of each name
	groups [][]int          // for each name, the names with the same fold
	exact  map[string]int   // by name
	folded map[string][]int // by fold
}

func newNameIndex(names []string) nameIndex {
	ix := nameIndex{
		names:  names,
		folds:  make([]string, len(names)),
		groups: make([][]int, len(names)),
		exact:  make(map[string]int, len(names)),
		folded: make(map[string][]int, len(names)),
	}
	for i, n := range names {
		ix.exact[n] = i
		ix.folds[i] = foldName(n)
		ix.folded[ix.folds[i]] = append(ix.folded[ix.folds[i]], i)
	}
	for i := range names {
		ix.groups[i] = ix.folded[ix.folds[i]]
	}
	return ix
}

// lookup returns the index of the name spelled exactly as key (-1 if none)
// and the indices of the names equal to key ignoring case (the exact one
// included). It tries the name at hint first: keys tend to come in the order
// of the names. scratch is reused for case folding.
func (ix *nameIndex) lookup(key []byte, hint int, scratch *[]byte) (exact int, folded []int) {
	if hint < len(ix.names) && asciiFoldEqual(key, ix.folds[hint]) {
		folded = ix.groups[hint]
		for _, i := range folded {
			if ix.names[i] == string(key) {
				return i, folded
			}
		}
		return -1, folded
	}
	exact = -1
	if i, ok := ix.exact[string(key)]; ok {
		exact = i
	}
	return exact, ix.folded[string(foldBytes(key, scratch))]
}

// foldName upper-cases s, as ksqlDB upper-cases unquoted identifiers.
func foldName(s string) string { return strings.ToUpper(s) }

// foldBytes is foldName for a byte slice, allocation-free for ASCII.
func foldBytes(b []byte, scratch *[]byte) []byte {
	out := (*scratch)[:0]
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return []byte(foldName(string(b)))
		}
		out = append(out, asciiUpper(c))
	}
	*scratch = out
	return out
}

// asciiFoldEqual reports whether key, upper-cased, is fold, comparing
// non-ASCII bytes as they are: a false result is not conclusive for
// non-ASCII keys.
func asciiFoldEqual(key []byte, fold string) bool {
	if len(key) != len(fold) {
		return false
	}
	for i, c := range key {
		if asciiUpper(c) != fold[i] {
			return false
		}
	}
	return true
}

func asciiUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
