package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hydrant-io/hydrant/streams"
	"github.com/hydrant-io/hydrant/streams/delivery"
)

// pipelineStatus is the JSON of GET /v1/pipelines/{name}.
type pipelineStatus struct {
	Name         string              `json:"name"`
	Incoming     incomingStatus      `json:"incoming"`
	Shards       []streams.ShardInfo `json:"shards"`
	Destinations []destinationStatus `json:"destinations"`
}

// incomingStatus counts what the pipeline's stream accepted (durable).
type incomingStatus struct {
	Records uint64 `json:"records"`
	Bytes   uint64 `json:"bytes"`
}

type destinationStatus struct {
	Name             string                 `json:"name"`
	Type             string                 `json:"type"`
	FreshnessSeconds float64                `json:"data_freshness_seconds"`
	Partitions       int                    `json:"active_partitions"`
	Backlog          []streams.ShardBacklog `json:"backlog"`
	Stats            delivery.StatsSnapshot `json:"stats"`
}

func (a *app) status(p *pipeline) pipelineStatus {
	ss := p.stream.Stats()
	st := pipelineStatus{Name: p.name, Shards: p.stream.Shards(), Incoming: incomingStatus{Records: ss.AppendedRecords, Bytes: ss.AppendedBytes}}
	now := time.Now()
	for _, d := range p.cfg.Destinations {
		ds := destinationStatus{Name: d.Name, Type: d.Type, Backlog: p.stream.Backlog(d.Name)}
		if s := p.delivery.Stats(d.Name); s != nil {
			ds.Stats = s.Snapshot()
			ds.FreshnessSeconds = s.Freshness(now).Seconds()
			ds.Partitions = s.Partitions()
		}
		st.Destinations = append(st.Destinations, ds)
	}
	return st
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
