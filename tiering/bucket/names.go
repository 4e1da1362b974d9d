package bucket

import (
	"fmt"
	"strings"
)

// validName checks that name is a relative slash-separated key without
// empty, "." or ".." elements, so that every implementation accepts the
// same names and a directory store cannot be walked out of.
func validName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsRune(el, 0) {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
	}
	return nil
}
