package lambda

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/goleak"
)

// The handlers below are ordinary Firehose transformation Lambdas written
// with aws-lambda-go's own types and invoked through its own handler
// wrapper, so the tests exercise the contract as AWS's library defines it.

// upperHandler upper-cases each record and sets a partition key from the
// record's "customer" field (and "pid" to the serving process). Records
// with "drop":true are Dropped; with "fail":true, ProcessingFailed.
func upperHandler(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	var out events.KinesisFirehoseResponse
	for _, r := range ev.Records {
		var doc struct {
			Customer   string
			Drop, Fail bool
		}
		_ = json.Unmarshal(r.Data, &doc)
		rr := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID}
		switch {
		case doc.Drop:
			rr.Result = events.KinesisFirehoseTransformedStateDropped
		case doc.Fail:
			rr.Result = events.KinesisFirehoseTransformedStateProcessingFailed
			rr.Data = r.Data
		default:
			rr.Result = events.KinesisFirehoseTransformedStateOk
			rr.Data = bytes.ToUpper(r.Data)
			rr.Metadata.PartitionKeys = map[string]string{"customer": doc.Customer, "pid": strconv.Itoa(os.Getpid())}
		}
		out.Records = append(out.Records, rr)
	}
	return out, nil
}

// passHandler returns every record unchanged.
func passHandler(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	out := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, len(ev.Records))}
	for i, r := range ev.Records {
		out.Records[i] = events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk, Data: r.Data}
	}
	return out, nil
}

// envHandler answers every record with the child's environment, one
// variable a line.
func envHandler(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	env := []byte(strings.Join(os.Environ(), "\n"))
	out := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, len(ev.Records))}
	for i, r := range ev.Records {
		out.Records[i] = events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk, Data: env}
	}
	return out, nil
}

// failingHandler is a function that errors, as a Lambda can.
func failingHandler(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	return events.KinesisFirehoseResponse{}, fmt.Errorf("table not found")
}

// lambdaFront serves a handler the way the Lambda runtime interface
// emulator does: the body is the event; a function error is a 200 with
// errorMessage and errorType.
func lambdaFront(h awslambda.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := h.Invoke(r.Context(), body)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
			return
		}
		_, _ = w.Write(out)
	})
}

func newFront(t testing.TB, handler any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(lambdaFront(awslambda.NewHandler(handler)))
	t.Cleanup(srv.Close)
	return srv
}

// childEnv selects the child mode when the test binary runs as an exec
// processor (see TestMain). The child inherits nothing else of the test's
// environment, so tests pass it through ExecConfig.Env.
const childEnv = "HYDRANT_LAMBDA_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	// Every goroutine the package starts (exec readers, waiters) is
	// stopped by its owner.
	goleak.VerifyTestMain(m)
}

// runChild is an exec processor: one event per stdin line, one response
// per stdout line, served by upperHandler unless the mode says otherwise.
func runChild(mode string) int {
	h := awslambda.NewHandler(upperHandler)
	switch mode {
	case "pass":
		h = awslambda.NewHandler(passHandler)
	case "env":
		h = awslambda.NewHandler(envHandler)
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for n := 1; ; n++ {
		line, err := in.ReadBytes('\n')
		if err != nil {
			return 0 // stdin closed: a clean stop
		}
		switch {
		case mode == "hang":
			select {} // never answers
		case mode == "crash" && n == 2:
			fmt.Fprintln(os.Stderr, "child: giving up on batch 2")
			return 3
		case mode == "garbage":
			fmt.Fprintln(out, "this is not JSON")
			_ = out.Flush()
			continue
		case mode == "stderr":
			fmt.Fprintf(os.Stderr, "child: batch %d\n", n)
		case mode == "chatty":
			fmt.Fprintln(out, "debug: got a batch") // not part of the contract
		case mode == "slow":
			time.Sleep(800 * time.Millisecond) // a slow handler, not test synchronisation
		}
		resp, err := h.Invoke(context.Background(), line)
		if err != nil {
			return 4
		}
		_, _ = out.Write(resp)
		_ = out.WriteByte('\n')
		_ = out.Flush()
	}
}
