package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// APIs that later issues implement. They are not advertised in
// ApiVersions, so well-behaved clients never send them; a client that does
// gets a response whose error says what is missing instead of a closed
// connection.
func init() {
	refuse := func(key int16, what string) {
		register(&api{key: key, min: 0, max: kmsg.RequestForKey(key).MaxVersion(), hidden: true,
			handle: func(b *Broker, r *request) kmsg.Response {
				b.log.Info("refused unsupported request", "api", kmsg.NameForKey(key), "client", r.client)
				return errorResponse(r, kerr.UnsupportedVersion, what+" are not supported yet")
			}})
	}
	for _, key := range []int16{24, 25, 26, 27, 28, 65, 66} { // AddPartitionsToTxn .. TxnOffsetCommit, Describe/ListTransactions
		refuse(key, "transactions")
	}
	refuse(68, "KIP-848 consumer groups (ConsumerGroupHeartbeat)")
	refuse(69, "KIP-848 consumer groups (ConsumerGroupDescribe)")
	for _, key := range []int16{76, 77, 78, 79} {
		refuse(key, "share groups")
	}
}
