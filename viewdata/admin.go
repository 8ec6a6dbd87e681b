package viewdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The admin portal's queries. Every list is a keyset page over an index: the caller passes the key of
// the last row it showed (a cursor) and a page size, never an offset, so no page costs more than its
// own rows. Messages are read from message_store.messages by its own indexes (messages_pkey,
// messages_stream, messages_category); the filters it has no index for (type, trace, acting user) go
// through admin_message_index, which the admin-streams aggregator maintains, and then fetch the page's
// messages by primary key. The message queries take the message store's Querier, the others the view
// data's, so the two may live in different databases.

// AdminMaxPageSize is the largest page any admin list returns.
const AdminMaxPageSize = 200

// AdminUser is a row of admin_users.
type AdminUser struct {
	ID                            string
	Email                         string
	RegisteredAt                  *time.Time
	RegistrationEmailSent         bool
	RegistrationEmailFailedReason string
	LoginCount                    int64
	LastLoginAt                   *time.Time
}

const adminUserColumns = `SELECT id::text, email, registered_at, registration_email_sent,
	coalesce(registration_email_failed_reason, ''), login_count, last_login_at FROM admin_users`

func scanAdminUser(row pgx.CollectableRow) (AdminUser, error) {
	var u AdminUser
	err := row.Scan(&u.ID, &u.Email, &u.RegisteredAt, &u.RegistrationEmailSent, &u.RegistrationEmailFailedReason,
		&u.LoginCount, &u.LastLoginAt)
	return u, err
}

// AdminUsers returns up to limit users ordered by (email, id) after the given key ("" for the first page).
func AdminUsers(ctx context.Context, q Querier, afterEmail, afterID string, limit int) ([]AdminUser, error) {
	var rows pgx.Rows
	var err error
	if afterID == "" {
		rows, err = q.Query(ctx, adminUserColumns+` ORDER BY email, id LIMIT $1`, limit)
	} else {
		rows, err = q.Query(ctx, adminUserColumns+` WHERE (email, id) > ($1, $2::uuid) ORDER BY email, id LIMIT $3`,
			afterEmail, afterID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("admin users: %w", err)
	}
	return pgx.CollectRows(rows, scanAdminUser)
}

// AdminUserByID returns one user or ErrNotFound.
func AdminUserByID(ctx context.Context, q Querier, id string) (AdminUser, error) {
	rows, err := q.Query(ctx, adminUserColumns+` WHERE id = $1::uuid`, id)
	if err != nil {
		return AdminUser{}, fmt.Errorf("admin user: %w", err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanAdminUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return AdminUser{}, ErrNotFound
	}
	return u, err
}

// AdminMessage is a message as the admin portal shows it. Data and Metadata are raw JSON; redact them
// with RedactMessageJSON before showing them.
type AdminMessage struct {
	ID             string
	StreamName     string
	Type           string
	Position       int64
	GlobalPosition int64
	Data           json.RawMessage
	Metadata       json.RawMessage
	Time           time.Time
}

const adminMessageColumns = `SELECT id::text, stream_name, type, position, global_position,
	coalesce(data::text, 'null'), coalesce(metadata::text, 'null'), time FROM message_store.messages`

func scanAdminMessage(row pgx.CollectableRow) (AdminMessage, error) {
	var m AdminMessage
	var data, md string
	err := row.Scan(&m.ID, &m.StreamName, &m.Type, &m.Position, &m.GlobalPosition, &data, &md, &m.Time)
	m.Data, m.Metadata = json.RawMessage(data), json.RawMessage(md)
	m.Time = m.Time.UTC()
	return m, err
}

// MessageFilter selects messages. Stream and Category are served by the message store's indexes;
// Type, TraceID and UserID by admin_message_index (any combination, the first of trace, user, type
// leading the index scan).
type MessageFilter struct {
	Stream   string
	Category string
	Type     string
	TraceID  string
	UserID   string
}

func (f MessageFilter) indexed() bool { return f.Type != "" || f.TraceID != "" || f.UserID != "" }

// AdminMessages returns up to limit messages matching f. Newest first (before a global position; 0
// for the newest) unless ascending, then oldest first after the cursor. views is the view data (for
// admin_message_index), store the message store.
func AdminMessages(ctx context.Context, store, views Querier, f MessageFilter, cursor int64, ascending bool, limit int) ([]AdminMessage, error) {
	cmp, order := "<", "DESC"
	if ascending {
		cmp, order = ">", "ASC"
	} else if cursor <= 0 {
		cursor = 1<<63 - 1
	}
	if f.indexed() {
		return indexedMessages(ctx, store, views, f, cmp, order, cursor, limit)
	}
	var rows pgx.Rows
	var err error
	switch {
	case f.Stream != "":
		// messages_stream: (stream_name, position); the cursor's position is found by primary key.
		if f.Category != "" && categoryOf(f.Stream) != f.Category {
			return nil, nil
		}
		switch {
		case !ascending && cursor == 1<<63-1:
			rows, err = store.Query(ctx, adminMessageColumns+` WHERE stream_name = $1 ORDER BY position DESC LIMIT $2`,
				f.Stream, limit)
		case ascending && cursor <= 0:
			rows, err = store.Query(ctx, adminMessageColumns+` WHERE stream_name = $1 ORDER BY position ASC LIMIT $2`,
				f.Stream, limit)
		default:
			rows, err = store.Query(ctx, adminMessageColumns+` WHERE stream_name = $1 AND position `+cmp+
				` (SELECT position FROM message_store.messages WHERE global_position = $2 AND stream_name = $1)
				ORDER BY position `+order+` LIMIT $3`, f.Stream, cursor, limit)
		}
		if err != nil {
			return nil, fmt.Errorf("admin stream messages: %w", err)
		}
		return pgx.CollectRows(rows, scanAdminMessage)
	case f.Category != "":
		// messages_category: (category(stream_name), global_position, …).
		rows, err = store.Query(ctx, adminMessageColumns+` WHERE message_store.category(stream_name) = $1
			AND global_position `+cmp+` $2 ORDER BY global_position `+order+` LIMIT $3`, f.Category, cursor, limit)
	default:
		rows, err = store.Query(ctx, adminMessageColumns+` WHERE global_position `+cmp+` $1
			ORDER BY global_position `+order+` LIMIT $2`, cursor, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("admin messages: %w", err)
	}
	return pgx.CollectRows(rows, scanAdminMessage)
}

func categoryOf(stream string) string {
	if i := strings.IndexByte(stream, '-'); i >= 0 {
		return stream[:i]
	}
	return stream
}

func indexedMessages(ctx context.Context, store, views Querier, f MessageFilter, cmp, order string, cursor int64, limit int) ([]AdminMessage, error) {
	var conds []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			conds = append(conds, fmt.Sprintf("%s = $%d", col, len(args)))
		}
	}
	// The leading condition picks the index: trace, then user (with category), then type.
	add("trace_id", f.TraceID)
	add("user_id", f.UserID)
	add("category", f.Category)
	add("type", f.Type)
	add("stream_name", f.Stream)
	args = append(args, cursor, limit)
	sql := fmt.Sprintf(`SELECT global_position FROM admin_message_index WHERE %s AND global_position %s $%d
		ORDER BY global_position %s LIMIT $%d`, strings.Join(conds, " AND "), cmp, len(args)-1, order, len(args))
	rows, err := views.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("admin message index: %w", err)
	}
	gps, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(gps) == 0 {
		return nil, err
	}
	rows, err = store.Query(ctx, adminMessageColumns+` WHERE global_position = ANY($1) ORDER BY global_position `+order, gps)
	if err != nil {
		return nil, fmt.Errorf("admin messages by index: %w", err)
	}
	return pgx.CollectRows(rows, scanAdminMessage)
}

// AdminMessageByGlobalPosition returns one message or ErrNotFound.
func AdminMessageByGlobalPosition(ctx context.Context, store Querier, gp int64) (AdminMessage, error) {
	rows, err := store.Query(ctx, adminMessageColumns+` WHERE global_position = $1`, gp)
	if err != nil {
		return AdminMessage{}, fmt.Errorf("admin message: %w", err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanAdminMessage)
	if errors.Is(err, pgx.ErrNoRows) {
		return AdminMessage{}, ErrNotFound
	}
	return m, err
}

// AdminStream is a row of admin_streams.
type AdminStream struct {
	StreamName                string
	Category                  string
	MessageCount              int64
	LastMessageID             string
	LastMessageGlobalPosition int64
	LastMessageType           string
	LastMessageTime           time.Time
}

const adminStreamColumns = `SELECT stream_name, category, message_count, last_message_id::text,
	last_message_global_position, last_message_type, last_message_time FROM admin_streams`

func scanAdminStream(row pgx.CollectableRow) (AdminStream, error) {
	var s AdminStream
	err := row.Scan(&s.StreamName, &s.Category, &s.MessageCount, &s.LastMessageID, &s.LastMessageGlobalPosition,
		&s.LastMessageType, &s.LastMessageTime)
	s.LastMessageTime = s.LastMessageTime.UTC()
	return s, err
}

// AdminStreams returns up to limit streams by name after the cursor, of one category when category
// is not empty.
func AdminStreams(ctx context.Context, views Querier, category, after string, limit int) ([]AdminStream, error) {
	var rows pgx.Rows
	var err error
	if category == "" {
		rows, err = views.Query(ctx, adminStreamColumns+` WHERE stream_name > $1 ORDER BY stream_name LIMIT $2`, after, limit)
	} else {
		rows, err = views.Query(ctx, adminStreamColumns+` WHERE category = $1 AND stream_name > $2
			ORDER BY category, stream_name LIMIT $3`, category, after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("admin streams: %w", err)
	}
	return pgx.CollectRows(rows, scanAdminStream)
}

// AdminStreamByName returns one stream's summary or ErrNotFound.
func AdminStreamByName(ctx context.Context, views Querier, name string) (AdminStream, error) {
	rows, err := views.Query(ctx, adminStreamColumns+` WHERE stream_name = $1`, name)
	if err != nil {
		return AdminStream{}, fmt.Errorf("admin stream: %w", err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, scanAdminStream)
	if errors.Is(err, pgx.ErrNoRows) {
		return AdminStream{}, ErrNotFound
	}
	return s, err
}

// AdminCategory is a row of admin_categories.
type AdminCategory struct {
	Category           string
	MessageCount       int64
	LastGlobalPosition int64
}

func scanAdminCategory(row pgx.CollectableRow) (AdminCategory, error) {
	var c AdminCategory
	return c, row.Scan(&c.Category, &c.MessageCount, &c.LastGlobalPosition)
}

// AdminCategories returns up to limit categories by name after the cursor.
func AdminCategories(ctx context.Context, views Querier, after string, limit int) ([]AdminCategory, error) {
	rows, err := views.Query(ctx, `SELECT category, message_count, last_global_position FROM admin_categories
		WHERE category > $1 ORDER BY category LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("admin categories: %w", err)
	}
	return pgx.CollectRows(rows, scanAdminCategory)
}

// AdminCategoryByName returns one category or ErrNotFound.
func AdminCategoryByName(ctx context.Context, views Querier, name string) (AdminCategory, error) {
	rows, err := views.Query(ctx, `SELECT category, message_count, last_global_position FROM admin_categories
		WHERE category = $1`, name)
	if err != nil {
		return AdminCategory{}, fmt.Errorf("admin category: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanAdminCategory)
	if errors.Is(err, pgx.ErrNoRows) {
		return AdminCategory{}, ErrNotFound
	}
	return c, err
}

// AdminSubscriberPosition is a row of admin_subscriber_positions.
type AdminSubscriberPosition struct {
	SubscriberID           string
	Saved                  bool // a position was saved (a subscription that parked on its first message has none)
	Position               int64
	UpdatedAt              time.Time
	LastReadGlobalPosition int64
	// Parked and Retrying are what the subscription's status stream says, whichever process runs it:
	// parked on a failing message, or retrying one for a while (a transient error, never parked). The
	// fields after them describe that failure.
	Parked                bool
	Retrying              bool
	ParkedSince           time.Time // when it parked, or was announced retrying
	ParkedError           string
	FailingGlobalPosition int64 // 0: unknown
	FailingStreamName     string
	FailingType           string
	Attempts              int
}

// AdminSubscriberPositions returns up to limit subscribers by id after the cursor: their saved
// positions and whether they are parked.
func AdminSubscriberPositions(ctx context.Context, views Querier, after string, limit int) ([]AdminSubscriberPosition, error) {
	rows, err := views.Query(ctx, `SELECT coalesce(p.subscriber_id, s.subscriber_id), p.subscriber_id IS NOT NULL,
			coalesce(p.position, 0), coalesce(p.updated_at, s.changed_at), coalesce(p.last_read_global_position, 0),
			coalesce(s.parked, false), coalesce(s.changed_at, p.updated_at), coalesce(s.error, ''),
			coalesce(s.failing_global_position, 0), coalesce(s.failing_stream_name, ''), coalesce(s.failing_type, ''),
			coalesce(s.attempts, 0), coalesce(s.retrying, false)
		FROM admin_subscriber_positions AS p
		FULL JOIN admin_subscriber_status AS s ON s.subscriber_id = p.subscriber_id
		WHERE coalesce(p.subscriber_id, s.subscriber_id) > $1
		ORDER BY 1 LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("admin subscriber positions: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AdminSubscriberPosition, error) {
		var p AdminSubscriberPosition
		err := row.Scan(&p.SubscriberID, &p.Saved, &p.Position, &p.UpdatedAt, &p.LastReadGlobalPosition,
			&p.Parked, &p.ParkedSince, &p.ParkedError, &p.FailingGlobalPosition, &p.FailingStreamName,
			&p.FailingType, &p.Attempts, &p.Retrying)
		p.UpdatedAt, p.ParkedSince = p.UpdatedAt.UTC(), p.ParkedSince.UTC()
		return p, err
	})
}
