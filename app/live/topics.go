package live

// Topic names, as listed in the package doc. Producers outside app spell the
// same strings; keep the two in step.
const (
	TopicHome             = "home"
	TopicAdminSubscribers = "admin:subscribers"
)

// VideoOperationTopic is the topic of the outcome of the command sent by the
// request with traceID (the video-operations view is keyed by trace id).
func VideoOperationTopic(traceID string) string { return "video-operation:" + traceID }

// DashboardTopic is the topic of one creator's dashboard.
func DashboardTopic(userID string) string { return "dashboard:" + userID }

// Event names understood by templates/static/live.js.
const (
	EventUpdate   = "update"
	EventRedirect = "redirect"
	EventReload   = "reload"
)
