// Package prefix implements Firehose's S3 prefix expression language and the
// object names Hydrant's object sinks write.
//
// A template is literal text with expressions of the form !{namespace:value}:
//
//   - !{timestamp:PATTERN} formats the arrival time of the oldest record in
//     the object with Java DateTimeFormatter letters (see Parse for the list).
//     Every timestamp in one evaluation uses the same instant.
//   - !{partitionKeyFromQuery:K} and !{partitionKeyFromLambda:K} insert a
//     partition key set by a processor. Keys travel in record.Record.Meta under
//     record.QueryKey(K) ("query."+K) and record.LambdaKey(K) ("lambda."+K);
//     processors must use those helpers so the two namespaces never collide.
//   - !{firehose:random-string} inserts 11 random characters, a new value per
//     occurrence (Firehose's form: the first 11 characters of a random UUID).
//   - !{firehose:error-output-type} inserts the error type; only in an error
//     output prefix (Parse with allowErrorType).
//
// # Partition key escaping
//
// Partition key values come from record contents, so they are escaped before
// they are placed in a key and can never climb out of the prefix:
//
//   - the bytes '%', '/', '\\', 0x00-0x1F, 0x7F and any byte that is not part
//     of valid UTF-8 are written as %XX (upper-case hex), so the mapping stays
//     injective and distinct values give distinct prefixes;
//   - a value made only of dots ("." or "..") has every dot written as %2E;
//   - an empty value, or one longer than MaxValueLen bytes, is an error
//     (ErrInvalidValue): the record fails as partition-key-failed rather than
//     landing in a merged or truncated partition.
//
// As a last line of defence Eval rejects (ErrUnsafeKey) any result that
// starts with '/', contains a backslash or control character, contains a ".."
// path segment, or is longer than MaxPrefixLen bytes.
//
// # Time zone
//
// Timestamps are formatted in UTC unless Values.Location says otherwise.
// Week-based fields (YYYY, ww) follow ISO 8601 (weeks start on Monday; week 1
// contains the first Thursday), which is what Java's WeekFields.ISO and most
// non-US locales use; a JVM in the US locale would number weeks differently.
package prefix
