package messagestore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// metadataCases are metadata texts whose decoding must equal json.Unmarshal's: the shapes jsonb
// returns, and the ones where decodeMetadata must give up its fast path.
var metadataCases = []string{
	`{}`,
	`{"traceId": "t", "userId": "u"}`,
	`{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11", "userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3"}`,
	`{"userId": "u", "traceId": "t", "originStreamName": "o-1", "correlationStreamName": "c-1", "causationMessageId": "id", "causationMessagePosition": 3, "causationMessageStreamName": "s-1", "causationMessageGlobalPosition": 123456789012}`,
	`{"causationMessagePosition": -0, "causationMessageGlobalPosition": 9223372036854775807}`,
	`{"causationMessagePosition": 9223372036854775808}`,
	`{"causationMessagePosition": 1.0}`,
	`{"causationMessagePosition": 1e3}`,
	`{"causationMessagePosition": "3"}`,
	`{"causationMessagePosition": null, "traceId": null}`,
	`{"traceId": 5, "userId": "u"}`,
	`{"traceId": "a\"b", "userId": "u"}`,
	`{"traceId": "caf\u00e9", "userId": "é"}`,
	"{\"traceId\": \"\xff\"}",
	`{"TraceId": "x", "userid": "y"}`,
	"{\"traceI\u212a\": \"kelvin\"}",
	`{"other": {"a": [1, 2, {"b": "c\"}"}], "d": null}, "traceId": "t", "list": [], "o": {}, "n": -1.5e-3, "t": true, "f": false}`,
	`{"a": "x\\"}`,
	` { "traceId" : "t" , "userId":"u" } `,
	`{"traceId": "t", "traceId": "u"}`,
	`{"traceId": "t",}`,
	`{"traceId": "t"`,
	`{"traceId" "t"}`,
	`[]`,
	`"text"`,
	`12`,
	`{"traceId": "t"} x`,
	`{"n": 01}`,
	`{"causationMessagePosition": 01}`,
	`{"traceId": "line` + "\n" + `"}`,
}

func checkMetadata(t *testing.T, text string) {
	t.Helper()
	var want, got Metadata
	_ = json.Unmarshal([]byte(text), &want)
	decodeMetadata([]byte(text), &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeMetadata(%q) = %+v, json.Unmarshal gives %+v", text, got, want)
	}
}

func TestDecodeMetadataMatchesUnmarshal(t *testing.T) {
	for _, c := range metadataCases {
		checkMetadata(t, c)
	}
}

func FuzzDecodeMetadata(f *testing.F) {
	for _, c := range metadataCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkMetadata(t, text)
	})
}

func BenchmarkDecodeMetadata(b *testing.B) {
	md := []byte(`{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11", "userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3", "correlationStreamName": "viewing-1"}`)
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			var m Metadata
			decodeMetadata(md, &m)
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for range b.N {
			var m Metadata
			_ = json.Unmarshal(md, &m)
		}
	})
}
