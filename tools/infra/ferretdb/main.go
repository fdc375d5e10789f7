// Command ferretdb-local runs FerretDB 1.24 in-process on its SQLite backend, so that a machine
// without MongoDB (or Docker) still has a MongoDB wire-compatible server for local runs and tests.
// FerretDB documents its `ferretdb` package for embedding; `go install` of its own command does
// not build outside its repository, hence this launcher.
//
// Telemetry: the embedded package never creates FerretDB's telemetry reporter nor its OTLP trace
// exporter (both live only in FerretDB's cmd/ferretdb), and ferretdb.New explicitly disables and
// locks telemetry in its in-memory state provider. This program therefore makes no outbound
// network calls; it only listens on -listen.
//
// It also indexes FerretDB's _id lookups, which FerretDB 1.24 leaves unindexed: see idindex.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func parseLevel(s string) (slog.Level, error) {
	var lvl slog.Level
	// slog accepts DEBUG, INFO, WARN, ERROR (case-insensitive, with optional +N/-N offsets).
	if strings.EqualFold(s, "warning") {
		s = "warn"
	}
	if err := lvl.UnmarshalText([]byte(s)); err != nil {
		return lvl, fmt.Errorf("invalid -log-level %q (want debug, info, warn or error)", s)
	}
	return lvl, nil
}

// quietHandler demotes FerretDB's per-request chatter from WARN to DEBUG. FerretDB 1.24 logs every
// command that returns ok:0 (e.g. each duplicate-key error, or the driver's unsupported
// endSessions on close) as two multi-line WARN records, a WARN when a client resets its socket,
// and a WARN when a bare TCP probe disconnects. Those are normal client-visible outcomes, not
// server problems; with -log-level debug they are all shown again.
type quietHandler struct {
	slog.Handler
	level slog.Level
}

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.level > slog.LevelDebug && r.Level == slog.LevelWarn && isChatter(r) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithGroup(name), level: h.level}
}

func isChatter(r slog.Record) bool {
	switch {
	case strings.HasPrefix(r.Message, "Response header: "),
		strings.HasPrefix(r.Message, "Response message:"),
		strings.HasPrefix(r.Message, "Failed to set deadline: "):
		return true
	case r.Message == "Connection stopped":
		chatter := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				e := a.Value.String()
				chatter = strings.Contains(e, "connection reset by peer") || strings.Contains(e, "broken pipe")
				return false
			}
			return true
		})
		return chatter
	}
	return false
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferretdb-local: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data-dir", "./.data/ferretdb", "directory for the SQLite databases (one file per database)")
	logLevel := flag.String("log-level", "warn", "FerretDB log level: debug, info, warn or error")
	durable := flag.Bool("durable", false, "fsync every commit (SQLite synchronous=FULL); slower, survives power loss")
	indexID := flag.Bool("index-id", true, "keep an SQLite index on FerretDB's _id lookup expression in every collection (see idindex.go)")
	indexIDInterval := flag.Duration("index-id-interval", 250*time.Millisecond, "how often the _id indexer looks for new collections")
	flag.Parse()
	if flag.NArg() > 0 {
		fatal("unexpected arguments: %v", flag.Args())
	}

	lvl, err := parseLevel(*logLevel)
	if err != nil {
		fatal("%v", err)
	}
	logger := slog.New(&quietHandler{
		Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}),
		level:   lvl,
	})

	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		fatal("data dir: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		fatal("create data dir: %v", err)
	}

	// The SQLite backend wants a "file:" URI naming an existing directory, with a trailing slash.
	// synchronous(normal): in WAL mode SQLite then syncs at checkpoints instead of on every
	// commit — still crash-safe for the process (a power cut may lose the last commits), and
	// an order of magnitude more writes per second for local runs and tests.
	query := url.Values{}
	if *durable {
		query.Add("_pragma", "synchronous(full)")
	} else {
		query.Add("_pragma", "synchronous(normal)")
	}
	sqliteURL := (&url.URL{Scheme: "file", Path: abs + "/", RawQuery: query.Encode()}).String()

	// The first pass runs before FerretDB opens the files: existing collections get their index
	// without competing with clients (a one-time cost, ~40 ms per 20k documents).
	var indexer *idIndexer
	if *indexID {
		if *indexIDInterval <= 0 {
			fatal("-index-id-interval must be positive")
		}
		installDropGuard()
		indexer = newIDIndexer(abs, *indexIDInterval, logger)
		indexer.tick(context.Background())
	}

	// ferretdb.New opens the TCP listener itself (v1.24), so a busy port fails here.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		fatal("%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	indexerDone := make(chan struct{})
	if indexer != nil {
		go func() { indexer.run(ctx); close(indexerDone) }()
	} else {
		close(indexerDone)
	}

	// Safe to call after New: the listener is already bound.
	fmt.Fprintf(os.Stderr, "ferretdb-local: pid %d serving %s (sqlite data in %s)\n", os.Getpid(), f.MongoDBURI(), abs)

	select {
	case err = <-done:
		// Run only returns after ctx is cancelled; anything else is unexpected.
		if err != nil {
			fatal("%v", err)
		}
		return
	case <-ctx.Done():
	}

	stop() // a second SIGINT/SIGTERM now kills the process the default way
	fmt.Fprintln(os.Stderr, "ferretdb-local: shutting down")

	// Run waits for open client connections to finish; do not hang forever on an idle client.
	select {
	case err = <-done:
		if err != nil {
			fatal("%v", err)
		}
		<-indexerDone // at most one scan in flight; it never outlives its busy timeout
		fmt.Fprintln(os.Stderr, "ferretdb-local: stopped")
	case <-time.After(10 * time.Second):
		fatal("connections did not close within 10s; exiting anyway")
	}
}
