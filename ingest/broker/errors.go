package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// errCode maps an error to its Kafka error code: the code of a wrapped
// *kerr.Error, UNKNOWN_SERVER_ERROR otherwise, NONE for nil.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage is the message to send with an error code, where the response
// has room for one.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
