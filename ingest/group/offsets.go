package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
)

// OffsetCommit handles OffsetCommit v0-v9. Offsets go to the OffsetStore
// in one call per request; a store error fails the request's partitions
// with COORDINATOR_NOT_AVAILABLE (retriable).
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version

	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	defer func() {
		for i, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			rt.TopicID = t.TopicID
			for j, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	// failValid sets code on every partition that has no error yet.
	failValid := func(e *kerr.Error) *kmsg.OffsetCommitResponse {
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = e.Code
				}
			}
		}
		return resp
	}

	// The broker's API layer rejects unknown partitions before the
	// coordinator sees the request.
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if !c.partitionExists(t.Topic, p.Partition) {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			}
		}
	}
	if req.Group == "" {
		// Kafka accepts an empty group id here; the store does not.
		return failValid(kerr.InvalidGroupID)
	}

	generation, memberID := int32(-1), ""
	if req.Version >= 1 {
		generation, memberID = req.Generation, req.MemberID
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}

	g, err := c.lockGroup(req.Group, false)
	switch {
	case err != nil:
		return failValid(kerr.CoordinatorNotAvailable)
	case g == nil:
		// Not in memory: only a simple (generation < 0) commit, which
		// needs no group in memory.
		if generation >= 0 {
			if req.Version >= 9 {
				return failValid(kerr.GroupIDNotFound)
			}
			return failValid(kerr.IllegalGeneration)
		}
	default:
		kerrr := g.validateCommit(memberID, instanceID, generation)
		g.mu.Unlock()
		if kerrr != nil {
			return failValid(kerrr)
		}
	}

	now := time.Now().UnixMilli()
	var (
		offs []meta.GroupOffset
		at   [][2]int
	)
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if codes[i][j] != 0 {
				continue
			}
			var md string
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if max := c.cfg.OffsetMetadataMaxBytes; max > 0 && len(md) > max {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			epoch := int32(-1)
			if req.Version >= 6 {
				epoch = p.LeaderEpoch
			}
			commitTime := now
			if req.Version == 1 && p.Timestamp != -1 {
				commitTime = p.Timestamp
			}
			offs = append(offs, meta.GroupOffset{
				Topic:        t.Topic,
				Partition:    p.Partition,
				Offset:       p.Offset,
				LeaderEpoch:  epoch,
				Metadata:     md,
				CommitTimeMs: commitTime,
			})
			at = append(at, [2]int{i, j})
		}
	}
	if len(offs) == 0 {
		return resp
	}
	if err := c.store.CommitOffsets(ctx, req.Group, offs); err != nil {
		c.log.Warn("committing group offsets failed", "group", req.Group, "partitions", len(offs), "err", err)
		for _, ij := range at {
			codes[ij[0]][ij[1]] = kerr.CoordinatorNotAvailable.Code
		}
	}
	return resp
}

// validateCommit checks an OffsetCommit against the group, as Kafka's
// ClassicGroup.validateOffsetCommit: a simple commit (generation < 0, no
// member) is allowed only while the group is Empty; a member's commit
// needs a known member of the current generation, outside
// CompletingRebalance.
func (g *group) validateCommit(memberID string, instanceID *string, generation int32) *kerr.Error {
	if generation < 0 && g.state == stateEmpty {
		return nil
	}
	if generation < 0 && memberID == "" && instanceID == nil {
		return kerr.UnknownMemberID
	}
	m, kerrr := g.validateMember(memberID, instanceID, generation)
	if kerrr != nil {
		return kerrr
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress
	}
	g.resetSession(m)
	return nil
}

type fetchTopic struct {
	topic      string
	partitions []int32
}

type fetchedPartition struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	errorCode   int16
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

// fetchGroup reads a group's committed offsets for topics (nil: all).
// Partitions without a commit get offset -1. A non-zero code is a
// group-level error.
func (c *Coordinator) fetchGroup(ctx context.Context, group string, topics []fetchTopic) ([]fetchedTopic, int16) {
	if c.isClosed() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	var offs []meta.GroupOffset
	if group != "" { // the store has no group "": it has no offsets
		var err error
		offs, err = c.store.FetchOffsets(ctx, group)
		if err != nil {
			c.log.Warn("fetching group offsets failed", "group", group, "err", err)
			return nil, kerr.CoordinatorNotAvailable.Code
		}
	}
	toFetched := func(o meta.GroupOffset) fetchedPartition {
		return fetchedPartition{partition: o.Partition, offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata}
	}
	var out []fetchedTopic
	if topics == nil {
		for _, o := range offs { // sorted by topic, partition
			if len(out) == 0 || out[len(out)-1].topic != o.Topic {
				out = append(out, fetchedTopic{topic: o.Topic})
			}
			ft := &out[len(out)-1]
			ft.partitions = append(ft.partitions, toFetched(o))
		}
		return out, 0
	}
	type tp struct {
		t string
		p int32
	}
	byTP := make(map[tp]meta.GroupOffset, len(offs))
	for _, o := range offs {
		byTP[tp{o.Topic, o.Partition}] = o
	}
	for _, t := range topics {
		ft := fetchedTopic{topic: t.topic}
		for _, p := range t.partitions {
			if o, ok := byTP[tp{t.topic, p}]; ok {
				ft.partitions = append(ft.partitions, toFetched(o))
			} else {
				ft.partitions = append(ft.partitions, fetchedPartition{partition: p, offset: -1, leaderEpoch: -1})
			}
		}
		out = append(out, ft)
	}
	return out, 0
}

// OffsetFetch handles OffsetFetch v0-v9 (v8+: several groups). Null topics
// (v2+) means every committed partition. RequireStable (v7+) is accepted:
// there are no pending transactional offsets here.
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = req.Version

	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var topics []fetchTopic
			if rg.Topics != nil {
				topics = make([]fetchTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, fetchTopic{t.Topic, t.Partitions})
				}
			}
			fts, code := c.fetchGroup(ctx, rg.Group, topics)
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			sg.ErrorCode = code
			for _, ft := range fts {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = ft.topic
				for _, fp := range ft.partitions {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition = fp.partition
					sp.Offset = fp.offset
					sp.LeaderEpoch = fp.leaderEpoch
					sp.Metadata = strp(fp.metadata)
					sp.ErrorCode = fp.errorCode
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	}

	topics := make([]fetchTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		topics = append(topics, fetchTopic{t.Topic, t.Partitions})
	}
	if req.Topics == nil && req.Version >= 2 {
		topics = nil
	}
	fts, code := c.fetchGroup(ctx, req.Group, topics)
	if code != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = code
		} else {
			// v0-v1 carry errors per partition only.
			fts = nil
			for _, t := range topics {
				ft := fetchedTopic{topic: t.topic}
				for _, p := range t.partitions {
					ft.partitions = append(ft.partitions, fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, errorCode: code})
				}
				fts = append(fts, ft)
			}
		}
	}
	for _, ft := range fts {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = ft.topic
		for _, fp := range ft.partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition = fp.partition
			sp.Offset = fp.offset
			sp.LeaderEpoch = fp.leaderEpoch
			sp.Metadata = strp(fp.metadata)
			sp.ErrorCode = fp.errorCode
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// OffsetDelete handles OffsetDelete v0. An Empty group's offsets can all be
// deleted; a non-empty "consumer" group's only for topics no member
// subscribes to (else GROUP_SUBSCRIBED_TO_TOPIC); another non-empty group's
// none (NON_EMPTY_GROUP).
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}

	var (
		subscribed    map[string]struct{}
		allSubscribed bool
	)
	g, err := c.lockGroup(req.Group, false)
	switch {
	case err != nil:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	case g == nil:
		offs, err := c.store.FetchOffsets(ctx, req.Group)
		if err != nil {
			c.log.Warn("fetching group offsets failed", "group", req.Group, "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		if len(offs) == 0 {
			resp.ErrorCode = kerr.GroupIDNotFound.Code
			return resp
		}
	default:
		if g.state != stateEmpty {
			if g.protocolType != "consumer" {
				g.mu.Unlock()
				resp.ErrorCode = kerr.NonEmptyGroup.Code
				return resp
			}
			subscribed, allSubscribed = g.consumerSubscriptions()
		}
		g.mu.Unlock()
	}

	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
		var parts []int32
		var at []int
		_, sub := subscribed[t.Topic]
		for j, p := range t.Partitions {
			switch {
			case !c.partitionExists(t.Topic, p.Partition):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case sub || allSubscribed:
				codes[i][j] = kerr.GroupSubscribedToTopic.Code
			default:
				parts = append(parts, p.Partition)
				at = append(at, j)
			}
		}
		if len(parts) == 0 {
			continue // never call DeleteOffsets with no partitions: that deletes the topic's
		}
		if err := c.store.DeleteOffsets(ctx, req.Group, t.Topic, parts); err != nil {
			c.log.Warn("deleting group offsets failed", "group", req.Group, "topic", t.Topic, "err", err)
			for _, j := range at {
				codes[i][j] = kerr.CoordinatorNotAvailable.Code
			}
		}
	}
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
