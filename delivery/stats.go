package delivery

import (
	"sync"
	"time"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

// maxRecentFailures bounds the failure history kept for the dashboard.
const maxRecentFailures = 20

// Stats are the live counters of one destination, read by the status API
// and metrics. All methods are safe for concurrent use.
type Stats struct {
	mu sync.Mutex
	s  StatsSnapshot
	// oldest holds, per shard, the arrival time of the oldest record read
	// but not yet resolved; freshness is the age of the oldest of them.
	oldest map[record.ShardID]time.Time
	// partitions holds, per shard, the number of active partitions.
	partitions map[record.ShardID]int
}

// StatsSnapshot is a copy of a destination's counters. Its JSON (snake_case)
// is part of the status API, docs/status-api.md.
type StatsSnapshot struct {
	DeliveredRecords  int64            `json:"delivered_records"`
	DeliveredBytes    int64            `json:"delivered_bytes"`
	SucceededAttempts int64            `json:"succeeded_attempts"`
	FailedAttempts    int64            `json:"failed_attempts"`
	DroppedRecords    int64            `json:"dropped_records"`
	BackedUpRecords   map[string]int64 `json:"backed_up_records"` // by error output type
	ProcessingCalls   int64            `json:"processing_calls"`
	ProcessingFailed  int64            `json:"processing_failed"`
	// ProcessingTime is left out of the JSON: the status API reports it
	// as processing_seconds, in seconds like its other durations.
	ProcessingTime time.Duration `json:"-"`
	LastDelivery   time.Time     `json:"last_delivery"`
	RecentFailures []Failure     `json:"recent_failures"` // newest last
}

// Failure is one failed attempt, kept for the dashboard. Type is "delivery"
// (a sink write), an error output type (records backed up) or the step
// being retried ("write backup", "commit checkpoint").
type Failure struct {
	At    time.Time `json:"at"`
	Type  string    `json:"type"`
	Error string    `json:"error"`
}

func newStats() *Stats {
	return &Stats{s: StatsSnapshot{BackedUpRecords: map[string]int64{}}, oldest: map[record.ShardID]time.Time{}, partitions: map[record.ShardID]int{}}
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.s
	c.BackedUpRecords = make(map[string]int64, len(s.s.BackedUpRecords))
	for k, v := range s.s.BackedUpRecords {
		c.BackedUpRecords[k] = v
	}
	c.RecentFailures = append([]Failure(nil), s.s.RecentFailures...)
	return c
}

func (s *Stats) addDelivered(b *record.Batch, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s.DeliveredRecords += int64(len(b.Records))
	s.s.DeliveredBytes += b.Bytes()
	s.s.SucceededAttempts++
	s.s.LastDelivery = now
}

func (s *Stats) addFailedAttempt(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s.FailedAttempts++
	s.recordFailureLocked("delivery", err)
}

// addFailure records a failed step other than a sink write (a backup
// write, a checkpoint commit) for the dashboard.
func (s *Stats) addFailure(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordFailureLocked(kind, err)
}

func (s *Stats) recordFailureLocked(kind string, err error) {
	s.keepFailureLocked(Failure{At: time.Now(), Type: kind, Error: err.Error()})
}

// keepFailureLocked appends f to the recent failures, keeping the newest
// maxRecentFailures.
func (s *Stats) keepFailureLocked(f Failure) {
	s.s.RecentFailures = append(s.s.RecentFailures, f)
	if n := len(s.s.RecentFailures); n > maxRecentFailures {
		s.s.RecentFailures = append(s.s.RecentFailures[:0], s.s.RecentFailures[n-maxRecentFailures:]...)
	}
}

func (s *Stats) addDropped(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s.DroppedRecords += int64(n)
}

func (s *Stats) addBackedUp(errorType string, failed []sinks.Failed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s.BackedUpRecords[errorType] += int64(len(failed))
	if len(failed) > 0 { // one entry per backup write is enough for the dashboard
		s.keepFailureLocked(Failure{At: failed[0].Ended, Type: errorType, Error: failed[0].Message})
	}
}

func (s *Stats) observeProcessing(d time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s.ProcessingCalls++
	s.s.ProcessingTime += d
	if !ok {
		s.s.ProcessingFailed++
	}
}

// setShard records the arrival of the oldest unresolved record of a shard
// (the zero time means the shard has nothing pending) and its number of
// active partitions.
func (s *Stats) setShard(shard record.ShardID, oldest time.Time, partitions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if partitions == 0 {
		delete(s.partitions, shard)
	} else {
		s.partitions[shard] = partitions
	}
	if oldest.IsZero() {
		delete(s.oldest, shard)
		return
	}
	s.oldest[shard] = oldest
}

// Partitions is the number of active partitions (buffers) over all shards,
// Firehose's PartitionCount.
func (s *Stats) Partitions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.partitions {
		n += p
	}
	return n
}

// Freshness is the age of the oldest record read but not yet delivered
// (Firehose's DeliveryToS3.DataFreshness); zero when nothing is pending.
func (s *Stats) Freshness(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, t := range s.oldest {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return now.Sub(oldest)
}
