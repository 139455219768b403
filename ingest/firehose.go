package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hydrant-io/hydrant/ingest/api"
	"github.com/hydrant-io/hydrant/streams/record"
)

// The Firehose door: AWS JSON 1.1 over POST /, dispatched by X-Amz-Target.
//
// Error choices: undecodable bodies (malformed JSON, wrong member types, bad
// base64) answer 400 SerializationException, as AWS JSON front ends do;
// well-formed requests that break a constraint (limits, missing or invalid
// members) answer 400 InvalidArgumentException with AWS-style messages; a
// body over the size limit answers 413 RequestEntityTooLargeException.

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

func (s *Server) serveFirehose(w http.ResponseWriter, r *http.Request) {
	needsSigV4, e := s.authenticate(r)
	if e != nil {
		s.writeError(w, r, api.ContentType, e)
		return
	}
	st := s.state()
	defer s.release(st)
	var err error
	st.body, err = readBody(metered{s, st, r.Body}, st.body, r.ContentLength, s.firehoseLimit)
	if err != nil {
		switch {
		case errors.Is(err, errBodyTooLarge):
			s.writeError(w, r, api.ContentType, tooLarge("Request body exceeds %d bytes", s.firehoseLimit))
			return
		case errors.Is(err, errBusy):
			s.writeError(w, r, api.ContentType, busy())
			return
		}
		s.writeError(w, r, api.ContentType, decodeError("Could not read request body: %v", err))
		return
	}
	if needsSigV4 {
		if e := s.verifySigV4(r, st.body); e != nil {
			s.writeError(w, r, api.ContentType, e)
			return
		}
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), api.TargetPrefix)
	switch {
	case !ok:
		e = &apiError{status: http.StatusBadRequest, code: api.ErrUnknownOperation,
			msg: "Missing or unknown X-Amz-Target; expected " + api.TargetPrefix + "<Operation>"}
	case op == api.OpPutRecordBatch:
		e = s.putRecordBatch(w, r, st)
	case op == api.OpPutRecord:
		e = s.putRecord(w, r, st)
	case op == api.OpListDeliveryStreams:
		e = s.listDeliveryStreams(w, st.body)
	case op == api.OpDescribeDeliveryStream:
		e = s.describeDeliveryStream(w, st.body)
	default:
		e = &apiError{status: http.StatusBadRequest, code: api.ErrUnknownOperation,
			msg: fmt.Sprintf("Operation %q is not supported by Hydrant (pipelines are defined in its configuration file)", op)}
	}
	if e != nil {
		s.writeError(w, r, api.ContentType, e)
	}
}

func validateStreamName(name string) *apiError {
	if name == "" {
		return invalidArg("1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null")
	}
	if !streamNameRE.MatchString(name) {
		return invalidArg("1 validation error detected: Value '%s' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 64", name)
	}
	return nil
}

// validateBatch applies the PutRecordBatch limits.
func (s *Server) validateBatch(recs []record.Record) *apiError {
	if len(recs) == 0 {
		return invalidArg("1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if int64(len(recs)) > s.lim.MaxRecordsPerRequest {
		return invalidArg("1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to %d", s.lim.MaxRecordsPerRequest)
	}
	var total int64
	for i := range recs {
		if d := recs[i].Data; d == nil || int64(len(d)) > s.lim.MaxRecordBytes { // format the path only on failure
			return s.validateData(d, fmt.Sprintf("records.%d.member.data", i+1))
		}
		total += int64(len(recs[i].Data))
	}
	if total > s.lim.MaxBatchDataBytes {
		return invalidArg("Records size exceeds %s limit", sizeText(s.lim.MaxBatchDataBytes))
	}
	return nil
}

func (s *Server) validateData(data []byte, path string) *apiError {
	if data == nil {
		return invalidArg("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", path)
	}
	if int64(len(data)) > s.lim.MaxRecordBytes {
		return invalidArg("1 validation error detected: Value '<%d bytes>' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", len(data), path, s.lim.MaxRecordBytes)
	}
	return nil
}

// sizeText renders a byte limit the way Firehose's messages do ("4 MB").
func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (s *Server) putRecordBatch(w http.ResponseWriter, r *http.Request, st *reqState) *apiError {
	defer st.dec.release()
	st.dec.maxRecords = int(s.lim.MaxRecordsPerRequest)
	name, recs, err := st.dec.decodePutRecordBatch(st.body)
	var tooMany tooManyRecordsError
	if errors.As(err, &tooMany) {
		return invalidArg("%s", tooMany.Error())
	}
	if err != nil {
		return asAPIError(err)
	}
	if e := validateStreamName(name); e != nil {
		return e
	}
	if e := s.validateBatch(recs); e != nil {
		return e
	}
	now := s.now()
	for i := range recs {
		recs[i].Arrived = now
	}
	if err := s.streams.Append(r.Context(), name, recs); err != nil {
		return s.appendError(r, name, err, http.StatusBadRequest)
	}
	out := append(st.out[:0], `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[`...)
	for i := range recs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"RecordId":`...)
		out = appendJSONString(out, recs[i].ID)
		out = append(out, '}')
	}
	out = append(out, "]}"...)
	st.out = out
	writeBody(w, api.ContentType, out)
	return nil
}

func (s *Server) putRecord(w http.ResponseWriter, r *http.Request, st *reqState) *apiError {
	defer st.dec.release()
	name, data, err := st.dec.decodePutRecord(st.body)
	if err != nil {
		return asAPIError(err)
	}
	if e := validateStreamName(name); e != nil {
		return e
	}
	if e := s.validateData(data, "record.data"); e != nil {
		return e
	}
	st.dec.recs = append(st.dec.recs[:0], record.Record{Data: data, Arrived: s.now()})
	recs := st.dec.recs
	if err := s.streams.Append(r.Context(), name, recs); err != nil {
		return s.appendError(r, name, err, http.StatusBadRequest)
	}
	out := append(st.out[:0], `{"RecordId":`...)
	out = appendJSONString(out, recs[0].ID)
	out = append(out, `,"Encrypted":false}`...)
	st.out = out
	writeBody(w, api.ContentType, out)
	return nil
}

func asAPIError(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return decodeError("%v", err)
}

// decodeControl decodes a control-plane body with encoding/json (not on the
// hot path). An empty body counts as {}.
func decodeControl(body []byte, v any) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return decodeError("Malformed request body: %v", err)
	}
	return nil
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) *apiError {
	body, err := json.Marshal(v)
	if err != nil {
		return &apiError{status: http.StatusInternalServerError, code: api.ErrInternalFailure, msg: err.Error()}
	}
	writeBody(w, api.ContentType, body)
	return nil
}

func (s *Server) listDeliveryStreams(w http.ResponseWriter, body []byte) *apiError {
	var in api.ListDeliveryStreamsInput
	if e := decodeControl(body, &in); e != nil {
		return e
	}
	limit := 10
	if in.Limit != nil {
		limit = *in.Limit
		if limit < 1 || limit > 10000 {
			return invalidArg("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", limit)
		}
	}
	names := []string{}
	if in.DeliveryStreamType == "" || in.DeliveryStreamType == "DirectPut" {
		all := slices.Clone(s.streams.List())
		slices.Sort(all)
		for _, n := range all {
			if in.ExclusiveStartDeliveryStreamName == "" || n > in.ExclusiveStartDeliveryStreamName {
				names = append(names, n)
			}
		}
	}
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	return s.writeJSON(w, api.ListDeliveryStreamsOutput{DeliveryStreamNames: names, HasMoreDeliveryStreams: more})
}

func (s *Server) describeDeliveryStream(w http.ResponseWriter, body []byte) *apiError {
	var in api.DescribeDeliveryStreamInput
	if e := decodeControl(body, &in); e != nil {
		return e
	}
	if e := validateStreamName(in.DeliveryStreamName); e != nil {
		return e
	}
	limit := 10000
	if in.Limit != nil {
		limit = *in.Limit
		if limit < 1 || limit > 10000 {
			return invalidArg("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", limit)
		}
	}
	info, err := s.streams.Describe(in.DeliveryStreamName)
	if errors.Is(err, record.ErrStreamNotFound) {
		return streamNotFound(in.DeliveryStreamName, http.StatusBadRequest)
	}
	if err != nil {
		return &apiError{status: http.StatusInternalServerError, code: api.ErrInternalFailure, msg: err.Error()}
	}
	dests := []api.DestinationDescription{}
	started := in.ExclusiveStartDestinationID == ""
	more := false
	for i, d := range info.Destinations {
		id := fmt.Sprintf("destinationId-%012d", i+1)
		if !started {
			started = id == in.ExclusiveStartDestinationID
			continue
		}
		if len(dests) == limit {
			more = true
			break
		}
		dests = append(dests, s.describeDestination(id, info.Name, d))
	}
	version := info.VersionID
	if version == "" {
		version = "1"
	}
	return s.writeJSON(w, api.DescribeDeliveryStreamOutput{DeliveryStreamDescription: api.DeliveryStreamDescription{
		DeliveryStreamName:   info.Name,
		DeliveryStreamARN:    api.DeliveryStreamARN(s.region, info.Name),
		DeliveryStreamStatus: "ACTIVE",
		DeliveryStreamType:   "DirectPut",
		VersionID:            version,
		CreateTimestamp:      api.EpochSeconds(info.Created),
		LastUpdateTimestamp:  api.EpochSeconds(info.Created),
		Encryption:           &api.EncryptionDescription{Status: "DISABLED"},
		Destinations:         dests,
		HasMoreDestinations:  more,
	}})
}

func (s *Server) describeDestination(id, stream string, d DestinationInfo) api.DestinationDescription {
	hints := api.BufferingHints{SizeInMBs: 5, IntervalInSeconds: 300}
	if d.BufferBytes > 0 {
		hints.SizeInMBs = int(max((d.BufferBytes+(1<<20)-1)>>20, 1))
	}
	if d.BufferInterval > 0 {
		hints.IntervalInSeconds = int(max(d.BufferInterval/time.Second, 1))
	}
	if d.Type == "http" {
		return api.DestinationDescription{DestinationID: id, HTTPEndpointDestinationDescription: &api.HTTPEndpointDestinationDescription{
			EndpointConfiguration: api.HTTPEndpointDescription{URL: d.URL, Name: d.Name},
			BufferingHints:        hints,
			S3BackupMode:          "FailedDataOnly",
		}}
	}
	bucket := d.Bucket
	if bucket == "" { // non-object destinations still need Firehose's required members
		bucket = "hydrant-" + stream + "-" + d.Name
	}
	s3 := api.S3DestinationDescription{
		RoleARN:                 fmt.Sprintf("arn:aws:iam::%s:role/hydrant", api.AccountID),
		BucketARN:               "arn:aws:s3:::" + bucket,
		Prefix:                  d.Prefix,
		ErrorOutputPrefix:       d.ErrorPrefix,
		BufferingHints:          hints,
		CompressionFormat:       compressionFormat(d.Compression),
		EncryptionConfiguration: api.EncryptionConfiguration{NoEncryptionConfig: "NoEncryption"},
	}
	return api.DestinationDescription{
		DestinationID:                    id,
		S3DestinationDescription:         &s3,
		ExtendedS3DestinationDescription: &api.ExtendedS3DestinationDescription{S3DestinationDescription: s3, S3BackupMode: "Disabled"},
	}
}

func compressionFormat(c string) string {
	switch strings.ToLower(c) {
	case "", "none", "uncompressed":
		return "UNCOMPRESSED"
	case "gzip":
		return "GZIP"
	case "zip":
		return "ZIP"
	case "snappy":
		return "Snappy"
	case "hadoop_snappy":
		return "HADOOP_SNAPPY"
	default:
		return strings.ToUpper(c)
	}
}
