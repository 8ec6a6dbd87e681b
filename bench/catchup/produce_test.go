package catchup

import (
	"testing"

	"videotutorials/messagestore"
)

// TestProduceMix checks the generator without a database: the mix of categories, chunks no larger
// than a write_messages call takes, and every stream's messages in the order of its events (its
// chunks come one after the other, the video streams start with VideoPublished).
func TestProduceMix(t *testing.T) {
	const n, nVideos = 25_000, 10 // 2,000 viewings and up to 249 video events per video: several rounds
	counts := map[string]int{}
	perStream := map[string][]string{}
	chunks := 0
	err := produce(n, nVideos, func(c *chunk) error {
		chunks++
		if len(c.ids) == 0 || len(c.ids) > chunkSize {
			t.Fatalf("chunk of %d messages for %s", len(c.ids), c.stream)
		}
		if len(c.types) != len(c.ids) || len(c.data) != len(c.ids) || len(c.m) != len(c.ids) {
			t.Fatalf("chunk for %s has columns of different lengths", c.stream)
		}
		counts[messagestore.Category(c.stream)] += len(c.ids)
		perStream[c.stream] = append(perStream[c.stream], c.types...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"viewing": 20_000, "identity": 2_500, "videoPublishing": 2_490, "videoPublishing:command": 10}
	for cat, w := range want {
		if counts[cat] != w {
			t.Errorf("%s: %d messages, want %d", cat, counts[cat], w)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("categories %v, want %v", counts, want)
	}
	for stream, types := range perStream {
		switch messagestore.Category(stream) {
		case "viewing":
			if len(types) != n*8/10/nVideos {
				t.Errorf("%s: %d viewings, want them spread evenly", stream, len(types))
			}
		case "videoPublishing":
			if types[0] != "VideoPublished" {
				t.Errorf("%s starts with %s", stream, types[0])
			}
		}
	}
	t.Logf("%d chunks, %d streams", chunks, len(perStream))
}
