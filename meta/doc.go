// Package meta is Strata's metadata store, backed by etcd.
//
// etcd holds the cluster id, live brokers, topics and their configs,
// partition leadership epochs, consumer group committed offsets and
// producer-id blocks. Nothing here is on the per-record hot path: brokers
// keep in-memory copies (see [Store.WatchTopics]) and consult etcd only on
// metadata changes, leadership changes, offset commits and producer-id block
// allocation.
//
// meta imports no other Strata package; every other package may import it.
//
// # etcd key layout
//
// Every key lives under a configurable prefix <p> (default "/strata"; see
// [NewStore]). Values are JSON objects unless noted; JSON field names are
// lowerCamelCase versions of the Go field names.
//
//	<p>/cluster/id
//	    The cluster id: 22 characters, unpadded base64url of 16 random bytes
//	    (Kafka's format). Created once, atomically, by the first
//	    [Store.ClusterID] call; never changed. Plain text, not JSON.
//
//	<p>/brokers/<id>
//	    [BrokerInfo] as JSON, e.g. {"id":1,"host":"h","port":9092,"rack":"a",
//	    "httpAddr":"h:8080"}. <id> is the plain decimal broker id (no zero
//	    padding). The key is attached to the broker's etcd lease, so it
//	    disappears when the broker stops renewing it (see [Store.RegisterBroker]).
//
//	<p>/topics/<name>
//	    [Topic] as JSON: {"name":..,"id":"<32 lowercase hex chars>",
//	    "partitions":N,"replicationFactor":R,"configs":{..},"createdMs":T}.
//	    "configs" holds only explicitly set topic configs (see
//	    [TopicConfigDefs]); it is omitted when empty. Topic names never
//	    contain '/' (see [ValidateTopicName]).
//
//	<p>/partitions/<topicID hex>/<partition>
//	    [PartitionState] as JSON: {"leader":1,"epoch":3,"replicas":[1,2]}.
//	    <topicID hex> is the topic id as 32 lowercase hex characters, so a
//	    deleted and re-created topic of the same name never sees its
//	    predecessor's epochs. <partition> is plain decimal.
//
//	<p>/manifests/<topicID hex>/<partition>
//	    [Manifest] as JSON: {"segments":[{"object":"..","first":0,"last":99,
//	    "minTs":..,"maxTs":..,"records":100,"bytes":..}]}: the tiered
//	    segments of the partition, in offset order. Written only by
//	    [Store.CommitManifests], which compares each key's ModRevision with
//	    the revision the manifest was read at. Deleted with the topic.
//
//	<p>/groups/<group>/offsets/<topic>/<partition>
//	    A committed offset as JSON: {"offset":42,"leaderEpoch":3,
//	    "metadata":"..","commitTimeMs":T}. <group> is the consumer group id
//	    escaped as a URL path segment (url.PathEscape), so group ids may
//	    contain '/' or any other byte. <partition> is plain decimal.
//
//	<p>/sql/<kind>/<name>
//	    [SQLObject] as JSON: {"kind":"source","name":"PAGEVIEWS",
//	    "statement":"CREATE STREAM …","props":{..},"createdMs":T}: a stream
//	    or table (kind "source") or a persistent query (kind "query") of the
//	    SQL engine, as the statement that made it. <name> is escaped as a URL
//	    path segment.
//
//	<p>/sql/checkpoints/<query>
//	    [SQLCheckpoint] as JSON: {"offsets":{"0":42,"1":7},"stateObject":
//	    "sql/state/<query>/<seq>","seq":3,"updatedMs":T}: the input offsets a
//	    persistent query resumes from and the bucket object holding its
//	    operators' state at that point.
//
//	<p>/producers/next-id
//	    The next unallocated producer id as a plain decimal string (absent
//	    means 0). Producer ids are handed out in blocks by
//	    [Store.AllocateProducerIDs] with a compare-and-swap on this key.
//
// # Transactions and limits
//
// Read-modify-write operations ([Store.UpdateTopic], [Store.ClaimLeadership],
// [Store.AllocateProducerIDs]) use an etcd transaction that compares the
// key's ModRevision and retry on conflict until ctx is done. etcd limits a
// transaction to 128 operations by default (--max-txn-ops), so operations on
// more keys than that ([Store.CommitOffsets] with many partitions, and the
// offset clean-up of [Store.DeleteTopic] across many groups) are split into
// consecutive transactions of at most 128 operations each.
//
// # Embedded etcd
//
// [StartEmbedded] runs a single-member etcd inside the process, for
// "strata dev" and tests; package meta/metatest wraps it for tests of other
// packages.
package meta
