package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hydrant-io/hydrant/ingest"
	"github.com/hydrant-io/hydrant/streams/record"
)

// Routing of the doors to the streams: the app is the ingest.Streams the
// doors append to.

var _ ingest.Streams = (*app)(nil)

// Append implements ingest.Streams.
func (a *app) Append(ctx context.Context, stream string, recs []record.Record) error {
	p, ok := a.byName[stream]
	if !ok {
		return record.ErrStreamNotFound
	}
	if a.stopping.Load() {
		a.metrics.throttled.WithLabelValues(stream).Add(float64(len(recs)))
		return fmt.Errorf("shutting down: %w", record.ErrBackpressure)
	}
	if p.key != nil {
		for i := range recs {
			if recs[i].Key == "" {
				recs[i].Key = p.key.eval(recs[i].Data)
			}
		}
	}
	err := p.stream.Append(ctx, recs)
	switch {
	case err == nil:
		var n int
		for i := range recs {
			n += len(recs[i].Data)
		}
		a.metrics.incomingRecords.WithLabelValues(stream).Add(float64(len(recs)))
		a.metrics.incomingBytes.WithLabelValues(stream).Add(float64(n))
		a.metrics.incomingPuts.WithLabelValues(stream).Inc()
	case errors.Is(err, record.ErrBackpressure):
		a.metrics.throttled.WithLabelValues(stream).Add(float64(len(recs)))
	}
	return err
}

// List implements ingest.Streams.
func (a *app) List() []string {
	names := make([]string, len(a.pipelines))
	for i, p := range a.pipelines {
		names[i] = p.name
	}
	return names
}

// Describe implements ingest.Streams.
func (a *app) Describe(stream string) (ingest.StreamInfo, error) {
	p, ok := a.byName[stream]
	if !ok {
		return ingest.StreamInfo{}, record.ErrStreamNotFound
	}
	info := ingest.StreamInfo{Name: p.name, VersionID: strconv.Itoa(pipelineVersion), Created: a.started}
	for _, d := range p.cfg.Destinations {
		info.Destinations = append(info.Destinations, ingest.DestinationInfo{
			Name: d.Name, Type: d.Type, Bucket: d.Bucket, Prefix: d.Prefix, ErrorPrefix: d.ErrorOutputPrefix,
			URL: d.URL, BufferBytes: int64(d.Buffer.Size), BufferInterval: time.Duration(d.Buffer.Interval),
			Compression: d.Compression,
		})
	}
	return info, nil
}
