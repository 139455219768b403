package prefix

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestPrefix_ObjectName(t *testing.T) {
	id := uuid.MustParse("a9fa96af-e4e4-409f-bac3-1f804714faaa")
	at := time.Date(2024, 1, 31, 23, 55, 9, 0, time.UTC)
	require.Equal(t, "mystream-1-2024-01-31-23-55-09-a9fa96af-e4e4-409f-bac3-1f804714faaa.gz",
		ObjectName("mystream", 1, at, id, ".gz"))
	require.Equal(t, "p-12-2024-01-31-23-55-09-"+id.String(), ObjectName("p", 12, at, id, ""))
}

func TestPrefix_BatchUUID(t *testing.T) {
	a := BatchUUID("p", "d", "shardId-000000000000", 1, 10)
	require.Equal(t, a, BatchUUID("p", "d", "shardId-000000000000", 1, 10), "deterministic")
	require.Equal(t, uuid.Version(5), a.Version())
	others := []uuid.UUID{
		BatchUUID("p", "d", "shardId-000000000000", 1, 11),
		BatchUUID("p", "d", "shardId-000000000000", 2, 10),
		BatchUUID("p", "d", "shardId-000000000001", 1, 10),
		BatchUUID("p", "e", "shardId-000000000000", 1, 10),
		BatchUUID("q", "d", "shardId-000000000000", 1, 10),
		BatchUUID("p", "d", "shardId-000000000000", 1, 10, "c=1/"),
		BatchUUID("pd", "", "shardId-000000000000", 1, 10),
	}
	seen := map[uuid.UUID]bool{a: true}
	for _, o := range others {
		require.False(t, seen[o], "collision for %v", o)
		seen[o] = true
	}
}
