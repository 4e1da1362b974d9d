package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiVersionsKey = 18

func init() {
	register(&api{key: apiVersionsKey, min: 0, max: 4, handle: handleAPIVersions})
}

func apiVersionsResponse() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, a := range advertised() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func handleAPIVersions(b *Broker, r *request) kmsg.Response {
	resp := apiVersionsResponse()
	resp.SetVersion(r.version)
	return resp
}

// unsupportedAPIVersions answers an ApiVersions request of a version the
// broker does not parse (KIP-511): v0, UNSUPPORTED_VERSION, and the list.
func unsupportedAPIVersions() kmsg.Response {
	resp := apiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	return resp
}
