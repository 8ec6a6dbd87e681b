package viewdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// FirstUserID returns the id of the user who registered first (the Registered event with the smallest
// global position, the user_credentials position column), or ErrNotFound before anyone registered.
// On the dev database without configured admin emails that user is the admin, so the demo's admin
// portal is explorable.
func FirstUserID(ctx context.Context, q Querier) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT id::text FROM user_credentials ORDER BY position, id LIMIT 1`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("first user: %w", err)
	}
	return id, nil
}
