package columnar

import (
	"context"
	"errors"
	"fmt"

	"github.com/hydrant-io/hydrant/sinks"
	streamrecord "github.com/hydrant-io/hydrant/streams/record"
)

// ConversionFailed marks a record's conversion error for the backup
// under format-conversion-failed. It is permanent: a retry converts the
// record the same way.
func ConversionFailed(err error) error {
	return sinks.Permanent(streamrecord.WithErrorType(err, streamrecord.FormatConversionFailed))
}

// WriteRecords converts recs[i].Data for each i of idx, in order, into w.
// A record that does not fit the schema is left out and noted in failed
// (ConversionFailed); any other error, or ctx ending, is returned and the
// file is unusable.
func WriteRecords(ctx context.Context, w *Writer, recs []streamrecord.Record, idx []int, failed map[int]error) error {
	for _, i := range idx {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		err := w.Write(recs[i].Data)
		var ce *ConversionError
		switch {
		case errors.As(err, &ce):
			failed[i] = ConversionFailed(err)
		case err != nil:
			return fmt.Errorf("convert record %d: %w", i, err)
		}
	}
	return nil
}
