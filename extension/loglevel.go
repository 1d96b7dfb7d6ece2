package extension

import (
	"context"
	"log/slog"
	"strings"
)

// slogLevel maps a host.json logging.logLevel value to a slog level.
func slogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return slog.LevelDebug - 4, true
	case "debug":
		return slog.LevelDebug, true
	case "information", "info":
		return slog.LevelInfo, true
	case "warning", "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	case "critical":
		return slog.LevelError + 4, true
	case "none":
		return slog.LevelError + 1000, true
	}
	return 0, false
}

// categoryLevel returns the minimum level for a log category from host.json logging.logLevel,
// using the most specific match: "Function.<name>", then "Function", then "default" (C63).
func categoryLevel(levels map[string]string, categories ...string) (slog.Level, bool) {
	for _, c := range categories {
		for k, v := range levels {
			if strings.EqualFold(k, c) {
				if l, ok := slogLevel(v); ok {
					return l, true
				}
			}
		}
	}
	return 0, false
}

// levelHandler drops records below min.
type levelHandler struct {
	min slog.Level
	h   slog.Handler
}

func (l levelHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= l.min && l.h.Enabled(ctx, lvl)
}
func (l levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }
func (l levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{l.min, l.h.WithAttrs(a)}
}
func (l levelHandler) WithGroup(n string) slog.Handler { return levelHandler{l.min, l.h.WithGroup(n)} }

// withLevel applies a host.json category level to logger, if one is configured.
func withLevel(logger *slog.Logger, levels map[string]string, categories ...string) *slog.Logger {
	if lvl, ok := categoryLevel(levels, categories...); ok {
		return slog.New(levelHandler{lvl, logger.Handler()})
	}
	return logger
}

// lowestLevel is the most verbose level host.json logging.logLevel asks for any category, and
// Information when it asks for nothing more verbose: the default logger's level, below which the
// per-category levels cannot reach.
func lowestLevel(levels map[string]string) slog.Level {
	low := slog.LevelInfo
	for _, v := range levels {
		if l, ok := slogLevel(v); ok && l < low {
			low = l
		}
	}
	return low
}
