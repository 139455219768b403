package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// oracleBatch is the SDK input shape, decoded by encoding/json as the oracle.
type oracleBatch struct {
	DeliveryStreamName string
	Records            []struct{ Data []byte }
}

type oracleRecord struct {
	DeliveryStreamName string
	Record             struct{ Data []byte }
}

var batchSeeds = []string{
	`{"DeliveryStreamName":"s","Records":[{"Data":"YmxvYg=="},{"Data":"YmxvYg=="}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":""}]}`,
	` { "deliverystreamname" : "s" , "records" : [ { "data" : "AQID" } ] , "x" : {"a":[1,2.5e3,-0,true,false,null,"\u00e9"]} } `,
	`{"DeliveryStreamName":"a\/b","Records":[{"Data":"Y\/8="}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YW\nJj"}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YWJj\r\n"}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YWJ\u006a"}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YWJj","Data":"ZGVm"}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YQ=="},{"Data":"Yg=="}],"Records":[null,{}]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YQ=="},{"Data":"Yg=="}],"Records":[{}],"Records":[{},{}]}`,
	`{"DeliveryStreamName":"s","Records":null}`,
	`{"DeliveryStreamName":null,"Records":[null]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":null}]}`,
	`null`,
	`{}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YWJj"}]} x`,
	`{"DeliveryStreamName":1}`,
	`{"Records":{}}`,
	`{"Records":[1]}`,
	`{"Records":[{"Data":5}]}`,
	`{"Records":[{"Data":"YWJ"}]}`,
	`{"Records":[{"Data":"YW==YWJj"}]}`,
	`{"Records":[{"Data":"YWJj\"}]}`,
	`{"Records":[{"Data":"\u00ff"}]}`,
	`{"DeliveryStream\u004eame":"s"}`,
	`{"DeliveryStreamName":"\u017f\xff"}`,
	`{"DeliveryStreamName":"s",}`,
	`[1,2]`,
	`{"a":01}`,
	`{"a":"\x01"}`,
	``,
	`{"DeliveryStreamName":"s","Records":[]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YQ=="}],"Records":[]}`,
	`{"DeliveryStreamName":"s","Records":[{"Data":"YWJj"}]`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
}

// checkBatchAgainstOracle is the fuzz property: both accept the same inputs
// and, when they do, yield the same name and records (nil-ness included).
func checkBatchAgainstOracle(t *testing.T, in []byte) {
	var want oracleBatch
	oerr := json.Unmarshal(in, &want)
	var d putDecoder
	name, recs, err := d.decodePutRecordBatch(in)
	if oerr != nil {
		require.Error(t, err, "encoding/json rejects (%v) but we accept", oerr)
		return
	}
	require.NoError(t, err, "encoding/json accepts but we reject")
	require.Equal(t, want.DeliveryStreamName, name)
	require.Len(t, recs, len(want.Records))
	for i := range recs {
		require.Equal(t, want.Records[i].Data == nil, recs[i].Data == nil, "record %d nil-ness", i)
		require.True(t, bytes.Equal(want.Records[i].Data, recs[i].Data), "record %d", i)
	}
}

func TestDecodePutRecordBatch_MatchesEncodingJSON(t *testing.T) {
	for i, s := range batchSeeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkBatchAgainstOracle(t, []byte(s)) })
	}
}

func TestDecodePutRecordBatch_Values(t *testing.T) {
	var d putDecoder
	name, recs, err := d.decodePutRecordBatch([]byte(`{"DeliveryStreamName":"logs","Records":[{"Data":"aGVsbG8="},{"Data":"d29y\/bGQ"},{"Data":""}]}`))
	require.NoError(t, err)
	require.Equal(t, "logs", name)
	require.Len(t, recs, 3)
	require.Equal(t, "hello", string(recs[0].Data))
	want, _ := base64.StdEncoding.DecodeString("d29y/bGQ")
	require.Equal(t, want, recs[1].Data)
	require.NotNil(t, recs[2].Data)
	require.Empty(t, recs[2].Data)
}

func TestDecodePutRecordBatch_ReuseClearsStaleRecords(t *testing.T) {
	var d putDecoder
	_, recs, err := d.decodePutRecordBatch([]byte(`{"Records":[{"Data":"YQ=="},{"Data":"Yg=="}]}`))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	d.release()
	_, recs, err = d.decodePutRecordBatch([]byte(`{"Records":[{},{}]}`))
	require.NoError(t, err)
	require.Nil(t, recs[0].Data)
	require.Nil(t, recs[1].Data)
}

func TestDecodePutRecord_Values(t *testing.T) {
	var d putDecoder
	name, data, err := d.decodePutRecord([]byte(`{"DeliveryStreamName":"s","Record":{"Data":"YmxvYg=="}}`))
	require.NoError(t, err)
	require.Equal(t, "s", name)
	require.Equal(t, "blob", string(data))

	_, data, err = d.decodePutRecord([]byte(`{"DeliveryStreamName":"s"}`))
	require.NoError(t, err)
	require.Nil(t, data)

	_, _, err = d.decodePutRecord([]byte(`{"DeliveryStreamName":"s","Record":{"Data":"!!"}}`))
	require.ErrorContains(t, err, "record.data")
}

func checkRecordAgainstOracle(t *testing.T, in []byte) {
	var want oracleRecord
	oerr := json.Unmarshal(in, &want)
	var d putDecoder
	name, data, err := d.decodePutRecord(in)
	if oerr != nil {
		require.Error(t, err, "encoding/json rejects (%v) but we accept", oerr)
		return
	}
	require.NoError(t, err, "encoding/json accepts but we reject")
	require.Equal(t, want.DeliveryStreamName, name)
	require.Equal(t, want.Record.Data == nil, data == nil)
	require.True(t, bytes.Equal(want.Record.Data, data))
}

func FuzzDecodePutRecordBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkBatchAgainstOracle(t, in) })
}

func FuzzDecodePutRecord(f *testing.F) {
	for _, s := range []string{
		`{"DeliveryStreamName":"s","Record":{"Data":"YmxvYg=="}}`,
		`{"deliveryStreamName":"s","record":{"data":"Y\/8="},"Record":null}`,
		`{"DeliveryStreamName":"s","Record":{"Data":"YQ=="},"Record":{"x":1}}`,
		`{"DeliveryStreamName":"s","Record":[]}`,
		`{"DeliveryStreamName":"s","Record":{"Data":"YQ="}}`,
		`null`, `{}`, `{"Record":{"Data":null}}`, `{"a":[}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkRecordAgainstOracle(t, in) })
}

func TestValidJSON_MatchesEncodingJSON(t *testing.T) {
	for _, s := range append(batchSeeds, `"\ud800"`, `1e`, `-`, `1.`, `0.5E+7`, `tru`, `nul`, `"abc`, `{"a" 1}`, `[1,]`, ` `) {
		require.Equal(t, json.Valid([]byte(s)), validJSON([]byte(s)) == nil, "%q", s)
	}
}

func benchBatchBody(n, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"DeliveryStreamName":"bench","Records":[`)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Data":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(data))
		b.WriteString(`"}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkDecodePutRecordBatch(b *testing.B) {
	body := benchBatchBody(500, 1024)
	var d putDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, recs, err := d.decodePutRecordBatch(body)
		if err != nil || len(recs) != 500 {
			b.Fatal(err)
		}
		d.release()
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodePutRecordBatch_EncodingJSON is the reflective baseline.
func BenchmarkDecodePutRecordBatch_EncodingJSON(b *testing.B) {
	body := benchBatchBody(500, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v oracleBatch
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecode_RecordCapStopsStoringButStillValidates(t *testing.T) {
	var d putDecoder
	d.maxRecords = 2
	body := []byte(`{"DeliveryStreamName":"s","Records":[{},{},{},{"Data":"YQ=="}` + strings.Repeat(`,{}`, 10000) + `]}`)
	_, _, err := d.decodePutRecordBatch(body)
	var tooMany tooManyRecordsError
	require.ErrorAs(t, err, &tooMany)
	require.LessOrEqual(t, cap(d.recs), 2, "records past the cap are never allocated")

	_, _, err = d.decodePutRecordBatch([]byte(`{"Records":[{},{},{},{"Data":` + "\x00" + `}]}`))
	require.Error(t, err)
	require.False(t, errors.As(err, &tooMany), "a syntax error past the cap is still a syntax error")

	_, recs, err := d.decodePutRecordBatch([]byte(`{"Records":[{"Data":"YQ=="},{"Data":"Yg=="}]}`))
	require.NoError(t, err, "at the cap is fine")
	require.Len(t, recs, 2)
}
