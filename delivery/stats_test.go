package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/sinks"
	"github.com/hydrant-io/hydrant/streams/record"
)

func TestStats_RecentFailuresStayBounded(t *testing.T) {
	s := newStats()
	for i := range 3 * maxRecentFailures {
		s.addBackedUp(record.ProcessingFailed, []sinks.Failed{{Message: fmt.Sprint("backup ", i), Ended: time.Now()}})
		s.addFailedAttempt(errors.New(fmt.Sprint("attempt ", i)))
	}
	snap := s.Snapshot()
	require.Len(t, snap.RecentFailures, maxRecentFailures)
	last := snap.RecentFailures[len(snap.RecentFailures)-1]
	require.Equal(t, fmt.Sprint("attempt ", 3*maxRecentFailures-1), last.Error, "the newest are kept")
	require.EqualValues(t, 3*maxRecentFailures, snap.BackedUpRecords[record.ProcessingFailed])
}
