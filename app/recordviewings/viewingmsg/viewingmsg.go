// Package viewingmsg is the public contract of the record-viewings application: the viewing category
// and its VideoViewed event.
package viewingmsg

import "videotutorials/messagestore"

// Category holds one stream per video: viewing-<videoId>.
const Category = "viewing"

// StreamName is the viewing stream of a video.
func StreamName(videoID string) string { return messagestore.StreamName(Category, videoID) }

// VideoViewed says someone watched a video. UserID is empty for anonymous viewers.
type VideoViewed struct {
	UserID  string `json:"userId,omitempty"`
	VideoID string `json:"videoId"`
}
