package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed messagestore/*.sql
var messageStoreFS embed.FS

//go:embed viewdata/*.sql
var viewDataFS embed.FS

// Set is one independent series of migrations with its own version table and lock.
type Set struct {
	Name   string
	fsys   fs.FS
	table  string
	lockID int64
}

var (
	// MessageStore creates the message_store schema.
	MessageStore = Set{Name: "message store", fsys: sub(messageStoreFS, "messagestore"), table: "goose_message_store_version", lockID: 0x76745f6d73}
	// ViewData creates the view tables.
	ViewData = Set{Name: "view data", fsys: sub(viewDataFS, "viewdata"), table: "goose_view_data_version", lockID: 0x76745f7664}
)

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func (s Set) provider(pool *pgxpool.Pool, log *slog.Logger) (*goose.Provider, func() error, error) {
	db := stdlib.OpenDBFromPool(pool)
	store, err := database.NewStore(database.DialectPostgres, s.table)
	if err != nil {
		return nil, nil, err
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(s.lockID))
	if err != nil {
		return nil, nil, err
	}
	// Out-of-order files are allowed: migrations written in parallel may land with a lower number after
	// a higher one was applied somewhere; each file is applied once, whatever its number.
	opts := []goose.ProviderOption{goose.WithStore(store), goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider("", db, s.fsys, opts...)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return p, db.Close, nil
}

// Up applies every pending migration of the set.
func (s Set) Up(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	p, closeDB, err := s.provider(pool, log)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", s.Name, err)
	}
	defer closeDB()
	results, err := p.Up(ctx)
	if err != nil && roleCreationRace(err) {
		// Two databases of one cluster migrating at the same moment both create the cluster-wide
		// message_store role; the loser gets a unique violation on pg_authid instead of
		// duplicate_object. The role exists now, and the failed migration rolled back: run again.
		results, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("migrations %s: %w", s.Name, err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("applied migration", "set", s.Name, "version", r.Source.Version, "file", r.Source.Path)
		}
	}
	return nil
}

func roleCreationRace(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && pgErr.ConstraintName == "pg_authid_rolname_index"
	}
	return strings.Contains(err.Error(), "pg_authid_rolname_index")
}

// Current reports whether every migration of the set has been applied (for /readyz).
func (s Set) Current(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	p, closeDB, err := s.provider(pool, nil)
	if err != nil {
		return false, err
	}
	defer closeDB()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations %s: %w", s.Name, err)
	}
	return !pending, nil
}
