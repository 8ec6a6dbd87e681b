package templates

import (
	"context"
	"strings"
	"testing"

	"videotutorials/viewdata"
)

// A stream or a category of one message says "1 message", not "1 messages" (as the video pages say
// "1 view").
func TestAdminCountsOfOneMessageAreSingular(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{1, "1 message "}, {2, "2 messages "}, {0, "0 messages "}} {
		var stream, category strings.Builder
		if err := AdminStreamPage(Page{Title: "s"}, viewdata.AdminStreamView{
			Stream: viewdata.AdminStream{StreamName: "thing-1", Category: "thing", MessageCount: tc.n},
		}).Render(context.Background(), &stream); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stream.String(), tc.want+"in category") {
			t.Errorf("stream of %d: no %q in\n%s", tc.n, tc.want+"in category", stream.String())
		}
		if err := AdminStreamsPage(Page{Title: "c"}, viewdata.AdminStreamsView{
			Category: &viewdata.AdminCategory{Category: "thing", MessageCount: tc.n},
		}).Render(context.Background(), &category); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(tc.want) + "."; !strings.Contains(category.String(), want) {
			t.Errorf("category of %d: no %q in\n%s", tc.n, want, category.String())
		}
	}
}
