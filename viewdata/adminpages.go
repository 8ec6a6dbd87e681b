package viewdata

// View models of the admin portal's pages (filled by app/admin, rendered by templates/admin.templ).
// Every message text in them is already redacted.

// AdminMessageView is one message as a row or a detail page shows it.
type AdminMessageView struct {
	GlobalPosition int64
	Position       int64
	ID             string
	StreamName     string
	Category       string
	Type           string
	Time           string
	TraceID        string
	UserID         string
	Data           string // redacted, indented JSON
	Metadata       string // redacted, indented JSON
	// SincePrevious is the time since the previous message of a trace ("" elsewhere).
	SincePrevious string
	// Causation: the message this one was caused by (metadata), when known.
	CausationGlobalPosition int64
	CausationStreamName     string
}

// AdminMessagesView is a page of messages.
type AdminMessagesView struct {
	Title   string
	Filter  MessageFilter
	Summary string // e.g. "12 messages in 3 streams"
	Rows    []AdminMessageView
	NextURL string // "" on the last page
}

// AdminUsersView is a page of users.
type AdminUsersView struct {
	Users   []AdminUser
	NextURL string
}

// AdminUserView is one user's page.
type AdminUserView struct {
	User             AdminUser
	Logins           []AdminMessageView
	Viewings         []AdminMessageView
	Messages         []AdminMessageView
	MoreLoginsURL    string
	MoreViewingsURL  string
	MoreMessagesURL  string
	AuthenticationID string // the authentication stream of the user
}

// AdminStreamsView is a page of streams (of one category when Category is set).
type AdminStreamsView struct {
	Title    string
	Category *AdminCategory
	Streams  []AdminStream
	NextURL  string
}

// AdminStreamView is one stream's page.
type AdminStreamView struct {
	Stream   AdminStream
	Messages AdminMessagesView
}

// AdminCategoriesView is a page of categories.
type AdminCategoriesView struct {
	Categories []AdminCategory
	NextURL    string
}

// AdminPositionsView is a page of subscriber positions.
type AdminPositionsView struct {
	Positions []AdminSubscriberPosition
	NextURL   string
	CanRetry  bool // each row offers "retry wherever it runs"
}

// AdminSubscriptionView is the health of one subscription of this process.
type AdminSubscriptionView struct {
	SubscriberID   string
	Category       string
	State          string
	Position       int64
	SavedPosition  int64
	Head           int64
	Lag            int64
	Handled        uint64
	Failed         uint64
	LastError      string
	FailingSince   string
	Attempts       int
	FailingMessage *AdminMessageView
	CanRetry       bool
}

// AdminSystemService is one contract on the system map.
type AdminSystemService struct {
	Name       string
	Kind       string
	Owns       []string
	Accepts    []string
	SendsTo    []string
	Subscribes []AdminSystemSubscription
}

// AdminSystemSubscription is one subscription of a contract.
type AdminSystemSubscription struct {
	SubscriberID   string
	Category       string
	OriginCategory string
	Types          []string
}

// AdminSystemCategory is a category with who owns, accepts, sends to and subscribes to it.
type AdminSystemCategory struct {
	Category    string
	Owners      []string
	Senders     []string
	Subscribers []string
}

// AdminSystemView is the system map.
type AdminSystemView struct {
	Services   []AdminSystemService
	Categories []AdminSystemCategory
}
