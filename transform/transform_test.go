package transform

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hydrant-io/hydrant/streams/record"
)

func TestRecordIDs_UniqueWithinABatch(t *testing.T) {
	in := []record.Record{{ID: "a"}, {ID: "b"}, {ID: "a"}, {ID: "a"}, {Seq: 7}}
	ids, sub := RecordIDs(in)
	require.Equal(t, []string{"a", "b", "a.1", "a.2", "7"}, ids)
	require.Equal(t, []int{0, 0, 1, 2, 0}, sub)
}

func TestWithOutput_CopiesMetaAndKeepsIdentity(t *testing.T) {
	in := record.Record{ID: "a", Key: "k", Seq: 3, Data: []byte("old"), Meta: map[string]string{"query.x": "1"}}
	out := WithOutput(in, []byte("new"), map[string]string{"team": "t1"})
	require.Equal(t, "new", string(out.Data))
	require.Equal(t, map[string]string{"query.x": "1", record.LambdaKey("team"): "t1"}, out.Meta)
	require.Equal(t, map[string]string{"query.x": "1"}, in.Meta, "the input's Meta is not modified")
	require.Equal(t, in.ID, out.ID)
	require.Equal(t, in.Seq, out.Seq)
	same := WithOutput(in, []byte("x"), nil)
	require.Equal(t, in.Meta, same.Meta)
}
