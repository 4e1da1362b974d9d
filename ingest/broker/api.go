package broker

import (
	"reflect"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// api is one Kafka API key the broker serves. Each lives in its own file,
// named after the key, and registers itself in init; ApiVersions is built
// from the registry.
type api struct {
	key      int16
	min, max int16
	// hidden APIs are answered but not advertised in ApiVersions (for
	// example transactions, which answer with a clear error until they
	// are implemented).
	hidden bool
	handle func(b *Broker, r *request) kmsg.Response
	// start, when set instead of handle, does the in-order part of a
	// request and returns the rest, which runs concurrently with the
	// connection's next requests (see conn.handle).
	start func(b *Broker, r *request) (finish func() kmsg.Response)
}

var apis = map[int16]*api{}

func register(a *api) {
	if _, dup := apis[a.key]; dup {
		panic("broker: api key registered twice: " + kmsg.NameForKey(a.key))
	}
	apis[a.key] = a
}

func lookupAPI(key int16) *api { return apis[key] }

// advertised returns the served APIs in key order.
func advertised() []*api {
	out := make([]*api, 0, len(apis))
	for _, a := range apis {
		if !a.hidden {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// errorResponse returns r's response kind with its top-level ErrorCode (and
// ErrorMessage, where the version has one) set. It serves APIs that exist
// only to refuse clearly. Responses without a top-level error code are
// returned empty.
func errorResponse(r *request, err *kerr.Error, msg string) kmsg.Response {
	resp := r.kreq.ResponseKind()
	resp.SetVersion(r.version)
	v := reflect.ValueOf(resp).Elem()
	if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 {
		f.SetInt(int64(err.Code))
	}
	if f := v.FieldByName("ErrorMessage"); f.IsValid() && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String {
		f.Set(reflect.ValueOf(&msg))
	}
	return resp
}
