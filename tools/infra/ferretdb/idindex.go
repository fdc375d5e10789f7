package main

// The _id indexer. FerretDB 1.24 (SQLite) pushes a filter down to SQL only when it is exactly
// {_id: <string or ObjectId>}, as `WHERE _ferretdb_sjson->'$._id' = ?` (metadata.IDColumn, used by
// collection.Query / Explain / UpdateAll / DeleteAll). The unique index it creates for _id is on a
// different expression (`_ferretdb_sjson->"_id"`), and SQLite uses an expression index only for the
// identical expression, so every lookup by _id scans the table. We keep, next to FerretDB's own
// index, an index on exactly FerretDB's WHERE expression in every collection table.
//
// FerretDB is neither patched nor asked: we read its metadata table (_ferretdb_collections) in each
// <db>.sqlite file with our own short-lived connection (same modernc.org/sqlite as FerretDB, so one
// SQLite copy in the process) and create what is missing. The index is invisible to FerretDB
// (not in its settings), so listIndexes/dropIndexes/stats are unchanged; DROP TABLE drops it too.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"; FerretDB registers the same package
)

const (
	// idExpr must stay identical to FerretDB's metadata.IDColumn (v1.24.0), or SQLite won't use it.
	idExpr = `_ferretdb_sjson->'$._id'`
	// Index name: "<table>" + idIndexSuffix. FerretDB names its own indexes "<table>_<mongo index
	// name>", so a Mongo index would have to be called "payspec_id_path" to collide.
	idIndexSuffix = "_payspec_id_path"
	// FerretDB's per-database metadata table (metadata.metadataTableName).
	metadataTable = "_ferretdb_collections"
	// FerretDB's database file extension (pool.filenameExtension).
	dbFileExt = ".sqlite"

	// How long our connection waits for FerretDB's writers before giving up until the next tick.
	busyTimeout = 2 * time.Second
	// How long a scan waits for in-flight dropDatabase calls before skipping a tick.
	lockWait = 2 * time.Second
)

// dropGuard serialises our connections with FerretDB's dropDatabase. Dropping closes FerretDB's
// connections and removes <db>.sqlite; if our connection were open at that moment, SQLite (one
// copy, one process) would leave <db>.sqlite-wal/-shm behind, and a database re-created under the
// same name would share that -shm with our still-open handle. FerretDB wraps every backend call
// in an OpenTelemetry span ("DropDatabase" starts before the drop, ends after it) through the
// global tracer provider, which the embedded package never sets; installing ours gives a hook.
// Drops hold the read side (they may run together); a scan holds the write side.
var dropGuard sync.RWMutex

type guardTracerProvider struct{ noop.TracerProvider }

func (guardTracerProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return guardTracer{}
}

type guardTracer struct{ noop.Tracer }

func (t guardTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := t.Tracer.Start(ctx, name, opts...)
	if name != "DropDatabase" {
		return ctx, span
	}
	dropGuard.RLock()
	return ctx, &guardSpan{Span: span}
}

type guardSpan struct {
	trace.Span
	once sync.Once
}

func (s *guardSpan) End(opts ...trace.SpanEndOption) {
	s.once.Do(dropGuard.RUnlock) // FerretDB ends it with defer, so also on error or panic
	s.Span.End(opts...)
}

// installDropGuard must run before FerretDB serves.
func installDropGuard() { otel.SetTracerProvider(guardTracerProvider{}) }

// fileSig is what we know of a database file (and its WAL) without opening it.
type fileSig struct {
	ino, walIno     uint64
	size, walSize   int64
	mtime, walMtime time.Time
}

func statSig(path string) (fileSig, bool) {
	var s fileSig
	fi, err := os.Stat(path)
	if err != nil {
		return s, false
	}
	s.size, s.mtime = fi.Size(), fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	if wi, err := os.Stat(path + "-wal"); err == nil {
		s.walSize, s.walMtime = wi.Size(), wi.ModTime()
		if st, ok := wi.Sys().(*syscall.Stat_t); ok {
			s.walIno = st.Ino
		}
	}
	return s, true
}

func (s fileSig) newest() time.Time {
	if s.walMtime.After(s.mtime) {
		return s.walMtime
	}
	return s.mtime
}

type scanned struct {
	sig   fileSig
	start time.Time // when the scan that saw sig began
}

type idIndexer struct {
	dir      string
	interval time.Duration
	l        *slog.Logger

	seen    map[string]scanned // path -> last complete scan
	lastErr map[string]string  // path -> last warned error, so a stuck error warns once a minute
	errAt   map[string]time.Time
}

func newIDIndexer(dir string, interval time.Duration, l *slog.Logger) *idIndexer {
	return &idIndexer{
		dir:      dir,
		interval: interval,
		l:        l.With(slog.String("component", "idindex")),
		seen:     map[string]scanned{},
		lastErr:  map[string]string{},
		errAt:    map[string]time.Time{},
	}
}

// run scans every interval until ctx is done. Errors are logged and retried next tick.
func (x *idIndexer) run(ctx context.Context) {
	t := time.NewTicker(x.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			x.tick(ctx)
		}
	}
}

func (x *idIndexer) tick(ctx context.Context) {
	files, err := filepath.Glob(filepath.Join(x.dir, "*"+dbFileExt))
	if err != nil {
		x.warn(x.dir, err)
		return
	}
	present := make(map[string]bool, len(files))
	for _, f := range files {
		if ctx.Err() != nil {
			return
		}
		present[f] = true
		x.scanFile(ctx, f)
	}
	for f := range x.seen { // dropped databases
		if !present[f] {
			delete(x.seen, f)
			delete(x.lastErr, f)
			delete(x.errAt, f)
		}
	}
}

// scanFile indexes one database file if it may have changed since its last complete scan.
func (x *idIndexer) scanFile(ctx context.Context, path string) {
	sig, ok := statSig(path)
	if !ok || sig.size == 0 {
		return // gone, or FerretDB has just created it and not written the header yet
	}
	// Skip only if nothing changed and the last change predates the last scan by a margin
	// (mtime is coarse: a write in the same clock tick as our stat must not be missed).
	if prev, ok := x.seen[path]; ok && prev.sig == sig && sig.newest().Before(prev.start.Add(-time.Second)) {
		return
	}

	if !x.lock(ctx) {
		return
	}
	defer dropGuard.Unlock()

	// Re-check under the lock: a dropDatabase may have completed while we waited.
	start := time.Now()
	sig, ok = statSig(path)
	if !ok || sig.size == 0 {
		return
	}

	created, err := x.ensureIndexes(ctx, path)
	switch {
	case err == nil:
		x.seen[path] = scanned{sig: sig, start: start}
		delete(x.lastErr, path)
		for _, c := range created {
			x.l.Info("created _id index", slog.String("db", dbName(path)), slog.String("table", c.table),
				slog.Duration("took", c.took))
		}
	case isNotFerretDB(err):
		// Not (yet) a FerretDB database: its metadata table appears right after the file.
		x.seen[path] = scanned{sig: sig, start: start}
		x.l.Debug("no metadata table yet", slog.String("db", dbName(path)))
	case isVanished(err):
		// Dropped between glob and open; mode=rw never re-creates it.
	case ctx.Err() != nil:
		// Shutting down.
	default:
		x.warn(path, err)
	}
}

// lock takes the scan side of dropGuard, waiting at most lockWait for in-flight drops.
// TryLock (not Lock) so that a waiting scan never delays new dropDatabase calls.
func (x *idIndexer) lock(ctx context.Context) bool {
	deadline := time.Now().Add(lockWait)
	for !dropGuard.TryLock() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

type createdIndex struct {
	table string
	took  time.Duration
}

// ensureIndexes opens path (existing files only), creates the missing _id indexes and closes it.
// No connection is kept between scans: an open handle would pin a dropped database's files.
func (x *idIndexer) ensureIndexes(ctx context.Context, path string) ([]createdIndex, error) {
	q := url.Values{}
	q.Set("mode", "rw") // never create a file FerretDB hasn't created (or has just dropped)
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// No journal_mode pragma: FerretDB made the file WAL (persistent in the file); setting it
	// again would need a write lock for nothing.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()

	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// One cheap autocommit read: tables listed in the metadata that exist and lack our index.
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`
		SELECT c.table_name FROM %s AS c
		WHERE EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = c.table_name)
		AND NOT EXISTS (SELECT 1 FROM sqlite_schema
			WHERE type = 'index' AND tbl_name = c.table_name AND name = c.table_name || '%s')`,
		quoteIdent(metadataTable), idIndexSuffix))
	if err != nil {
		return nil, err
	}
	var missing []string
	for rows.Next() {
		var t string
		if err = rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		missing = append(missing, t)
	}
	rows.Close()
	if err = rows.Err(); err != nil {
		return nil, err
	}

	// One autocommit statement per table: the write lock is held only while that index is built
	// (instant for a new, empty collection).
	var created []createdIndex
	for _, t := range missing {
		start := time.Now()
		_, err = db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`,
			quoteIdent(t+idIndexSuffix), quoteIdent(t), idExpr))
		if err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // the collection was dropped meanwhile
			}
			return created, fmt.Errorf("create index on %s: %w", t, err)
		}
		created = append(created, createdIndex{table: t, took: time.Since(start)})
	}
	return created, nil
}

// warn logs an error at WARN, once per distinct message per file and at most once a minute.
func (x *idIndexer) warn(path string, err error) {
	msg := err.Error()
	if x.lastErr[path] == msg && time.Since(x.errAt[path]) < time.Minute {
		return
	}
	x.lastErr[path], x.errAt[path] = msg, time.Now()
	x.l.Warn("_id indexer: will retry", slog.String("file", path), slog.String("error", msg))
}

func isNotFerretDB(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table: "+metadataTable)
}

func isVanished(err error) bool {
	if err == nil {
		return false
	}
	// SQLITE_CANTOPEN: with mode=rw, the file is gone.
	return errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "unable to open database file")
}

func dbName(path string) string { return strings.TrimSuffix(filepath.Base(path), dbFileExt) }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
