package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PutBlob stores content-addressed data (attestations, reports, BOMs) under
// its digest ("sha256:<hex>"). Storing the same digest twice is a no-op.
func (s *Store) PutBlob(ctx context.Context, digest, mediaType string, data []byte) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO blobs (digest, media_type, data, created) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING`),
			digest, mediaType, data, s.now())
		if err != nil {
			return fmt.Errorf("store blob %s: %w", digest, err)
		}
		return nil
	})
}

// Blob returns a stored blob and its media type.
func (s *Store) Blob(ctx context.Context, digest string) (mediaType string, data []byte, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT media_type, data FROM blobs WHERE digest = $1`), digest).Scan(&mediaType, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return "", nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	return mediaType, data, nil
}

func (s *Store) now() any {
	t := time.Now().UTC()
	if s.backend == Postgres {
		return t
	}
	return t.Format(time.RFC3339Nano)
}
