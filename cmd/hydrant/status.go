package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hydrant-io/hydrant/delivery"
	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/record"
)

// pipelineStatus is the JSON of GET /v1/pipelines/{name}; GET /v1/pipelines
// lists them under "pipelines". Every field name is snake_case, durations
// are float seconds (suffix _seconds) and times RFC 3339 strings; each field
// is documented in docs/status-api.md (status_test.go checks both).
type pipelineStatus struct {
	Name string `json:"name"`
	// Node names this node on the JetStream backend (absent on the local log).
	Node     string              `json:"node,omitempty"`
	Incoming incomingStatus      `json:"incoming"`
	Shards   []streams.ShardInfo `json:"shards"`
	// LogDamage is what the stream's log found damaged and skipped.
	LogDamage    streams.LogDamage   `json:"log_damage"`
	Destinations []destinationStatus `json:"destinations"`
}

// incomingStatus counts what the pipeline's stream accepted (durable).
type incomingStatus struct {
	Records uint64 `json:"records"`
	Bytes   uint64 `json:"bytes"`
}

type destinationStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// State is "ok" or "degraded"; StateReason says why it is degraded.
	State            string                 `json:"state"`
	StateReason      string                 `json:"state_reason"`
	FreshnessSeconds float64                `json:"data_freshness_seconds"`
	Partitions       int                    `json:"active_partitions"`
	Backlog          []streams.ShardBacklog `json:"backlog"`
	// Leases are the shards this node delivers for the destination on the
	// JetStream backend (absent on the local log, or when it holds none).
	Leases []record.ShardID `json:"leases,omitempty"`
	Stats  destinationStats `json:"stats"`
}

// destinationStats are a destination's counters, with the processing time
// in seconds (the snapshot's time.Duration is not in its JSON).
type destinationStats struct {
	delivery.StatsSnapshot
	ProcessingSeconds float64 `json:"processing_seconds"`
}

func (a *app) status(p *pipeline) pipelineStatus {
	ss := p.stream.Stats()
	st := pipelineStatus{Name: p.name, Node: a.node(), Shards: p.stream.Shards(), LogDamage: ss.Damage,
		Incoming: incomingStatus{Records: ss.AppendedRecords, Bytes: ss.AppendedBytes}}
	now := time.Now()
	state, reason := "ok", degradedReason(ss.Damage)
	if reason != "" {
		state = "degraded"
	}
	for _, d := range p.cfg.Destinations {
		// Lists are [] rather than null when empty.
		ds := destinationStatus{Name: d.Name, Type: d.Type, State: state, StateReason: reason, Backlog: p.stream.Backlog(d.Name)}
		if ds.Backlog == nil {
			ds.Backlog = []streams.ShardBacklog{}
		}
		if a.cluster != nil {
			ds.Leases = a.cluster.Held(p.name, d.Name)
		}
		if s := p.delivery.Stats(d.Name); s != nil {
			snap := s.Snapshot()
			if snap.RecentFailures == nil {
				snap.RecentFailures = []delivery.Failure{}
			}
			ds.Stats = destinationStats{StatsSnapshot: snap, ProcessingSeconds: snap.ProcessingTime.Seconds()}
			ds.FreshnessSeconds = s.Freshness(now).Seconds()
			ds.Partitions = s.Partitions()
		}
		st.Destinations = append(st.Destinations, ds)
	}
	return st
}

// degradedReason says why the destinations of a stream whose log skipped
// damaged records are degraded; "" when it skipped none. The damage is in
// the stream every destination reads, so it touches all of them.
func degradedReason(d streams.LogDamage) string {
	if d.Regions == 0 {
		return ""
	}
	msg := fmt.Sprintf("the stream log skipped %d damaged region(s) holding %d acknowledged record(s)", d.Regions, d.LostRecords)
	if l := d.Last; l != nil {
		msg += fmt.Sprintf("; last in shard %s, segment %s at offset %d (%s), a copy in %s",
			l.Shard, l.Segment, l.Offset, l.Reason, l.Quarantine)
	}
	return msg
}

func (a *app) servePipelines(w http.ResponseWriter, _ *http.Request) {
	out := make([]pipelineStatus, 0, len(a.pipelines))
	for _, p := range a.pipelines {
		out = append(out, a.status(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
}

func (a *app) servePipeline(w http.ResponseWriter, r *http.Request) {
	p, ok := a.byName[r.PathValue("name")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"__type": "ResourceNotFoundException", "message": "pipeline " + r.PathValue("name") + " not found"})
		return
	}
	writeJSON(w, http.StatusOK, a.status(p))
}

// serveCluster answers GET /v1/cluster: on the JetStream backend, every
// live node and who holds which lease, as the key-value store has it now.
func (a *app) serveCluster(w http.ResponseWriter, r *http.Request) {
	if a.cluster == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"__type": "ResourceNotFoundException", "message": "no cluster: this server keeps its streams in its local log (server.stream_backend)"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	v, err := a.cluster.Cluster(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"__type": "ServiceUnavailableException", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// node is this node's name on the JetStream backend, "" on the local log.
func (a *app) node() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.Node()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
