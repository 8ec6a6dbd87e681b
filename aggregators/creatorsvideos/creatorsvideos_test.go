package creatorsvideos

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

var ctx = context.Background()

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// positions hands out global positions that grow across the test binary.
var positions atomic.Int64

func init() { positions.Store(time.Now().UnixMilli()) }

type event struct {
	topic, name, data string
}

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Publish(topic, name, data string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{topic, name, data})
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func newAggregator() (*Aggregator, *recorder) {
	r := &recorder{}
	return New(Deps{DB: testdb.Pool(), Logger: quiet, Live: r}), r
}

// msg builds a message as a subscription hands it over: the next global position, the stream's
// category decides which subscription reads it.
func msg(t *testing.T, stream string, data any, at time.Time) messagestore.Message {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return messagestore.Message{ID: uuid.NewString(), StreamName: stream, Type: messagestore.TypeName(data),
		GlobalPosition: positions.Add(1), Data: raw, Time: at}
}

// row is every column of a row, watermarks included, for comparing tables.
type row struct {
	ID, Owner, Name, Description, Source, Transcoded, Poster, Status, Reason string
	Views                                                                    int64
	Uploaded                                                                 time.Time
	Position, Upload, StatusPos, NamePos, DescPos, ViewsPos                  int64
}

func load(t *testing.T, id string) row {
	t.Helper()
	var r row
	var uploaded *time.Time
	err := testdb.Pool().QueryRow(ctx, `SELECT id::text, coalesce(owner_id::text, ''), name, description,
		coalesce(source_uri, ''), coalesce(transcoded_uri, ''), coalesce(poster_uri, ''), status,
		coalesce(failure_reason, ''), views, uploaded_at, position, upload_position, status_position,
		name_position, description_position, views_position
		FROM creators_portal_videos WHERE id = $1`, id).Scan(&r.ID, &r.Owner, &r.Name, &r.Description,
		&r.Source, &r.Transcoded, &r.Poster, &r.Status, &r.Reason, &r.Views, &uploaded, &r.Position, &r.Upload,
		&r.StatusPos, &r.NamePos, &r.DescPos, &r.ViewsPos)
	if err != nil {
		t.Fatalf("row %s: %v", id, err)
	}
	if uploaded != nil {
		r.Uploaded = uploaded.UTC()
	}
	return r
}

// history is the life of one video: upload, publication, a rename, a description, three viewings.
type history struct {
	videoID, owner             string
	upload, published, renamed messagestore.Message
	renamedAgain, described    messagestore.Message
	views                      []messagestore.Message
	uploadedAt                 time.Time
}

func newHistory(t *testing.T) history {
	t.Helper()
	h := history{videoID: uuid.NewString(), owner: uuid.NewString(), uploadedAt: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)}
	src := "file:uploads/" + h.videoID + ".webm"
	h.upload = msg(t, videopublishingmsg.CommandStreamName(h.videoID),
		videopublishingmsg.PublishVideo{OwnerID: h.owner, SourceURI: src, VideoID: h.videoID}, h.uploadedAt)
	h.published = msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoPublished{
		OwnerID: h.owner, SourceURI: src, TranscodedURI: "file:videos/" + h.videoID + ".mp4",
		PosterURI: "file:posters/" + h.videoID + ".jpg", VideoID: h.videoID}, h.uploadedAt.Add(time.Minute))
	h.views = append(h.views, msg(t, viewingmsg.StreamName(h.videoID), viewingmsg.VideoViewed{VideoID: h.videoID}, h.uploadedAt))
	h.renamed = msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoNamed{Name: "First", VideoID: h.videoID}, h.uploadedAt)
	h.renamedAgain = msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoNamed{Name: "Second", VideoID: h.videoID}, h.uploadedAt)
	h.described = msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoDescribed{Description: "About it", VideoID: h.videoID}, h.uploadedAt)
	for range 2 {
		h.views = append(h.views, msg(t, viewingmsg.StreamName(h.videoID), viewingmsg.VideoViewed{VideoID: h.videoID}, h.uploadedAt))
	}
	return h
}

func (h history) publishing() []messagestore.Message {
	return []messagestore.Message{h.published, h.renamed, h.renamedAgain, h.described}
}

func apply(t *testing.T, a *Aggregator, batches ...[]messagestore.Message) {
	t.Helper()
	for _, b := range batches {
		if err := a.HandleMessages(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppliedTwiceAndInAnyOrder(t *testing.T) {
	a, _ := newAggregator()
	inOrder := newHistory(t)
	apply(t, a, []messagestore.Message{inOrder.upload}, inOrder.publishing(), inOrder.views)
	want := load(t, inOrder.videoID)
	if want.Name != "Second" || want.Description != "About it" || want.Views != 3 || want.Status != "published" ||
		want.Owner != inOrder.owner || want.Transcoded != "file:videos/"+inOrder.videoID+".mp4" ||
		want.Poster != "file:posters/"+inOrder.videoID+".jpg" || !want.Uploaded.Equal(inOrder.uploadedAt) ||
		want.Position != inOrder.described.GlobalPosition || want.ViewsPos != inOrder.views[2].GlobalPosition {
		t.Fatalf("row after the history in order: %+v", want)
	}

	// Applied again, whole or in overlapping batches: nothing changes.
	apply(t, a, inOrder.publishing(), inOrder.views[1:], inOrder.views, []messagestore.Message{inOrder.upload})
	if got := load(t, inOrder.videoID); got != want {
		t.Errorf("applied twice:\n got %+v\nwant %+v", got, want)
	}

	// The categories in another order: viewings first (before the video exists), then the events,
	// the upload command last; and within the events a replayed older batch after a newer one.
	for name, batches := range map[string]func(h history) [][]messagestore.Message{
		"views, events, upload": func(h history) [][]messagestore.Message {
			return [][]messagestore.Message{h.views, h.publishing(), {h.upload}}
		},
		"events, upload, views": func(h history) [][]messagestore.Message {
			return [][]messagestore.Message{h.publishing(), {h.upload}, h.views}
		},
		"rename replayed after later events": func(h history) [][]messagestore.Message {
			return [][]messagestore.Message{{h.renamedAgain, h.described}, {h.renamed, h.published}, h.views, {h.upload}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHistory(t)
			apply(t, a, batches(h)...)
			got := load(t, h.videoID)
			// Same shape as the in-order row, with this history's ids and positions.
			exp := want
			exp.ID, exp.Owner = h.videoID, h.owner
			exp.Source = "file:uploads/" + h.videoID + ".webm"
			exp.Transcoded, exp.Poster = "file:videos/"+h.videoID+".mp4", "file:posters/"+h.videoID+".jpg"
			exp.Position, exp.Upload, exp.StatusPos = h.described.GlobalPosition, h.upload.GlobalPosition, h.published.GlobalPosition
			exp.NamePos, exp.DescPos, exp.ViewsPos = h.renamedAgain.GlobalPosition, h.described.GlobalPosition, h.views[2].GlobalPosition
			if got != exp {
				t.Errorf("\n got %+v\nwant %+v", got, exp)
			}
		})
	}
}

func TestUploadShowsProcessingUntilTheOutcome(t *testing.T) {
	a, live := newAggregator()
	h := newHistory(t)
	apply(t, a, []messagestore.Message{h.upload})
	r := load(t, h.videoID)
	if r.Status != "processing" || r.Owner != h.owner || r.Name != "" || r.Views != 0 {
		t.Fatalf("after the upload: %+v", r)
	}
	v, err := viewdata.VideosOfOwner(ctx, testdb.Pool(), h.owner, 10)
	if err != nil || len(v) != 1 || v[0].DisplayName() != "Untitled" || v[0].StatusLabel() != "Processing" {
		t.Fatalf("dashboard query: %+v %v", v, err)
	}
	failed := msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoPublishingFailed{
		OwnerID: h.owner, SourceURI: "file:uploads/x", VideoID: h.videoID, Reason: "The file could not be transcoded: junk"}, h.uploadedAt)
	apply(t, a, []messagestore.Message{failed}, []messagestore.Message{h.upload})
	r = load(t, h.videoID)
	if r.Status != "failed" || r.Reason != "The file could not be transcoded: junk" || r.Transcoded != "" {
		t.Fatalf("after the failure (and the upload replayed): %+v", r)
	}
	events := live.all()
	if len(events) != 2 {
		t.Fatalf("live events %+v", events)
	}
	var last map[string]string
	if err := json.Unmarshal([]byte(events[1].data), &last); err != nil {
		t.Fatal(err)
	}
	if events[1].topic != "dashboard:"+h.owner || events[1].name != "update" || last[h.videoID+".status"] != "Failed" ||
		last[h.videoID+".reason"] != "The file could not be transcoded: junk" || last[h.videoID+".name"] != "Untitled" {
		t.Errorf("live event %+v", events[1])
	}
}

func TestViewsAreCountedOnceAndNotified(t *testing.T) {
	a, live := newAggregator()
	h := newHistory(t)
	apply(t, a, []messagestore.Message{h.published})
	before := len(live.all())
	apply(t, a, h.views[:2], h.views[1:], h.views)
	if r := load(t, h.videoID); r.Views != 3 {
		t.Errorf("views %d, want 3", r.Views)
	}
	events := live.all()[before:]
	if len(events) != 2 { // the replayed batch changed nothing and said nothing
		t.Fatalf("live events %+v", events)
	}
	if !strings.Contains(events[1].data, `"`+h.videoID+`.views":"3"`) {
		t.Errorf("last event %s", events[1].data)
	}
	pub, err := viewdata.PublishedVideos(ctx, testdb.Pool(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := slices.IndexFunc(pub, func(v viewdata.CreatorsVideo) bool { return v.ID == h.videoID })
	if found < 0 || pub[found].Views != 3 || !pub[found].HasPoster() {
		t.Errorf("published list: %d %+v", found, pub)
	}
}

func TestUnusableMessagesAreSkipped(t *testing.T) {
	a, _ := newAggregator()
	h := newHistory(t)
	bad := []messagestore.Message{
		msg(t, "viewing-not-a-uuid", viewingmsg.VideoViewed{VideoID: "x"}, time.Now()),
		{StreamName: videopublishingmsg.StreamName(h.videoID), Type: "VideoNamed", GlobalPosition: positions.Add(1), Data: []byte(`{"name": 5}`)},
		msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoPublished{OwnerID: "not-a-uuid", VideoID: h.videoID}, time.Now()),
		// Far over the component's limit (which it enforces): the view has room for anything.
		msg(t, videopublishingmsg.StreamName(h.videoID), videopublishingmsg.VideoNamed{Name: strings.Repeat("long ", 20000), VideoID: h.videoID}, time.Now()),
		{StreamName: videopublishingmsg.StreamName(h.videoID), Type: "SomethingElse", GlobalPosition: positions.Add(1), Data: []byte(`{}`)},
	}
	apply(t, a, bad)
	r := load(t, h.videoID)
	if r.Status != "published" || r.Owner != "" || len(r.Name) != 100000 {
		t.Errorf("row %+v", r.Status)
	}
}

func TestContract(t *testing.T) {
	a, _ := newAggregator()
	subs := a.Subscriptions()
	if len(subs) != len(Contract.Subscribes) {
		t.Fatalf("%d subscriptions, contract %d", len(subs), len(Contract.Subscribes))
	}
	for i, sc := range Contract.Subscribes {
		if subs[i].SubscriberID != sc.SubscriberID || subs[i].Category != sc.Category || !slices.Equal(subs[i].BatchTypes, sc.Types) {
			t.Errorf("subscription %d: %+v vs %+v", i, subs[i], sc)
		}
	}
	if Contract.Subscribes[0].SubscriberID != "aggregators:creators-videos" {
		t.Errorf("subscriber id %s", Contract.Subscribes[0].SubscriberID)
	}
}

// A new description reaches the owner's open dashboard like a new name does; view counts, which
// change far more often, do not carry it.
func TestDescriptionIsNotifiedToTheDashboard(t *testing.T) {
	a, live := newAggregator()
	h := newHistory(t)
	apply(t, a, []messagestore.Message{h.published})
	before := len(live.all())
	apply(t, a, []messagestore.Message{h.described})
	apply(t, a, h.views[:1])
	events := live.all()[before:]
	if len(events) != 2 {
		t.Fatalf("live events %+v", events)
	}
	var described, viewed map[string]string
	if err := json.Unmarshal([]byte(events[0].data), &described); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(events[1].data), &viewed); err != nil {
		t.Fatal(err)
	}
	if described[h.videoID+".description"] != "About it" {
		t.Errorf("the description's event %s", events[0].data)
	}
	if _, ok := viewed[h.videoID+".description"]; ok || viewed[h.videoID+".views"] != "1" {
		t.Errorf("the viewing's event %s", events[1].data)
	}
}
