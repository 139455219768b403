package streams

import (
	"path/filepath"

	"github.com/hydrant-io/hydrant/streams/record"
	"github.com/hydrant-io/hydrant/streams/wal"
)

// LogDamage sums what the stream's shard logs found damaged and skipped
// since the process started (docs/reliability.md). Regions above zero
// means acknowledged records were lost to a disk or file-system fault:
// every destination reading past them sees a gap, and is degraded.
type LogDamage struct {
	// Regions counts damaged regions skipped; LostRecords the records
	// they held; QuarantinedBytes the bytes copied to quarantine folders.
	Regions          uint64 `json:"damaged_regions"`
	LostRecords      uint64 `json:"lost_records"`
	QuarantinedBytes uint64 `json:"quarantined_bytes"`
	// RepairedTails counts torn tails cut at open: the normal trace of a
	// crash, never acknowledged records, so not damage on their own.
	RepairedTails int `json:"repaired_tails"`
	// Last is the region met last; nil if none.
	Last *ShardDamage `json:"last,omitempty"`
}

// ShardDamage is a damaged region of one shard's log.
type ShardDamage struct {
	Shard record.ShardID `json:"shard"`
	// Quarantine is the folder that holds the copy of the damaged bytes.
	Quarantine string `json:"quarantine"`
	wal.Damage
}

// add counts the damage of one shard log.
func (d *LogDamage) add(id record.ShardID, logDir string, st wal.Stats) {
	d.Regions += st.CorruptFrames
	d.LostRecords += st.LostSeqs
	d.QuarantinedBytes += st.QuarantinedBytes
	d.RepairedTails += st.Repaired
	if st.LastDamage.Segment == "" || (d.Last != nil && !st.LastDamage.At.After(d.Last.At)) {
		return
	}
	d.Last = &ShardDamage{Shard: id, Quarantine: filepath.Join(logDir, wal.QuarantineDir), Damage: st.LastDamage}
}

// merge adds o's counts to d and keeps the later Last.
func (d *LogDamage) merge(o LogDamage) {
	d.Regions += o.Regions
	d.LostRecords += o.LostRecords
	d.QuarantinedBytes += o.QuarantinedBytes
	d.RepairedTails += o.RepairedTails
	if o.Last != nil && (d.Last == nil || o.Last.At.After(d.Last.At)) {
		d.Last = o.Last
	}
}
