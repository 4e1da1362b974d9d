package bucket

import (
	"context"
	"fmt"
	"io"
	"sort"
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

// callSorted calls fn with each name in lexical order, stopping at the
// first error from fn or ctx.
func callSorted(ctx context.Context, names []string, fn func(string) error) error {
	sort.Strings(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(name); err != nil {
			return err
		}
	}
	return nil
}

// exists turns an Attributes lookup into an Exists answer.
func exists(_ Attributes, err error) (bool, error) {
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// ReaderAt reads object Name of Bucket by ranges, each ReadAt one GetRange
// under Ctx: the io.ReaderAt Parquet readers take.
type ReaderAt struct {
	Ctx    context.Context
	Bucket Bucket
	Name   string
}

func (o *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := o.Bucket.GetRange(o.Ctx, o.Name, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
